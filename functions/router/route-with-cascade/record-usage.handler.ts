import { taskHandler } from '../../shared/task-handler.js';
import { routerDeps } from './deps.js';
import { recordUsage } from './route.js';
import { RouteState } from './schemas.js';

export const handler = taskHandler(RouteState, (state, deps) => recordUsage(state, routerDeps(deps)));
