import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AskInput } from '../../functions/rag/answer-question/schemas.js';
import { BulkIngestInput } from '../../functions/rag/ingest-and-index/schemas.js';
import { RouteInput } from '../../functions/router/route-with-cascade/schemas.js';
import { matchesEventPattern } from '../../local/event-pattern.js';
import type { LocalStack } from '../../local/stack.js';
import type { ExecutionRecord } from '../../local/step-functions.js';
import { finished, startTestStack } from './harness.js';

// events/<machine>/*.json are real inputs of each state machine: the EventBridge event its rule matches (as S3 or
// the application publishes it), or the input its API starts it with. The local console pre-fills its start
// form from them. Each one runs through its machine here, so a sample cannot rot when a schema or rule changes.

const EVENTS_DIR = join(process.cwd(), 'events');
const samples = readdirSync(EVENTS_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) =>
    readdirSync(join(EVENTS_DIR, d.name))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((file) => ({ machine: d.name, file })),
  );
const read = (machine: string, file: string) =>
  JSON.parse(readFileSync(join(EVENTS_DIR, machine, file), 'utf8')) as Record<string, unknown>;

/** What each machine's API starts it with (machines without an EventBridge rule). */
const INPUT_SCHEMAS: Record<string, { parse(input: unknown): unknown }> = {
  'answer-question': AskInput,
  'bulk-ingest': BulkIngestInput,
  search: AskInput,
  'route-with-cascade': RouteInput,
};

const SAMPLE_DOCUMENT = `# Expense policy

Submit receipts within 30 days. Travel is booked through the company portal; economy class for flights under six hours.
`;

describe('sample events (events/<machine>/*.json) run through their machines on the local runtime', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.close());

  it('has samples for every state machine, named descriptively, and no folder for an unknown machine', () => {
    const machines = [...stack.project.stateMachines.keys()].sort();

    expect([...new Set(samples.map((s) => s.machine))].sort()).toEqual(machines);
    for (const { file } of samples) expect(file).toMatch(/^[a-z0-9]+(-[a-z0-9]+)+\.json$/);
  });

  it.each(samples)('$machine: $file is its real input and the execution succeeds', async ({ machine, file }) => {
    const sample = read(machine, file);
    const definition = stack.project.stateMachines.get(machine);
    if (!definition) throw new Error(`events/${machine}: no state machine ${machine} in serverless.yml`);

    let record: ExecutionRecord;
    if (definition.rules.length === 0) {
      const schema = INPUT_SCHEMAS[machine];
      if (!schema) throw new Error(`events/${machine}: no input schema known for a machine without a rule`);
      expect(() => schema.parse(sample)).not.toThrow();
      if (typeof sample.prefix === 'string') {
        // a job over a prefix: put a document under it, so the run ingests something
        await stack.ports.documents.put(`${sample.prefix}expenses.md`, SAMPLE_DOCUMENT, 'text/markdown');
      }
      record = await stack.sfn.startSync(machine, sample);
    } else {
      const rule = definition.rules.find((r) => matchesEventPattern(r.pattern, sample));
      expect({ file, matchesARule: rule !== undefined }).toEqual({ file, matchesARule: true });
      const detail = sample.detail as { object?: { key?: string } };
      if (sample['detail-type'] === 'Object Created' && detail.object?.key) {
        // the object the event announces, as S3 stores it before sending the event
        await stack.ports.documents.put(detail.object.key, SAMPLE_DOCUMENT, 'text/markdown');
      }
      const started = stack.bus.deliver(rule?.eventBusName as string, sample);
      expect(started.map((s) => s.stateMachine)).toContain(machine);
      const records = await Promise.all(started.map((s) => finished(stack, s.executionId)));
      record = records[started.findIndex((s) => s.stateMachine === machine)] as ExecutionRecord;
    }

    expect({ file, status: record.status, error: record.error ?? null }).toEqual({
      file,
      status: 'SUCCEEDED',
      error: null,
    });
    // extract-memory succeeds on a malformed event too, with a `dropped` reason: a sample must not be refused.
    // (The offline model cannot write JSON, so a chat message ends as model-output-invalid locally: not the sample's fault.)
    const dropped = (record.output as { dropped?: string | null } | undefined)?.dropped ?? null;
    expect({ file, refused: ['malformed', 'oversized', 'unsupported-type'].includes(String(dropped)) }).toEqual({
      file,
      refused: false,
    });
  });
});
