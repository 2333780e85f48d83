import { identityFromEvent } from '../../auth/authorizer.js';
import { httpHandler } from '../../shared/http-handler.js';
import { attributeFromEvent, deleteMyFact, NoBody } from './me.js';

export const handler = httpHandler(NoBody, (_body, event, deps) =>
  deleteMyFact(identityFromEvent(event), attributeFromEvent(event), deps),
);
