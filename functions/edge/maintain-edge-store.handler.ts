import { NoBody } from '../api/me.js';
import { authSettingsFromSecretsManager } from '../auth/authorizer.js';
import { authSettingsFromEnv } from '../auth/verify-token.js';
import { ports } from '../shared/runtime.js';
import { taskHandler } from '../shared/task-handler.js';
import { maintainEdgeStore } from './maintain-edge-store.js';

// In AWS the signing secret lives in Secrets Manager (AUTH_JWT_SECRET_ARN); locally AUTH_JWT_SECRET.
const loadSettings = async () =>
  process.env.AUTH_JWT_SECRET_ARN ? authSettingsFromSecretsManager() : authSettingsFromEnv();

export const handler = taskHandler(NoBody, async () => maintainEdgeStore({ edge: (await ports()).edge, loadSettings }));
