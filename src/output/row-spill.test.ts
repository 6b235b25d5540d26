import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { AtomicFile } from './atomic-file.js';
import { unicodeNpy } from './npy.js';
import { RowSpill } from './row-spill.js';

async function collect(spill: RowSpill, name: 'ids' | 'token_counts' | 'truncated', rowsPerChunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  await spill.column(name, async (chunk) => void parts.push(Buffer.from(chunk)), rowsPerChunk);
  return Buffer.concat(parts);
}

describe('RowSpill', () => {
  it('gives back ids, token counts and flags in order, ids at the width of the longest', async () => {
    const dir = tempDir();
    const file = await AtomicFile.create(join(dir, 'out.npz'));
    // A 64-byte read buffer: records straddle reads, and the 3000-character id outgrows it.
    const spill = new RowSpill(await file.scratch(), 64);
    const ids = ['a', 'longer-id', '编程😀', '', 'x'.repeat(3000), 'é'];
    // Two blocks, so rows cross block boundaries; small chunks, so they cross chunk boundaries.
    await spill.append(ids.slice(0, 4), [3, 5, 7, 2], [false, true, false, false]);
    await spill.append(ids.slice(4), [512, 9], [true, false]);
    expect(spill.rows).toBe(6);
    expect(spill.idWidth).toBe(3000);
    const expectedIds = unicodeNpy(ids);
    const idBytes = await collect(spill, 'ids', 4);
    expect(idBytes.equals(expectedIds.subarray(expectedIds.length - idBytes.length))).toBe(true);
    expect(idBytes.length).toBe(6 * 3000 * 4);
    expect(Array.from(new Int32Array(new Uint8Array(await collect(spill, 'token_counts', 4)).buffer))).toEqual([3, 5, 7, 2, 512, 9]);
    expect(Array.from(await collect(spill, 'truncated', 4))).toEqual([0, 1, 0, 0, 1, 0]);
    await spill.discard();
    await file.discard();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('counts the width in code points, not UTF-8 bytes', async () => {
    const dir = tempDir();
    const file = await AtomicFile.create(join(dir, 'out.npz'));
    const spill = new RowSpill(await file.scratch());
    await spill.append(['ab', '😀😀😀'], [1, 1], [false, false]);
    expect(spill.idWidth).toBe(3);
    await spill.discard();
    await file.discard();
  });

  it('keeps lone surrogates, and writes a very wide ids column in bounded chunks', async () => {
    const dir = tempDir();
    const file = await AtomicFile.create(join(dir, 'wide.npz'));
    const spill = new RowSpill(await file.scratch());
    // One id of 300,000 characters makes every row of the ids column 1.2 MB wide.
    const ids = ['\ud800', 'a\udc00b', 'x'.repeat(300_000), 'short'];
    await spill.append(ids, [1, 2, 3, 4], [false, false, false, false]);
    const chunks: number[] = [];
    const parts: Buffer[] = [];
    await spill.column('ids', async (chunk) => void (chunks.push(chunk.length), parts.push(Buffer.from(chunk))));
    const expected = unicodeNpy(ids);
    const body = Buffer.concat(parts);
    expect(body.equals(expected.subarray(expected.length - body.length))).toBe(true);
    expect(body.readUInt32LE(0)).toBe(0xd800);
    // 16 MiB chunks hold 13 such rows: all four go in one chunk, none of 4,096 rows x 1.2 MB.
    expect(Math.max(...chunks)).toBeLessThanOrEqual(16 * 2 ** 20);
    await spill.discard();
    await file.discard();
  });
});
