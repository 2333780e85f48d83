import { taskHandler } from '../../shared/task-handler.js';
import { deleteEdgeKeys } from './invalidate.js';
import { AnswersInput } from './schemas.js';

export const handler = taskHandler(AnswersInput, (input, deps) => deleteEdgeKeys(input, deps));
