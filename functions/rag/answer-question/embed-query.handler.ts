import { taskHandler } from '../../shared/task-handler.js';
import { embedQuery } from './answer.js';
import { EmbedQueryInput } from './schemas.js';

export const handler = taskHandler(EmbedQueryInput, (input, deps) => embedQuery(input, deps));
