import { taskHandler } from '../../shared/task-handler.js';
import { routerDeps } from './deps.js';
import { judgeRequest } from './route.js';
import { Budget, Classification, RouteInput } from './schemas.js';

export const handler = taskHandler(
  RouteInput.extend({ budget: Budget, classification: Classification }),
  (input, deps) => judgeRequest(input, routerDeps(deps)),
);
