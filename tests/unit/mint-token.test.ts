import { tryHint } from '../../scripts/mint-token.js';

describe('npm run token: the hint it prints', () => {
  it('keeps --tenant default when none was given, and says why', () => {
    const hint = tryHint('u-1', undefined, {});

    expect(hint).toContain('export TOKEN=$(npm run -s token -- u-1 --tenant default)');
    expect(hint).toContain(`curl -s http://127.0.0.1:\${PORT:-3000}/v1/ask`);
    expect(hint).toContain('without --tenant');
  });

  it('repeats the tenant given and uses the PORT and HOST that npm start reads', () => {
    const hint = tryHint('u-2', 'acme', { PORT: '4100', HOST: '127.0.0.2' });

    expect(hint).toContain('npm run -s token -- u-2 --tenant acme)');
    expect(hint).toContain('curl -s http://127.0.0.2:4100/v1/ask -H "authorization: Bearer $TOKEN"');
    expect(hint).not.toContain('without --tenant');
  });

  it('quotes a user id the shell would split or expand', () => {
    const hint = tryHint("o'brien $HOME", undefined, {});

    expect(hint).toContain(`npm run -s token -- 'o'\\''brien $HOME' --tenant default)`);
  });
});
