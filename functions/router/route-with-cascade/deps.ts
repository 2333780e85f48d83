import type { Ports } from '../../shared/runtime.js';
import { budgets } from '../budgets.js';
import { modelCatalog } from '../catalog.js';
import { routerPolicy } from '../learned/load.js';
import type { RouterDeps } from './route.js';

/** The router's dependencies: the process ports plus the deployment's catalog and budgets. */
export function routerDeps(ports: Ports): RouterDeps {
  return { ...ports, catalog: modelCatalog(), budgets: budgets(), routerPolicy };
}
