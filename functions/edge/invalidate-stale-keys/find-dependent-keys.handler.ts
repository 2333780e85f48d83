import { taskHandler } from '../../shared/task-handler.js';
import { edgeCatalog } from '../edge-actions.js';
import { findDependentKeys } from './invalidate.js';
import { ChangeEvent } from './schemas.js';

const catalog = edgeCatalog();

export const handler = taskHandler(ChangeEvent, (event, deps) => findDependentKeys(event, { ...deps, catalog }));
