import { z } from 'zod';
import { taskHandler } from '../../shared/task-handler.js';
import { switchToBuildingGeneration } from './generations.js';

// The run's state is passed whole; the switch reads nothing from it.
export const handler = taskHandler(z.unknown(), (_input, deps) => switchToBuildingGeneration(deps));
