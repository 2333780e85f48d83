import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeParametersCommand,
  GetParameterCommand,
  LabelParameterVersionCommand,
  ParameterNotFound,
  ParameterVersionNotFound,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import {
  contentHash,
  loadPrompt,
  type PromptDefinition,
  sha256,
  storedPromptJson,
} from '../../functions/prompts/registry.js';
import { PublishRefusedError, publishPrompts } from '../../scripts/prompts-publish.js';
import { RollbackTargetNotFoundError, rollbackPrompt } from '../../scripts/prompts-rollback.js';

const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);
const clients = { ssm: new SSMClient({ region: 'us-east-1' }), s3: new S3Client({ region: 'us-east-1' }) };
const meta = { $metadata: {} };
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const NAME = '/composable-ai/dev/prompts/answer-question';

const answer = loadPrompt('answer-question', join(process.cwd(), 'prompts'));
const reworded: PromptDefinition = { ...answer, version: answer.version + 1, system: `${answer.system}\nBe concise.` };

/** A prompt whose stored form is `bytes` long, give or take the padding of its description. */
function promptOfSize(bytes: number): PromptDefinition {
  const base = Buffer.byteLength(storedPromptJson({ ...answer, description: '' }, COMMIT));
  return { ...answer, description: 'x'.repeat(bytes - base) };
}

const notFound = () => new ParameterNotFound({ message: 'Parameter not found', ...meta });
const stored = (prompt: PromptDefinition, version: number) => ({
  Parameter: { Name: NAME, Type: 'String' as const, Value: storedPromptJson(prompt, 'old-commit'), Version: version },
});

beforeEach(() => {
  ssm.reset();
  s3.reset();
  ssm.on(PutParameterCommand).resolves({ Version: 8, Tier: 'Standard' });
  ssm.on(LabelParameterVersionCommand).resolves({ InvalidLabels: [], ParameterVersion: 8 });
  ssm.on(DescribeParametersCommand).resolves({ Parameters: [{ Name: NAME, Tier: 'Standard' }] });
});

