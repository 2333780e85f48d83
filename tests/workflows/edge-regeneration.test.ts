import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerKey, parseManifest } from '../../functions/edge/edge-store.js';
import type { PutEventsEntry } from '../../local/event-bus.js';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack } from './harness.js';

// invalidate-stale-keys with `invalidation.regenerate: true`: the deleted answers come back, built from the new state.

describe('edge regeneration after a state change (local runtime)', () => {
  let stack: LocalStack;
  let dir: string;
  const previous = process.env.EDGE_ACTIONS_FILE;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-actions-'));
    const catalog = await readFile(join(process.cwd(), 'config', 'edge-actions.yaml'), 'utf8');
    const file = join(dir, 'edge-actions.yaml');
    await writeFile(file, catalog.replace(/^ {2}regenerate: false$/m, '  regenerate: true'));
    // read by the handlers when they first load, which is after this
    process.env.EDGE_ACTIONS_FILE = file;
    stack = await startTestStack();
  }, 60_000);
  afterAll(async () => {
    await stack.close();
    if (previous === undefined) delete process.env.EDGE_ACTIONS_FILE;
    else process.env.EDGE_ACTIONS_FILE = previous;
    await rm(dir, { recursive: true, force: true });
  });

  const put = async (entry: PutEventsEntry) => {
    expect(stack.bus.putEvents([entry]).FailedEntryCount).toBe(0);
    await stack.sfn.idle();
  };
  const generation = async (action: string) => {
    const raw = await stack.edge.kvs.getKey(answerKey('frank', action));
    return raw === undefined ? undefined : parseManifest(raw)?.manifest.gen;
  };

  it('deletes the stale answers, then publishes new ones for the same user and actions', async () => {
    await put({
      Source: 'app.users',
      DetailType: 'UserLoggedIn',
      Detail: JSON.stringify({ userId: 'frank', appState: { latestDeployment: { id: 'd-9', status: 'in_progress' } } }),
    });
    const before = { status: await generation('deployment-status'), briefing: await generation('morning-briefing') };
    expect(before.status).toBeDefined();

    await put({
      Source: 'app.deployments',
      DetailType: 'DeploymentStatusChanged',
      Detail: JSON.stringify({ deploymentId: 'd-9', status: 'succeeded' }),
    });

    const regenerations = stack.sfn
      .list({ stateMachine: 'pregenerate-on-login' })
      .filter((e) => JSON.stringify(e.input).includes('EdgeRegenerationRequested'));
    expect(regenerations).toHaveLength(1);
    expect(regenerations[0]).toMatchObject({
      status: 'SUCCEEDED',
      // by score on the new state: a succeeded deployment no longer boosts deployment-status above the briefing
      output: { published: ['morning-briefing', 'deployment-status'], notPublished: [] },
    });
    expect(await generation('deployment-status')).toBeGreaterThan(before.status as number);
    expect(await generation('morning-briefing')).toBeGreaterThan(before.briefing as number);
  });
});
