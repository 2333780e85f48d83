import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObjectStore } from '../../functions/shared/ports.js';
import { createDirectoryObjectStore } from '../../local/object-store.js';

const md5 = (bytes: Uint8Array | string) => createHash('md5').update(bytes).digest('hex');
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

describe('createDirectoryObjectStore', () => {
  let directory: string;
  let store: ObjectStore;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'object-store-test-'));
    store = createDirectoryObjectStore(join(directory, 'bucket'));
  });
  afterEach(() => rm(directory, { recursive: true, force: true }));

  it('round trips put, head, get and delete', async () => {
    const info = await store.put('tenants/t1/a.md', '# Title\n\nbody', 'text/markdown');

    expect(info).toEqual({
      key: 'tenants/t1/a.md',
      size: 13,
      contentType: 'text/markdown',
      etag: md5('# Title\n\nbody'),
    });
    expect(await store.head('tenants/t1/a.md')).toEqual(info);
    const object = await store.get('tenants/t1/a.md');
    expect(object?.info).toEqual(info);
    expect(text(object?.body)).toBe('# Title\n\nbody');

    await store.delete('tenants/t1/a.md');

    expect(await store.head('tenants/t1/a.md')).toBeUndefined();
    expect(await store.get('tenants/t1/a.md')).toBeUndefined();
    expect(await readdir(join(directory, 'bucket'))).toEqual([]);
  });

  it('answers undefined for a key never written, even before the directory exists', async () => {
    expect(await store.head('nothing/here')).toBeUndefined();
    expect(await store.get('nothing/here')).toBeUndefined();
  });

  it('uses the MD5 hex of the body as the ETag, for strings and bytes alike', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);

    const fromBytes = await store.put('bin', bytes, 'application/octet-stream');
    const fromString = await store.put('txt', 'héllo wörld', 'text/plain');

    expect(fromBytes.etag).toBe(md5(bytes));
    expect(fromBytes.size).toBe(5);
    expect(fromString.etag).toBe(md5(Buffer.from('héllo wörld', 'utf8')));
    expect(fromString.size).toBe(Buffer.byteLength('héllo wörld'));
    expect([...((await store.get('bin'))?.body ?? [])]).toEqual([0, 1, 2, 250, 255]);
  });

  it('keeps keys with slashes, unicode and 1024 bytes apart and intact', async () => {
    const keys = [
      'tenants/t1/a.md',
      'tenants/t1/a.md/',
      'tenants/t1//a.md',
      '../outside.md',
      'résumé/日本語/ファイル 1.md',
      'emoji/🦄.txt',
      'x'.repeat(1024),
      `${'é'.repeat(511)}x`,
    ];
    expect(Buffer.byteLength(keys[7] as string)).toBe(1023);

    for (const [i, key] of keys.entries()) await store.put(key, `body ${i}`, 'text/plain');

    for (const [i, key] of keys.entries()) {
      const object = await store.get(key);
      expect(object?.info.key).toBe(key);
      expect(text(object?.body)).toBe(`body ${i}`);
    }
  });

  it('replaces an object on overwrite and leaves no stale files behind', async () => {
    await store.put('doc.md', 'first version', 'text/plain');

    const second = await store.put('doc.md', 'second version', 'text/markdown');

    expect(await store.head('doc.md')).toEqual(second);
    expect(text((await store.get('doc.md'))?.body)).toBe('second version');
    expect(await readdir(join(directory, 'bucket'))).toHaveLength(2);
  });

  it('keeps the object when the same body is put again', async () => {
    await store.put('doc.md', 'same', 'text/plain');

    const again = await store.put('doc.md', 'same', 'text/markdown');

    expect(again.etag).toBe(md5('same'));
    expect((await store.get('doc.md'))?.info).toEqual(again);
    expect(text((await store.get('doc.md'))?.body)).toBe('same');
  });

  it('deletes a missing key without complaint', async () => {
    await expect(store.delete('never/written.md')).resolves.toBeUndefined();
    await store.put('other.md', 'x', 'text/plain');
    await expect(store.delete('never/written.md')).resolves.toBeUndefined();
    expect(await store.head('other.md')).toBeDefined();
  });

  it('never shows a reader a body that does not match its ETag while puts race', async () => {
    const bodies = ['alpha '.repeat(2000), 'beta '.repeat(3000), 'gamma', 'alpha '.repeat(2000)];
    await store.put('hot.md', bodies[0] as string, 'text/plain');
    const reads: { etag: string; md5: string }[] = [];

    for (let round = 0; round < 300; round++) {
      const writes = bodies.map((b, i) => store.put('hot.md', b, i % 2 === 0 ? 'text/plain' : 'text/markdown'));
      const gets = [0, 1, 2].map(async () => {
        const object = await store.get('hot.md');
        expect(object).toBeDefined();
        if (object) reads.push({ etag: object.info.etag, md5: md5(object.body) });
      });
      await Promise.all([...writes, ...gets]);
    }

    expect(reads).toHaveLength(900);
    for (const read of reads) expect(read.md5).toBe(read.etag);
    const final = await store.get('hot.md');
    expect(final && md5(final.body)).toBe(final?.info.etag);
    expect(await readdir(join(directory, 'bucket'))).toHaveLength(2);
  });

  it('leaves the key either present and whole or absent when a delete races puts', async () => {
    for (let round = 0; round < 100; round++) {
      await Promise.all([
        store.put('racy.md', `one ${round}`, 'text/plain'),
        store.delete('racy.md'),
        store.put('racy.md', `two ${round}`, 'text/plain'),
      ]);

      const info = await store.head('racy.md');
      const object = await store.get('racy.md');
      expect(object?.info).toEqual(info);
      if (object) expect(md5(object.body)).toBe(object.info.etag);
    }
  });
});
