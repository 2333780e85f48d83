import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  allTemplates,
  type PromptDefinition,
  PromptFile,
  type PromptValues,
  parseOutput,
  type RenderedPrompt,
  renderDefinition,
  STANDARD_MAX_BYTES,
  type StorageTier,
  sha256,
  storageTierFor,
  storedPromptJson,
  templatesFor,
  templateVariables,
  undeclaredVariables,
} from '../functions/prompts/registry.js';
import { OFFLINE_TEXT_MODEL_ID, offlineTextModel } from '../functions/shared/adapters/offline-text-model.js';
import type { TextModel } from '../functions/shared/ports.js';
import { runWhenMain } from './cli.js';

/**
 * `npm run prompts:eval [-- --provider recorded|offline|bedrock] [--record] [--prompt <id>]`: the prompt
 * evaluation gate. Checks every prompts/<id>.prompt.yaml statically, renders it with the golden inputs of
 * prompts/<id>.cases.yaml (every variant), runs the cases' assertions against the recorded responses of
 * prompts/recorded/<id>.json (or a live model), prints a table per prompt, and exits non-zero on failure.
 * The case format follows promptfoo's (vars + assert: type/value/threshold) so a team can move to it later.
 */

// ---- files ----------------------------------------------------------------------------------------

const DETERMINISTIC = ['is-json', 'matches-schema', 'contains', 'icontains', 'equals', 'regex', 'max-length'] as const;
const NEGATABLE = new Set(['is-json', 'contains', 'icontains', 'equals', 'regex']);
const ASSERTION_TYPES = new Set<string>([...DETERMINISTIC, ...[...NEGATABLE].map((t) => `not-${t}`), 'llm-rubric']);

const Assertion = z.strictObject({
  type: z.string().refine((t) => ASSERTION_TYPES.has(t), { message: `one of ${[...ASSERTION_TYPES].join(', ')}` }),
  value: z.unknown().optional(),
  threshold: z.number().min(0).max(1).optional(),
});
export type Assertion = z.infer<typeof Assertion>;

const VarValue = z.union([z.string(), z.number(), z.boolean()]);

const CasesFile = z.strictObject({
  prompt: z.string().min(1),
  description: z.string().optional(),
  tests: z
    .array(
      z.strictObject({
        description: z.string().min(1),
        vars: z.record(z.string(), VarValue),
        assert: z.array(Assertion).min(1),
      }),
    )
    .min(1),
});
export type CasesFile = z.infer<typeof CasesFile>;
export type GoldenCase = CasesFile['tests'][number];

const Grade = z.strictObject({
  rubric: z.string(),
  score: z.number().min(0).max(1),
  reason: z.string(),
  grader: z.string(),
});
export type Grade = z.infer<typeof Grade>;

const Recording = z.strictObject({
  modelId: z.string(),
  family: z.string(),
  recordedAt: z.string(),
  promptVersion: z.number().int(),
  /** sha256 of the rendered system + user text the response answered: a changed prompt makes it stale. */
  inputHash: z.string(),
  text: z.string(),
  grades: z.array(Grade).default([]),
});
export type Recording = z.infer<typeof Recording>;

const RecordingsFile = z.strictObject({
  prompt: z.string(),
  responses: z.record(z.string(), Recording),
});
type RecordingsFile = z.infer<typeof RecordingsFile>;

const EvalConfig = z.strictObject({
  passRate: z.number().min(0).max(1),
  rubricThreshold: z.number().min(0).max(1).default(0.7),
  staleRecordings: z.enum(['warn', 'fail']).default('fail'),
});
export type EvalConfig = z.infer<typeof EvalConfig>;

function readYaml(file: string): unknown {
  return parse(readFileSync(file, 'utf8'));
}

