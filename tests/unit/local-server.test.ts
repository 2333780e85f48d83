import { routePattern } from '../../local/server.js';

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
