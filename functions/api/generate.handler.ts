import { identityFromEvent } from '../auth/authorizer.js';
import { GenerateRequest } from '../router/schemas.js';
import { httpHandler } from '../shared/http-handler.js';
import { generate } from './generate.js';

export const handler = httpHandler(GenerateRequest, (body, event, deps) =>
  generate(body, identityFromEvent(event), deps),
);
