import { createDynamoUsageLedger } from '../../functions/shared/adapters/dynamodb-usage-ledger.js';
import type { RequestUsage, UsageLedger } from '../../functions/shared/ports.js';
import { createTablesFromResources, startDynalite } from '../../local/dynamodb.js';
import { loadServerlessProject } from '../../local/serverless-project.js';

// The usage ledger against dynalite (the local DynamoDB) through the real SDK: the conditional put on the
// request id is what keeps a retried or redelivered RecordUsage from counting a request twice.

let dynamo: { endpoint: string; close(): Promise<void> };
let ledger: UsageLedger;

beforeAll(async () => {
  dynamo = await startDynalite();
  await createTablesFromResources(loadServerlessProject(process.cwd()), dynamo.endpoint);
  ledger = createDynamoUsageLedger({ tableName: 'UsageTable', endpoint: dynamo.endpoint });
});
afterAll(() => dynamo.close());

let tenant = 0;
const newTenant = () => `ledger-t${++tenant}`;
const DAY = '2026-03-01';

function usage(requestId: string, costNanoUsd = 1_250_000): RequestUsage {
  return {
    requestId,
    inputTokens: 100,
    outputTokens: 20,
    costNanoUsd,
    requests: 1,
    escalations: 0,
    route: ['CheckBudget', 'InvokeCheapModel', 'RecordUsage'],
    models: ['anthropic.claude-3-haiku-20240307-v1:0'],
  };
}

describe('usage ledger idempotency (once per request id)', () => {
  it('counts a retried request once: the second record of the same request id adds nothing', async () => {
    const tenantId = newTenant();

    const first = await ledger.record(tenantId, DAY, usage('req-1'));
    const retried = await ledger.record(tenantId, DAY, usage('req-1'));

    expect([first, retried]).toEqual([true, false]);
    expect(await ledger.totals(tenantId, DAY)).toEqual({
      inputTokens: 100,
      outputTokens: 20,
      costNanoUsd: 1_250_000,
      requests: 1,
      escalations: 0,
    });
  });

  it('counts one of two concurrent records of the same request id, and both of two different ids', async () => {
    const tenantId = newTenant();

    const same = await Promise.all([
      ledger.record(tenantId, DAY, usage('req-a')),
      ledger.record(tenantId, DAY, usage('req-a')),
    ]);
    const other = await ledger.record(tenantId, DAY, usage('req-b', 750_000));

    expect(same.filter(Boolean)).toHaveLength(1);
    expect(other).toBe(true);
    expect(await ledger.totals(tenantId, DAY)).toMatchObject({ requests: 2, costNanoUsd: 2_000_000, inputTokens: 200 });
  });

  it('keeps days and tenants apart: the same request id on another day or tenant is another record', async () => {
    const tenantId = newTenant();
    const otherTenant = newTenant();

    await ledger.record(tenantId, DAY, usage('req-x'));
    const nextDay = await ledger.record(tenantId, '2026-03-02', usage('req-x'));
    const otherTenantsRequest = await ledger.record(otherTenant, DAY, usage('req-x'));

    expect([nextDay, otherTenantsRequest]).toEqual([true, true]);
    expect((await ledger.totals(tenantId, DAY)).requests).toBe(1);
    expect((await ledger.totals(tenantId, '2026-03-02')).requests).toBe(1);
    expect((await ledger.totals(otherTenant, DAY)).requests).toBe(1);
  });
});
