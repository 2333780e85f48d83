import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { outcomeRecords } from '../functions/router/feedback.js';
import { createDynamoRoutingDecisions } from '../functions/shared/adapters/dynamodb-routing-decisions.js';
import { runWhenMain } from './cli.js';

/**
 * `npm run router:export -- --tenant <id> --since <YYYY-MM-DD> [--out <file.jsonl>] [--table <name>] [--endpoint <url>]`:
 * writes the tenant's rated routing decisions since the date as outcome records (replay format, one JSON object
 * per line) for `npm run router:calibrate`. The table is ROUTING_DECISIONS_TABLE (or --table); --endpoint points at
 * a local DynamoDB (dynalite).
 */
const USAGE =
  'usage: npm run router:export -- --tenant <id> --since <YYYY-MM-DD> [--out <file.jsonl>] [--table <name>] [--endpoint <url>]';

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      tenant: { type: 'string' },
      since: { type: 'string' },
      out: { type: 'string' },
      table: { type: 'string' },
      endpoint: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const since = values.since && /^\d{4}-\d{2}-\d{2}/.test(values.since) ? new Date(values.since) : undefined;
  const table = values.table ?? process.env.ROUTING_DECISIONS_TABLE;
  if (values.help || !values.tenant || !since || Number.isNaN(since.getTime()) || !table) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const store = createDynamoRoutingDecisions({
    tableName: table,
    ...(values.endpoint ? { endpoint: values.endpoint } : {}),
  });
  const records = outcomeRecords(await store.rated(values.tenant, since.toISOString()));
  const text = records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  process.stderr.write(`${records.length} rated request(s) of tenant ${values.tenant} since ${since.toISOString()}\n`);
  return 0;
}

runWhenMain(import.meta.url, main);
