import { z } from 'zod';
import { taskHandler } from '../../shared/task-handler.js';
import { routerDeps } from './deps.js';
import { invokeModel } from './route.js';
import { GenerateRequest } from './schemas.js';

const InvokeInput = z.object({ request: GenerateRequest, tier: z.string().min(1), step: z.string().min(1) });

export const handler = taskHandler(InvokeInput, (input, deps) => invokeModel(input, routerDeps(deps)));
