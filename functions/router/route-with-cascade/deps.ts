import type { Ports } from '../../shared/runtime.js';
import { budgets } from '../budgets.js';
import { modelCatalog } from '../catalog.js';
import { feedbackSettings } from '../feedback.js';
import { routerPolicy } from '../learned/load.js';
import { catalogTextModel } from '../providers.js';
import type { RouterDeps } from './route.js';

/** The router's dependencies: the process ports plus the deployment's catalog and budgets. */
export function routerDeps(ports: Ports): RouterDeps {
  const catalog = modelCatalog();
  const textModel = catalogTextModel(catalog, ports.textModel, { offline: ports.config.modelProvider === 'offline' });
  return { ...ports, textModel, catalog, budgets: budgets(), routerPolicy, feedback: feedbackSettings() };
}
