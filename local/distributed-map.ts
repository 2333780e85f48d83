import type { LocalObjectStore } from './object-store.js';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './serverless-project.js';

/**
 * The Distributed Map (Map with `ProcessorConfig.Mode: DISTRIBUTED`) on the local runtime. aws-local-stepfunctions runs
 * only inline Maps, so before a definition reaches it each DISTRIBUTED Map state becomes a Task (same name, same
 * InputPath/ResultSelector/ResultPath/OutputPath/Retry/Catch/Next) that the runtime hands to runDistributedMap:
 *
 * - ItemReader: `arn:aws:states:::s3:listObjectsV2` over a local bucket (Bucket, Prefix; ReaderConfig.MaxItems);
 *   without an ItemReader, the items at ItemsPath.
 * - ItemSelector per item (`$` the state input, `$$.Map.Item.Index/Value` the item), then ItemBatcher
 *   (MaxItemsPerBatch, MaxInputBytesPerBatch, BatchInput): each child gets `{BatchInput, Items}`.
 * - One child execution of the ItemProcessor per batch (or item), at most MaxConcurrency at a time.
 * - ToleratedFailurePercentage / ToleratedFailureCount (and their *Path forms): a failed child counts all its items
 *   as failed; once the failures exceed the threshold no child starts, the running ones are stopped and the state
 *   fails with States.ExceedToleratedFailureThreshold.
 * - ResultWriter (`arn:aws:states:::s3:putObject`, Bucket, Prefix): `<Prefix>/<map run id>/manifest.json`,
 *   `SUCCEEDED_0.json`, `FAILED_0.json` and `PENDING_0.json` as AWS writes them; the state's result is then
 *   `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`, else the children's outputs in item order.
 *
 * Only JSONPath reference paths (`$.a.b`, `$$.Execution.Id`, `$.a[0]`) are evaluated in these fields; intrinsic
 * functions there are refused. Redrive is not emulated: a re-run relies on the item work being idempotent.
 */

type Json = unknown;
type Node = Record<string, unknown>;

