// Positioned, synchronous reads of checkpoint files, and the one error every reader raises for a
// damaged file. Weight files run to gigabytes: readers fetch what they need by offset and never
// load a file whole.
import { readSync } from 'node:fs';
import { ModelError } from '../errors.js';

const DAMAGED_HINT = 'the file is damaged or cut short; download the checkpoint again';

/** A one-line ModelError naming the file and what is wrong with it. */
export function damaged(file: string, what: string, cause?: unknown): ModelError {
  return new ModelError(`weights file ${file} is not usable: ${what}`, DAMAGED_HINT, cause === undefined ? undefined : { cause });
}

/** Exactly `length` bytes at `position`, in a fresh (so aligned) buffer; a short read is damage. */
export function readExactly(fd: number, file: string, position: number, length: number, what: string): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, length - done, position + done);
    if (n === 0) throw damaged(file, `${what} ends at byte ${position + done}, before its ${length} bytes (the file is cut short)`);
    done += n;
  }
  return out;
}

const CHUNK = 1 << 16;

/**
 * Sequential reads over a byte range of a file (or over bytes already in memory), fetched in
 * 64 KiB chunks: the pickle interpreter reads one opcode at a time.
 */
export class ByteReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private chunkStart = 0;
  private pos: number;

  private constructor(
    private readonly fetch: (position: number, length: number) => Uint8Array,
    start: number,
    private readonly end: number,
    readonly file: string,
  ) {
    this.pos = start;
  }

  static fromFile(fd: number, file: string, start: number, end: number): ByteReader {
    return new ByteReader((p, n) => readExactly(fd, file, p, n, 'pickle data'), start, end, file);
  }

  static fromBytes(bytes: Uint8Array, file: string): ByteReader {
    return new ByteReader((p, n) => bytes.subarray(p, p + n), 0, bytes.length, file);
  }

  get position(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** The next `length` bytes; running past the end of the range is damage. */
  bytes(length: number): Uint8Array {
    if (length > this.end - this.pos) throw damaged(this.file, `pickle data ends early: ${length} bytes wanted at byte ${this.pos}, ${this.end - this.pos} left`);
    const inChunk = this.pos - this.chunkStart;
    if (inChunk < 0 || inChunk + length > this.chunk.length) {
      if (length > CHUNK) {
        const out = this.fetch(this.pos, length);
        this.pos += length;
        return out;
      }
      this.chunkStart = this.pos;
      this.chunk = this.fetch(this.pos, Math.min(CHUNK, this.end - this.pos));
    }
    const at = this.pos - this.chunkStart;
    this.pos += length;
    return this.chunk.subarray(at, at + length);
  }

  byte(): number {
    return this.bytes(1)[0];
  }

  /** Bytes up to (not including) the next newline, which is consumed. */
  line(): Uint8Array {
    const parts: number[] = [];
    for (;;) {
      const b = this.byte();
      if (b === 0x0a) return Uint8Array.from(parts);
      parts.push(b);
      if (parts.length > 4096) throw damaged(this.file, `pickle text argument at byte ${this.pos} runs past 4096 bytes without a newline`);
    }
  }
}
