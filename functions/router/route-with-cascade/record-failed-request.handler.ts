import { taskHandler } from '../../shared/task-handler.js';
import { routerDeps } from './deps.js';
import { recordFailedRequest } from './route.js';
import { RouteState } from './schemas.js';

export const handler = taskHandler(RouteState, (state, deps) => recordFailedRequest(state, routerDeps(deps)));
