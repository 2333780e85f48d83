import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayRequestAuthorizerEventV2, Context } from 'aws-lambda';
import { logger } from '../shared/observability.js';
import { type AuthorizerResult, authorize, authSettingsFromSecretsManager } from './authorizer.js';

export const handler = middy<APIGatewayRequestAuthorizerEventV2, AuthorizerResult, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => authorize(event, { loadSettings: () => authSettingsFromSecretsManager() }));