function zodProblems(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`);
}

/** Reads prompts/eval.config.yaml. */
export function loadEvalConfig(dir: string): EvalConfig {
  const parsed = EvalConfig.safeParse(readYaml(join(dir, 'eval.config.yaml')));
  if (!parsed.success) throw new Error(`${join(dir, 'eval.config.yaml')}: ${zodProblems(parsed.error).join('; ')}`);
  return parsed.data;
}

/** The registry's prompt ids: every <id>.prompt.yaml directly under dir. */
export function registryIds(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.prompt.yaml'))
    .map((f) => f.slice(0, -'.prompt.yaml'.length))
    .sort();
}

// ---- static checks ------------------------------------------------------------------------------

const ajv = new Ajv({ allErrors: true, strict: false });
const STRAY_MARKER = /\{\{|\}\}/;
const VARIABLE_MARKER = /\{\{\s*[a-zA-Z][a-zA-Z0-9_]*\s*\}\}/g;

/** A stand-in commit id of the real length, so the size check measures what publish will store. */
const SIZING_COMMIT = '0'.repeat(40);

/** The static problems of a parsed prompt: variables used but undeclared, declared but unused, broken markers, a bad output schema. */
export function staticProblems(prompt: PromptDefinition): string[] {
  const problems = undeclaredVariables(prompt);
  for (const family of ['default', ...Object.keys(prompt.variants)]) {
    const t = templatesFor(prompt, family);
    const used = new Set([...templateVariables(t.system), ...templateVariables(t.user)]);
    for (const name of Object.keys(prompt.variables)) {
      if (!used.has(name)) problems.push(`variable "${name}" is declared but the ${family} templates never use it`);
    }
  }
  for (const t of allTemplates(prompt)) {
    const rest = t.text.replace(VARIABLE_MARKER, '');
    const stray = STRAY_MARKER.exec(rest);
    if (stray) {
      const near = rest.slice(Math.max(0, stray.index - 20), stray.index + 22).replace(/\s+/g, ' ');
      problems.push(`${t.family}.${t.part} has a malformed template marker near "${near}"`);
    }
  }
  if (prompt.output) {
    try {
      ajv.compile(prompt.output.schema);
    } catch (err) {
      problems.push(`output.schema is not a valid JSON Schema: ${(err as Error).message}`);
    }
    const labels = prompt.output.schema.enum;
    if (prompt.output.parse === 'label' && !(Array.isArray(labels) && labels.every((l) => typeof l === 'string'))) {
      problems.push('output.parse "label" needs output.schema.enum: a list of strings');
    }
  }
  return problems;
}

/** The size of a prompt's stored form and the SSM tier (or S3) it needs. */
export function storageOf(prompt: PromptDefinition): { bytes: number; tier: StorageTier } {
  const bytes = Buffer.byteLength(storedPromptJson(prompt, SIZING_COMMIT));
  return { bytes, tier: storageTierFor(bytes) };
}

// ---- assertions ---------------------------------------------------------------------------------

export interface AssertionResult {
  check: string;
  pass: boolean;
  /** Deterministic checks fail the gate on their own; model-graded ones count toward the pass rate. */
  deterministic: boolean;
  detail: string;
}

const clip = (text: string, n = 60) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

function validateWith(schema: unknown, value: unknown): string | undefined {
  let validate: ReturnType<typeof ajv.compile>;
  try {
    validate = ajv.compile(schema as Record<string, unknown>);
  } catch (err) {
    return `the schema is not valid: ${(err as Error).message}`;
  }
  if (validate(value)) return undefined;
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`).join('; ');
}

function stringValue(assertion: Assertion): string {
  if (typeof assertion.value !== 'string') throw new Error(`${assertion.type} needs a string value`);
  return assertion.value;
}

