import {
  ApplyGuardrailCommand,
  type ApplyGuardrailCommandOutput,
  BedrockRuntimeClient,
} from '@aws-sdk/client-bedrock-runtime';
import type { TextGuardrail } from '../ports.js';
import { translateBedrockError } from './bedrock-errors.js';

const client = new BedrockRuntimeClient({ maxAttempts: 2 });

/** What intervened: the blocked content filters (PROMPT_ATTACK, …), denied topics and words. */
function blockedFilters(res: ApplyGuardrailCommandOutput): string[] {
  return (res.assessments ?? []).flatMap((a) => [
    ...(a.contentPolicy?.filters ?? []).filter((f) => f.action === 'BLOCKED').map((f) => String(f.type)),
    ...(a.topicPolicy?.topics ?? []).filter((t) => t.action === 'BLOCKED').map((t) => `topic:${t.name}`),
    ...(a.wordPolicy?.customWords ?? []).filter((w) => w.action === 'BLOCKED').map(() => 'word'),
    ...(a.wordPolicy?.managedWordLists ?? []).filter((w) => w.action === 'BLOCKED').map((w) => String(w.type)),
  ]);
}

/**
 * Bedrock Guardrails' ApplyGuardrail as a TextGuardrail: the text is assessed as user input
 * (`guard_content`, so the prompt-attack filter applies) without any model call. Errors become the
 * project's named Bedrock errors (ModelThrottledError, ModelTimeoutError, ModelInvocationError).
 */
export function createBedrockGuardrail(guardrail: { id: string; version: string }): TextGuardrail {
  return {
    async check(text) {
      let res: ApplyGuardrailCommandOutput;
      try {
        res = await client.send(
          new ApplyGuardrailCommand({
            guardrailIdentifier: guardrail.id,
            guardrailVersion: guardrail.version,
            source: 'INPUT',
            outputScope: 'INTERVENTIONS',
            content: [{ text: { text, qualifiers: ['guard_content'] } }],
          }),
        );
      } catch (err) {
        throw translateBedrockError(err, `guardrail ${guardrail.id}`);
      }
      const blocked = res.action === 'GUARDRAIL_INTERVENED';
      return { blocked, filters: blocked ? blockedFilters(res) : [] };
    },
  };
}