describe('prompts:publish', () => {
  const options = { stage: 'dev', gitCommit: COMMIT };

  it('creates a new prompt as a standard parameter with hash and commit, labelled v<version>', async () => {
    ssm.on(GetParameterCommand).rejects(notFound());

    const [result] = await publishPrompts([answer], options, clients);

    expect(result).toMatchObject({ action: 'create', newVersion: 8, tier: 'Standard' });
    expect(result?.message).toContain('answer-question: created v1 as parameter version 8, labelled v1');
    const put = ssm.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Name: NAME, Type: 'String', Tier: 'Standard', Overwrite: true });
    expect(put?.Description).toBe(`Prompt answer-question v1 ${contentHash(answer)} commit ${COMMIT}`);
    expect(JSON.parse(put?.Value ?? '')).toEqual({
      contentHash: contentHash(answer),
      gitCommit: COMMIT,
      prompt: answer,
    });
    expect(ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Name: NAME,
      ParameterVersion: 8,
      Labels: ['v1'],
    });
  });

  it('publishes only prompts whose content hash changed', async () => {
    ssm.on(GetParameterCommand, { Name: NAME }).resolves(stored(answer, 5));

    const [result] = await publishPrompts([answer], options, clients);

    expect(result).toMatchObject({ action: 'unchanged', currentVersion: 5 });
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(ssm).not.toHaveReceivedCommand(LabelParameterVersionCommand);
  });

  it('updates a changed prompt that has a new version', async () => {
    ssm.on(GetParameterCommand, { Name: NAME }).resolves(stored(answer, 5));
    ssm
      .on(GetParameterCommand, { Name: `${NAME}:v2` })
      .rejects(new ParameterVersionNotFound({ message: 'no', ...meta }));

    const [result] = await publishPrompts([reworded], options, clients);

    expect(result).toMatchObject({ action: 'update', currentVersion: 5, newVersion: 8 });
    expect(ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, { Labels: ['v2'] });
  });

  it('refuses, writing nothing, when the wording changed but the version was not bumped', async () => {
    const sameVersion = { ...reworded, version: answer.version };
    const judge = loadPrompt('route-judge', join(process.cwd(), 'prompts'));
    ssm.on(GetParameterCommand).rejects(notFound());
    ssm.on(GetParameterCommand, { Name: NAME }).resolves(stored(answer, 5));
    ssm.on(GetParameterCommand, { Name: `${NAME}:v1` }).resolves(stored(answer, 5));

    const publish = publishPrompts([judge, sameVersion], options, clients);

    await expect(publish).rejects.toThrow(PublishRefusedError);
    await expect(publish).rejects.toThrow(/answer-question: label v1 \(parameter version 5\) holds other content/);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('uses the advanced tier above 4 KB, and never downgrades an advanced parameter', async () => {
    ssm.on(GetParameterCommand).rejects(notFound());
    const large = promptOfSize(5000);

    await publishPrompts([large], options, clients);
    ssm.on(GetParameterCommand, { Name: NAME }).resolves(stored(large, 3));
    ssm.on(DescribeParametersCommand).resolves({ Parameters: [{ Name: NAME, Tier: 'Advanced' }] });
    await publishPrompts([{ ...answer, version: 9 }], options, clients);

    const tiers = ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input.Tier);
    expect(tiers).toEqual(['Advanced', 'Advanced']);
  });

  it('puts a prompt above 8 KB in S3 and stores a checked pointer', async () => {
    ssm.on(GetParameterCommand).rejects(notFound());
    const huge = promptOfSize(9000);

    const [result] = await publishPrompts([huge], { ...options, bucket: 'prompts-bucket' }, clients);

    const object = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    const key = `prompts/dev/answer-question/${contentHash(huge).slice('sha256:'.length)}.json`;
    expect(object).toMatchObject({ Bucket: 'prompts-bucket', Key: key, ContentType: 'application/json' });
    const pointer = JSON.parse(ssm.commandCalls(PutParameterCommand)[0]?.args[0].input.Value ?? '');
    expect(pointer).toEqual({
      id: 'answer-question',
      version: 1,
      contentHash: contentHash(huge),
      gitCommit: COMMIT,
      s3: `s3://prompts-bucket/${key}`,
      sha256: sha256(object?.Body as string),
    });
    expect(result?.tier).toBe('Standard');
  });

  it('refuses a prompt above 8 KB without a bucket', async () => {
    ssm.on(GetParameterCommand).rejects(notFound());

    const publish = publishPrompts([promptOfSize(9000)], options, clients);

    await expect(publish).rejects.toThrow(/needs --bucket/);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('plans without writing on a dry run', async () => {
    ssm.on(GetParameterCommand).rejects(notFound());

    const [result] = await publishPrompts([answer], { ...options, dryRun: true }, clients);

    expect(result?.message).toBe(`answer-question: would create v1 (Standard, ${result?.storedBytes} B)`);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });
});

describe('prompts:rollback', () => {
  it('restores an earlier parameter version as the new current version', async () => {
    ssm.on(GetParameterCommand, { Name: `${NAME}:5` }).resolves(stored(answer, 5));
    ssm.on(GetParameterCommand, { Name: NAME }).resolves(stored(reworded, 7));

    const result = await rollbackPrompt({ stage: 'dev', id: 'answer-question', version: 5 }, clients.ssm);

    expect(result).toMatchObject({ action: 'restored', restoredVersion: 5, previousVersion: 7, newVersion: 8 });
    expect(ssm).toHaveReceivedCommandWith(PutParameterCommand, {
      Name: NAME,
      Value: stored(answer, 5).Parameter.Value,
      Overwrite: true,
      Tier: 'Standard',
    });
    expect(ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, { ParameterVersion: 8, Labels: ['v1'] });
  });

  it('restores by label', async () => {
    ssm.on(GetParameterCommand, { Name: `${NAME}:v1` }).resolves(stored(answer, 5));
    ssm.on(GetParameterCommand, { Name: NAME }).resolves(stored(reworded, 7));

    const result = await rollbackPrompt({ stage: 'dev', id: 'answer-question', label: 'v1' }, clients.ssm);

    expect(result.message).toMatch(/^answer-question: restored parameter version 5 \(v1, sha256:.*\) as version 8/);
  });

  it('fails clearly and changes nothing when the version does not exist', async () => {
    ssm
      .on(GetParameterCommand, { Name: `${NAME}:42` })
      .rejects(new ParameterVersionNotFound({ message: 'no', ...meta }));
    ssm.on(GetParameterCommand, { Name: `${NAME}:v9` }).rejects(notFound());

    const byVersion = rollbackPrompt({ stage: 'dev', id: 'answer-question', version: 42 }, clients.ssm);
    const byLabel = rollbackPrompt({ stage: 'dev', id: 'answer-question', label: 'v9' }, clients.ssm);

    await expect(byVersion).rejects.toThrow(RollbackTargetNotFoundError);
    await expect(byVersion).rejects.toThrow(`${NAME} has no version 42; nothing was changed`);
    await expect(byLabel).rejects.toThrow(`${NAME} has no label v9; nothing was changed`);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(ssm).not.toHaveReceivedCommand(LabelParameterVersionCommand);
  });

  it('does nothing when the target is already current', async () => {
    ssm.on(GetParameterCommand).resolves(stored(answer, 5));

    const result = await rollbackPrompt({ stage: 'dev', id: 'answer-question', version: 5 }, clients.ssm);

    expect(result.action).toBe('unchanged');
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('refuses a version that holds another prompt', async () => {
    const other = { ...answer, id: 'route-judge' };
    ssm.on(GetParameterCommand).resolves(stored(other, 2));

    const rollback = rollbackPrompt({ stage: 'dev', id: 'answer-question', version: 2 }, clients.ssm);

    await expect(rollback).rejects.toThrow('holds prompt "route-judge"; nothing was changed');
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });
});
