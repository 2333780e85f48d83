import { identityFromEvent } from '../../auth/authorizer.js';
import { NoBody } from '../../memory/facts-api/me.js';
import { httpHandler } from '../../shared/http-handler.js';
import { edgeCatalog } from '../edge-actions.js';
import { actionIdFromEvent, precomputed } from './precomputed.js';

const catalog = edgeCatalog();

export const handler = httpHandler(NoBody, (_body, event, deps) =>
  precomputed(actionIdFromEvent(event), identityFromEvent(event), { ...deps, catalog }),
);
