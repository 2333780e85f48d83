import { taskHandler } from '../../shared/task-handler.js';
import { embedBatch } from './ingest.js';
import { BatchInput } from './schemas.js';

export const handler = taskHandler(BatchInput, (input, deps) => embedBatch(input, deps));
