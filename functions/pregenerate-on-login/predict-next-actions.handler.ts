import { edgeCatalog } from '../shared/edge-actions.js';
import { taskHandler } from '../shared/task-handler.js';
import { predictNextActions } from './pregenerate.js';
import { UserContext } from './schemas.js';

const catalog = edgeCatalog();

export const handler = taskHandler(UserContext, async (context) => predictNextActions(context, catalog));
