import { z } from 'zod';
import { taskHandler } from '../../shared/task-handler.js';
import { purgeRetired } from './generations.js';

// The run's state is passed whole; the purge reads nothing from it.
export const handler = taskHandler(z.unknown(), (_input, deps) => purgeRetired(deps));
