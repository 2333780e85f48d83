import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { ERROR_NAMES } from '../functions/shared/errors.js';
import { runWhenMain } from './cli.js';

/**
 * `npm run check:fault-paths`: mutation testing of the state machines' fault paths (issue 13). One at a time, each
 * `ErrorEquals` list of statemachines/*.asl.yaml that names one of the project's errors (functions/shared/errors.ts)
 * is replaced by a name nothing throws, and tests/workflows + tests/reliability run against the mutated copy. A
 * mutation that leaves every test green "survived": that Retry or Catch is not exercised. Slow (one jest run per
 * mutation, on a copy of the project), so it is not part of `npm test`.
 *
 * Each mutation runs tests/reliability/fault-paths.test.ts first (a minute) and the whole set only when that stays
 * green, so a survivor is always checked against every workflow and reliability test.
 *
 *   npm run check:fault-paths [-- --only <file or state substring>] [--tests <path> ...] [--list]
 */

/** What the mutated lists name instead. */
export const NEVER_THROWN = 'NeverThrownFaultPathError';
const DEFAULT_TESTS = ['tests/workflows', 'tests/reliability'];
/** Run first on each mutation: the test that raises every named error; the full set runs only if it stays green. */
const QUICK_TESTS = ['tests/reliability/fault-paths.test.ts'];

export interface FaultPathSite {
  file: string;
  /** 1-based line of the list. */
  line: number;
  kind: 'Retry' | 'Catch';
  /** The project's error names in the list (it may name others too, e.g. Lambda.ServiceException). */
  names: string[];
  /** States whose Retry or Catch uses the list (more than one through a YAML anchor). */
  states: string[];
  /** Source offsets of the list's text. */
  range: [number, number];
}

type StatesMap = YAMLMap<unknown, unknown>;

/** Every ErrorEquals list of one ASL file that names at least one of `ownErrors`, with the states using it. */
export function faultPathSites(file: string, text: string, ownErrors: readonly string[]): FaultPathSite[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const sites = new Map<YAMLSeq, FaultPathSite>();
  const own = new Set(ownErrors);

  const visitStates = (states: unknown, prefix: string) => {
    if (!isMap(states)) return;
    for (const pair of (states as StatesMap).items) {
      const stateName = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const state = pair.value;
      if (!isMap(state)) continue;
      for (const kind of ['Retry', 'Catch'] as const) {
        const list = state.get(kind, true);
        if (!isSeq(list)) continue;
        for (const item of list.items) {
          const rule = isAlias(item) ? item.resolve(doc) : item;
          if (!isMap(rule)) continue;
          const errorEquals = rule.get('ErrorEquals', true);
          if (!isSeq(errorEquals)) continue;
          const names = errorEquals.items.map((n) => (isScalar(n) ? String(n.value) : String(n)));
          const ours = names.filter((n) => own.has(n));
          if (ours.length === 0 || !errorEquals.range) continue;
          const site = sites.get(errorEquals) ?? {
            file,
            line: lineCounter.linePos(errorEquals.range[0]).line,
            kind,
            names: ours,
            states: [],
            range: [errorEquals.range[0], errorEquals.range[1]] as [number, number],
          };
          site.states.push(`${prefix}${stateName}`);
          sites.set(errorEquals, site);
        }
      }
      for (const nested of ['ItemProcessor', 'Iterator']) {
        const processor = state.get(nested, true);
        if (isMap(processor)) visitStates(processor.get('States', true), `${prefix}${stateName}/`);
      }
      const branches = state.get('Branches', true);
      if (isSeq(branches)) {
        for (const branch of branches.items) {
          if (isMap(branch)) visitStates(branch.get('States', true), `${prefix}${stateName}/`);
        }
      }
    }
  };
  visitStates(doc.get('States', true), '');
  return [...sites.values()].sort((a, b) => a.range[0] - b.range[0]);
}

/** The ASL text with one site's list replaced by a name nothing throws (the rest of the file byte for byte). */
export function mutate(text: string, site: FaultPathSite): string {
  // a block sequence's range runs up to the next key: keep that line break and indentation
  const trailing = /\s*$/.exec(text.slice(site.range[0], site.range[1]))?.[0] ?? '';
  return `${text.slice(0, site.range[0])}[${NEVER_THROWN}]${trailing}${text.slice(site.range[1])}`;
}

