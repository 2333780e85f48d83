import { taskHandler } from '../../shared/task-handler.js';
import { generateAnswer } from './answer.js';
import { GenerateInput } from './schemas.js';

export const handler = taskHandler(GenerateInput, (input, deps) => generateAnswer(input, deps));
