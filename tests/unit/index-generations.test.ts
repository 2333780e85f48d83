import { searchChunks as searchStep } from '../../functions/rag/answer-question/answer.js';
import {
  activeGenerations,
  beginBulkIngest,
  beginIngest,
  discardReembed,
  type EmbeddingSpace,
  generationStatus,
  type IndexedChunk,
  indexChunks,
  migrate,
  publishVersion,
  purgeRetiredGenerations,
  searchChunks,
  switchGeneration,
} from '../../functions/rag/chunk-index.js';
import { parseConfig } from '../../functions/shared/config.js';
import {
  ConfigurationError,
  EmbeddingModelChangedError,
  GenerationIncompleteError,
  IncompleteVersionError,
} from '../../functions/shared/errors.js';
import type { Embedder, SqlClient, SqlParam, SqlResult } from '../../functions/shared/ports.js';
import { createPgliteSql } from '../../local/pglite-sql.js';

// Index generations in chunk-index.ts: what migrate makes of a changed model, what ingest writes while a generation
// builds, and the switch. Each test starts from empty tables (the generations are per deployment).

const A: EmbeddingSpace = { modelId: 'test/model-a', dimensions: 4 };
const B: EmbeddingSpace = { modelId: 'test/model-b', dimensions: 4 };
const C: EmbeddingSpace = { modelId: 'test/model-c', dimensions: 6 };
const TENANT = 't1';

type Sql = SqlClient & { close(): Promise<void> };
let sql: Sql;

beforeAll(async () => {
  sql = await createPgliteSql();
  await migrate(sql, A);
});

beforeEach(async () => {
  await sql.query('truncate documents, chunks, chunk_terms, tenant_terms, tenant_stats, index_generations');
});

afterAll(async () => {
  await sql.close();
});

function axis(space: EmbeddingSpace, i: number): number[] {
  return Array.from({ length: space.dimensions }, (_, j) => (j === i % space.dimensions ? 1 : 0));
}

function rows(
  doc: { key: string; version: string },
  texts: string[],
  space: EmbeddingSpace,
  generation: number,
): IndexedChunk[] {
  return texts.map((content, ordinal) => ({
    chunkId: `${doc.key}@${doc.version}#${ordinal}`,
    documentKey: doc.key,
    version: doc.version,
    tenantId: TENANT,
    ordinal,
    heading: null,
    content,
    tokenCount: 3,
    embedding: axis(space, ordinal),
    embeddingModel: space.modelId,
    generation,
  }));
}

/** An upload event's ingest, written for the given generations (what ingest-and-index does). */
async function upload(
  doc: { key: string; version: string; hash: string; sequencer: string },
  texts: string[],
  generations: { id: number; space: EmbeddingSpace }[],
): Promise<void> {
  await beginIngest(sql, {
    documentKey: doc.key,
    tenantId: TENANT,
    version: doc.version,
    contentHash: doc.hash,
    sequencer: doc.sequencer,
  });
  for (const g of generations) await indexChunks(sql, rows(doc, texts, g.space, g.id));
  await publishVersion(sql, {
    documentKey: doc.key,
    version: doc.version,
    expectedChunks: texts.length,
    generations: generations.map((g) => g.id),
  });
}

async function stats(): Promise<{ chunkCount: number; df: number }> {
  const res = await sql.query<{ chunk_count: number; df: number }>(
    `select s.chunk_count, (select df from tenant_terms where tenant_id = $1 and lexeme = 'harbour') as df
     from tenant_stats s where s.tenant_id = $1`,
    [TENANT],
  );
  return { chunkCount: Number(res.rows[0]?.chunk_count), df: Number(res.rows[0]?.df) };
}

/** The lexical index (chunk_terms) as chunk id / generation. */
async function lexicalIndex(): Promise<string[]> {
  const res = await sql.query<{ chunk_id: string; generation: number }>(
    'select chunk_id, generation from chunk_terms order by chunk_id, generation',
  );
  return res.rows.map((r) => `${r.chunk_id}/${r.generation}`);
}

