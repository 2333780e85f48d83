import { z } from 'zod';
import { taskHandler } from '../../shared/task-handler.js';
import { modelCatalog } from '../catalog.js';
import { validateStep } from './route.js';
import { GenerateRequest, ModelCall } from './schemas.js';

export const handler = taskHandler(z.object({ request: GenerateRequest, response: ModelCall }), async (input) =>
  validateStep(input, modelCatalog()),
);
