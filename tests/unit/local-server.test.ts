import { isLoopback, listenHost, routePattern } from '../../local/server.js';

describe('routePattern (API Gateway route templates)', () => {
  it('matches fixed paths exactly', () => {
    expect(routePattern('/v1/ask').test('/v1/ask')).toBe(true);
    expect(routePattern('/v1/ask').test('/v1/ask/')).toBe(false);
    expect(routePattern('/v1/ask').test('/v1/askx')).toBe(false);
  });

  it('captures {name} within one segment and {name+} across segments', () => {
    expect(routePattern('/v1/me/facts/{attribute}').exec('/v1/me/facts/preference.theme')?.groups).toEqual({
      attribute: 'preference.theme',
    });
    expect(routePattern('/v1/me/facts/{attribute}').test('/v1/me/facts/a/b')).toBe(false);
    expect(routePattern('/files/{path+}').exec('/files/a/b.md')?.groups).toEqual({ path: 'a/b.md' });
  });

  it('treats regex characters in fixed segments literally', () => {
    expect(routePattern('/v1/a.b').test('/v1/axb')).toBe(false);
  });
});

describe('listenHost (the local server stays on loopback)', () => {
  it('listens on 127.0.0.1 by default and accepts loopback hosts', () => {
    expect(listenHost({})).toBe('127.0.0.1');
    expect(['localhost', '127.0.0.2', '::1'].map((HOST) => listenHost({ HOST }))).toEqual([
      'localhost',
      '127.0.0.2',
      '::1',
    ]);
  });

  it('refuses a non-loopback host unless LOCAL_ALLOW_REMOTE=1 says so', () => {
    for (const HOST of ['0.0.0.0', '::', '192.168.1.10', 'example.com', '127.0.0.1.example.com']) {
      expect(() => listenHost({ HOST })).toThrow(/LOCAL_ALLOW_REMOTE=1/);
    }
    expect(listenHost({ HOST: '0.0.0.0', LOCAL_ALLOW_REMOTE: '1' })).toBe('0.0.0.0');
    expect(isLoopback('10.0.0.1')).toBe(false);
  });
});