function search(space: EmbeddingSpace, text: string) {
  return searchChunks(sql, {
    tenantId: TENANT,
    embedding: axis(space, 0),
    embeddingModel: space.modelId,
    queryText: text,
    topK: 10,
    candidates: 10,
    efSearch: 40,
    fusion: { method: 'rrf', k: 60 },
    bm25: { k1: 0.9, b: 0.4 },
  });
}

const DOC1 = { key: 'd1', version: 'v-01', hash: 'h1', sequencer: '01' };
const DOC2 = { key: 'd2', version: 'v-02', hash: 'h2', sequencer: '02' };
const TEXTS = ['harbour lighthouse rock', 'harbour ferry quay'];

describe('migrate and index generations', () => {
  it('starts with one live generation of the configured model, and a new model only adds a building one', async () => {
    await migrate(sql, A);
    const first = await activeGenerations(sql);

    await migrate(sql, B);
    await migrate(sql, B);
    const building = await activeGenerations(sql);

    expect(first).toEqual([{ id: 1, ...A, state: 'live' }]);
    expect(building).toEqual([
      { id: 1, ...A, state: 'live' },
      { id: 2, ...B, state: 'building' },
    ]);
  });

  it('refuses a search, with a ConfigurationError naming the migrations, while the index has no live generation', async () => {
    // beforeEach left index_generations empty: nothing migrated yet
    await expect(search(A, 'harbour')).rejects.toThrow(ConfigurationError);
    await expect(search(A, 'harbour')).rejects.toThrow(/no live generation: run the database migrations/);
  });

  it('accepts a new dimension without throwing; another target replaces the building one, the live one cancels it', async () => {
    await migrate(sql, A);
    await migrate(sql, B);

    await migrate(sql, C);
    const replaced = await activeGenerations(sql);
    await migrate(sql, A);
    const cancelled = await activeGenerations(sql);

    expect(replaced.map((g) => [g.id, g.modelId, g.state])).toEqual([
      [1, A.modelId, 'live'],
      [3, C.modelId, 'building'],
    ]);
    expect(cancelled.map((g) => [g.id, g.modelId, g.state])).toEqual([[1, A.modelId, 'live']]);
  });

  it('adopts the model of chunks written before generations existed as the live one', async () => {
    await migrate(sql, A);
    await upload(DOC1, TEXTS, [{ id: 1, space: A }]);
    // as on a database migrated before 0022: no generation recorded yet
    await sql.query('delete from index_generations');

    await migrate(sql, B);

    expect(await activeGenerations(sql)).toEqual([
      { id: 1, ...A, state: 'live' },
      { id: 2, ...B, state: 'building' },
    ]);
  });
});

