import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** One structured logger for every handler; POWERTOOLS_LOG_LEVEL sets the level (the local runtime quiets it). */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'composable-ai' });

/** CloudWatch EMF metrics (tokens, cost, cache hits); namespace from POWERTOOLS_METRICS_NAMESPACE. */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ComposableAI',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'composable-ai',
});
