import { taskHandler } from '../../shared/task-handler.js';
import { removeDocument } from './ingest.js';
import { S3ObjectEvent } from './schemas.js';

export const handler = taskHandler(S3ObjectEvent, (event, deps) => removeDocument(event, deps));
