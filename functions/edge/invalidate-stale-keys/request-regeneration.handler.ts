import { taskHandler } from '../../shared/task-handler.js';
import { requestRegeneration } from './invalidate.js';
import { AnswersInput } from './schemas.js';

export const handler = taskHandler(AnswersInput, (input, deps) => requestRegeneration(input, deps));
