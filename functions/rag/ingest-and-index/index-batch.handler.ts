import { taskHandler } from '../../shared/task-handler.js';
import { indexBatch } from './ingest.js';
import { BatchInput } from './schemas.js';

export const handler = taskHandler(BatchInput, (input, deps) => indexBatch(input, deps));
