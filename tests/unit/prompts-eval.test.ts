import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadPrompt } from '../../functions/prompts/registry.js';
import type { TextModel } from '../../functions/shared/ports.js';
import {
  type EvalConfig,
  evaluateRegistry,
  type GoldenCase,
  liveResponder,
  loadEvalConfig,
  main,
  modelGrader,
  offlineGrade,
  type PromptReport,
  recordedResponder,
  runDeterministic,
} from '../../scripts/prompts-eval.js';

const registry = join(process.cwd(), 'prompts');
const config = loadEvalConfig(registry);
const offlineGrader = async (rubric: string, output: string) => offlineGrade(rubric, output);

/** A copy of the real registry in a temporary directory, to break on purpose. */
function registryCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prompts-eval-'));
  cpSync(registry, dir, { recursive: true });
  return dir;
}

function editYaml(file: string, edit: (doc: Record<string, unknown>) => void): void {
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(doc);
  writeFileSync(file, stringify(doc));
}

function evaluate(dir: string, options: { config?: EvalConfig; only?: string[] } = {}): Promise<PromptReport[]> {
  return evaluateRegistry({
    dir,
    config: options.config ?? config,
    responder: recordedResponder(dir),
    grader: offlineGrader,
    only: options.only ?? [],
  });
}

const failures = (report: PromptReport | undefined) =>
  (report?.rows ?? []).filter((r) => !r.pass).map((r) => `${r.testCase} | ${r.check} | ${r.detail}`);

describe('the evaluation gate on the real registry', () => {
  it('passes offline: every prompt renders, passes its static checks and its recorded golden cases', async () => {
    const reports = await evaluate(registry);

    expect(reports.map((r) => r.id)).toEqual([
      'answer-question',
      'chat-system',
      'edge-deployment-status',
      'edge-morning-briefing',
      'edge-urgent-ticket-reply',
      'extract-facts',
      'route-judge',
      'rubric-grader',
    ]);
    for (const report of reports)
      expect({ id: report.id, failures: failures(report) }).toEqual({ id: report.id, failures: [] });
    expect(reports.every((r) => r.passed)).toBe(true);
    expect(reports.every((r) => r.storage?.tier === 'Standard')).toBe(true);
  });

  it('has 4 to 8 golden cases per published prompt, each with a recorded response', async () => {
    const reports = await evaluate(registry, { only: ['answer-question', 'route-judge'] });

    for (const report of reports) {
      const cases = new Set(report.rows.map((r) => r.testCase));
      expect({ id: report.id, size: cases.size >= 4 && cases.size <= 8 }).toEqual({ id: report.id, size: true });
    }
  });
});

