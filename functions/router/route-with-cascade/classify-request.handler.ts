import { taskHandler } from '../../shared/task-handler.js';
import { routerDeps } from './deps.js';
import { classifyRequest } from './route.js';
import { Budget, RouteInput } from './schemas.js';

export const handler = taskHandler(RouteInput.extend({ budget: Budget }), (input, deps) =>
  classifyRequest(input, routerDeps(deps)),
);
