import { identityFromEvent } from '../auth/authorizer.js';
import { edgeCatalog } from '../shared/edge-actions.js';
import { httpHandler } from '../shared/http-handler.js';
import { NoBody } from './me.js';
import { actionIdFromEvent, precomputed } from './precomputed.js';

const catalog = edgeCatalog();

export const handler = httpHandler(NoBody, (_body, event, deps) =>
  precomputed(actionIdFromEvent(event), identityFromEvent(event), { ...deps, catalog }),
);
