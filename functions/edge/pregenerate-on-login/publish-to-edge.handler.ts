import { taskHandler } from '../../shared/task-handler.js';
import { publishToEdge } from './pregenerate.js';
import { PublishAllInput } from './schemas.js';

export const handler = taskHandler(PublishAllInput, (input, deps) => publishToEdge(input, deps));
