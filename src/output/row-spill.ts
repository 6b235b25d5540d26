// The per-row columns of an .npz (ids, token counts, truncation flags, windows) wait in a scratch
// file until the run ends: `ids` is a fixed-width '<U{n}' array whose width is the longest id,
// known only at the end, and ZIP entries cannot interleave with the embeddings still streaming.
// On disk they cost a few bytes a row; in memory they would grow with the input.
//
// Record layout: uint32 id byte length, int32 token count, uint8 truncated, int32 windows, int64
// record number, id as UTF-16LE (not UTF-8: an id with a lone surrogate must come back as it
// went in).
import type { ScratchFile } from './atomic-file.js';
import { idText, type RecordId } from '../input/record-id.js';

const FIXED = 21;

export interface SpillState {
  path: string;
  position: number;
  rows: number;
  idWidth: number;
}

export type SpilledColumn = 'ids' | 'token_counts' | 'truncated' | 'chunks' | 'record_numbers' | 'offsets';
/** Bytes per row of each fixed-width column (ids: 4 per code point of the longest id). */
const COLUMN_BYTES: Partial<Record<SpilledColumn, number>> = { token_counts: 4, truncated: 1, chunks: 4, record_numbers: 8, offsets: 8 };
const READ_CHUNK = 1 << 20;
const CHUNK_BYTES = 16 << 20;

export class RowSpill {
  rows = 0;
  /** Longest id in code points: the width of the ids array. */
  idWidth = 1;
  private position = 0;

  /**
   * readChunk: bytes read back at a time (small in tests, to cross record boundaries); `resume`:
   * where a journal says an interrupted run's spill stood.
   */
  constructor(
    private readonly file: ScratchFile,
    private readonly readChunk = READ_CHUNK,
    resume?: SpillState,
  ) {
    if (resume) ({ position: this.position, rows: this.rows, idWidth: this.idWidth } = resume);
  }

  state(): SpillState {
    return { path: this.file.path, position: this.position, rows: this.rows, idWidth: this.idWidth };
  }

  get scratch(): ScratchFile {
    return this.file;
  }

  async append(ids: readonly RecordId[], tokenCounts: ArrayLike<number>, truncated: ArrayLike<boolean>, chunks?: ArrayLike<number>, records?: ArrayLike<number>): Promise<void> {
    const texts = ids.map(idText);
    let size = 0;
    for (const text of texts) size += FIXED + 2 * text.length;
    const block = Buffer.allocUnsafe(size);
    let at = 0;
    texts.forEach((text, i) => {
      const length = block.write(text, at + FIXED, 'utf16le');
      block.writeUInt32LE(length, at);
      block.writeInt32LE(tokenCounts[i], at + 4);
      block[at + 8] = truncated[i] ? 1 : 0;
      block.writeInt32LE(chunks?.[i] ?? 1, at + 9);
      block.writeBigInt64LE(BigInt(records?.[i] ?? this.rows + i), at + 13);
      at += FIXED + length;
      // UTF-16 units bound code points from above; count exactly only when that bound is a new maximum.
      if (text.length > this.idWidth) this.idWidth = Math.max(this.idWidth, [...text].length);
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

  /**
   * Writes one column's array data to `sink` in chunks of `rowsPerChunk` rows, fewer when rows
   * are wide (one very long id makes every row of `ids` as wide), so a chunk stays near 16 MiB.
   */
  async column(name: SpilledColumn, sink: (chunk: Uint8Array) => Promise<void>, rowsPerChunk = 4096): Promise<void> {
    const width = COLUMN_BYTES[name] ?? 4 * this.idWidth;
    // offsets has one more entry than rows: a leading 0, then each row's end.
    let offset = 0n;
    if (name === 'offsets') await sink(new Uint8Array(8));
    rowsPerChunk = Math.max(1, Math.min(rowsPerChunk, Math.floor(CHUNK_BYTES / width)));
    const out = Buffer.alloc(rowsPerChunk * width);
    let row = 0;
    await this.scan(async (data, at) => {
      const start = row * width;
      if (name === 'ids') {
        out.fill(0, start, start + width);
        let k = start;
        for (const c of data.toString('utf16le', at + FIXED, at + FIXED + data.readUInt32LE(at))) {
          out.writeUInt32LE(c.codePointAt(0)!, k);
          k += 4;
        }
      } else if (name === 'token_counts') out.writeInt32LE(data.readInt32LE(at + 4), start);
      else if (name === 'truncated') out[start] = data[at + 8];
      else if (name === 'chunks') out.writeInt32LE(data.readInt32LE(at + 9), start);
      else if (name === 'record_numbers') out.writeBigInt64LE(data.readBigInt64LE(at + 13), start);
      else {
        offset += BigInt(data.readInt32LE(at + 4));
        out.writeBigInt64LE(offset, start);
      }
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
