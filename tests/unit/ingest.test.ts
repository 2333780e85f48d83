import { chunkIdOf, decodeText, tenantOf, versionOf } from '../../functions/rag/ingest-and-index/ingest.js';
import { InvalidEncodingError } from '../../functions/shared/errors.js';

describe('document identity', () => {
  it.each([
    ['tenants/acme/refund-policy.md', 'acme'],
    ['tenants/globex/sub/dir/a.txt', 'globex'],
    ['handbook/on-call.md', 'default'],
    ['tenants/acme', 'default'],
    ['tenants//a.md', 'default'],
    ['tenants/bad id/a.md', 'default'],
  ])('assigns %s to tenant %s', (key, tenant) => {
    expect(tenantOf(key)).toBe(tenant);
  });

  it('names versions after the S3 sequencer and chunks after key, version and ordinal', () => {
    const version = versionOf('0055aed6dcd90281e5');

    expect(version).toBe('v-0055AED6DCD90281E5');
    expect(chunkIdOf('a/b.md', version, 7)).toBe('a/b.md@v-0055AED6DCD90281E5#00007');
    expect(chunkIdOf('a/b.md', version, 7)).toBe(chunkIdOf('a/b.md', version, 7));
  });
});

describe('decodeText', () => {
  it('decodes UTF-8 and drops a byte-order mark', () => {
    expect(decodeText(new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from('café')]), 'k')).toBe('café');
  });

  it('rejects invalid UTF-8 and NUL bytes with InvalidEncodingError', () => {
    expect(() => decodeText(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'latin1.txt')).toThrow(InvalidEncodingError);
    expect(() => decodeText(Buffer.from('a\u0000b'), 'nul.txt')).toThrow(/NUL/);
  });
});