describe('ingest while a generation builds, and the switch', () => {
  beforeEach(async () => {
    await migrate(sql, A);
    await upload(DOC1, TEXTS, [{ id: 1, space: A }]);
    await upload(DOC2, ['harbour glacier ice'], [{ id: 1, space: A }]);
    await migrate(sql, B);
  });

  it('re-embeds unchanged content for the building generation instead of skipping it', async () => {
    const event = await beginIngest(sql, {
      documentKey: DOC1.key,
      tenantId: TENANT,
      version: 'v-03',
      contentHash: DOC1.hash,
      sequencer: '03',
    });
    const bulk = await beginBulkIngest(sql, {
      documentKey: DOC2.key,
      tenantId: TENANT,
      contentHash: DOC2.hash,
      versionFor: () => 'v-0FF',
    });
    await indexChunks(sql, rows(DOC1, TEXTS, B, 2));
    await publishVersion(sql, {
      documentKey: DOC1.key,
      version: DOC1.version,
      expectedChunks: 2,
      generations: [2],
      reembed: true,
    });
    const after = await beginIngest(sql, {
      documentKey: DOC1.key,
      tenantId: TENANT,
      version: 'v-04',
      contentHash: DOC1.hash,
      sequencer: '04',
    });

    expect(event).toBe('reembed');
    expect(bulk).toMatchObject({ outcome: 'reembed', version: DOC2.version });
    expect(after).toBe('unchanged');
    expect((await generationStatus(sql)).building).toMatchObject({ documentsDone: 1, documentsTotal: 2 });
  });

  it('refuses to switch while a live document lacks chunks in the building generation; search stays on A', async () => {
    await indexChunks(sql, rows(DOC1, TEXTS, B, 2));
    await publishVersion(sql, {
      documentKey: DOC1.key,
      version: DOC1.version,
      expectedChunks: 2,
      generations: [2],
      reembed: true,
    });

    await expect(switchGeneration(sql)).rejects.toThrow(GenerationIncompleteError);
    await expect(switchGeneration(sql)).rejects.toThrow(/lacks 1 live document\(s\), e\.g\. d2/);
    const hits = await search(A, 'harbour');
    expect(new Set(hits.map((h) => h.embeddingModel))).toEqual(new Set([A.modelId]));
    expect(new Set(hits.map((h) => h.documentKey))).toEqual(new Set(['d1', 'd2']));
    await expect(search(B, 'harbour')).rejects.toThrow(EmbeddingModelChangedError);
  });

  it('switches in one step when complete: search reads B only, the statistics count one generation, A is purged', async () => {
    // d1 updated during the migration (written for both), d2 re-embedded
    await upload({ ...DOC1, version: 'v-05', hash: 'h5', sequencer: '05' }, TEXTS, [
      { id: 1, space: A },
      { id: 2, space: B },
    ]);
    await indexChunks(sql, rows({ key: DOC2.key, version: DOC2.version }, ['harbour glacier ice'], B, 2));
    await publishVersion(sql, {
      documentKey: DOC2.key,
      version: DOC2.version,
      expectedChunks: 1,
      generations: [2],
      reembed: true,
    });
    const before = await stats();
    const lexicalBefore = await lexicalIndex();

    const switched = await switchGeneration(sql);
    const afterSwitch = await stats();
    const lexicalAfter = await lexicalIndex();
    const hits = await search(B, 'harbour');
    const purged: number[] = [];
    for (let n = -1; n !== 0; ) {
      n = (await purgeRetiredGenerations(sql, 2)).removedChunks;
      purged.push(n);
    }

    expect(before).toEqual({ chunkCount: 3, df: 3 });
    expect(afterSwitch).toEqual(before);
    // the lexical index holds the live generation's live chunks only: A's before the switch, B's after it
    expect(lexicalBefore).toEqual(['d1@v-05#0/1', 'd1@v-05#1/1', 'd2@v-02#0/1']);
    expect(lexicalAfter).toEqual(['d1@v-05#0/2', 'd1@v-05#1/2', 'd2@v-02#0/2']);
    expect(switched).toMatchObject({ switched: true, live: { id: 2, ...B }, retired: 1 });
    expect(new Set(hits.map((h) => h.embeddingModel))).toEqual(new Set([B.modelId]));
    expect(new Set(hits.map((h) => h.documentKey))).toEqual(new Set(['d1', 'd2']));
    expect(purged).toEqual([2, 1, 0]);
    const left = await sql.query<{ n: number }>('select count(*)::int as n from chunks where generation = 1');
    expect(left.rows[0]?.n).toBe(0);
    expect(await switchGeneration(sql)).toMatchObject({ switched: false, retired: null });
  });

  it('refuses to publish a version embedded only for a generation that is no longer live', async () => {
    await indexChunks(sql, rows(DOC1, TEXTS, B, 2));
    await publishVersion(sql, {
      documentKey: 'd1',
      version: DOC1.version,
      expectedChunks: 2,
      generations: [2],
      reembed: true,
    });
    await indexChunks(sql, rows({ key: DOC2.key, version: DOC2.version }, ['harbour glacier ice'], B, 2));
    await publishVersion(sql, {
      documentKey: 'd2',
      version: DOC2.version,
      expectedChunks: 1,
      generations: [2],
      reembed: true,
    });
    // an upload that began (and embedded for A only) before the switch
    await beginIngest(sql, {
      documentKey: 'd1',
      tenantId: TENANT,
      version: 'v-06',
      contentHash: 'h6',
      sequencer: '06',
    });
    await indexChunks(sql, rows({ key: 'd1', version: 'v-06' }, TEXTS, A, 1));
    await switchGeneration(sql);

    await expect(
      publishVersion(sql, { documentKey: 'd1', version: 'v-06', expectedChunks: 2, generations: [1] }),
    ).rejects.toThrow(IncompleteVersionError);
  });

  it('a failed re-embed drops its building rows and never the live ones', async () => {
    await indexChunks(sql, rows(DOC1, TEXTS.slice(0, 1), B, 2));

    await discardReembed(sql, { documentKey: 'd1', version: DOC1.version, generations: [1, 2] });

    const left = await sql.query<{ generation: number; n: number }>(
      `select generation, count(*)::int as n from chunks where document_key = 'd1' group by generation`,
    );
    expect(left.rows).toEqual([{ generation: 1, n: 2 }]);
  });

  describe('a switch between the live-generation check and the search statement', () => {
    /**
     * The SqlClient as a search sees it when another connection commits the switch right after the search's
     * live-generation check: that first read answers the generations as they were, everything else sees the switch.
     */
    function switchingAfterCheck(): SqlClient {
      let switched = false;
      return {
        query: (text, params) => sql.query(text, params),
        async transaction(fn) {
          if (switched) return sql.transaction(fn);
          switched = true;
          const before = await sql.query(
            `select id, model_id, dimensions, state from index_generations where state in ('building', 'live')
             order by case state when 'live' then 0 else 1 end`,
          );
          await sql.query(`update index_generations set state = 'retired' where state = 'live'`);
          await sql.query(`update index_generations set state = 'live' where state = 'building'`);
          let checked = false;
          return sql.transaction((tx) =>
            fn({
              query: async <T>(text: string, params?: readonly SqlParam[]): Promise<SqlResult<T>> => {
                if (!checked && text.includes('from index_generations')) {
                  checked = true;
                  return before as SqlResult<T>;
                }
                return tx.query<T>(text, params);
              },
              transaction: (inner) => inner(tx),
            }),
          );
        },
      };
    }

    beforeEach(async () => {
      for (const doc of [
        { key: DOC1.key, version: DOC1.version, texts: TEXTS },
        { key: DOC2.key, version: DOC2.version, texts: ['harbour glacier ice'] },
      ]) {
        await indexChunks(sql, rows(doc, doc.texts, B, 2));
        await publishVersion(sql, {
          documentKey: doc.key,
          version: doc.version,
          expectedChunks: doc.texts.length,
          generations: [2],
          reembed: true,
        });
      }
    });

    it('is noticed on the rows returned: EmbeddingModelChangedError, never a result of two generations', async () => {
      const client = switchingAfterCheck();

      await expect(
        searchChunks(client, {
          tenantId: TENANT,
          embedding: axis(A, 0),
          embeddingModel: A.modelId,
          queryText: 'harbour',
          topK: 10,
          candidates: 10,
          efSearch: 40,
          fusion: { method: 'rrf', k: 60 },
          bm25: { k1: 0.9, b: 0.4 },
        }),
      ).rejects.toThrow(EmbeddingModelChangedError);
    });

    it('makes SearchChunks embed the question again with the new live model and return its results', async () => {
      const fake = (space: EmbeddingSpace): Embedder => ({
        ...space,
        embed: async (texts) => texts.map(() => axis(space, 0)),
      });
      const deps = {
        config: parseConfig({ EMBEDDER: 'hashed' }),
        sql: switchingAfterCheck(),
        embedder: fake(B),
        embedderFor: fake,
        workflows: { startSync: async () => ({ executionId: 'none', status: 'FAILED' as const }) },
      };

      const { hits } = await searchStep(
        {
          question: 'harbour',
          tenantId: TENANT,
          userId: 'u1',
          topK: 10,
          embedding: axis(A, 0),
          embeddingModel: A.modelId,
        },
        deps,
      );

      expect(new Set(hits.map((h) => h.embeddingModel))).toEqual(new Set([B.modelId]));
      expect(new Set(hits.map((h) => h.documentKey))).toEqual(new Set(['d1', 'd2']));
    });
  });
});
