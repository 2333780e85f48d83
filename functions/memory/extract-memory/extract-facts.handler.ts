import { taskHandler } from '../../shared/task-handler.js';
import { extractFacts } from './extract-facts.js';
import { memoryRules } from './rules.js';
import { BusEvent } from './schemas.js';

export const handler = taskHandler(BusEvent, (event, deps) => extractFacts(event, { ...deps, rules: memoryRules() }));
