import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildCatalog } from '../../functions/router/catalog.js';
import { calibrate } from '../../functions/router/learned/calibrate.js';
import { bundledRouterPolicy } from '../../functions/router/learned/load.js';
import { buildRouterPolicy } from '../../functions/router/learned/policy-file.js';
import { evaluable, examplesOf, rng, scoresOf, totalsAt } from '../../functions/router/learned/train.js';
import { parseReplay, ReplayFileError } from '../../functions/router/replay/format.js';
import { replayAll, replayDeps } from '../../functions/router/replay/replay.js';
import {
  classifyRequest,
  invokeModel,
  judgeRequest,
  validateStep,
} from '../../functions/router/route-with-cascade/route.js';
import { inputTokenBound } from '../../functions/router/token-bound.js';
import { offlineTextModel } from '../../functions/shared/adapters/offline-text-model.js';
import { parseConfig } from '../../functions/shared/config.js';

const catalog = buildCatalog(parse(readFileSync(join(process.cwd(), 'config', 'model-catalog.yaml'), 'utf8')));
const CHEAP = catalog.modelFor(catalog.tiers[0] as string).id;
const STRONG = catalog.modelFor(catalog.topTier).id;
const all = { requireOutcomes: [CHEAP, STRONG], requirePrompt: true };

function line(id: string, prompt: string, cheap: { text: string; correct: boolean }, strongCorrect = true) {
  return JSON.stringify({
    id,
    prompt,
    outcomes: {
      [CHEAP]: { ...cheap, inputTokens: 100, outputTokens: 10 },
      [STRONG]: { text: 'The answer.', correct: strongCorrect, inputTokens: 100, outputTokens: 10 },
    },
  });
}

describe('replay file parsing', () => {
  it('names the first malformed line (not JSON) before anything is replayed', () => {
    // Arrange
    const text = [line('a', 'Q1', { text: 'x', correct: true }), '', '{"id": "b", "prompt": '].join('\n');

    // Act / Assert
    expect(() => parseReplay(text, 'f.jsonl', all)).toThrow(ReplayFileError);
    expect(() => parseReplay(text, 'f.jsonl', all)).toThrow(/^f\.jsonl:3: not JSON/);
  });

  it('names a line whose fields are wrong, with the field', () => {
    // Arrange
    const bad = JSON.stringify({ id: 'b', prompt: 'Q', outcomes: { [CHEAP]: { text: 'x', correct: 'yes' } } });
    const text = [line('a', 'Q1', { text: 'x', correct: true }), bad].join('\n');

    // Act / Assert
    expect(() => parseReplay(text, 'f.jsonl', all)).toThrow(/^f\.jsonl:2: outcomes\..*correct/);
  });

  it('names a line that lacks a catalog model’s outcome when the replay needs every tier', () => {
    // Arrange
    const partial = JSON.stringify({
      id: 'c',
      prompt: 'Q',
      outcomes: { [CHEAP]: { text: 'x', correct: true, inputTokens: 1, outputTokens: 1 } },
    });

    // Act / Assert
    expect(() => parseReplay(partial, 'f.jsonl', all)).toThrow(`f.jsonl:1: no outcome for ${STRONG}`);
    expect(parseReplay(partial, 'f.jsonl', { requireAnyOf: [CHEAP, STRONG] })).toHaveLength(1);
  });

  it('refuses an empty file', () => {
    expect(() => parseReplay('\n\n', 'empty.jsonl')).toThrow('empty.jsonl: no records');
  });
});

