import { taskHandler } from '../../shared/task-handler.js';
import { generateEdgeAnswer } from './pregenerate.js';
import { GenerateInput } from './schemas.js';

export const handler = taskHandler(GenerateInput, (input, deps) => generateEdgeAnswer(input, deps));
