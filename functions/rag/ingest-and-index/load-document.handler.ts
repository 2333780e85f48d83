import { taskHandler } from '../../shared/task-handler.js';
import { loadDocument } from './ingest.js';
import { S3ObjectEvent } from './schemas.js';

export const handler = taskHandler(S3ObjectEvent, (event, deps) => loadDocument(event, deps));
