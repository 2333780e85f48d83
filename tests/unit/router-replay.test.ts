import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildCatalog } from '../../functions/router/catalog.js';
import { bundledRouterPolicy } from '../../functions/router/learned/load.js';
import { parseReplay, ReplayFileError } from '../../functions/router/replay/format.js';
import { replayAll, replayDeps } from '../../functions/router/replay/replay.js';
import {
  classifyRequest,
  invokeModel,
  judgeRequest,
  validateStep,
} from '../../functions/router/route-with-cascade/route.js';
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
