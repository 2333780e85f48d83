import { taskHandler } from '../../shared/task-handler.js';
import { embedQuery } from './answer.js';
import { AskInput } from './schemas.js';

export const handler = taskHandler(AskInput, (input, deps) => embedQuery(input, deps));