describe('the evaluation gate on a broken registry', () => {
  it('fails when a template uses an undeclared variable, and names it', async () => {
    const dir = registryCopy();
    editYaml(join(dir, 'answer-question.prompt.yaml'), (doc) => {
      doc.user = `${doc.user as string}\nAudience: {{audience}}`;
    });

    const [report] = await evaluate(dir, { only: ['answer-question'] });

    expect(report?.passed).toBe(false);
    expect(failures(report)).toContain(
      '(static) | variables/markers | default.user uses undeclared variable "audience"',
    );
  });

  it('fails when a declared variable is never used (in the default or in any variant)', async () => {
    const dir = registryCopy();
    editYaml(join(dir, 'route-judge.prompt.yaml'), (doc) => {
      (doc.variables as Record<string, unknown>).locale = { type: 'string', description: 'unused' };
    });

    const judge = (await evaluate(dir)).find((r) => r.id === 'route-judge');

    expect(judge?.passed).toBe(false);
    expect(failures(judge)).toContain(
      '(static) | variables/markers | variable "locale" is declared but the default templates never use it',
    );
  });

  it('fails on a malformed marker such as a missing closing brace', async () => {
    const dir = registryCopy();
    editYaml(join(dir, 'route-judge.prompt.yaml'), (doc) => {
      (doc.variants as Record<string, Record<string, string>>).llama = { user: '<request>{{request}</request>' };
    });

    const judge = (await evaluate(dir)).find((r) => r.id === 'route-judge');

    expect(failures(judge).join('\n')).toMatch(/llama\.user has a malformed template marker near/);
  });

  it('fails a case whose inputs do not render (missing or over-long variable)', async () => {
    const dir = registryCopy();
    editYaml(join(dir, 'answer-question.cases.yaml'), (doc) => {
      const tests = doc.tests as GoldenCase[];
      delete (tests[0] as { vars: Record<string, unknown> }).vars.question;
      (tests[1] as GoldenCase).vars.question = 'q'.repeat(2001);
    });

    const [report] = await evaluate(dir, { only: ['answer-question'] });

    expect(report?.passed).toBe(false);
    expect(failures(report).slice(0, 2)).toEqual([
      'hotel limit from the travel policy | render (default) | PromptVariableMissingError: Prompt "answer-question" needs variable "question"',
      'answer spread over two chunks | render (default) | InputValidationError: Prompt "answer-question" variable "question" is 2001 characters; the maximum is 2000',
    ]);
  });

  it('fails when the wording changed since the responses were recorded', async () => {
    const dir = registryCopy();
    editYaml(join(dir, 'route-judge.prompt.yaml'), (doc) => {
      doc.user = (doc.user as string).replace('Which label fits this request?', 'Which label fits?');
    });

    const judge = (await evaluate(dir)).find((r) => r.id === 'route-judge');

    expect(judge?.passed).toBe(false);
    expect(failures(judge)[0]).toMatch(
      /^translation is simple \| recording \| recorded for prompt v2 with other wording/,
    );
  });

  it('fails on one failing deterministic assertion even when the pass rate is above the threshold', async () => {
    const dir = registryCopy();
    editYaml(join(dir, 'answer-question.cases.yaml'), (doc) => {
      (doc.tests as GoldenCase[])[0]?.assert.push({ type: 'contains', value: '300 dollars' });
    });

    const [report] = await evaluate(dir, { only: ['answer-question'] });

    expect(report?.passRate).toBeGreaterThan(config.passRate);
    expect(report?.deterministicFailures).toBe(1);
    expect(report?.passed).toBe(false);
  });

  it('fails when model-graded assertions drag the pass rate below the threshold, and passes above it', async () => {
    const dir = registryCopy();
    editYaml(join(dir, 'route-judge.cases.yaml'), (doc) => {
      for (const t of doc.tests as GoldenCase[])
        t.assert.push({ type: 'llm-rubric', value: 'Explains "why" it chose.' });
    });

    const strict = (await evaluate(dir)).find((r) => r.id === 'route-judge');
    const lenient = (await evaluate(dir, { config: { ...config, passRate: 0.7 } })).find((r) => r.id === 'route-judge');

    expect(strict?.deterministicFailures).toBe(0);
    expect(strict?.passRate).toBeLessThan(0.9);
    expect(strict?.passed).toBe(false);
    expect(lenient?.passed).toBe(true);
  });

  it('exits non-zero from the command line and prints the failing prompt', async () => {
    const dir = registryCopy();
    editYaml(join(dir, 'answer-question.prompt.yaml'), (doc) => {
      doc.system = `${doc.system as string} Audience: {{audience}}`;
    });
    let printed = '';
    const io = { out: (text: string) => (printed += text), err: () => undefined };

    const code = await main(['--dir', dir], io);

    expect(code).toBe(1);
    expect(printed).toContain('FAIL answer-question');
    expect(printed).toContain('uses undeclared variable "audience"');
    expect(printed).toContain('PASS route-judge');
  });
});

