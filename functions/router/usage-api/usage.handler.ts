import { identityFromEvent } from '../../auth/authorizer.js';
import { httpHandler } from '../../shared/http-handler.js';
import { budgets } from '../budgets.js';
import { NoBody, usageReport } from './usage.js';

export const handler = httpHandler(NoBody, (_body, event, deps) =>
  usageReport(event.queryStringParameters ?? {}, identityFromEvent(event), { ...deps, budgets: budgets() }),
);
