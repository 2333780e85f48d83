import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { faultPathSites, mutate, NEVER_THROWN, projectSites } from '../../scripts/check-fault-paths.js';

const ASL = `Comment: a fixture
StartAt: A
States:
  A:
    Type: Task
    Retry:
      - &transient
        ErrorEquals: [OursError, Lambda.ServiceException]
        MaxAttempts: 2
    Catch:
      - ErrorEquals: [States.ALL]
        Next: C
    Next: B
  B:
    Type: Map
    ItemProcessor:
      StartAt: Inner
      States:
        Inner:
          Type: Task
          Retry:
            - *transient
          Catch:
            - ErrorEquals:
                - OtherOursError
              Next: Done
          End: true
        Done:
          Type: Succeed
    End: true
  C:
    Type: Fail
`;

describe('check:fault-paths (the mutation script of the ASL fault paths)', () => {
  it("finds each ErrorEquals list naming the project's errors once, with every state using it through an anchor", () => {
    const sites = faultPathSites('x.asl.yaml', ASL, ['OursError', 'OtherOursError']);

    expect(sites.map(({ line, kind, names, states }) => ({ line, kind, names, states }))).toEqual([
      { line: 8, kind: 'Retry', names: ['OursError'], states: ['A', 'B/Inner'] },
      { line: 25, kind: 'Catch', names: ['OtherOursError'], states: ['B/Inner'] },
    ]);
  });

  it('replaces only that list, leaving the rest of the file as it was', () => {
    const [retry, catchSite] = faultPathSites('x.asl.yaml', ASL, ['OursError', 'OtherOursError']);

    const mutatedRetry = parse(mutate(ASL, retry as never)) as { States: Record<string, { Retry?: unknown[] }> };
    const mutatedCatch = mutate(ASL, catchSite as never);

    expect(mutatedRetry.States.A?.Retry).toEqual([{ ErrorEquals: [NEVER_THROWN], MaxAttempts: 2 }]);
    expect(parse(mutatedCatch)).toMatchObject({
      States: {
        B: { ItemProcessor: { States: { Inner: { Catch: [{ ErrorEquals: [NEVER_THROWN], Next: 'Done' }] } } } },
      },
    });
    expect(mutatedCatch.replace(`[${NEVER_THROWN}]`, '- OtherOursError')).toBe(ASL);
  });

  it("finds the project's own fault paths, and never a States.ALL or Lambda-only list", () => {
    const sites = projectSites(process.cwd());
    const machines = new Set(sites.map((s) => s.file));

    expect(machines.size).toBe(8);
    for (const site of sites) {
      const text = readFileSync(site.file, 'utf8').slice(site.range[0], site.range[1]);
      expect({ site: `${site.file}:${site.line}`, names: site.names.every((n) => text.includes(n)) }).toEqual({
        site: `${site.file}:${site.line}`,
        names: true,
      });
      expect(site.names).not.toContain('States.ALL');
    }
  });
});
