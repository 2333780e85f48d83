import { taskHandler } from '../../shared/task-handler.js';
import { publishToEdge } from './pregenerate.js';
import { PublishInput } from './schemas.js';

export const handler = taskHandler(PublishInput, (input, deps) => publishToEdge(input, deps));
