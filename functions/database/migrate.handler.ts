import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { ports } from '../shared/runtime.js';
import { respondToCloudFormation, runMigrations } from './migrate.js';

export const handler = middy<CloudFormationCustomResourceEvent>().handler(async (event) => {
  const { sql } = await ports();
  return runMigrations(event, { sql, respond: respondToCloudFormation });
});
