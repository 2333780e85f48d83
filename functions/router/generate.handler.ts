import { identityFromEvent } from '../auth/authorizer.js';
import { httpHandler } from '../shared/http-handler.js';
import { generate } from './generate.js';
import { GenerateRequest } from './route-with-cascade/schemas.js';

export const handler = httpHandler(GenerateRequest, (body, event, deps) =>
  generate(body, identityFromEvent(event), deps),
);
