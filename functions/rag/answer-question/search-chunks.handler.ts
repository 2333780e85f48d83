import { taskHandler } from '../../shared/task-handler.js';
import { searchChunks } from './answer.js';
import { SearchInput } from './schemas.js';

export const handler = taskHandler(SearchInput, (input, deps) => searchChunks(input, deps));
