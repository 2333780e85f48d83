import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  bundledPromptSource,
  contentHash,
  installPromptSource,
  loadPrompt,
  type PromptDefinition,
  parseOutput,
  parseStoredValue,
  promptSourceSettings,
  renderDefinition,
  renderPrompt,
  storageTierFor,
  storedPromptJson,
} from '../../functions/prompts/registry.js';
import { ConfigurationError, InputValidationError, PromptVariableMissingError } from '../../functions/shared/errors.js';

const registry = join(process.cwd(), 'prompts');

const greeting: PromptDefinition = {
  id: 'greeting',
  version: 3,
  description: 'A test prompt.',
  variables: {
    name: { type: 'string', description: 'who', maxLength: 20 },
    count: { type: 'number', description: 'how many' },
    formal: { type: 'boolean', description: 'tone' },
  },
  model: { temperature: 0.2, maxTokens: 50 },
  system: 'Greet people. Formal: {{formal}}.',
  user: 'Greet {{ name }} {{count}} times.',
  variants: { llama: { system: 'Llama wording. Formal: {{formal}}.' } },
};

function registryWith(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'prompts-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), stringify(content));
  return dir;
}

afterEach(() => installPromptSource(undefined));

describe('renderDefinition', () => {
  it('renders typed values into the default templates and carries id, version and model parameters', () => {
    const rendered = renderDefinition(greeting, { name: 'Ada', count: 2, formal: true });

    expect(rendered).toEqual({
      promptId: 'greeting',
      promptVersion: 3,
      family: 'default',
      system: 'Greet people. Formal: true.',
      user: 'Greet Ada 2 times.',
      temperature: 0.2,
      maxTokens: 50,
    });
  });

  it('uses the variant of the model family, and the default for a family without one', () => {
    const values = { name: 'Ada', count: 1, formal: false };

    const llama = renderDefinition(greeting, values, { family: 'llama' });
    const nova = renderDefinition(greeting, values, { family: 'nova' });

    expect(llama).toMatchObject({
      family: 'llama',
      system: 'Llama wording. Formal: false.',
      user: 'Greet Ada 1 times.',
    });
    expect(nova).toMatchObject({ family: 'default', system: 'Greet people. Formal: false.' });
  });

  it('throws PromptVariableMissingError naming the variable, never rendering "undefined"', () => {
    const render = () => renderDefinition(greeting, { name: 'Ada', formal: true });

    expect(render).toThrow(PromptVariableMissingError);
    expect(render).toThrow('Prompt "greeting" needs variable "count"');
  });

  it('rejects a value of the wrong type or over maxLength with InputValidationError', () => {
    const wrongType = () => renderDefinition(greeting, { name: 'Ada', count: '2', formal: true });
    const tooLong = () => renderDefinition(greeting, { name: 'A'.repeat(21), count: 2, formal: true });
    const notFinite = () => renderDefinition(greeting, { name: 'Ada', count: Number.NaN, formal: true });

    expect(wrongType).toThrow(InputValidationError);
    expect(wrongType).toThrow('variable "count" must be a number, got string');
    expect(tooLong).toThrow('variable "name" is 21 characters; the maximum is 20');
    expect(notFinite).toThrow(InputValidationError);
  });

  it('does not expand markers inside values (a value cannot inject another variable)', () => {
    const rendered = renderDefinition(greeting, { name: '{{formal}}', count: 1, formal: true });

    expect(rendered.user).toBe('Greet {{formal}} 1 times.');
  });
});

