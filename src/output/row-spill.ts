// The per-row columns of an .npz (ids, token counts, truncation flags) wait in a scratch file
// until the run ends: `ids` is a fixed-width '<U{n}' array whose width is the longest id, known
// only at the end, and ZIP entries cannot interleave with the embeddings still streaming. On disk
// they cost a few bytes a row; in memory they would grow with the input.
//
// Record layout: uint32 id byte length, int32 token count, uint8 truncated, id as UTF-8.
import type { ScratchFile } from './atomic-file.js';
import type { RecordId } from './sinks.js';

const FIXED = 9;
const READ_CHUNK = 1 << 20;

interface SpilledRow {
  id: Buffer;
  tokenCount: number;
  truncated: boolean;
}

export class RowSpill {
  rows = 0;
  /** Longest id in code points: the width of the ids array. */
  idWidth = 1;
  private position = 0;

  constructor(private readonly file: ScratchFile) {}

  async append(ids: readonly RecordId[], tokenCounts: ArrayLike<number>, truncated: ArrayLike<boolean>): Promise<void> {
    const encoded = ids.map((id) => Buffer.from(String(id), 'utf8'));
    const block = Buffer.alloc(encoded.reduce((sum, id) => sum + FIXED + id.length, 0));
    let at = 0;
    encoded.forEach((id, i) => {
      block.writeUInt32LE(id.length, at);
      block.writeInt32LE(tokenCounts[i], at + 4);
      block[at + 8] = truncated[i] ? 1 : 0;
      id.copy(block, at + FIXED);
      at += FIXED + id.length;
      // UTF-8 bytes bound code points from above; count exactly only when that bound is a new maximum.
      if (id.length > this.idWidth) this.idWidth = Math.max(this.idWidth, [...String(ids[i])].length);
    });
    await this.file.handle.write(block, 0, block.length, this.position);
    this.position += block.length;
    this.rows += ids.length;
  }

  /** Every spilled row in order, read back in large chunks. */
  private async *read(): AsyncGenerator<SpilledRow> {
    let carry = Buffer.alloc(0);
    for (let offset = 0; offset < this.position; ) {
      const chunk = Buffer.alloc(Math.min(READ_CHUNK, this.position - offset));
      const { bytesRead } = await this.file.handle.read(chunk, 0, chunk.length, offset);
      if (bytesRead === 0) throw new Error('scratch file ended early');
      offset += bytesRead;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let at = 0;
      while (at + FIXED <= data.length) {
        const length = data.readUInt32LE(at);
        if (at + FIXED + length > data.length) break;
        yield { id: data.subarray(at + FIXED, at + FIXED + length), tokenCount: data.readInt32LE(at + 4), truncated: data[at + 8] === 1 };
        at += FIXED + length;
      }
      carry = Buffer.from(data.subarray(at));
    }
  }

  /** Bytes of one column's array data, in chunks of about `rowsPerChunk` rows. */
  async *column(name: 'ids' | 'token_counts' | 'truncated', rowsPerChunk = 4096): AsyncGenerator<Uint8Array> {
    const width = name === 'ids' ? 4 * this.idWidth : name === 'token_counts' ? 4 : 1;
    let out = Buffer.alloc(rowsPerChunk * width);
    let row = 0;
    for await (const r of this.read()) {
      const at = row * width;
      if (name === 'ids') {
        let k = at;
        for (const c of r.id.toString('utf8')) {
          out.writeUInt32LE(c.codePointAt(0)!, k);
          k += 4;
        }
      } else if (name === 'token_counts') out.writeInt32LE(r.tokenCount, at);
      else out[at] = r.truncated ? 1 : 0;
      if (++row === rowsPerChunk) {
        yield out;
        out = Buffer.alloc(rowsPerChunk * width);
        row = 0;
      }
    }
    if (row > 0) yield out.subarray(0, row * width);
  }

  discard(): Promise<void> {
    return this.file.discard();
  }
}
