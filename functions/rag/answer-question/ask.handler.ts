import { identityFromEvent } from '../../auth/authorizer.js';
import { httpHandler } from '../../shared/http-handler.js';
import { AskRequest, ask } from './ask.js';

export const handler = httpHandler(AskRequest, (body, event, deps) => ask(body, identityFromEvent(event), deps));