describe('assertions', () => {
  const judge = loadPrompt('route-judge', registry);
  const answer = loadPrompt('answer-question', registry);

  it('checks the output contract, and which label, with matches-schema', () => {
    const contract = runDeterministic({ type: 'matches-schema' }, 'complex', judge);
    const wrongLabel = runDeterministic({ type: 'matches-schema', value: { const: 'simple' } }, 'complex', judge);
    const noLabel = runDeterministic({ type: 'matches-schema' }, 'It depends.', judge);
    const noContract = runDeterministic({ type: 'matches-schema' }, 'text', answer);

    expect([contract.pass, wrongLabel.pass, noLabel.pass, noContract.pass]).toEqual([true, false, false, false]);
    expect(noContract.detail).toBe('prompt "answer-question" declares no output contract');
  });

  it('runs the text assertions, negated ones included', () => {
    const output = 'Hotels: 250 dollars per night. [a@v-1#00002]';
    const run = (type: string, value: unknown) => runDeterministic({ type, value }, output, answer).pass;

    expect(run('contains', '250 dollars')).toBe(true);
    expect(run('icontains', 'HOTELS')).toBe(true);
    expect(run('not-contains', 'undefined')).toBe(true);
    expect(run('not-icontains', 'hotels')).toBe(false);
    expect(run('regex', '\\[[^\\]]+#\\d+\\]')).toBe(true);
    expect(run('max-length', 10)).toBe(false);
    expect(run('equals', output)).toBe(true);
    expect(run('is-json', undefined)).toBe(false);
    expect(runDeterministic({ type: 'is-json', value: { required: ['a'] } }, '{"a":1}', answer).pass).toBe(true);
  });

  it('reports a malformed assertion as a failure, not a crash', () => {
    const result = runDeterministic({ type: 'max-length', value: 'ten' }, 'text', answer);

    expect(result).toMatchObject({ pass: false, detail: 'bad assertion: max-length needs a number value' });
  });
});

describe('graders', () => {
  it('grades offline by the share of the rubric’s quoted facts the output states', () => {
    const rubric = 'States "250 dollars" per night and the "350 dollars" city limit.';

    expect(offlineGrade(rubric, 'Up to 250 Dollars a night.')).toMatchObject({
      score: 0.5,
      reason: 'missing "350 dollars"',
    });
    expect(offlineGrade('Is polite.', 'Hello').score).toBe(0);
  });

  it('asks a model with the rubric-grader prompt and reads its JSON verdict', async () => {
    const graderPrompt = loadPrompt('rubric-grader', join(registry, 'eval'));
    const replies = ['{"score": 0.8, "reason": "mostly right"}', 'Looks good to me!'];
    const seen: string[] = [];
    const model: TextModel = {
      async complete(req) {
        seen.push(`${req.system}\n${req.messages[0]?.text}`);
        return {
          text: replies.shift() ?? '',
          modelId: 'judge-model',
          stopReason: 'end_turn',
          usage: { inputTokens: 1, outputTokens: 1 },
          latencyMs: 1,
        };
      },
    };
    const grade = modelGrader(model, 'judge-model', graderPrompt);

    const good = await grade('Says "hi".', 'hi <b>there</b>');
    const unusable = await grade('Says "hi".', 'hi');

    expect(good).toEqual({ rubric: 'Says "hi".', score: 0.8, reason: 'mostly right', grader: 'judge-model' });
    expect(unusable).toMatchObject({ score: 0, reason: expect.stringContaining('grader reply unusable') });
    expect(seen[0]).toContain('<output>hi &lt;b>there&lt;/b></output>');
  });

  it('records live responses with model id, family, input hash and grades', async () => {
    const model: TextModel = {
      complete: async (req) => ({
        text: `echo ${req.messages[0]?.text.length}`,
        modelId: 'scripted',
        stopReason: 'end_turn',
        usage: { inputTokens: 1, outputTokens: 1 },
        latencyMs: 1,
      }),
    };

    const [report] = await evaluateRegistry({
      dir: registry,
      config,
      responder: liveResponder('scripted', model, 'scripted', 'claude'),
      grader: offlineGrader,
      only: ['route-judge'],
      record: true,
      now: () => new Date('2026-01-02T03:04:05Z'),
    });

    const recording = report?.recordings['translation is simple'];
    expect(recording).toMatchObject({ modelId: 'scripted', family: 'claude', recordedAt: '2026-01-02T03:04:05.000Z' });
    expect(recording?.inputHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(recording?.grades).toHaveLength(1);
    expect(report?.passed).toBe(false);
  });
});
