import { taskHandler } from '../../shared/task-handler.js';
import { emitDocumentIndexed } from './ingest.js';
import { EmitInput } from './schemas.js';

export const handler = taskHandler(EmitInput, (input, deps) => emitDocumentIndexed(input, deps));
