import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import type { StopReason, TextModel, TextModelRequest, TextModelResponse } from '../ports.js';
import { translateBedrockError } from './bedrock-errors.js';

const client = new BedrockRuntimeClient({ maxAttempts: 1 }); // one retry layer: the state machine's

/** Converse stop reasons mapped onto the port's union; any other (tool_use, malformed output…) becomes 'other'. */
const STOP_REASONS: Readonly<Record<string, StopReason>> = {
  end_turn: 'end_turn',
  max_tokens: 'max_tokens',
  // the output was cut because the context window filled up: a truncation, like max_tokens
  model_context_window_exceeded: 'max_tokens',
  stop_sequence: 'stop_sequence',
  content_filtered: 'content_filtered',
  guardrail_intervened: 'guardrail_intervened',
};

/** Maps a port request onto the Converse API's input shape. */
export function toConverseInput(req: TextModelRequest): ConverseCommandInput {
  const inferenceConfig: { maxTokens?: number; temperature?: number } = {};
  if (req.maxTokens !== undefined) inferenceConfig.maxTokens = req.maxTokens;
  if (req.temperature !== undefined) inferenceConfig.temperature = req.temperature;
  return {
    modelId: req.modelId,
    ...(req.system ? { system: [{ text: req.system }] } : {}),
    messages: req.messages.map((m) => ({ role: m.role, content: [{ text: m.text }] })),
    inferenceConfig,
  };
}

function fromConverseOutput(res: ConverseCommandOutput, modelId: string, measuredMs: number): TextModelResponse {
  const blocks = res.output?.message?.content ?? [];
  const text = blocks.map((b) => b.text ?? '').join('');
  return {
    text,
    modelId,
    stopReason: STOP_REASONS[res.stopReason ?? ''] ?? 'other',
    usage: { inputTokens: res.usage?.inputTokens ?? 0, outputTokens: res.usage?.outputTokens ?? 0 },
    latencyMs: res.metrics?.latencyMs ?? measuredMs,
  };
}

/** The TextModel port over Bedrock's Converse API, with Bedrock errors translated to named errors. */
export const bedrockTextModel: TextModel = {
  async complete(req) {
    const started = performance.now();
    let res: ConverseCommandOutput;
    try {
      res = await client.send(new ConverseCommand(toConverseInput(req)));
    } catch (err) {
      throw translateBedrockError(err, req.modelId);
    }
    return fromConverseOutput(res, req.modelId, Math.round(performance.now() - started));
  },
};
