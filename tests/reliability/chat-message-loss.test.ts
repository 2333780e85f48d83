import { randomUUID } from 'node:crypto';
import type { ExtractResult } from '../../functions/memory/extract-memory/schemas.js';
import type { TextModel } from '../../functions/shared/ports.js';
import type { LocalStack } from '../../local/stack.js';
import { finished, startTestStack } from '../workflows/harness.js';

/** The extraction model's answer: one fact from the chat message. */
const MODEL_ANSWER = JSON.stringify([{ attribute: 'skill.python', value: 'writes Python', confidence: 0.7 }]);

describe('a chat message is not lost when its model call fails, and not extracted twice when redelivered', () => {
  let stack: LocalStack;
  let modelCalls = 0;
  /** route-with-cascade calls made by ExtractFacts, and how many of the next ones fail. */
  let routerCalls = 0;
  let failNext = 0;

  beforeAll(async () => {
    const model: TextModel = {
      async complete(req) {
        modelCalls += 1;
        return {
          text: MODEL_ANSWER,
          modelId: `scripted/${req.modelId}`,
          stopReason: 'end_turn',
          usage: { inputTokens: 100, outputTokens: 20 },
          latencyMs: 1,
        };
      },
    };
    stack = await startTestStack({ wrapTextModel: () => model });
    // Every tier of the router failing once, as route-with-cascade reports it to ExtractFacts.
    const workflows = stack.ports.workflows;
    stack.ports.workflows = {
      async startSync(machineId, input) {
        routerCalls += 1;
        if (failNext > 0) {
          failNext -= 1;
          return { executionId: 'failed', status: 'FAILED', error: 'AllTiersFailedError', cause: 'every tier failed' };
        }
        return workflows.startSync(machineId, input);
      },
    };
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    modelCalls = 0;
    routerCalls = 0;
    failNext = 0;
  });

  function chatMessage(userId: string) {
    return stack.bus.toEvent(
      { Source: 'composable-ai.chat', DetailType: 'ChatMessageSent', Detail: {} },
      { userId, tenantId: 'acme', text: 'I mostly write Python these days.' },
    );
  }
  const deliver = async (event: Record<string, unknown>) =>
    finished(stack, stack.bus.deliver('AppEventBus', structuredClone(event))[0]?.executionId as string);

  it('retries ExtractFacts after a failed model call and stores the facts', async () => {
    const userId = `user-${randomUUID()}`;
    failNext = 1;

    const record = await deliver(chatMessage(userId));

    expect(record.status).toBe('SUCCEEDED');
    expect(routerCalls).toBe(2);
    expect((record.output as ExtractResult).dropped).toBeNull();
    const facts = await stack.ports.facts.list(userId);
    expect(facts.map((f) => [f.attribute, f.value])).toEqual([['skill.python', 'writes Python']]);
  });

  it('stores the facts when the message is redelivered after an execution that failed outright', async () => {
    const userId = `user-${randomUUID()}`;
    const event = chatMessage(userId);
    failNext = 3; // the first execution's attempts all fail

    const failed = await deliver(event);
    const redelivered = await deliver(event);

    expect(failed.status).toBe('FAILED');
    expect(redelivered.status).toBe('SUCCEEDED');
    expect((await stack.ports.facts.list(userId)).map((f) => f.attribute)).toEqual(['skill.python']);
  });

  it('does nothing on a redelivery of a message already extracted: no model call, no change', async () => {
    const userId = `user-${randomUUID()}`;
    const event = chatMessage(userId);
    await deliver(event);
    const callsAfterFirst = modelCalls;
    const factsAfterFirst = await stack.ports.facts.list(userId);

    const again = await deliver(event);

    expect(callsAfterFirst).toBeGreaterThan(0);
    expect(again.status).toBe('SUCCEEDED');
    expect((again.output as ExtractResult).dropped).toBe('duplicate');
    expect(modelCalls).toBe(callsAfterFirst);
    expect(await stack.ports.facts.list(userId)).toEqual(factsAfterFirst);
  });
});
