import { taskHandler } from '../../shared/task-handler.js';
import { chunkAndStage } from './ingest.js';
import { ChunkInput } from './schemas.js';

export const handler = taskHandler(ChunkInput, (input, deps) => chunkAndStage(input, deps));
