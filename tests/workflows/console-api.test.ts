import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalServer } from '../../local/server.js';
import type { LocalStack } from '../../local/stack.js';
import type { ExecutionEvent, ExecutionRecord } from '../../local/step-functions.js';
import { finished, listenLocal, startTestStack } from './harness.js';

// The execution routes behind the console: StartExecution, GetExecutionHistory by ARN or id, parent and child
// runs, and a history that outlives a restart when the stack keeps its data (LOCAL_DATA_DIR).

const routeInput = (requestId: string) => ({
  request: { prompt: 'Summarize: it rained, then the sun came out.', taskType: 'summarize' },
  tenantId: 't-api',
  userId: 'u-api',
  requestId,
  startedAt: Date.now(),
});

describe('execution routes of the local console', () => {
  let dataDir: string;
  let stack: LocalStack;
  let server: Server;
  let base: string;

  async function open(): Promise<void> {
    stack = await startTestStack({ dataDir });
    server = createLocalServer(stack);
    base = await listenLocal(server);
  }
  async function close(): Promise<void> {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stack.close();
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'console-api-'));
    await open();
  }, 60_000);
  afterAll(async () => {
    await close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : {
            headers: { 'content-type': 'application/json' },
            body: typeof body === 'string' ? body : JSON.stringify(body),
          }),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  it('POST /executions starts a run like StartExecution and GET /executions/{arn} returns its history', async () => {
    const started = await call<{ executionArn: string }>('POST', '/executions', {
      stateMachine: 'route-with-cascade',
      input: routeInput('r-api-1'),
      name: 'api-run-1',
    });
    expect(started.status).toBe(200);
    expect(started.body.executionArn).toMatch(/route-with-cascade:api-run-1$/);
    await finished(stack, 'api-run-1');

    const byArn = await call<ExecutionRecord>('GET', `/executions/${encodeURIComponent(started.body.executionArn)}`);
    const byId = await call<ExecutionRecord>('GET', '/executions/api-run-1');

    expect(byArn.status).toBe(200);
    expect(byArn.body).toEqual(byId.body);
    expect(byArn.body).toMatchObject({ status: 'SUCCEEDED', parentExecutionArn: null, childExecutionArns: [] });
    const budget = byArn.body.events.filter((e: ExecutionEvent) => e.state === 'CheckBudget');
    expect(budget.map((e) => e.type)).toEqual(['StateEntered', 'StateExited']);
    expect(budget[0]?.input).toMatchObject({ requestId: 'r-api-1' });
    expect(budget[1]?.output).toHaveProperty('budget');
  });

  it.each([
    [{ stateMachine: 'no-such-machine', input: {} }, 404, 'StateMachineDoesNotExist'],
    [{ input: {} }, 404, 'StateMachineDoesNotExist'],
    [{ stateMachine: 'route-with-cascade', input: '{not json' }, 400, 'InvalidExecutionInput'],
    [{ stateMachine: 'route-with-cascade', input: {}, name: 'has spaces' }, 400, 'InvalidName'],
    [[1, 2], 400, 'InputValidationError'],
    ['{oops', 400, 'InputValidationError'],
  ])('POST /executions %j → %i %s', async (body, status, error) => {
    const res = await call('POST', '/executions', body);

    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
  });

  it('refuses a second run with a name already used (ExecutionAlreadyExists)', async () => {
    const body = { stateMachine: 'route-with-cascade', input: routeInput('r-api-2'), name: 'api-run-2' };
    await call('POST', '/executions', body);

    const again = await call('POST', '/executions', body);

    expect(again.status).toBe(409);
    expect(again.body.error).toBe('ExecutionAlreadyExists');
  });

  it('links the route-with-cascade runs a login’s pre-generation starts to it, and keeps them across a restart', async () => {
    const result = stack.bus.putEvents([
      {
        Source: 'app.users',
        DetailType: 'UserLoggedIn',
        Detail: JSON.stringify({ userId: 'u-api', appState: { latestDeployment: { id: 'd-3', status: 'failed' } } }),
      },
    ]);
    const id = result.Entries.flatMap((e) => e.Executions ?? []).find((e) => e.stateMachine === 'pregenerate-on-login')
      ?.executionId as string;
    const login = await finished(stack, id);
    await stack.sfn.idle();

    const children = await call<{ executions: ExecutionRecord[] }>(
      'GET',
      `/executions?parentExecutionArn=${encodeURIComponent(login.executionArn)}`,
    );
    expect(login.childExecutionArns.length).toBeGreaterThan(0);
    expect(children.body.executions.map((c) => c.executionArn).sort()).toEqual([...login.childExecutionArns].sort());
    for (const child of children.body.executions) {
      expect(child).toMatchObject({ stateMachine: 'route-with-cascade', parentState: 'GenerateAnswer' });
      // as in AWS (functions/shared/lineage.ts): the parent's ARN in the child's input, its name in the child's name
      expect(child.executionId.startsWith(`${login.executionId}-`)).toBe(true);
      expect(stack.sfn.get(child.executionArn)?.input).toMatchObject({ parentExecutionArn: login.executionArn });
    }

    await close();
    await open();

    const after = await call<ExecutionRecord>('GET', `/executions/${encodeURIComponent(login.executionArn)}`);
    expect(after.status).toBe(200);
    expect(after.body.childExecutionArns).toEqual(login.childExecutionArns);
    const states = new Set(after.body.events.filter((e) => e.type === 'StateExited').map((e) => e.state));
    expect([...states]).toEqual(expect.arrayContaining(['LoadUserContext', 'PredictNextActions', 'RecordEdgeIndex']));
    const page = await fetch(`${base}/console/executions/${encodeURIComponent(login.executionArn)}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
  }, 60_000);

  it('GET /executions searches input text and filters by status; a bad status is a named 400', async () => {
    await call('POST', '/executions', {
      stateMachine: 'route-with-cascade',
      input: routeInput('needle-7d1f'),
      name: 'api-run-3',
    });
    await finished(stack, 'api-run-3');

    const found = await call<{ executions: ExecutionRecord[] }>('GET', '/executions?q=NEEDLE-7d1f&status=SUCCEEDED');
    const bad = await call('GET', '/executions?status=DONE');

    expect(found.body.executions.map((e) => e.executionId)).toEqual(['api-run-3']);
    expect(found.body.executions[0]).not.toHaveProperty('events');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('InputValidationError');
  });

  it('GET /console/executions/{arn} of an unknown run answers 404', async () => {
    const res = await fetch(
      `${base}/console/executions/${encodeURIComponent('arn:aws:states:us-east-1:1:execution:x:nope')}`,
    );

    expect(res.status).toBe(404);
  });
});
