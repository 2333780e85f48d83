import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { type AuthSettings, mintToken } from '../../functions/auth/verify-token.js';
import { answerKey, edgeConfigEntry, encodeAnswer } from '../../functions/edge/edge-store.js';
import {
  EDGE_FUNCTION_FILE,
  isResponse,
  loadEdgeFunction,
  viewerRequestEvent,
} from '../../local/cloudfront-function.js';
import { createLocalEdgeStore, createLocalKeyValueStore } from '../../local/edge-store.js';

const SETTINGS: AuthSettings = {
  secret: 'isolation-test-secret-that-is-at-least-32-bytes',
  issuer: 'composable-ai-test',
  audience: 'composable-ai',
};

/** Where a caller can put another user's id: none of it may pick the key. */
const injection = (victim: string, victimKey: string, action: string) =>
  fc.record({
    uri: fc.constantFrom(
      `/precomputed/${action}`,
      `/precomputed/${action}/${encodeURIComponent(victim)}`,
      `/precomputed/${victimKey}`,
      `/precomputed/${encodeURIComponent(victim)}`,
    ),
    query: fc.dictionary(fc.constantFrom('user', 'userId', 'sub', 'uid', 'as'), fc.constant(victim), { maxKeys: 3 }),
    headers: fc.dictionary(
      fc.constantFrom('x-user-id', 'x-verified-user', 'x-amzn-oidc-identity', 'x-forwarded-user', 'cookie-user'),
      fc.constant(victim),
      { maxKeys: 3 },
    ),
    cookies: fc.dictionary(fc.constantFrom('user', 'sub', 'session-user'), fc.constant(victim), { maxKeys: 2 }),
  });

describe('edge isolation (property)', () => {
  let source: string;
  beforeAll(async () => {
    source = await readFile(EDGE_FUNCTION_FILE, 'utf8');
  });

  it("never returns B's answer to a request made with A's token", async () => {
    const scenario = fc
      .record({
        userA: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }),
        userB: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }),
        action: fc.stringMatching(/^[a-z0-9-]{1,24}$/),
        aHasAnswer: fc.boolean(),
        bytesB: fc.integer({ min: 1, max: 6000 }),
      })
      .filter(({ userA, userB }) => userA !== userB)
      .chain((base) =>
        injection(base.userB, answerKey(base.userB, base.action), base.action).map((inject) => ({ ...base, inject })),
      );

    await fc.assert(
      fc.asyncProperty(scenario, async ({ userA, userB, action, aHasAnswer, bytesB, inject }) => {
        const api = createLocalKeyValueStore();
        const store = createLocalEdgeStore(api, { sleep: async () => {} });
        const expiresAt = Math.floor(Date.now() / 1000) + 600;
        const textB = `ONLY-FOR-B ${'b'.repeat(bytesB)}`;
        const textA = `answer of A for ${action}`;
        await store.putMany([
          edgeConfigEntry(SETTINGS),
          ...encodeAnswer(answerKey(userB, action), textB, { expiresAt, generation: 1 }),
          ...(aHasAnswer ? encodeAnswer(answerKey(userA, action), textA, { expiresAt, generation: 1 }) : []),
        ]);
        const edge = await loadEdgeFunction(api, { source });
        const tokenA = await mintToken({ sub: userA, tenant: 'acme' }, SETTINGS);

        const result = await edge.runViewerRequest(
          viewerRequestEvent({ ...inject, headers: { ...inject.headers, authorization: `Bearer ${tokenA}` } }),
        );

        expect(JSON.stringify(result)).not.toContain('ONLY-FOR-B');
        if (isResponse(result) && result.statusCode === 200) expect(result.body?.data).toBe(textA);
        if (aHasAnswer && inject.uri === `/precomputed/${action}`)
          expect(isResponse(result) && result.statusCode).toBe(200);
      }),
      { numRuns: 200 },
    );
  });
});
