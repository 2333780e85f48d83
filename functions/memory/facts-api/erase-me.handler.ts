import { identityFromEvent } from '../../auth/authorizer.js';
import { httpHandler } from '../../shared/http-handler.js';
import { eraseMe, NoBody } from './me.js';

export const handler = httpHandler(NoBody, (_body, event, deps) => eraseMe(identityFromEvent(event), deps));
