import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../errors.js';
import { ZipWriter } from '../output/zip.js';
import { python } from '../../test/python.js';
import { tempDir } from '../../test/helpers.js';
import { readExactly } from './file-bytes.js';
import { ZipReader } from './zip-reader.js';

function withZip<T>(path: string, fn: (zip: ZipReader, fd: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return fn(ZipReader.open(fd, path, statSync(path).size), fd);
  } finally {
    closeSync(fd);
  }
}

function entryText(zip: ZipReader, name: string): string {
  return Buffer.from(zip.read(zip.find(name)!)).toString('latin1');
}

/** Python's zipfile writes the archive: an independent writer. */
function pythonZip(path: string, compression: 'ZIP_STORED' | 'ZIP_DEFLATED' = 'ZIP_STORED'): void {
  python(
    `
import zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.${compression}) as z:
    z.writestr('any folder/data.pkl', b'pickle bytes')
    z.writestr('any folder/data/0', bytes(range(256)) * 40)
    z.writestr('any folder/empty', b'')
print('null')
`,
    path,
  );
}

describe('ZipReader', () => {
  it('lists and reads stored entries of an archive written by Python zipfile, under any folder', () => {
    const path = join(tempDir(), 'a.zip');
    pythonZip(path);
    withZip(path, (zip, fd) => {
      expect(zip.entries.map((e) => [e.name, e.method, e.size])).toEqual([
        ['any folder/data.pkl', 0, 12],
        ['any folder/data/0', 0, 10240],
        ['any folder/empty', 0, 0],
      ]);
      expect(entryText(zip, 'any folder/data.pkl')).toBe('pickle bytes');
      const big = zip.find('any folder/data/0')!;
      // Read in place by offset, as tensors are: byte 300 of the entry is 300 % 256.
      expect(readExactly(fd, path, zip.dataOffset(big) + 300, 2, 'test')).toEqual(new Uint8Array([44, 45]));
      expect(zip.read(zip.find('any folder/empty')!)).toEqual(new Uint8Array(0));
    });
  });

  it('follows ZIP64 end records and ZIP64 extra fields (npz ZipWriter with forced ZIP64)', async () => {
    const path = join(tempDir(), 'z64.zip');
    const handle = await open(path, 'w');
    const writer = new ZipWriter({ writeAt: async (bytes, position) => void (await handle.write(bytes, 0, bytes.length, position)) }, true);
    await writer.add('f/one', Buffer.from('first'));
    await writer.add('f/two', Buffer.from('second entry'));
    await writer.close();
    await handle.close();
    const bytes = readFileSync(path);
    // Every size and offset field in the central directory is saturated: only ZIP64 tells the truth.
    expect(bytes.readUInt32LE(bytes.length - 22 + 16)).toBe(0xffffffff);
    withZip(path, (zip) => {
      expect(zip.entries.map((e) => [e.name, e.size])).toEqual([
        ['f/one', 5],
        ['f/two', 12],
      ]);
      expect(entryText(zip, 'f/two')).toBe('second entry');
    });
  });

  it('refuses compressed entries, naming the entry and its method', () => {
    const path = join(tempDir(), 'deflated.zip');
    pythonZip(path, 'ZIP_DEFLATED');
    withZip(path, (zip) => {
      expect(() => zip.dataOffset(zip.find('any folder/data/0')!)).toThrow(/any folder\/data\/0 is compressed \(method 8\)/);
    });
  });

  it('reports a cut archive (no end record) as a one-line ModelError naming the file', () => {
    const dir = tempDir();
    const whole = join(dir, 'whole.zip');
    pythonZip(whole);
    const cut = join(dir, 'cut.zip');
    writeFileSync(cut, readFileSync(whole).subarray(0, 5000));
    try {
      withZip(cut, () => undefined);
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ModelError);
      expect((err as ModelError).message).toContain(cut);
      expect((err as ModelError).message).toMatch(/no zip end-of-central-directory record/);
      expect((err as ModelError).message).not.toContain('\n');
    }
  });

  it('reports an entry whose data runs past the end of the file', () => {
    const dir = tempDir();
    const path = join(dir, 'lying.zip');
    pythonZip(path);
    const bytes = readFileSync(path);
    // Grow data/0's sizes in its central directory record (sizes at +20 and +24).
    const at = bytes.indexOf(Buffer.from('any folder/data/0'), bytes.length - 300) - 46;
    expect(bytes.readUInt32LE(at)).toBe(0x02014b50);
    bytes.writeUInt32LE(10_000_000, at + 20);
    bytes.writeUInt32LE(10_000_000, at + 24);
    writeFileSync(path, bytes);
    withZip(path, (zip) => {
      expect(() => zip.dataOffset(zip.find('any folder/data/0')!)).toThrow(/runs past the end of the file/);
    });
  });

  it('reports a central directory that lies past the end of the file', () => {
    const path = join(tempDir(), 'bad-eocd.zip');
    pythonZip(path);
    const bytes = readFileSync(path);
    bytes.writeUInt32LE(bytes.length + 100, bytes.length - 22 + 16);
    writeFileSync(path, bytes);
    expect(() => withZip(path, () => undefined)).toThrow(/central directory .* lies past the end of the file/);
  });
});
