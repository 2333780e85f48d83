import { identityFromEvent } from '../../auth/authorizer.js';
import { httpHandler } from '../../shared/http-handler.js';
import { listMyFacts, NoBody } from './me.js';

export const handler = httpHandler(NoBody, (_body, event, deps) => listMyFacts(identityFromEvent(event), deps));