/** Every site of every statemachines/*.asl.yaml under `root`. */
export function projectSites(root: string): FaultPathSite[] {
  const dir = join(root, 'statemachines');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.asl.yaml'))
    .sort()
    .flatMap((f) => faultPathSites(`statemachines/${f}`, readFileSync(join(dir, f), 'utf8'), ERROR_NAMES));
}

/** A copy of the project to mutate (node_modules linked, not copied). */
function copyProject(root: string): string {
  const copy = mkdtempSync(join(tmpdir(), 'composable-ai-fault-paths-'));
  const skip = new Set(['node_modules', '.git', '.serverless', '.esbuild', '.local-data']);
  cpSync(root, copy, { recursive: true, filter: (source) => !skip.has(relative(root, source).split('/')[0] ?? '') });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
}

interface JestRun {
  passed: boolean;
  failedTests: string[];
  seconds: number;
}

/** Runs jest in `cwd` on `tests`, stopping at the first failing file. */
function runJest(cwd: string, tests: readonly string[]): Promise<JestRun> {
  const report = join(cwd, '.fault-paths-report.json');
  rmSync(report, { force: true });
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [join(cwd, 'node_modules/jest/bin/jest.js'), '--bail', '--silent', '--json', `--outputFile=${report}`, ...tests],
      {
        cwd,
        stdio: ['ignore', 'ignore', 'ignore'],
        env: { ...process.env, NODE_OPTIONS: '--experimental-vm-modules --no-warnings=ExperimentalWarning' },
      },
    );
    child.on('error', fail);
    child.on('close', (code) => {
      const seconds = (Date.now() - started) / 1000;
      const failedTests: string[] = [];
      if (existsSync(report)) {
        const json = JSON.parse(readFileSync(report, 'utf8')) as {
          testResults: { name: string; assertionResults: { status: string; fullName: string }[] }[];
        };
        for (const file of json.testResults) {
          for (const a of file.assertionResults) {
            if (a.status === 'failed') failedTests.push(`${relative(cwd, file.name)}: ${a.fullName}`);
          }
        }
      }
      done({ passed: code === 0, failedTests, seconds });
    });
  });
}

const describeSite = (s: FaultPathSite) =>
  `${s.file}:${s.line} ${s.kind} [${s.names.join(', ')}] of ${s.states.join(', ')}`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      tests: { type: 'string', multiple: true },
      list: { type: 'boolean' },
    },
  });
  const root = resolve(process.cwd());
  const tests = values.tests ?? DEFAULT_TESTS;
  const sites = projectSites(root).filter(
    (s) => !values.only || s.file.includes(values.only) || s.states.some((st) => st.includes(values.only as string)),
  );
  process.stdout.write(`${sites.length} ErrorEquals lists name the project's errors:\n`);
  for (const s of sites) process.stdout.write(`  ${describeSite(s)}\n`);
  if (values.list) return 0;

  const copy = copyProject(root);
  try {
    process.stdout.write(`\nbaseline: ${tests.join(' ')} on the unmutated copy… `);
    const baseline = await runJest(copy, tests);
    process.stdout.write(`${baseline.passed ? 'green' : 'RED'} (${baseline.seconds.toFixed(0)} s)\n`);
    if (!baseline.passed) {
      process.stderr.write(`the tests fail without any mutation:\n  ${baseline.failedTests.join('\n  ')}\n`);
      return 2;
    }
    const survivors: FaultPathSite[] = [];
    for (const [i, site] of sites.entries()) {
      const path = join(copy, site.file);
      const original = readFileSync(path, 'utf8');
      writeFileSync(path, mutate(original, site));
      try {
        process.stdout.write(`[${i + 1}/${sites.length}] ${describeSite(site)} → `);
        const quick = values.tests ? undefined : await runJest(copy, QUICK_TESTS);
        const run = quick && !quick.passed ? quick : await runJest(copy, tests);
        if (run.passed) survivors.push(site);
        process.stdout.write(
          run.passed
            ? `SURVIVED (${run.seconds.toFixed(0)} s)\n`
            : `killed by ${run.failedTests[0] ?? 'a failing test file'} (${run.seconds.toFixed(0)} s)\n`,
        );
      } finally {
        writeFileSync(path, original);
      }
    }
    process.stdout.write(
      `\n${sites.length - survivors.length} of ${sites.length} mutations killed, ${survivors.length} survived\n`,
    );
    for (const s of survivors) process.stdout.write(`  survived: ${describeSite(s)}\n`);
    return survivors.length === 0 ? 0 : 1;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, main);
