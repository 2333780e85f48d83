import './polyfills.js';
import { join } from 'node:path';
import { generationStatus } from '../functions/rag/chunk-index.js';
import { vectorStoreOf } from '../functions/rag/vector-store.js';
import { ingestCorpus, listCorpus } from './corpus.js';
import { ingesting } from './readiness.js';
import { createLocalServer, isLoopback, listenHost } from './server.js';
import { startLocalStack } from './stack.js';

/**
 * `npm start`: the embedded local runtime on 127.0.0.1 (PORT, default 3000). It ingests the sample
 * corpus through the real ingest-and-index state machine, prints the routes, and keeps serving.
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const host = listenHost(process.env);
  const corpusDir = process.env.CORPUS_DIR ?? join(process.cwd(), 'samples', 'corpus');
  const out = process.stdout;

  out.write('composable-ai — local runtime (offline model stand-in unless MODEL_PROVIDER=bedrock)\n');
  const stack = await startLocalStack(process.env.LOCAL_DATA_DIR ? { dataDir: process.env.LOCAL_DATA_DIR } : {});
  out.write(`  state machines: ${stack.sfn.machineIds().join(', ')}\n`);
  const store = stack.config.vectorStore;
  out.write(
    store.kind === 'pgvector'
      ? '  vector store: pgvector (PGlite)\n'
      : `  vector store: OpenSearch at ${store.endpoint}${process.env.OPENSEARCH_ENDPOINT ? '' : ' (the in-process fake: its chunks live in memory, not in LOCAL_DATA_DIR)'}\n`,
  );
  out.write(
    `  models: embeddings ${stack.ports.embedder.modelId} (${stack.ports.embedder.dimensions} dims), text ${stack.config.modelProvider === 'bedrock' ? 'Bedrock Converse, per config/model-catalog.yaml' : 'offline/extractive-v1 standing in for every catalog model'}\n`,
  );

  const generations = await generationStatus(stack.ports.sql, vectorStoreOf(stack.ports));
  if (generations.building) {
    const { live, building } = generations;
    out.write(
      `  index: search uses generation ${live.id} (${live.modelId}, ${live.dimensions} dims) until generation ${building.id} (${building.modelId}) holds every document: ${building.documentsDone}/${building.documentsTotal} now; start the re-embed run with POST /executions {"stateMachine":"bulk-ingest","input":{"reembed":true}}, progress at GET /index-generations\n`,
    );
  }

  // GET /health answers 503 {"status":"ingesting","done":…,"total":…} until the corpus is in, then 200 {"status":"ok",…}
  const files = process.env.SKIP_CORPUS === '1' ? [] : await listCorpus(corpusDir);
  const readiness = ingesting(files.length);
  const server = createLocalServer(stack, readiness);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const base = `http://${host}:${port}`;
  out.write(
    `  listening on ${base}\n  console:   ${base}/console   (every run's graph, each state's input and output)\n`,
  );
  out.write(
    isLoopback(host)
      ? "  loopback only: /documents, /events and /executions are local tools without a token (every user's inputs)\n\n"
      : `  WARNING: listening on ${host} (LOCAL_ALLOW_REMOTE=1): anyone who reaches it reads every user's inputs at /executions\n\n`,
  );

  if (files.length > 0) {
    out.write(`Ingesting the sample corpus (${files.length} documents from ${corpusDir}) through ingest-and-index\n`);
    const report = await ingestCorpus(stack, files, (done, total, key, record) => {
      readiness.done = done;
      if (record?.status !== 'SUCCEEDED') readiness.failed += 1;
      const width = 30;
      const filled = Math.round((done / total) * width);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(done).padStart(3)}/${total}`;
      const line = `${bar} ${record?.status === 'SUCCEEDED' ? 'ok  ' : 'FAIL'} ${key}`;
      out.write(out.isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
    });
    if (out.isTTY) out.write('\n');
    const chunks = await stack.ports.sql.query<{ n: number }>(
      `select count(*)::int as n from chunks c join documents d on d.document_key = c.document_key and d.live_version = c.version
       where c.generation = (select id from index_generations where state = 'live')`,
    );
    out.write(
      `Indexed ${report.succeeded}/${report.documents} documents, ${chunks.rows[0]?.n ?? 0} chunks, in ${(report.millis / 1000).toFixed(1)} s\n`,
    );
    for (const f of report.failed) out.write(`  failed: ${f.key}: ${f.error}\n`);
    readiness.failed = report.failed.length;
    readiness.status = 'ok';
  }

  out.write(`
/v1/* routes need a bearer token (HS256, AUTH_JWT_SECRET; the default secret is for development only):
  export TOKEN=$(npm run -s token -- u-1 --tenant default)   # the sample corpus outside tenants/ belongs to tenant "default"
  export TOKEN=$(npm run -s token -- u-1 --tenant acme)      # samples/corpus/tenants/acme/… belong to tenant "acme"
  (without --tenant the tenant is the user id, which owns no sample documents)

Routes (try them):
  GET    ${base}/health                 curl -s ${base}/health   # 503 {"status":"ingesting","done":…,"total":…} until the corpus is in, then 200 {"status":"ok",…}
  POST   ${base}/v1/ask                 curl -s ${base}/v1/ask -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"question":"Who built the Bell Rock Lighthouse and when was it first lit?"}'
  POST   ${base}/v1/generate            curl -s ${base}/v1/generate -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"prompt":"Summarize: it rained, then the sun came out.","taskType":"summarize"}'
  PUT    ${base}/documents/{key}        curl -s -X PUT ${base}/documents/notes/hello.md -H 'content-type: text/markdown' --data-binary @README.md
  GET    ${base}/documents/{key}        curl -s ${base}/documents/notes/hello.md
  DELETE ${base}/documents/{key}        curl -s -X DELETE ${base}/documents/notes/hello.md
  POST   ${base}/events                 curl -s ${base}/events -d '{"Entries":[{"Source":"app.users","DetailType":"PageViewed","Detail":"{\\"userId\\":\\"u-1\\",\\"page\\":\\"/pricing\\"}"}]}'
  POST   ${base}/events  (a login)      curl -s ${base}/events -d '{"Entries":[{"Source":"app.users","DetailType":"UserLoggedIn","Detail":"{\\"userId\\":\\"u-1\\",\\"appState\\":{\\"latestDeployment\\":{\\"id\\":\\"d-1\\",\\"status\\":\\"failed\\"}}}"}]}'
  GET    ${base}/precomputed/{action}   curl -si ${base}/precomputed/deployment-status -H "authorization: Bearer $TOKEN"   # x-cache: Hit after that login
  GET    ${base}/executions             curl -s ${base}/executions?stateMachine=ingest-and-index
  GET    ${base}/executions/{arn or id} per-state history of one execution (input, output, retries, parent, children)
  POST   ${base}/executions             curl -s ${base}/executions -d '{"stateMachine":"extract-memory","input":{...}}'
  GET    ${base}/console                the local Step Functions console
Console: ${base}/console
Press Ctrl+C to stop.
`);

  const stop = async () => {
    out.write('\nStopping…\n');
    server.close();
    await stack.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
