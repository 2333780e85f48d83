import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { bundledPromptSource, installPromptSource, loadPrompt } from '../../functions/prompts/registry.js';
import { generateAnswer } from '../../functions/rag/answer-question/answer.js';
import { buildBudgets } from '../../functions/router/budgets.js';
import { buildCatalog } from '../../functions/router/catalog.js';
import { buildFeedbackSettings } from '../../functions/router/feedback.js';
import { bundledRouterPolicy } from '../../functions/router/learned/load.js';
import { judgeRequest, type RouterDeps, recordUsage } from '../../functions/router/route-with-cascade/route.js';
import type {
  Budget,
  Classification,
  ModelCall,
  RouteState,
} from '../../functions/router/route-with-cascade/schemas.js';
import { parseConfig } from '../../functions/shared/config.js';
import type { TextModelRequest, UsageLedger } from '../../functions/shared/ports.js';
import type { WorkflowStarter } from '../../functions/shared/runtime.js';

/** Every model call carries the registry prompt it was rendered from: request, judge call, usage log, response. */
const registry = join(process.cwd(), 'prompts');
const catalog = buildCatalog(parse(readFileSync(join(process.cwd(), 'config', 'model-catalog.yaml'), 'utf8')));
const config = parseConfig({});
const judgePrompt = loadPrompt('route-judge', registry);
const answerPrompt = loadPrompt('answer-question', registry);

const usage: UsageLedger = {
  record: async () => true,
  totals: async () => ({ inputTokens: 0, outputTokens: 0, costNanoUsd: 0, requests: 0, escalations: 0 }),
  day: async () => ({ inputTokens: 0, outputTokens: 0, costNanoUsd: 0, requests: 0, escalations: 0, lines: [] }),
};
const budget: Budget = { dailyUsd: 10, spentUsd: 0, policy: 'refuse', tierCap: null, inputTokens: 10 };
const classification: Classification = {
  strategy: 'judge',
  tier: 'cheap',
  isTopTier: false,
  reason: 'taskType:none(default)',
  inputTokens: 10,
};

beforeEach(() => installPromptSource(bundledPromptSource(registry)));
afterEach(() => installPromptSource(undefined));

describe('prompt provenance', () => {
  it('generateAnswer sends the router the answer prompt’s id and version', async () => {
    const inputs: unknown[] = [];
    const workflows: WorkflowStarter = {
      async startSync(_machine, input) {
        inputs.push(input);
        const output = { text: 'ok', model: 'm', servedBy: 'm', tier: 'cheap', escalated: false, usage: {} };
        return { executionId: 'x', status: 'SUCCEEDED', output };
      },
    };
    const hits = [{ chunkId: 'a@v-1#00000', documentKey: 'a', text: 'Text.', score: 1 }];

    const answer = await generateAnswer({ question: 'Q?', hits, tenantId: 't', userId: 'u', requestId: 'r' }, {
      config,
      workflows,
    } as never);

    expect(inputs[0]).toMatchObject({
      request: { promptRef: { id: 'answer-question', version: answerPrompt.version } },
    });
    expect(answer).toMatchObject({ promptId: 'answer-question', promptVersion: answerPrompt.version });
  });

  it('judgeRequest renders the variant of the judge model’s family and records the prompt on its call', async () => {
    const calls: TextModelRequest[] = [];
    const deps = {
      config,
      catalog,
      budgets: buildBudgets({ default: { dailyUsd: 10, onExceeded: 'refuse' } }),
      usage,
      textModel: {
        async complete(req: TextModelRequest) {
          calls.push(req);
          return {
            text: 'complex',
            modelId: req.modelId,
            stopReason: 'end_turn' as const,
            usage: { inputTokens: 5, outputTokens: 1 },
            latencyMs: 1,
          };
        },
      },
    } as RouterDeps;
    const input = {
      request: { prompt: 'Design a sharding plan.' },
      tenantId: 't',
      userId: 'u',
      requestId: 'r',
      startedAt: Date.now(),
      budget,
      classification,
    };

    const result = await judgeRequest(input, deps);

    expect(result.judge?.promptRef).toEqual({ id: 'route-judge', version: judgePrompt.version });
    expect(calls[0]?.system).toBe(judgePrompt.variants.claude?.system?.trim());
    expect(calls[0]).toMatchObject({
      maxTokens: judgePrompt.model.maxTokens,
      temperature: judgePrompt.model.temperature,
    });
  });

  it('recordUsage returns the request’s prompt with the response', async () => {
    const call: ModelCall = {
      step: 'InvokeCheapModel',
      tier: 'cheap',
      modelId: catalog.modelFor('cheap').id,
      servedBy: 'x',
      text: 'An answer.',
      stopReason: 'end_turn',
      usage: { inputTokens: 10, outputTokens: 5 },
      costNanoUsd: 0,
      latencyMs: 1,
    };
    const state: RouteState = {
      request: { prompt: 'p', promptRef: { id: 'answer-question', version: 1 } },
      tenantId: 't',
      userId: 'u',
      requestId: 'r',
      startedAt: Date.now(),
      budget,
      classification: { ...classification, strategy: 'heuristic' },
      cheap: call,
      validation: { acceptable: true, reason: null },
    };

    const response = await recordUsage(state, {
      config,
      catalog,
      usage,
      routingDecisions: { record: async () => undefined },
      routerPolicy: async () => bundledRouterPolicy(),
      feedback: buildFeedbackSettings({}),
    } as unknown as RouterDeps);

    expect(response.promptRef).toEqual({ id: 'answer-question', version: 1 });
  });
});
