import { edgeCatalog } from '../shared/edge-actions.js';
import { taskHandler } from '../shared/task-handler.js';
import { findDependentKeys } from './invalidate.js';
import { ChangeEvent } from './schemas.js';

const catalog = edgeCatalog();

export const handler = taskHandler(ChangeEvent, (event, deps) => findDependentKeys(event, { ...deps, catalog }));
