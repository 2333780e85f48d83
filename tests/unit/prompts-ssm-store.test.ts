import { join } from 'node:path';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { GetObjectCommand, type GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, ParameterNotFound, SSMClient, ThrottlingException } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import {
  bundledPromptSource,
  contentHash,
  installPromptSource,
  loadPrompt,
  type PromptDefinition,
  renderPrompt,
  sha256,
  storedPromptJson,
} from '../../functions/prompts/registry.js';
import { createSsmPromptSource, type PromptFallback } from '../../functions/prompts/ssm-prompt-store.js';

const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);
const registry = join(process.cwd(), 'prompts');
const PREFIX = '/composable-ai/dev/prompts';
const NAME = `${PREFIX}/route-judge`;
const meta = { $metadata: {} };

const bundled = loadPrompt('route-judge', registry);
/** The published copy differs from the bundled one, so a test can tell which was served. */
const published: PromptDefinition = {
  ...bundled,
  version: bundled.version + 1,
  system: `${bundled.system}\nBe brief.`,
};

function parameter(value: string, version = 7) {
  return { Parameter: { Name: NAME, Type: 'String' as const, Value: value, Version: version } };
}

function body(text: string): GetObjectCommandOutput['Body'] {
  const bytes = new TextEncoder().encode(text);
  return { transformToByteArray: async () => bytes } as unknown as GetObjectCommandOutput['Body'];
}

function source(options: { maxAgeSeconds?: number; now?: () => number } = {}) {
  const fallbacks: PromptFallback[] = [];
  const store = createSsmPromptSource({
    prefix: PREFIX,
    maxAgeSeconds: options.maxAgeSeconds ?? 300,
    fallback: bundledPromptSource(registry),
    provider: new SSMProvider({ awsSdkV3Client: new SSMClient({ region: 'us-east-1' }) }),
    s3: new S3Client({ region: 'us-east-1' }),
    ...(options.now ? { now: options.now } : {}),
    onFallback: (event) => fallbacks.push(event),
  });
  return { store, fallbacks };
}

beforeEach(() => {
  ssm.reset();
  s3.reset();
});
afterEach(() => installPromptSource(undefined));

describe('the SSM prompt source', () => {
  it('serves the published prompt and caches it in memory for maxAge', async () => {
    ssm.on(GetParameterCommand, { Name: NAME }).resolves(parameter(storedPromptJson(published, 'abc123')));
    const { store, fallbacks } = source();

    const first = await store.load('route-judge');
    const second = await store.load('route-judge');

    expect(first).toEqual({ definition: published, source: 'ssm' });
    expect(second.definition.version).toBe(published.version);
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 1);
    expect(fallbacks).toEqual([]);
  });

  it('serves the last good value when SSM throttles after the cache expired, and tells why', async () => {
    let clock = 1_000_000;
    ssm
      .on(GetParameterCommand)
      .resolvesOnce(parameter(storedPromptJson(published, 'abc123')))
      .rejects(new ThrottlingException({ message: 'Rate exceeded', Message: 'Rate exceeded', ...meta }));
    const { store, fallbacks } = source({ maxAgeSeconds: 0, now: () => clock });

    await store.load('route-judge');
    clock += 1000;
    const throttled = await store.load('route-judge');

    expect(throttled).toEqual({ definition: published, source: 'ssm-stale' });
    expect(fallbacks).toEqual([
      { promptId: 'route-judge', parameter: NAME, servedFrom: 'ssm-stale', reason: 'ThrottlingException' },
    ]);
  });

  it('serves the bundled copy when SSM throttles and nothing was fetched before', async () => {
    ssm
      .on(GetParameterCommand)
      .rejects(new ThrottlingException({ message: 'Rate exceeded', Message: 'Rate exceeded', ...meta }));
    const { store, fallbacks } = source();

    const loaded = await store.load('route-judge');

    expect(loaded).toEqual({ definition: bundled, source: 'bundled-fallback' });
    expect(fallbacks[0]).toMatchObject({ servedFrom: 'bundled-fallback', reason: 'ThrottlingException' });
  });

  it('does not ask a failing SSM again until the retry interval has passed', async () => {
    let clock = 1_000_000;
    ssm
      .on(GetParameterCommand)
      .rejects(new ThrottlingException({ message: 'Rate exceeded', Message: 'Rate exceeded', ...meta }));
    const { store } = source({ now: () => clock });

    await store.load('route-judge');
    clock += 10_000;
    await store.load('route-judge');
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 1);
    clock += 30_000;
    await store.load('route-judge');

    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 2);
  });

  it('falls back to the bundled copy when the parameter does not exist or holds something else', async () => {
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(new ParameterNotFound({ message: 'not found', ...meta }))
      .resolves(parameter('{"not":"a prompt"}'));
    const first = source({ maxAgeSeconds: 0 });
    const second = source({ maxAgeSeconds: 0 });

    const missing = await first.store.load('route-judge');
    const malformed = await second.store.load('route-judge');

    expect(missing.source).toBe('bundled-fallback');
    expect(first.fallbacks[0]?.reason).toBe('ParameterNotFound');
    expect(malformed.source).toBe('bundled-fallback');
    expect(second.fallbacks[0]?.reason).toBe('ConfigurationError');
  });

  it('follows an S3 pointer and checks the object against its sha256', async () => {
    const stored = storedPromptJson(published, 'abc123');
    const pointer = {
      id: published.id,
      version: published.version,
      contentHash: contentHash(published),
      gitCommit: 'abc123',
      s3: 's3://prompts-bucket/prompts/dev/route-judge/abc.json',
      sha256: sha256(stored),
    };
    ssm.on(GetParameterCommand).resolves(parameter(JSON.stringify(pointer)));
    s3.on(GetObjectCommand, { Bucket: 'prompts-bucket', Key: 'prompts/dev/route-judge/abc.json' }).resolves({
      Body: body(stored),
    });
    const good = source();
    const tampered = source();

    const loaded = await good.store.load('route-judge');
    s3.reset();
    s3.on(GetObjectCommand).resolves({ Body: body(stored.replace('Be brief.', 'Be rude.')) });
    const rejected = await tampered.store.load('route-judge');

    expect(loaded).toEqual({ definition: published, source: 'ssm' });
    expect(rejected.source).toBe('bundled-fallback');
    expect(tampered.fallbacks).toEqual([expect.objectContaining({ reason: 'ConfigurationError' })]);
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 1);
  });

  it('is what renderPrompt uses when installed, and the result names the published version', async () => {
    ssm.on(GetParameterCommand).resolves(parameter(storedPromptJson(published, 'abc123')));
    installPromptSource(source().store);

    const rendered = await renderPrompt('route-judge', { request: 'Translate hello' }, { family: 'claude' });

    expect(rendered).toMatchObject({ promptId: 'route-judge', promptVersion: published.version, source: 'ssm' });
  });
});
