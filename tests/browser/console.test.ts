import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { ModelThrottledError } from '../../functions/shared/errors.js';
import { createLocalServer } from '../../local/server.js';
import type { LocalStack } from '../../local/stack.js';
import type { ExecutionRecord } from '../../local/step-functions.js';
import { finished, gate, ingest, listenLocal, startTestStack } from '../workflows/harness.js';

// The local console in a real browser: Debian's headless Chromium (CHROME_PATH, else /usr/bin/chromium;
// .ci/run installs it), driven by puppeteer-core, which never downloads a browser.
const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';

describe('the local Step Functions console in headless Chromium', () => {
  let stack: LocalStack;
  let server: Server;
  let base: string;
  let browser: Browser;
  let page: Page;
  let login: ExecutionRecord;
  // While set, every model call waits for it: a run stays RUNNING until the test opens it.
  let held: ReturnType<typeof gate> | undefined;
  // How many embedder calls to throttle next (ingest-and-index retries EmbedBatch on ModelThrottledError).
  let throttles = 0;

  beforeAll(async () => {
    if (!existsSync(CHROME)) throw new Error(`no Chromium at ${CHROME}: apt-get install chromium, or set CHROME_PATH`);
    stack = await startTestStack({
      wrapEmbedder: (embedder) => ({
        modelId: embedder.modelId,
        dimensions: embedder.dimensions,
        async embed(texts) {
          if (throttles > 0) {
            throttles -= 1;
            throw new ModelThrottledError('ThrottlingException: Too many requests');
          }
          return embedder.embed(texts);
        },
      }),
      wrapTextModel: (model) => ({
        async complete(request) {
          await held?.wait;
          return model.complete(request);
        },
      }),
    });
    server = createLocalServer(stack);
    base = await listenLocal(server);
    const result = stack.bus.putEvents([
      {
        Source: 'app.users',
        DetailType: 'UserLoggedIn',
        Detail: JSON.stringify({
          userId: 'u-console',
          appState: { latestDeployment: { id: 'd-9', status: 'failed' } },
        }),
      },
    ]);
    const started = result.Entries.flatMap((e) => e.Executions ?? []);
    const id = started.find((e) => e.stateMachine === 'pregenerate-on-login')?.executionId as string;
    login = await finished(stack, id);
    await stack.sfn.idle();
    browser = await puppeteer.launch({
      executablePath: CHROME,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await stack?.close();
  });

  // Page-side code is passed as text: the project's TypeScript has no DOM library.
  const js = <T = unknown>(expression: string) => page.evaluate(expression) as Promise<T>;
  const stateNames = () => js<string[]>(`[...document.querySelectorAll('g.state')].map((g) => g.dataset.state)`);

  it('draws the run’s states coloured by outcome, and a click shows the state’s input and output', async () => {
    expect(login.status).toBe('SUCCEEDED');

    await page.goto(`${base}/console/executions/${encodeURIComponent(login.executionArn)}`);
    await page.waitForSelector('g.state[data-state="RecordEdgeIndex"].o-succeeded');

    expect(await stateNames()).toEqual(
      expect.arrayContaining([
        'LoadUserContext',
        'PredictNextActions',
        'GenerateAnswers',
        'GenerateAnswer',
        'RecordEdgeIndex',
      ]),
    );
    expect(await page.$eval('g.state[data-state="NothingToGenerate"]', (g) => g.getAttribute('class'))).toContain(
      'o-notrun',
    );
    await page.click('g.state[data-state="PredictNextActions"] > rect');
    await page.waitForFunction(`document.querySelector('aside.panel h2')?.textContent === 'PredictNextActions'`);
    const panel = await js<string>(`document.querySelector('aside.panel').innerText`);
    expect(panel).toMatch(/INPUT/i);
    expect(panel).toMatch(/OUTPUT/i);
    expect(panel).toContain('u-console');
    expect(panel).toContain('deployment-status');
  });

  it('links the route-with-cascade runs the pre-generation started, and each child back to its parent', async () => {
    const children = login.childExecutionArns;
    expect(children.length).toBeGreaterThan(0);

    await page.goto(`${base}/console/executions/${encodeURIComponent(login.executionArn)}`);
    await page.waitForSelector('a.child-link');
    const links = await js<string[]>(`[...document.querySelectorAll('section a.child-link')].map((a) => a.href)`);
    expect(links.map((href) => decodeURIComponent(href.split('/console/executions/')[1] ?? '')).sort()).toEqual(
      [...children].sort(),
    );

    await page.goto(links[0] as string);
    await page.waitForSelector('a.parent-link');
    expect(decodeURIComponent(await js<string>(`document.querySelector('a.parent-link').href`))).toContain(
      login.executionArn,
    );
    expect(await stateNames()).toEqual(expect.arrayContaining(['CheckBudget']));
  });

  it('shows a retried state’s retries with the error that caused them', async () => {
    throttles = 1;
    const run = await ingest(
      stack,
      'notes/retried.md',
      '# Retried\n\nThe first embedding call is throttled, the retry succeeds.\n',
    );
    expect(run.status).toBe('SUCCEEDED');

    await page.goto(`${base}/console/executions/${encodeURIComponent(run.executionArn)}`);
    await page.waitForSelector('g.state[data-state="EmbedBatch"].o-succeeded');
    await page.click('g.state[data-state="EmbedBatch"] > rect');
    await page.waitForSelector('aside.panel .retries');

    const retries = await js<string>(`document.querySelector('aside.panel .retries').innerText`);
    expect(retries).toMatch(/Retries \(1\)/i);
    expect(retries).toContain('ModelThrottledError');
  });

  it('follows a RUNNING run live: the state in progress, then its outcome, without a reload', async () => {
    held = gate();
    const { record } = stack.sfn.start('route-with-cascade', {
      request: { prompt: 'Summarize: the tide came in, then went out.', taskType: 'summarize' },
      tenantId: 't-console',
      userId: 'u-console',
      requestId: 'r-console-live',
      startedAt: Date.now(),
    });
    await page.goto(`${base}/console/executions/${encodeURIComponent(record.executionArn)}`);
    await page.waitForSelector('g.state.o-running');
    const running = await js<string>(`document.querySelector('g.state.o-running').dataset.state`);
    expect(await js<string>(`document.querySelector('.title-row .badge').textContent`)).toBe('Running');

    held.open();
    held = undefined;

    await page.waitForSelector(`g.state[data-state="${running}"].o-succeeded`);
    await page.waitForFunction(`document.querySelector('.title-row .badge').textContent === 'Succeeded'`);
    expect((await finished(stack, record.executionId)).status).toBe('SUCCEEDED');
  });

  it('starts a run from the form, pre-filled with the machine’s sample events, and opens its page', async () => {
    const sampleDir = join(stack.project.root, 'events', 'extract-memory');
    const first = readdirSync(sampleDir)
      .filter((f) => f.endsWith('.json'))
      .sort()[0] as string;
    await page.goto(`${base}/console?stateMachine=extract-memory`);
    await page.waitForSelector('table.runs tbody tr');
    await page.click('#open-start');
    await page.waitForFunction(`document.querySelector('#start-input')?.value`);
    const prefilled = await js<string>(`document.querySelector('#start-input').value`);
    expect(JSON.parse(prefilled)).toEqual(JSON.parse(readFileSync(join(sampleDir, first), 'utf8')));

    await page.select('#start-machine', 'route-with-cascade');
    // the form loads the new machine's samples (or {} when it has none) in place of extract-memory's
    await page.waitForFunction(`document.querySelector('#start-input').value !== ${JSON.stringify(prefilled)}`);
    const input = {
      request: { prompt: 'Summarize: it rained, then the sun came out.', taskType: 'summarize' },
      tenantId: 't-console',
      userId: 'u-console',
      requestId: 'r-console-1',
      startedAt: Date.now(),
    };
    await js(`document.querySelector('#start-input').value = ${JSON.stringify(JSON.stringify(input))}`);
    await page.type('#start-name', 'from-the-browser');
    await Promise.all([page.waitForNavigation(), page.click('dialog[open] button[type="submit"]')]);

    expect(decodeURIComponent(page.url())).toMatch(/route-with-cascade:from-the-browser$/);
    await page.waitForSelector('g.state[data-state="CheckBudget"]');
    expect((await finished(stack, 'from-the-browser')).status).toBe('SUCCEEDED');
  });
});