/** Runs one deterministic assertion against an output. */
export function runDeterministic(assertion: Assertion, output: string, prompt: PromptDefinition): AssertionResult {
  const negated = assertion.type.startsWith('not-');
  const base = negated ? assertion.type.slice(4) : assertion.type;
  const check = `${assertion.type}${assertion.value === undefined ? '' : ` ${clip(JSON.stringify(assertion.value), 40)}`}`;
  let pass: boolean;
  let detail: string;
  try {
    switch (base) {
      case 'contains':
      case 'icontains': {
        const needle = stringValue(assertion);
        pass = base === 'contains' ? output.includes(needle) : output.toLowerCase().includes(needle.toLowerCase());
        detail = pass ? 'found' : 'not found';
        break;
      }
      case 'equals':
        pass = output.trim() === stringValue(assertion).trim();
        detail = pass ? 'equal' : `got ${clip(JSON.stringify(output.trim()), 50)}`;
        break;
      case 'regex': {
        const match = new RegExp(stringValue(assertion)).exec(output);
        pass = match !== null;
        detail = match ? `matched ${clip(JSON.stringify(match[0]), 40)}` : 'no match';
        break;
      }
      case 'max-length': {
        if (typeof assertion.value !== 'number') throw new Error('max-length needs a number value');
        pass = output.length <= assertion.value;
        detail = `${output.length} characters`;
        break;
      }
      case 'is-json': {
        const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(output);
        let value: unknown;
        try {
          value = JSON.parse(fenced?.[1] ?? output);
        } catch (err) {
          pass = false;
          detail = `not JSON: ${(err as Error).message}`;
          break;
        }
        const problem = assertion.value === undefined ? undefined : validateWith(assertion.value, value);
        pass = problem === undefined;
        detail = problem ?? 'valid JSON';
        break;
      }
      case 'matches-schema': {
        const parsed = parseOutput(prompt, output);
        if (!parsed.ok) {
          pass = false;
          detail = parsed.error;
          break;
        }
        const problem = validateWith(assertion.value ?? prompt.output?.schema, parsed.value);
        pass = problem === undefined;
        detail = problem ?? `${JSON.stringify(parsed.value)} matches`;
        break;
      }
      default:
        throw new Error(`unknown assertion type ${assertion.type}`);
    }
  } catch (err) {
    return { check, pass: false, deterministic: true, detail: `bad assertion: ${(err as Error).message}` };
  }
  if (negated) {
    pass = !pass;
    detail = pass ? `${detail} (as required)` : `${detail} (must not)`;
  }
  return { check, pass, deterministic: true, detail };
}

// ---- graders ------------------------------------------------------------------------------------

export const OFFLINE_GRADER_ID = 'offline/keyword-coverage-v1';

/**
 * The offline grader: the share of the rubric's double-quoted phrases that the output contains
 * (case- and whitespace-insensitive). It checks facts, not reasoning or tone: real grading is
 * `--provider bedrock`, which asks a model with prompts/eval/rubric-grader.prompt.yaml.
 */
export function offlineGrade(rubric: string, output: string): Grade {
  const normal = (t: string) => t.toLowerCase().replace(/\s+/g, ' ').trim();
  const facts = [...rubric.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);
  if (facts.length === 0) {
    return {
      rubric,
      score: 0,
      reason: 'the rubric quotes no facts, so the offline grader cannot grade it (use --provider bedrock)',
      grader: OFFLINE_GRADER_ID,
    };
  }
  const haystack = normal(output);
  const missing = facts.filter((f) => !haystack.includes(normal(f)));
  const score = (facts.length - missing.length) / facts.length;
  const stated = facts.length === 1 ? 'states the quoted fact' : `states all ${facts.length} quoted facts`;
  const reason = missing.length === 0 ? stated : `missing ${missing.map((m) => `"${m}"`).join(', ')}`;
  return { rubric, score, reason, grader: OFFLINE_GRADER_ID };
}

export type Grader = (rubric: string, output: string) => Promise<Grade>;

/** The LLM-as-judge grader: renders the rubric-grader prompt and asks a model for {score, reason}. */
export function modelGrader(model: TextModel, modelId: string, graderPrompt: PromptDefinition): Grader {
  return async (rubric, output) => {
    const rendered = renderDefinition(graderPrompt, { rubric, output: output.replace(/</g, '&lt;') });
    const reply = await model.complete({
      modelId,
      system: rendered.system,
      messages: [{ role: 'user', text: rendered.user }],
      ...(rendered.maxTokens ? { maxTokens: rendered.maxTokens } : {}),
      temperature: rendered.temperature ?? 0,
    });
    const parsed = parseOutput(graderPrompt, reply.text);
    const problem = parsed.ok ? validateWith(graderPrompt.output?.schema, parsed.value) : parsed.error;
    if (!parsed.ok || problem !== undefined) {
      return { rubric, score: 0, reason: `grader reply unusable: ${problem}`, grader: reply.modelId };
    }
    const value = parsed.value as { score: number; reason: string };
    return { rubric, score: value.score, reason: value.reason, grader: reply.modelId };
  };
}

