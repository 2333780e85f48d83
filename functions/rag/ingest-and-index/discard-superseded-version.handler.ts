import { taskHandler } from '../../shared/task-handler.js';
import { discardSuperseded } from './ingest.js';
import { DiscardInput } from './schemas.js';

export const handler = taskHandler(DiscardInput, (input, deps) => discardSuperseded(input, deps));