describe('the registry files', () => {
  it('loads every prompt of prompts/ with typed variables', () => {
    const answer = loadPrompt('answer-question', registry);
    const judge = loadPrompt('route-judge', registry);

    expect(answer.variables.question).toMatchObject({ type: 'string', maxLength: 2000 });
    expect(Object.keys(answer.variants).sort()).toEqual(['claude', 'llama', 'nova']);
    expect(judge.output?.schema).toEqual({ type: 'string', enum: ['simple', 'complex'] });
  });

  it('refuses a file whose template uses an undeclared variable, naming it', () => {
    const dir = registryWith({
      'broken.prompt.yaml': { ...greeting, id: 'broken', variants: { nova: { user: 'Hi {{nickname}}' } } },
    });

    const load = () => loadPrompt('broken', dir);

    expect(load).toThrow(ConfigurationError);
    expect(load).toThrow('nova.user uses undeclared variable "nickname"');
  });

  it('refuses a file with an unknown key or a bad variable type', () => {
    const dir = registryWith({
      'typo.prompt.yaml': { ...greeting, id: 'typo', sytem: 'x' },
      'badtype.prompt.yaml': { ...greeting, id: 'badtype', variables: { name: { type: 'date', description: 'd' } } },
    });

    expect(() => loadPrompt('typo', dir)).toThrow(/Unrecognized key.*sytem/);
    expect(() => loadPrompt('badtype', dir)).toThrow(/variables\.name\.type/);
  });
});

describe('parseOutput', () => {
  const judge = loadPrompt('route-judge', registry);

  it('reads a label the way the router does: a bare word, or one a model explains or cites', () => {
    expect(parseOutput(judge, 'Complex')).toEqual({ ok: true, value: 'complex' });
    expect(parseOutput(judge, 'summarize, extract, translate. [simple]')).toEqual({ ok: true, value: 'simple' });
    expect(parseOutput(judge, 'I cannot tell.')).toEqual({ ok: false, error: 'no label among simple, complex' });
  });

  it('parses JSON contracts, with or without a markdown fence', () => {
    const jsonPrompt = { ...greeting, output: { parse: 'json' as const, schema: { type: 'object' } } };

    expect(parseOutput(jsonPrompt, '```json\n{"a":1}\n```')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseOutput(jsonPrompt, '{a:1}')).toMatchObject({ ok: false });
  });
});

describe('the stored form', () => {
  it('hashes content independently of key order and records hash and commit', () => {
    const { user, ...rest } = greeting;
    const reordered = JSON.parse(JSON.stringify({ user, ...rest })) as PromptDefinition;

    const stored = JSON.parse(storedPromptJson(greeting, 'abc123'));

    expect(contentHash(reordered)).toBe(contentHash(greeting));
    expect(contentHash({ ...greeting, user: 'Other {{name}} {{count}}' })).not.toBe(contentHash(greeting));
    expect(stored).toMatchObject({
      contentHash: contentHash(greeting),
      gitCommit: 'abc123',
      prompt: { id: 'greeting' },
    });
    expect(parseStoredValue(JSON.stringify(stored), 'test')).toEqual(stored);
  });

  it('chooses the standard tier up to 4 KB, advanced up to 8 KB, S3 above', () => {
    expect([4096, 4097, 8192, 8193].map(storageTierFor)).toEqual(['Standard', 'Advanced', 'Advanced', 'S3']);
  });
});

describe('the runtime prompt source', () => {
  it('defaults to the bundled registry and needs a parameter prefix for ssm', () => {
    expect(promptSourceSettings({})).toEqual({ source: 'bundled' });
    expect(() => promptSourceSettings({ PROMPTS_SOURCE: 'ssm' })).toThrow(ConfigurationError);
    expect(
      promptSourceSettings({ PROMPTS_SOURCE: 'ssm', PROMPTS_PARAMETER_PREFIX: '/composable-ai/dev/prompts' }),
    ).toEqual({ source: 'ssm', parameterPrefix: '/composable-ai/dev/prompts', cacheSeconds: 300 });
    expect(() => promptSourceSettings({ PROMPT_CACHE_SECONDS: '-1' })).toThrow(ConfigurationError);
  });

  it('renders from the installed source and says where the prompt came from', async () => {
    installPromptSource({
      load: async (id) => ({ definition: { ...greeting, id }, source: 'ssm-stale' }),
    });

    const rendered = await renderPrompt('greeting', { name: 'Ada', count: 1, formal: true });

    expect(rendered).toMatchObject({ promptId: 'greeting', promptVersion: 3, source: 'ssm-stale' });
  });

  it('serves the bundled copy locally', async () => {
    const source = bundledPromptSource(registry);

    const loaded = await source.load('answer-question');

    expect(loaded).toMatchObject({ source: 'bundled', definition: { id: 'answer-question' } });
  });
});
