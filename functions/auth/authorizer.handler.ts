import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayRequestAuthorizerEventV2, Context } from 'aws-lambda';
import { logger } from '../shared/observability.js';
import { type AuthorizerResult, authorize, authSettingsFromSecretsManager } from './authorizer.js';
import { authSettingsFromEnv } from './verify-token.js';

// In AWS the signing secret lives in Secrets Manager (AUTH_JWT_SECRET_ARN); the local runtime reads AUTH_JWT_SECRET.
const loadSettings = async () =>
  process.env.AUTH_JWT_SECRET_ARN ? authSettingsFromSecretsManager() : authSettingsFromEnv();

export const handler = middy<APIGatewayRequestAuthorizerEventV2, AuthorizerResult, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => authorize(event, { loadSettings }));
