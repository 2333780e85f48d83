import { taskHandler } from '../../shared/task-handler.js';
import { edgeCatalog } from '../edge-actions.js';
import { loadUserContext } from './pregenerate.js';
import { BusEvent } from './schemas.js';

const catalog = edgeCatalog();

export const handler = taskHandler(BusEvent, (event, deps) => loadUserContext(event, { ...deps, catalog }));
