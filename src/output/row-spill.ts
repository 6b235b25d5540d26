// The per-row columns of an .npz (ids, token counts, truncation flags) wait in a scratch file
// until the run ends: `ids` is a fixed-width '<U{n}' array whose width is the longest id, known
// only at the end, and ZIP entries cannot interleave with the embeddings still streaming. On disk
// they cost a few bytes a row; in memory they would grow with the input.
//
// Record layout: uint32 id byte length, int32 token count, uint8 truncated, id as UTF-8.
import type { ScratchFile } from './atomic-file.js';
import { idText, type RecordId } from '../input/record-id.js';

const FIXED = 9;
const READ_CHUNK = 1 << 20;

export class RowSpill {
  rows = 0;
  /** Longest id in code points: the width of the ids array. */
  idWidth = 1;
  private position = 0;

  /** readChunk: bytes read back at a time (small in tests, to cross record boundaries). */
  constructor(
    private readonly file: ScratchFile,
    private readonly readChunk = READ_CHUNK,
  ) {}

  async append(ids: readonly RecordId[], tokenCounts: ArrayLike<number>, truncated: ArrayLike<boolean>): Promise<void> {
    const texts = ids.map(idText);
    let size = 0;
    for (const text of texts) size += FIXED + Buffer.byteLength(text, 'utf8');
    const block = Buffer.allocUnsafe(size);
    let at = 0;
    texts.forEach((text, i) => {
      const length = block.write(text, at + FIXED, 'utf8');
      block.writeUInt32LE(length, at);
      block.writeInt32LE(tokenCounts[i], at + 4);
      block[at + 8] = truncated[i] ? 1 : 0;
      at += FIXED + length;
      // UTF-8 bytes bound code points from above; count exactly only when that bound is a new maximum.
      if (length > this.idWidth) this.idWidth = Math.max(this.idWidth, [...text].length);
    });
    await this.file.writeAt(block, this.position);
    this.position += block.length;
    this.rows += ids.length;
  }

  /**
   * Calls `visit` for every spilled row in order with the buffer holding it and its offset. The
   * read buffer is reused, so a pass over millions of rows allocates next to nothing.
   */
  private async scan(visit: (data: Buffer, at: number) => void | Promise<void>): Promise<void> {
    let buffer = Buffer.allocUnsafe(this.readChunk);
    let filled = 0;
    for (let offset = 0; offset < this.position; ) {
      const bytesRead = await this.file.readAt(buffer, filled, Math.min(buffer.length - filled, this.position - offset), offset);
      if (bytesRead === 0) throw new Error('scratch file ended early');
      offset += bytesRead;
      filled += bytesRead;
      let at = 0;
      while (at + FIXED <= filled && at + FIXED + buffer.readUInt32LE(at) <= filled) {
        await visit(buffer, at);
        at += FIXED + buffer.readUInt32LE(at);
      }
      buffer.copy(buffer, 0, at, filled);
      filled -= at;
      // A single id longer than the buffer: make room for the whole record.
      if (filled === buffer.length) buffer = Buffer.concat([buffer, Buffer.allocUnsafe(buffer.length)]);
    }
  }

  /** Writes one column's array data to `sink` in chunks of `rowsPerChunk` rows. */
  async column(name: 'ids' | 'token_counts' | 'truncated', sink: (chunk: Uint8Array) => Promise<void>, rowsPerChunk = 4096): Promise<void> {
    const width = name === 'ids' ? 4 * this.idWidth : name === 'token_counts' ? 4 : 1;
    const out = Buffer.alloc(rowsPerChunk * width);
    let row = 0;
    await this.scan(async (data, at) => {
      const start = row * width;
      if (name === 'ids') {
        out.fill(0, start, start + width);
        let k = start;
        for (const c of data.toString('utf8', at + FIXED, at + FIXED + data.readUInt32LE(at))) {
          out.writeUInt32LE(c.codePointAt(0)!, k);
          k += 4;
        }
      } else if (name === 'token_counts') out.writeInt32LE(data.readInt32LE(at + 4), start);
      else out[start] = data[at + 8];
      if (++row === rowsPerChunk) {
        // The sink has written the chunk when its promise settles, so `out` can be refilled.
        await sink(out);
        row = 0;
      }
    });
    if (row > 0) await sink(out.subarray(0, row * width));
  }

  discard(): Promise<void> {
    return this.file.discard();
  }
}
