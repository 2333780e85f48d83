import { taskHandler } from '../../shared/task-handler.js';
import { markFailed } from './ingest.js';
import { FailureInput } from './schemas.js';

export const handler = taskHandler(FailureInput, (input, deps) => markFailed(input, deps));