/** The stand-in Task's Resource: never called (the runtime hands the state to runDistributedMap by name). */
export const DISTRIBUTED_MAP_RESOURCE = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:local-distributed-map`;
// Long enough for any local job; setTimeout's limit is about 24.8 days.
const DISTRIBUTED_MAP_TIMEOUT_SECONDS = 2_000_000;
/** MaxConcurrency 0 (or none) means "as many as possible" (up to 10,000 on AWS); locally a bound keeps memory sane. */
export const LOCAL_UNBOUNDED_CONCURRENCY = 64;
const DEFAULT_MAX_INPUT_BYTES_PER_BATCH = 256 * 1024;

/** The fields of a DISTRIBUTED Map state that the emulation reads. */
export interface DistributedMapSpec {
  stateName: string;
  /** `{StartAt, States}` of the ItemProcessor: what each child execution runs. */
  processor: Node;
  executionType: 'STANDARD' | 'EXPRESS';
  itemReader?: { Resource: string; Parameters?: Node; ReaderConfig?: { MaxItems?: number } };
  itemsPath?: string;
  itemSelector?: Node;
  itemBatcher?: { MaxItemsPerBatch?: number; MaxInputBytesPerBatch?: number; BatchInput?: Node };
  maxConcurrency: number;
  toleratedFailurePercentage?: number;
  toleratedFailurePercentagePath?: string;
  toleratedFailureCount?: number;
  toleratedFailureCountPath?: string;
  resultWriter?: { Resource: string; Parameters?: Node };
  label?: string;
}

export class DistributedMapError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

// ---- definitions --------------------------------------------------------------------------------

function isDistributed(state: Node): boolean {
  const config = (state.ItemProcessor as Node | undefined)?.ProcessorConfig as Node | undefined;
  return state.Type === 'Map' && config?.Mode === 'DISTRIBUTED';
}

function specOf(name: string, state: Node): DistributedMapSpec {
  const processor = state.ItemProcessor as Node;
  const { ProcessorConfig, ...definition } = processor;
  const config = ProcessorConfig as Node;
  const spec: DistributedMapSpec = {
    stateName: name,
    processor: definition,
    executionType: config.ExecutionType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
    maxConcurrency: Number(state.MaxConcurrency ?? 0),
  };
  if (state.ItemReader) spec.itemReader = state.ItemReader as DistributedMapSpec['itemReader'];
  if (typeof state.ItemsPath === 'string') spec.itemsPath = state.ItemsPath;
  const selector = state.ItemSelector ?? state.Parameters;
  if (selector) spec.itemSelector = selector as Node;
  if (state.ItemBatcher) spec.itemBatcher = state.ItemBatcher as DistributedMapSpec['itemBatcher'];
  if (typeof state.ToleratedFailurePercentage === 'number')
    spec.toleratedFailurePercentage = state.ToleratedFailurePercentage;
  if (typeof state.ToleratedFailurePercentagePath === 'string')
    spec.toleratedFailurePercentagePath = state.ToleratedFailurePercentagePath;
  if (typeof state.ToleratedFailureCount === 'number') spec.toleratedFailureCount = state.ToleratedFailureCount;
  if (typeof state.ToleratedFailureCountPath === 'string')
    spec.toleratedFailureCountPath = state.ToleratedFailureCountPath;
  if (state.ResultWriter) spec.resultWriter = state.ResultWriter as DistributedMapSpec['resultWriter'];
  if (typeof state.Label === 'string') spec.label = state.Label;
  return spec;
}

/** The Task that stands in for a DISTRIBUTED Map: the Map's own input/output processing and error handling. */
function standInTask(state: Node): Node {
  const task: Node = {
    Type: 'Task',
    Resource: DISTRIBUTED_MAP_RESOURCE,
    TimeoutSeconds: DISTRIBUTED_MAP_TIMEOUT_SECONDS,
  };
  for (const field of ['Comment', 'InputPath', 'ResultSelector', 'ResultPath', 'OutputPath', 'Retry', 'Catch']) {
    if (field in state) task[field] = state[field];
  }
  if (state.End === true) task.End = true;
  else task.Next = state.Next;
  return task;
}

/**
 * Replaces, in place, every DISTRIBUTED Map state of the top level of a definition by its stand-in Task and returns
 * their specs by state name. A DISTRIBUTED Map nested in another Map or in a Parallel is refused.
 */
export function extractDistributedMaps(definition: { States: Record<string, Node> }): Map<string, DistributedMapSpec> {
  const specs = new Map<string, DistributedMapSpec>();
  for (const [name, state] of Object.entries(definition.States)) {
    if (isDistributed(state)) {
      assertNoNestedDistributed((state.ItemProcessor as { States: Record<string, Node> }).States, name);
      specs.set(name, specOf(name, state));
      definition.States[name] = standInTask(state);
    } else {
      const processor = (state.ItemProcessor ?? state.Iterator) as { States?: Record<string, Node> } | undefined;
      if (processor?.States) assertNoNestedDistributed(processor.States, name);
      for (const branch of (state.Branches ?? []) as { States: Record<string, Node> }[])
        assertNoNestedDistributed(branch.States, name);
    }
  }
  return specs;
}

function assertNoNestedDistributed(states: Record<string, Node>, parent: string): void {
  for (const [name, state] of Object.entries(states)) {
    if (isDistributed(state))
      throw new Error(`state ${name} in ${parent}: the local runtime runs DISTRIBUTED Maps at the top level only`);
    const processor = (state.ItemProcessor ?? state.Iterator) as { States?: Record<string, Node> } | undefined;
    if (processor?.States) assertNoNestedDistributed(processor.States, name);
    for (const branch of (state.Branches ?? []) as { States: Record<string, Node> }[])
      assertNoNestedDistributed(branch.States, name);
  }
}

// ---- JSONPath reference paths and Parameters templates ------------------------------------------

/** Evaluates a reference path (`$`, `$.a.b`, `$['a b']`, `$.a[0]`; `$$…` against the context). */
export function referencePath(path: string, input: Json, context: Json): Json {
  const onContext = path.startsWith('$$');
  let rest = path.slice(onContext ? 2 : 1);
  let node: Json = onContext ? context : input;
  while (rest.length > 0) {
    const match = /^\.([^.[\]]+)|^\[(\d+)\]|^\['([^']+)'\]/.exec(rest);
    if (!match) throw new DistributedMapError('States.Runtime', `unsupported path expression ${path}`);
    const key = match[1] ?? match[3];
    if (key !== undefined) node = node && typeof node === 'object' ? (node as Node)[key] : undefined;
    else node = Array.isArray(node) ? node[Number(match[2])] : undefined;
    if (node === undefined)
      throw new DistributedMapError('States.Runtime', `the JSONPath ${path} could not be found in the input`);
    rest = rest.slice(match[0].length);
  }
  return node;
}

/** Resolves a Parameters-style template: `key.$` fields take the value at their path, other fields are copied. */
export function resolveTemplate(template: Json, input: Json, context: Json): Json {
  if (Array.isArray(template)) return template.map((t) => resolveTemplate(t, input, context));
  if (!template || typeof template !== 'object') return template;
  const out: Node = {};
  for (const [key, value] of Object.entries(template as Node)) {
    if (key.endsWith('.$') && typeof value === 'string') {
      if (!value.startsWith('$'))
        throw new DistributedMapError(
          'States.Runtime',
          `${key}: the local Distributed Map takes paths only, not ${value}`,
        );
      out[key.slice(0, -2)] = referencePath(value, input, context);
    } else {
      out[key] = resolveTemplate(value, input, context);
    }
  }
  return out;
}

// ---- the run ------------------------------------------------------------------------------------

export interface ChildOutcome {
  executionArn: string;
  name: string;
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  output: Json;
  error: string | null;
  cause: string | null;
  startDate: string;
  stopDate: string;
}

export interface ChildHandle {
  done: Promise<ChildOutcome>;
  /** Stops the child (StopExecution). */
  stop(): void;
}

export interface DistributedMapRuntime {
  /** Local buckets by name (as `Ref: <logical id>` resolves locally). */
  buckets: Readonly<Record<string, LocalObjectStore>>;
  /** Starts one child execution of the ItemProcessor with its input. */
  startChild(input: Json): ChildHandle;
  /** The Map Run's ARN (`arn:…:mapRun:<machine>/<label>:<id>`); its last segment names the results folder. */
  mapRunArn: string;
  /** The parent's context object (`$$`). */
  context: Json;
  /** Aborted when the parent execution is stopped: no new child starts and the running ones are stopped. */
  signal?: AbortSignal;
}

interface ResultEntry {
  ExecutionArn: string;
  Name: string;
  Input: string;
  InputDetails: { Included: true };
  Output?: string;
  OutputDetails?: { Included: true };
  Error?: string;
  Cause?: string;
  Status: ChildOutcome['status'];
  StartDate: string;
  StopDate: string;
  StateMachineArn: string;
  RedriveCount: 0;
  RedriveStatus: 'NOT_REDRIVABLE';
}

function bucketOf(runtime: DistributedMapRuntime, bucket: Json, what: string): LocalObjectStore {
  const store = runtime.buckets[String(bucket)];
  if (!store) {
    throw new DistributedMapError(
      'States.ItemReaderFailed',
      `${what}: no local bucket "${String(bucket)}" (known: ${Object.keys(runtime.buckets).join(', ')})`,
    );
  }
  return store;
}

async function readItems(spec: DistributedMapSpec, input: Json, runtime: DistributedMapRuntime): Promise<Json[]> {
  if (!spec.itemReader) {
    const items = spec.itemsPath ? referencePath(spec.itemsPath, input, runtime.context) : input;
    if (!Array.isArray(items))
      throw new DistributedMapError('States.Runtime', `${spec.stateName}: items are not an array`);
    return items;
  }
  const reader = spec.itemReader;
  if (reader.Resource !== 'arn:aws:states:::s3:listObjectsV2') {
    throw new DistributedMapError(
      'States.ItemReaderFailed',
      `the local ItemReader supports s3:listObjectsV2 only, not ${reader.Resource}`,
    );
  }
  const params = resolveTemplate(reader.Parameters ?? {}, input, runtime.context) as {
    Bucket?: string;
    Prefix?: string;
  };
  const listed = await bucketOf(runtime, params.Bucket, 'ItemReader').list(params.Prefix ?? '');
  const max = reader.ReaderConfig?.MaxItems;
  return max && max > 0 ? listed.slice(0, max) : listed;
}

/** Items after ItemSelector, grouped by ItemBatcher: what each child execution gets. */
export function childInputs(
  spec: DistributedMapSpec,
  input: Json,
  items: readonly Json[],
  context: Json,
): { input: Json; items: number }[] {
  const selected = items.map((value, index) =>
    spec.itemSelector
      ? resolveTemplate(spec.itemSelector, input, {
          ...(context as Node),
          Map: { Item: { Index: index, Value: value } },
        })
      : value,
  );
  const batcher = spec.itemBatcher;
  if (!batcher) return selected.map((item) => ({ input: item, items: 1 }));
  const maxItems = batcher.MaxItemsPerBatch ?? Number.POSITIVE_INFINITY;
  const maxBytes = batcher.MaxInputBytesPerBatch ?? DEFAULT_MAX_INPUT_BYTES_PER_BATCH;
  const batchInput = batcher.BatchInput ? resolveTemplate(batcher.BatchInput, input, context) : undefined;
  const base = batchInput === undefined ? 0 : Buffer.byteLength(JSON.stringify({ BatchInput: batchInput, Items: [] }));
  const batches: Json[][] = [];
  let current: Json[] = [];
  let bytes = base;
  for (const item of selected) {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = base;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches.map((batch) => ({
    input: batchInput === undefined ? { Items: batch } : { BatchInput: batchInput, Items: batch },
    items: batch.length,
  }));
}

/** The thresholds: a run fails once its failed items exceed either; with neither set, any failure fails it. */
function toleratedFailures(
  spec: DistributedMapSpec,
  input: Json,
  context: Json,
): { percentage: number; count: number } {
  const percentage = spec.toleratedFailurePercentagePath
    ? Number(referencePath(spec.toleratedFailurePercentagePath, input, context))
    : spec.toleratedFailurePercentage;
  const count = spec.toleratedFailureCountPath
    ? Number(referencePath(spec.toleratedFailureCountPath, input, context))
    : spec.toleratedFailureCount;
  if (percentage === undefined && count === undefined) return { percentage: 0, count: 0 };
  return { percentage: percentage ?? 100, count: count ?? Number.POSITIVE_INFINITY };
}

function resultEntry(outcome: ChildOutcome, input: Json, stateMachineArn: string): ResultEntry {
  return {
    ExecutionArn: outcome.executionArn,
    Name: outcome.name,
    Input: JSON.stringify(input),
    InputDetails: { Included: true },
    ...(outcome.status === 'SUCCEEDED'
      ? { Output: JSON.stringify(outcome.output), OutputDetails: { Included: true } }
      : { Error: outcome.error ?? 'States.Aborted', Cause: outcome.cause ?? '' }),
    Status: outcome.status,
    StartDate: outcome.startDate,
    StopDate: outcome.stopDate,
    StateMachineArn: stateMachineArn,
    RedriveCount: 0,
    RedriveStatus: 'NOT_REDRIVABLE',
  };
}

async function writeResults(
  spec: DistributedMapSpec,
  input: Json,
  runtime: DistributedMapRuntime,
  files: { SUCCEEDED: ResultEntry[]; FAILED: ResultEntry[]; PENDING: Json[] },
): Promise<{ Bucket: string; Key: string }> {
  const writer = spec.resultWriter as { Resource: string; Parameters?: Node };
  if (writer.Resource !== 'arn:aws:states:::s3:putObject') {
    throw new DistributedMapError(
      'States.ResultWriterFailed',
      `the local ResultWriter supports s3:putObject only, not ${writer.Resource}`,
    );
  }
  const params = resolveTemplate(writer.Parameters ?? {}, input, runtime.context) as {
    Bucket?: string;
    Prefix?: string;
  };
  const bucket = String(params.Bucket);
  const store = bucketOf(runtime, bucket, 'ResultWriter');
  const runId = runtime.mapRunArn.slice(runtime.mapRunArn.lastIndexOf(':') + 1);
  const folder = `${params.Prefix ? `${params.Prefix.replace(/\/+$/, '')}/` : ''}${runId}`;
  const resultFiles: Record<string, { Key: string; Size: number }[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  for (const status of ['SUCCEEDED', 'FAILED', 'PENDING'] as const) {
    if (files[status].length === 0) continue;
    const key = `${folder}/${status}_0.json`;
    const info = await store.put(key, JSON.stringify(files[status]), 'application/json');
    resultFiles[status]?.push({ Key: key, Size: info.size });
  }
  const manifestKey = `${folder}/manifest.json`;
  await store.put(
    manifestKey,
    JSON.stringify({ DestinationBucket: bucket, MapRunArn: runtime.mapRunArn, ResultFiles: resultFiles }),
    'application/json',
  );
  return { Bucket: bucket, Key: manifestKey };
}

/** Runs a Distributed Map state on its (InputPath-processed) input; returns its result, or throws its error. */
export async function runDistributedMap(
  spec: DistributedMapSpec,
  input: Json,
  runtime: DistributedMapRuntime,
): Promise<Json> {
  const items = await readItems(spec, input, runtime);
  const children = childInputs(spec, input, items, runtime.context);
  const tolerated = toleratedFailures(spec, input, runtime.context);
  const limit = spec.maxConcurrency > 0 ? spec.maxConcurrency : LOCAL_UNBOUNDED_CONCURRENCY;
  const childMachineArn = runtime.mapRunArn.replace(':mapRun:', ':stateMachine:').replace(/:[^:]+$/, '');

  const outcomes: (ChildOutcome | undefined)[] = new Array(children.length).fill(undefined);
  const running = new Set<ChildHandle>();
  let failedItems = 0;
  let exceeded = false;
  let next = 0;
  const stopAll = () => {
    for (const child of running) child.stop();
  };
  runtime.signal?.addEventListener('abort', stopAll, { once: true });

  const exceeds = () =>
    failedItems > tolerated.count || (items.length > 0 && (failedItems * 100) / items.length > tolerated.percentage);

  const worker = async (): Promise<void> => {
    while (next < children.length && !exceeded && !runtime.signal?.aborted) {
      const index = next++;
      const child = children[index] as { input: Json; items: number };
      const handle = runtime.startChild(child.input);
      running.add(handle);
      const outcome = await handle.done;
      running.delete(handle);
      outcomes[index] = outcome;
      // Children stopped because the threshold was exceeded (or the parent stopped) do not count: the run is over.
      if (outcome.status !== 'SUCCEEDED' && !exceeded && !runtime.signal?.aborted) {
        failedItems += child.items;
        if (exceeds()) {
          exceeded = true;
          stopAll();
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, children.length) }, worker));
  } finally {
    runtime.signal?.removeEventListener('abort', stopAll);
  }
  if (runtime.signal?.aborted)
    throw new DistributedMapError('States.Aborted', `${spec.stateName}: the execution was stopped`);

  const succeeded: ResultEntry[] = [];
  const failed: ResultEntry[] = [];
  const pending: Json[] = [];
  outcomes.forEach((outcome, i) => {
    const childInput = children[i]?.input;
    if (!outcome) pending.push(childInput);
    else (outcome.status === 'SUCCEEDED' ? succeeded : failed).push(resultEntry(outcome, childInput, childMachineArn));
  });
  const details = spec.resultWriter
    ? await writeResults(spec, input, runtime, { SUCCEEDED: succeeded, FAILED: failed, PENDING: pending })
    : undefined;
  if (exceeded) {
    throw new DistributedMapError(
      'States.ExceedToleratedFailureThreshold',
      `${spec.stateName}: ${failedItems} of ${items.length} items failed, more than the tolerated ` +
        `${tolerated.percentage}% / ${tolerated.count === Number.POSITIVE_INFINITY ? 'any number' : tolerated.count}`,
    );
  }
  return details
    ? { MapRunArn: runtime.mapRunArn, ResultWriterDetails: details }
    : outcomes.map((o) => o?.output ?? null);
}
