import { taskHandler } from '../../shared/task-handler.js';
import { routerDeps } from './deps.js';
import { checkBudget } from './route.js';
import { RouteInput } from './schemas.js';

export const handler = taskHandler(RouteInput, (input, deps) => checkBudget(input, routerDeps(deps)));