describe('replay through the routing steps', () => {
  const deps = replayDeps(catalog, bundledRouterPolicy(), parseConfig({}), offlineTextModel);
  const steps = { classifyRequest, judgeRequest, invokeModel, validateStep };

  it('reports cost share and kept quality against always-strong, and escalates what validation rejects', async () => {
    // Arrange: one good cheap answer, one wrong but well-formed, one refusal (escalated by the cascade)
    const lines = parseReplay(
      [
        line('1', 'Summarize: the sky is blue.', { text: 'Blue sky.', correct: true }),
        line('2', 'Summarize: grass is green.', { text: 'Grass is red.', correct: false }),
        line('3', 'Summarize: water is wet.', { text: "I'm sorry, I can't help with that.", correct: false }),
      ].join('\n'),
      'mem.jsonl',
      all,
    );

    // Act
    const { figures } = await replayAll(lines, ['cascade', 'learned'], deps, steps);

    // Assert
    const byName = new Map(figures.map((f) => [f.name, f]));
    const cascade = byName.get('cascade');
    expect(byName.get('always-strong')).toMatchObject({ costShare: 1, kept: 1, accuracy: 1 });
    expect(cascade?.escalationRate).toBeCloseTo(1 / 3);
    expect(cascade?.wrongAccepted).toBe(1);
    expect(cascade?.accuracy).toBeCloseTo(2 / 3);
    expect(byName.get('oracle')?.kept).toBe(1);
    expect(byName.has('learned')).toBe(true);
    expect([...byName.keys()].some((n) => n.startsWith('random'))).toBe(true);
  });
});

describe('calibration and replay agree', () => {
  /** Outcome records whose difficulty shows in one word, of varied size, some cheap answers truncated. */
  function records(n: number, seed: number) {
    const random = rng(seed);
    const rows = Array.from({ length: n }, (_, i) => {
      const hard = random() < 0.3;
      const words = Array.from({ length: 3 + Math.floor(random() * 40) }, () => (random() < 0.5 ? 'river' : 'the'));
      const tokens = 10 + words.length * 2;
      return {
        id: `r-${seed}-${i}`,
        prompt: `${hard ? 'eigenvalue ' : ''}${words.join(' ')}?`,
        outcomes: {
          [CHEAP]: {
            text: 'B',
            inputTokens: tokens,
            outputTokens: 5,
            correct: random() < (hard ? 0.3 : 0.9),
            stopReason: random() < 0.1 ? ('max_tokens' as const) : ('end_turn' as const),
          },
          [STRONG]: { text: 'B', inputTokens: tokens, outputTokens: 5, correct: random() < 0.92 },
        },
      };
    });
    return parseReplay(rows.map((r) => JSON.stringify(r)).join('\n'), `records-${seed}.jsonl`, all);
  }

  it('gives the same cost share and kept for a policy on the same records (one definition, escalations paid twice)', async () => {
    // Arrange
    const fast = { folds: 3, repeats: 1, dimensions: 256, grid: { l2: [1e-4], costExponent: [1] } };
    const result = calibrate(records(600, 1), catalog, { target: { kind: 'kept', value: 0.95 }, ...fast });
    const policy = buildRouterPolicy(result.policy, 'test');
    const fresh = records(200, 2);
    const deps = replayDeps(catalog, policy, parseConfig({}), offlineTextModel);

    // Act: the replay through the routing steps, and calibration's own evaluation of the same decisions
    const { figures } = await replayAll(fresh, ['learned'], deps, {
      classifyRequest,
      judgeRequest,
      invokeModel,
      validateStep,
    });
    const examples = evaluable(examplesOf(fresh, catalog, 256));
    const decisions = fresh.map((r) => {
      const prompt = r.prompt as string;
      return policy.decide({ ...r, prompt, inputTokens: inputTokenBound({ prompt }) });
    });
    const probabilities = {
      pCheap: Float64Array.from(decisions, (d) => d.pCheap),
      pStrong: Float64Array.from(decisions, (d) => d.pStrong),
    };
    const scores = scoresOf(examples, probabilities, policy.file.decision);
    const routed = totalsAt(examples, scores, policy.file.decision.threshold);
    const strong = totalsAt(examples, scores, Number.NEGATIVE_INFINITY);

    // Assert
    const learned = figures.find((f) => f.name === 'learned');
    expect(learned?.escalationRate).toBeGreaterThan(0);
    expect(learned?.costShare).toBeCloseTo(routed.cost / strong.cost, 10);
    expect(learned?.kept).toBeCloseTo(routed.correct / strong.correct, 10);
  });
});
