import { taskHandler } from '../../shared/task-handler.js';
import { emitFactsChanged } from './emit-facts-changed.js';
import { EmitInput } from './schemas.js';

export const handler = taskHandler(EmitInput, (input, deps) => emitFactsChanged(input, deps));
