import { taskHandler } from '../../shared/task-handler.js';
import { edgeCatalog } from '../edge-actions.js';
import { predictNextActions } from './pregenerate.js';
import { UserContext } from './schemas.js';

const catalog = edgeCatalog();

export const handler = taskHandler(UserContext, async (context) => predictNextActions(context, catalog));
