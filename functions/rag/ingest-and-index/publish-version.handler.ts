import { taskHandler } from '../../shared/task-handler.js';
import { publish } from './ingest.js';
import { PublishInput } from './schemas.js';

export const handler = taskHandler(PublishInput, (input, deps) => publish(input, deps));
