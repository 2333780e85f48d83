import middy from '@middy/core';
import { authSettingsFromSecretsManager } from '../auth/authorizer.js';
import { authSettingsFromEnv } from '../auth/verify-token.js';
import { isCustomResourceEvent, respondToCloudFormation, runCustomResource } from '../shared/custom-resource.js';
import { ports } from '../shared/runtime.js';
import { maintainEdgeStore } from './maintain-edge-store.js';

// In AWS the signing secret lives in Secrets Manager (AUTH_JWT_SECRET_ARN); locally AUTH_JWT_SECRET.
const loadSettings = async () =>
  process.env.AUTH_JWT_SECRET_ARN ? authSettingsFromSecretsManager() : authSettingsFromEnv();

/** The schedule's invocation, and the EdgeStoreSettings custom resource on every deploy (the settings at once). */
export const handler = middy<unknown>().handler(async (event) => {
  const run = async () => maintainEdgeStore({ edge: (await ports()).edge, loadSettings });
  if (!isCustomResourceEvent(event)) return run();
  return runCustomResource(
    event,
    'edge-store-settings',
    async () => {
      const result = await run();
      return { ConfigWritten: String(result.configWritten), Expired: String(result.expired) };
    },
    respondToCloudFormation,
  );
});
