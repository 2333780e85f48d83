/**
 * fusion.ts must fuse exactly as the SQL of chunk-index.ts does: given the candidates PostgreSQL's own branches
 * return (vectorCandidatesSql, textCandidatesSql), it must produce the hits, scores and ranks of searchChunks.
 */
import {
  beginIngest,
  type Fusion,
  type IndexedChunk,
  indexChunks,
  migrate,
  publishVersion,
  searchChunks,
  standaloneTextSql,
  vectorCandidatesSql,
} from '../../functions/rag/chunk-index.js';
import { fuseCandidates, type TextCandidate, type VectorCandidate } from '../../functions/rag/fusion.js';
import type { SqlClient } from '../../functions/shared/ports.js';
import { seededRandom } from '../../functions/shared/seeded-random.js';
import { createPgliteSql } from '../../local/pglite-sql.js';

const DIMS = 6;
const MODEL = 'test/fusion-v1';
const SPACE = { modelId: MODEL, dimensions: DIMS };
const BM25 = { k1: 0.9, b: 0.4 };
const WORDS = ['harbour', 'lantern', 'granite', 'tide', 'keeper', 'beacon', 'reef', 'storm', 'signal', 'island'];

let sql: SqlClient & { close(): Promise<void> };

beforeAll(async () => {
  sql = await createPgliteSql();
  await migrate(sql, SPACE);
  const random = seededRandom(17);
  for (let d = 0; d < 6; d++) {
    const documentKey = `t/doc-${d}.md`;
    await beginIngest(sql, { documentKey, tenantId: 't', version: 'v1', contentHash: `h${d}`, sequencer: '01' });
    const chunks: IndexedChunk[] = Array.from({ length: 4 }, (_, ordinal) => ({
      chunkId: `${documentKey}@v1#${ordinal}`,
      documentKey,
      version: 'v1',
      tenantId: 't',
      ordinal,
      heading: ordinal === 0 ? `Section ${d}` : null,
      content: Array.from({ length: 8 }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' '),
      tokenCount: 8,
      embedding: Array.from({ length: DIMS }, () => random() - 0.5),
      embeddingModel: MODEL,
    }));
    await indexChunks(sql, chunks);
    await publishVersion(sql, { documentKey, version: 'v1', expectedChunks: chunks.length });
  }
});

afterAll(async () => {
  await sql.close();
});

async function candidates(embedding: number[], queryText: string, limit: number) {
  const vector = `[${embedding.join(',')}]`;
  const v = await sql.query<{
    chunk_id: string;
    distance: number;
    document_key: string;
    heading: string | null;
    content: string;
  }>(
    `select v.chunk_id, v.distance, c.document_key, c.heading, c.content
     from (${vectorCandidatesSql('$3', SPACE)}) v join chunks c on c.chunk_id = v.chunk_id`,
    ['t', vector, limit],
  );
  const t = await sql.query<{
    chunk_id: string;
    text_score: number;
    document_key: string;
    heading: string | null;
    content: string;
  }>(
    `select t.chunk_id, t.text_score, c.document_key, c.heading, c.content
     from (${standaloneTextSql()}) t join chunks c on c.chunk_id = t.chunk_id`,
    ['t', queryText, limit, BM25.k1, BM25.b],
  );
  const chunk = (r: { chunk_id: string; document_key: string; heading: string | null; content: string }) => ({
    chunkId: r.chunk_id,
    documentKey: r.document_key,
    heading: r.heading,
    content: r.content,
  });
  return {
    vector: v.rows.map((r): VectorCandidate => ({ ...chunk(r), distance: Number(r.distance) })),
    text: t.rows.map((r): TextCandidate => ({ ...chunk(r), textScore: Number(r.text_score) })),
  };
}

describe('fuseCandidates agrees with the SQL fusion', () => {
  const fusions: Fusion[] = [
    { method: 'rrf', k: 60 },
    { method: 'weighted', vectorWeight: 0.3 },
    { method: 'weighted', vectorWeight: 0.8 },
  ];
  const queries = ['granite lantern keeper', 'storm signal', 'reef'];

  it.each(fusions.flatMap((fusion) => queries.flatMap((q) => [false, true].map((one) => [fusion, q, one] as const))))(
    '%j, "%s", onePerDocument %s',
    async (fusion, queryText, onePerDocument) => {
      const random = seededRandom(queryText.length);
      const embedding = Array.from({ length: DIMS }, () => random() - 0.5);
      const limit = 12;
      const { vector, text } = await candidates(embedding, queryText, limit);

      const expected = await searchChunks(sql, {
        tenantId: 't',
        embedding,
        embeddingModel: MODEL,
        queryText,
        topK: 8,
        candidates: limit,
        efSearch: 100,
        fusion,
        bm25: BM25,
        onePerDocument,
      });
      const fused = fuseCandidates(vector, text, { fusion, topK: 8, onePerDocument, embeddingModel: MODEL });

      expect(vector.length).toBe(limit);
      expect(text.length).toBeGreaterThan(0);
      expect(fused.map((h) => h.chunkId)).toEqual(expected.map((h) => h.chunkId));
      expect(fused.map((h) => [h.vectorRank, h.textRank])).toEqual(expected.map((h) => [h.vectorRank, h.textRank]));
      fused.forEach((h, i) => {
        expect(h.score).toBeCloseTo(expected[i]?.score ?? Number.NaN, 9);
      });
    },
  );
});
