import {
  activeGenerations,
  type EmbeddingSpace,
  generationStatus,
  type IndexGeneration,
  migrate,
} from '../../functions/rag/chunk-index.js';
import type { SearchOutput } from '../../functions/rag/search/search.js';
import { type VectorStore, vectorStoreOf } from '../../functions/rag/vector-store.js';
import { createOfflineEmbedder, embedOffline } from '../../functions/shared/adapters/offline-embedder.js';
import { HASHED_MODEL_ID } from '../../functions/shared/config.js';
import { ModelInvocationError } from '../../functions/shared/errors.js';
import type { Embedder } from '../../functions/shared/ports.js';
import type { LocalStack } from '../../local/stack.js';
import type { ExecutionRecord } from '../../local/step-functions.js';
import { ingest, remove, startTestStack } from './harness.js';

// Changing the embedding model on the local runtime: documents ingested with model A, the configuration then names
// model B (same dimension, another model) and later model C (another dimension), and bulk-ingest's re-embed run
// builds the new index generation and switches. Every search, before, during and after, must come from exactly one
// model and find every live document. Run against both vector stores: pgvector, and OpenSearch Serverless on the
// local fake of its REST API (one index per generation and embedding space).

const TENANT = 'migration';
const DIMS = 256;
const A: EmbeddingSpace = { modelId: HASHED_MODEL_ID, dimensions: DIMS };
const B: EmbeddingSpace = { modelId: 'test/hashed-reversed-v1', dimensions: DIMS };
const C: EmbeddingSpace = { modelId: HASHED_MODEL_ID, dimensions: 512 };

const TOPICS = ['lighthouse', 'ferry', 'salmon', 'glacier', 'volcano', 'orchard', 'windmill'];
const keyOf = (topic: string) => `tenants/${TENANT}/notes/${topic}.md`;
const noteOf = (topic: string, detail = 'stands on the northern shore') =>
  `# Harbour note: ${topic}\n\nThe ${topic} ${detail}, and every harbour guide mentions the ${topic}.\n`;

/**
 * Model B: the hashed embedder's vector reversed, so its vectors are not comparable with A's (a search that mixed
 * them would rank by noise). Fails on texts holding `failOn` while it is set (a model error halfway through a run).
 */
function reversedEmbedder(state: { failOn?: string }): Embedder {
  return {
    modelId: B.modelId,
    dimensions: B.dimensions,
    async embed(texts) {
      const failOn = state.failOn;
      if (failOn && texts.some((t) => t.includes(failOn))) {
        throw new ModelInvocationError(`${B.modelId} failed on a text holding "${failOn}"`);
      }
      return texts.map((t) => embedOffline(t, B.dimensions).reverse());
    },
  };
}

const STORES: Array<[string, Record<string, string>]> = [
  ['pgvector', {}],
  ['opensearch', { VECTOR_STORE: 'opensearch' }],
];

