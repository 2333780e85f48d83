import { taskHandler } from '../../shared/task-handler.js';
import { recordEdgeIndex } from './pregenerate.js';
import { RecordInput } from './schemas.js';

export const handler = taskHandler(RecordInput, (input, deps) => recordEdgeIndex(input, deps));