// ---- responders ---------------------------------------------------------------------------------

export interface Response {
  text: string;
  modelId: string;
  family: string;
  /** Grades recorded with the response, by rubric text. */
  grades: Grade[];
  stale?: string;
}

/** Produces the response a case is judged on: a recording, or a live model call. */
export interface Responder {
  readonly name: string;
  /** The model family to render for (undefined: the default wording). */
  family(promptId: string, testCase: GoldenCase): string | undefined;
  respond(rendered: RenderedPrompt, testCase: GoldenCase): Promise<Response | { missing: string }>;
}

/** sha256 of what a model is shown: a recording answers exactly this input or is stale. */
export function inputHash(rendered: Pick<RenderedPrompt, 'system' | 'user'>): string {
  return sha256(JSON.stringify([rendered.system, rendered.user]));
}

function recordingsPath(dir: string, id: string): string {
  return join(dir, 'recorded', `${id}.json`);
}

/** Reads prompts/recorded/<id>.json (an empty set when it does not exist yet). */
export function loadRecordings(dir: string, id: string): RecordingsFile {
  const file = recordingsPath(dir, id);
  if (!existsSync(file)) return { prompt: id, responses: {} };
  const parsed = RecordingsFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${zodProblems(parsed.error).join('; ')}`);
  return parsed.data;
}

/** Replays prompts/recorded/<id>.json: deterministic, offline, what CI runs. */
export function recordedResponder(dir: string): Responder {
  const files = new Map<string, RecordingsFile>();
  const recordingsOf = (id: string) => {
    let file = files.get(id);
    if (!file) {
      file = loadRecordings(dir, id);
      files.set(id, file);
    }
    return file;
  };
  return {
    name: 'recorded',
    family(promptId, testCase) {
      const family = recordingsOf(promptId).responses[testCase.description]?.family;
      return family === 'default' ? undefined : family;
    },
    async respond(rendered, testCase) {
      const recording = recordingsOf(rendered.promptId).responses[testCase.description];
      if (!recording) {
        return { missing: 'no recorded response: run with --provider offline|bedrock --record' };
      }
      const stale =
        recording.inputHash === inputHash(rendered)
          ? undefined
          : `recorded for prompt v${recording.promptVersion} with other wording or inputs: re-record it`;
      return {
        text: recording.text,
        modelId: recording.modelId,
        family: recording.family,
        grades: recording.grades,
        ...(stale ? { stale } : {}),
      };
    },
  };
}

/** Calls a TextModel live (the offline stand-in, or Bedrock through its adapter). */
export function liveResponder(name: string, model: TextModel, modelId: string, family?: string): Responder {
  return {
    name,
    family: () => family,
    async respond(rendered) {
      const reply = await model.complete({
        modelId,
        system: rendered.system,
        messages: [{ role: 'user', text: rendered.user }],
        ...(rendered.maxTokens ? { maxTokens: rendered.maxTokens } : {}),
        temperature: rendered.temperature ?? 0,
      });
      return { text: reply.text, modelId: reply.modelId, family: rendered.family, grades: [] };
    },
  };
}

// ---- evaluation ---------------------------------------------------------------------------------

export interface Row {
  testCase: string;
  check: string;
  pass: boolean;
  deterministic: boolean;
  detail: string;
}

export interface PromptReport {
  id: string;
  version?: number;
  storage?: { bytes: number; tier: StorageTier };
  rows: Row[];
  passRate: number;
  deterministicFailures: number;
  passed: boolean;
  /** New recordings to write (with --record). */
  recordings: Record<string, Recording>;
}

export interface EvalOptions {
  dir: string;
  config: EvalConfig;
  responder: Responder;
  /** Grades llm-rubric assertions that have no recorded grade. */
  grader: Grader;
  /** Only these prompt ids (all when empty). */
  only?: readonly string[];
  /** Collect recordings of live responses (and their grades). */
  record?: boolean;
  progress?: (line: string) => void;
  now?: () => Date;
}

function fail(testCase: string, check: string, detail: string): Row {
  return { testCase, check, pass: false, deterministic: true, detail };
}

function loadCases(dir: string, id: string): CasesFile | string {
  const file = join(dir, `${id}.cases.yaml`);
  if (!existsSync(file)) return `no golden cases: create ${id}.cases.yaml`;
  const parsed = CasesFile.safeParse(readYaml(file));
  if (!parsed.success) return `${id}.cases.yaml is malformed: ${zodProblems(parsed.error).join('; ')}`;
  if (parsed.data.prompt !== id) return `${id}.cases.yaml names prompt "${parsed.data.prompt}"`;
  const seen = new Set<string>();
  for (const t of parsed.data.tests) {
    if (seen.has(t.description)) return `${id}.cases.yaml has two cases described "${t.description}"`;
    seen.add(t.description);
  }
  return parsed.data;
}

async function evaluateCase(
  prompt: PromptDefinition,
  testCase: GoldenCase,
  options: EvalOptions,
  report: PromptReport,
): Promise<void> {
  const name = testCase.description;
  // Every variant must render with the golden inputs, whichever family this run answers with.
  for (const family of ['default', ...Object.keys(prompt.variants)]) {
    try {
      renderDefinition(prompt, testCase.vars as PromptValues, { family });
    } catch (err) {
      report.rows.push(fail(name, `render (${family})`, `${(err as Error).name}: ${(err as Error).message}`));
      return;
    }
  }
  const family = options.responder.family(prompt.id, testCase);
  const rendered = renderDefinition(prompt, testCase.vars as PromptValues, family ? { family } : {});
  let response: Response | { missing: string };
  try {
    response = await options.responder.respond(rendered, testCase);
  } catch (err) {
    report.rows.push(fail(name, 'response', `${(err as Error).name}: ${(err as Error).message}`));
    return;
  }
  if ('missing' in response) {
    report.rows.push(fail(name, 'response', response.missing));
    return;
  }
  if (response.stale) {
    const blocking = options.config.staleRecordings === 'fail';
    report.rows.push({
      testCase: name,
      check: 'recording',
      pass: !blocking,
      deterministic: blocking,
      detail: response.stale,
    });
  }
  const grades: Grade[] = [];
  for (const assertion of testCase.assert) {
    if (assertion.type !== 'llm-rubric') {
      report.rows.push({ testCase: name, ...runDeterministic(assertion, response.text, prompt) });
      continue;
    }
    const rubric = typeof assertion.value === 'string' ? assertion.value : '';
    const threshold = assertion.threshold ?? options.config.rubricThreshold;
    const recorded = response.grades.find((g) => g.rubric === rubric);
    const grade = recorded ?? (await options.grader(rubric, response.text));
    grades.push(grade);
    report.rows.push({
      testCase: name,
      check: `llm-rubric ≥${threshold}`,
      pass: rubric !== '' && grade.score >= threshold,
      deterministic: false,
      detail: `${grade.score.toFixed(2)} ${grade.reason} [${grade.grader}${recorded || options.responder.name !== 'recorded' ? '' : ', not in the recording'}]`,
    });
  }
  if (options.record) {
    report.recordings[name] = {
      modelId: response.modelId,
      family: response.family,
      recordedAt: (options.now ?? (() => new Date()))().toISOString(),
      promptVersion: prompt.version,
      inputHash: inputHash(rendered),
      text: response.text,
      grades,
    };
  }
}

/**
 * Evaluates one prompt of the registry: parse, static checks, storage tier, golden cases. Prompts of
 * prompts/eval/ (the gate's own grader) are checked statically only: `{ dir, cases: false }`.
 */
export async function evaluatePrompt(
  id: string,
  options: EvalOptions,
  location: { dir: string; cases: boolean } = { dir: options.dir, cases: true },
): Promise<PromptReport> {
  const report: PromptReport = {
    id,
    rows: [],
    passRate: 0,
    deterministicFailures: 0,
    passed: false,
    recordings: {},
  };
  const finish = () => {
    const passed = report.rows.filter((r) => r.pass).length;
    report.passRate = report.rows.length === 0 ? 1 : passed / report.rows.length;
    report.deterministicFailures = report.rows.filter((r) => r.deterministic && !r.pass).length;
    report.passed = report.deterministicFailures === 0 && report.passRate >= options.config.passRate;
    return report;
  };
  const parsed = PromptFile.safeParse(readYaml(join(location.dir, `${id}.prompt.yaml`)));
  if (!parsed.success) {
    for (const problem of zodProblems(parsed.error)) report.rows.push(fail('(static)', 'schema', problem));
    return finish();
  }
  const prompt = parsed.data;
  report.version = prompt.version;
  if (prompt.id !== id) report.rows.push(fail('(static)', 'id', `the file declares id "${prompt.id}"`));
  const problems = staticProblems(prompt);
  for (const problem of problems) report.rows.push(fail('(static)', 'variables/markers', problem));
  report.storage = storageOf(prompt);
  if (problems.length > 0 || !location.cases) return finish();
  const cases = loadCases(options.dir, id);
  if (typeof cases === 'string') {
    report.rows.push(fail('(static)', 'cases', cases));
    return finish();
  }
  for (const [i, testCase] of cases.tests.entries()) {
    options.progress?.(`[${id} ${i + 1}/${cases.tests.length}] ${testCase.description}`);
    await evaluateCase(prompt, testCase, options, report);
  }
  return finish();
}

/** Evaluates every prompt of the registry (or the `only` ones). */
export async function evaluateRegistry(options: EvalOptions): Promise<PromptReport[]> {
  const ids = registryIds(options.dir);
  const unknown = (options.only ?? []).filter((id) => !ids.includes(id));
  if (unknown.length > 0) throw new Error(`No prompt ${unknown.join(', ')} in ${options.dir}`);
  const selected = options.only && options.only.length > 0 ? ids.filter((id) => options.only?.includes(id)) : ids;
  const reports: PromptReport[] = [];
  for (const id of selected) reports.push(await evaluatePrompt(id, options));
  const gateDir = join(options.dir, 'eval');
  if (!options.only?.length && existsSync(gateDir)) {
    for (const id of registryIds(gateDir)) {
      reports.push(await evaluatePrompt(id, options, { dir: gateDir, cases: false }));
    }
  }
  return reports;
}

/** Merges new recordings into prompts/recorded/<id>.json, keeping recordedAt of unchanged ones. */
export function writeRecordings(dir: string, report: PromptReport): number {
  const file = loadRecordings(dir, report.id);
  let changed = 0;
  for (const [name, recording] of Object.entries(report.recordings)) {
    const old = file.responses[name];
    const same =
      old !== undefined &&
      JSON.stringify({ ...old, recordedAt: '' }) === JSON.stringify({ ...recording, recordedAt: '' });
    if (!same) {
      file.responses[name] = recording;
      changed++;
    }
  }
  const sorted = Object.fromEntries(Object.entries(file.responses).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(recordingsPath(dir, report.id), `${JSON.stringify({ ...file, responses: sorted }, null, 2)}\n`);
  return changed;
}

// ---- output -------------------------------------------------------------------------------------

const TIER_NOTE: Record<StorageTier, string> = {
  Standard: `standard parameter (≤ ${STANDARD_MAX_BYTES} B)`,
  Advanced: 'ADVANCED parameter (> 4 KB, ≤ 8 KB: billed per parameter per month)',
  S3: 'S3 object behind a pointer (> 8 KB: publish needs --bucket or PROMPTS_BUCKET)',
};

function table(rows: readonly Row[]): string {
  const cells = rows.map((r) => [r.testCase, r.check, r.pass ? 'pass' : r.deterministic ? 'FAIL' : 'fail', r.detail]);
  const header = ['case', 'assertion', 'result', 'detail'];
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length))));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i < 3 ? clip(v, widths[i]).padEnd(widths[i] ?? 0) : v))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** The report as text: a table per prompt, then one verdict line per prompt. */
export function formatReport(reports: readonly PromptReport[], config: EvalConfig, provider: string): string {
  const out: string[] = [];
  for (const r of reports) {
    const storage = r.storage ? `${r.storage.bytes} B stored → ${TIER_NOTE[r.storage.tier]}` : 'size unknown';
    out.push(`\n${r.id}${r.version === undefined ? '' : ` v${r.version}`}: ${storage}`);
    if (r.rows.length > 0) out.push(table(r.rows));
  }
  out.push('');
  for (const r of reports) {
    const why = r.passed
      ? 'ok'
      : r.deterministicFailures > 0
        ? `${r.deterministicFailures} deterministic failure(s)`
        : `pass rate below ${config.passRate}`;
    const checks =
      r.rows.length === 0
        ? 'static checks passed (a prompt of the gate itself: no golden cases)'
        : `${(r.passRate * 100).toFixed(0)}% of ${r.rows.length} checks passed (${why})`;
    out.push(`${r.passed ? 'PASS' : 'FAIL'} ${r.id}: ${checks}`);
  }
  out.push(
    provider === 'recorded'
      ? 'Responses replayed from prompts/recorded/ (offline); llm-rubric scores as recorded there.'
      : `Responses from ${provider}, live.`,
  );
  return out.join('\n');
}

// ---- CLI ----------------------------------------------------------------------------------------

const USAGE =
  'usage: npm run prompts:eval [-- --provider recorded|offline|bedrock] [--record] [--prompt <id>]... [--model <id>] [--grader-model <id>] [--dir prompts]';

async function createProviders(
  provider: string,
  dir: string,
  values: { model?: string; 'grader-model'?: string },
): Promise<{ responder: Responder; grader: Grader }> {
  const offlineGrader: Grader = async (rubric, output) => offlineGrade(rubric, output);
  if (provider === 'recorded') return { responder: recordedResponder(dir), grader: offlineGrader };
  if (provider === 'offline') {
    return { responder: liveResponder('offline', offlineTextModel, OFFLINE_TEXT_MODEL_ID), grader: offlineGrader };
  }
  // Bedrock needs credentials; the adapters are loaded only here so offline runs never touch the SDK clients.
  const { bedrockTextModel } = await import('../functions/shared/adapters/bedrock-text-model.js');
  const { modelCatalog } = await import('../functions/router/catalog.js');
  const catalog = modelCatalog();
  const model = values.model
    ? catalog.models.find((m) => m.id === values.model)
    : catalog.modelFor(catalog.tiers[0] as string);
  const modelId = values.model ?? model?.id ?? '';
  const graderId = values['grader-model'] ?? catalog.modelFor(catalog.topTier).id;
  const { loadPrompt } = await import('../functions/prompts/registry.js');
  const graderPrompt = loadPrompt('rubric-grader', join(dir, 'eval'));
  return {
    responder: liveResponder('bedrock', bedrockTextModel, modelId, model?.family),
    grader: modelGrader(bedrockTextModel, graderId, graderPrompt),
  };
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Runs the gate from command-line arguments; returns the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let values: {
    provider?: string;
    record?: boolean;
    prompt?: string[];
    model?: string;
    'grader-model'?: string;
    dir?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        provider: { type: 'string' },
        record: { type: 'boolean' },
        prompt: { type: 'string', multiple: true },
        model: { type: 'string' },
        'grader-model': { type: 'string' },
        dir: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const provider = values.provider ?? 'recorded';
  if (!['recorded', 'offline', 'bedrock'].includes(provider)) {
    io.err(`--provider must be recorded, offline or bedrock\n${USAGE}\n`);
    return 2;
  }
  if (values.record && provider === 'recorded') {
    io.err('--record needs a live provider: --provider offline or --provider bedrock\n');
    return 2;
  }
  const dir = values.dir ?? join(process.cwd(), 'prompts');
  const config = loadEvalConfig(dir);
  const { responder, grader } = await createProviders(provider, dir, values);
  const live = provider !== 'recorded';
  const reports = await evaluateRegistry({
    dir,
    config,
    responder,
    grader,
    only: values.prompt ?? [],
    record: values.record ?? false,
    ...(live ? { progress: (line: string) => io.err(`${line}\n`) } : {}),
  });
  io.out(`${formatReport(reports, config, provider)}\n`);
  if (values.record) {
    for (const report of reports) {
      if (Object.keys(report.recordings).length === 0) continue;
      const changed = writeRecordings(dir, report);
      io.out(`recorded ${report.id}: ${changed} response(s) changed → prompts/recorded/${report.id}.json\n`);
    }
  }
  return reports.every((r) => r.passed) ? 0 : 1;
}

runWhenMain(import.meta.url, main, true);
