import { taskHandler } from '../../shared/task-handler.js';
import { UpsertInput } from './schemas.js';
import { upsertFacts } from './upsert-facts.js';

export const handler = taskHandler(UpsertInput, (input, deps) => upsertFacts(input, deps));