describe.each(STORES)('changing the embedding model on the local runtime (%s)', (storeName, storeEnv) => {
  let stack: LocalStack;
  let store: VectorStore;
  const failure: { failOn?: string } = {};
  const embedders = new Map<string, Embedder>([
    [`${A.modelId}/${A.dimensions}`, createOfflineEmbedder(A.dimensions)],
    [`${B.modelId}/${B.dimensions}`, reversedEmbedder(failure)],
    [`${C.modelId}/${C.dimensions}`, createOfflineEmbedder(C.dimensions)],
  ]);
  const embedderOf = (space: EmbeddingSpace): Embedder => {
    const embedder = embedders.get(`${space.modelId}/${space.dimensions}`);
    if (!embedder) throw new Error(`no test embedder for ${space.modelId}/${space.dimensions}`);
    return embedder;
  };
  const live = new Set<string>();

  /** What a deploy with a new EMBEDDER / EMBEDDING_MODEL_ID does: the migrations run, handlers get the new embedder. */
  async function deploy(space: EmbeddingSpace): Promise<void> {
    await migrate(stack.ports.sql, space);
    stack.ports.embedder = embedderOf(space);
  }

  function reembed(input: Record<string, unknown> = {}): { done: Promise<ExecutionRecord> } {
    return stack.sfn.start('bulk-ingest', { prefix: `tenants/${TENANT}/`, reembed: true, ...input });
  }

  async function search(question: string, topK = 5): Promise<SearchOutput['results']> {
    const record = await stack.sfn.startSync('search', {
      question,
      tenantId: TENANT,
      userId: 'migration-test',
      topK,
      onePerDocument: true,
    });
    expect(record.status).toBe('SUCCEEDED');
    return (record.output as SearchOutput).results;
  }

  /**
   * Every topic's query finds its note first, a query for what all notes share finds every live note, and every
   * result of every query comes from one model: the one expected live. Returns the models seen.
   */
  async function expectCompleteSingleModelSearch(expectedModel: string): Promise<void> {
    const models = new Set<string | undefined>();
    for (const topic of TOPICS.filter((t) => live.has(keyOf(t)))) {
      const results = await search(`Where is the ${topic}?`);
      for (const r of results) models.add(r.embeddingModel);
      expect(results[0]?.documentKey).toBe(keyOf(topic));
    }
    const all = await search('harbour note guide', TOPICS.length * 2);
    for (const r of all) models.add(r.embeddingModel);
    expect(new Set(all.map((r) => r.documentKey))).toEqual(live);
    expect([...models]).toEqual([expectedModel]);
  }

  async function generations(): Promise<{ live: IndexGeneration; building?: IndexGeneration }> {
    const [live, building] = await activeGenerations(stack.ports.sql);
    return { live: live as IndexGeneration, ...(building ? { building } : {}) };
  }

  /** The live documents whose live version has every chunk in the generation, as the vector store counts them. */
  async function completeIn(generation: IndexGeneration): Promise<string[]> {
    const incomplete = new Set(await store.incompleteDocuments(generation, stack.ports.sql));
    return [...live].filter((key) => !incomplete.has(key)).sort();
  }

  /**
   * The live generation holds every live document, and the BM25 statistics count each live chunk once (one
   * generation), never two generations' copies (pgvector keeps them in PostgreSQL; OpenSearch, per index).
   */
  async function expectStatisticsOfOneGeneration(): Promise<void> {
    const { live: liveGeneration } = await generations();
    expect(await completeIn(liveGeneration)).toEqual([...live].sort());
    if (storeName !== 'pgvector') {
      // the chunks are in the collection's indexes, never in pgvector's table
      const { rows } = await stack.ports.sql.query<{ n: number }>('select count(*)::int as n from chunks');
      expect(rows[0]?.n).toBe(0);
      return;
    }
    const { rows } = await stack.ports.sql.query<{ counted: number; live_chunks: number }>(
      `select (select chunk_count from tenant_stats where tenant_id = $1) as counted,
         (select count(*)::int from chunks c join documents d on d.document_key = c.document_key
            and d.live_version = c.version
          where c.tenant_id = $1 and c.generation = (select id from index_generations where state = 'live'))
         as live_chunks`,
      [TENANT],
    );
    expect(rows[0]?.counted).toBe(rows[0]?.live_chunks);
    expect(rows[0]?.live_chunks).toBeGreaterThanOrEqual(live.size);
  }

  beforeAll(async () => {
    stack = await startTestStack({
      env: { EMBEDDER: 'hashed', EMBEDDING_DIMENSIONS: String(DIMS), ...storeEnv },
      wrapPorts: (ports) => Object.assign(ports, { embedderFor: embedderOf }),
    });
    store = vectorStoreOf(stack.ports);
    expect(store.kind).toBe(storeName);
    for (const topic of TOPICS) {
      expect((await ingest(stack, keyOf(topic), noteOf(topic))).status).toBe('SUCCEEDED');
      live.add(keyOf(topic));
    }
  });

  afterAll(async () => {
    await stack.close();
  });

  it('searches model A before any change', async () => {
    await expectCompleteSingleModelSearch(A.modelId);
    expect((await generationStatus(stack.ports.sql, store)).building).toBeNull();
  });

  it('after a deploy with model B (same dimension), search stays on A while B builds', async () => {
    await deploy(B);

    const status = await generationStatus(stack.ports.sql, store);
    expect(status.live).toMatchObject(A);
    expect(status.building).toMatchObject({ ...B, documentsDone: 0, documentsTotal: TOPICS.length });
    await expectCompleteSingleModelSearch(A.modelId);
  });

  it('re-uploads, updates and deletions during the migration leave both generations right, search on A', async () => {
    // the same content again: re-embedded for B (no longer skipped as "unchanged"), A's chunks untouched
    const same = await ingest(stack, keyOf('lighthouse'), noteOf('lighthouse'));
    // new content: a new version, written for A and B
    const updated = await ingest(stack, keyOf('ferry'), noteOf('ferry', 'leaves the quay at dawn'));
    const deleted = await remove(stack, keyOf('salmon'));
    live.delete(keyOf('salmon'));

    expect([same.status, updated.status, deleted.status]).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    const { live: inA, building: inB } = await generations();
    expect(await completeIn(inB as IndexGeneration)).toEqual([keyOf('ferry'), keyOf('lighthouse')]);
    expect(await completeIn(inA)).toEqual([...live].sort());
    expect((await generationStatus(stack.ports.sql, store)).building).toMatchObject({
      documentsDone: 2,
      documentsTotal: TOPICS.length - 1,
    });
    await expectCompleteSingleModelSearch(A.modelId);
    await expectStatisticsOfOneGeneration();
  });

  it('a re-embed run failing halfway leaves search on A; the run again completes the switch to B', async () => {
    failure.failOn = 'glacier';

    const failed = await reembed({ toleratedFailurePercentage: 100 }).done;

    expect(failed.status).toBe('FAILED');
    expect(failed.error).toBe('GenerationIncompleteError');
    // SwitchGeneration's Catch ends the run in its own Fail state (the console shows why), not in the task
    const entered = (failed.events ?? []).filter((e) => e.type === 'StateEntered').map((e) => e.state);
    expect(entered).toContain('GenerationIncomplete');
    const halfway = await generationStatus(stack.ports.sql, store);
    expect(halfway.live).toMatchObject(A);
    expect(halfway.building).toMatchObject({ documentsDone: TOPICS.length - 2, documentsTotal: TOPICS.length - 1 });
    await expectCompleteSingleModelSearch(A.modelId);

    failure.failOn = undefined;
    const again = await reembed().done;

    expect(again.status).toBe('SUCCEEDED');
    const after = await generationStatus(stack.ports.sql, store);
    expect(after.live).toMatchObject(B);
    expect(after.building).toBeNull();
    expect(after.retiredPendingPurge).toEqual([]);
    // the retired generation (A) holds no chunk in either store; pgvector's table holds B's only
    expect(await store.holdsChunks({ ...A, id: halfway.live.id, state: 'retired' })).toBe(false);
    if (storeName === 'pgvector') {
      const { rows } = await stack.ports.sql.query<{ models: string[] }>(
        'select array_agg(distinct embedding_model) as models from chunks where tenant_id = $1',
        [TENANT],
      );
      expect(rows[0]?.models).toEqual([B.modelId]);
    }
    await expectCompleteSingleModelSearch(B.modelId);
    await expectStatisticsOfOneGeneration();
  });

  it('to model C (another dimension): the deploy does not throw, and searches during the run see one model', async () => {
    await deploy(C);
    const run = reembed();
    let finished = false;
    void run.done.finally(() => {
      finished = true;
    });
    const seen = new Set<string>();

    // searches while the run re-embeds and switches: each one complete and from one model, A's successor or C
    let searches = 0;
    while (!finished || searches === 0) {
      const results = await search('harbour note guide', TOPICS.length * 2);
      const models = new Set(results.map((r) => r.embeddingModel));
      expect(models.size).toBe(1);
      expect(new Set(results.map((r) => r.documentKey))).toEqual(live);
      for (const m of models) seen.add(String(m));
      searches++;
    }

    expect((await run.done).status).toBe('SUCCEEDED');
    expect([...seen].every((m) => m === B.modelId || m === C.modelId)).toBe(true);
    const status = await generationStatus(stack.ports.sql, store);
    expect(status.live).toMatchObject(C);
    await expectCompleteSingleModelSearch(C.modelId);
    await expectStatisticsOfOneGeneration();
  });
});
