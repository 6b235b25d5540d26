// Checks a byte stream for valid UTF-8 as it passes, knowing the line it is on, for parsers that
// would otherwise turn bad bytes into U+FFFD without a word (csv-parse decodes with Buffer's
// lenient toString). A character split between chunks is carried over to the next one. It also
// remembers where the newlines were, so a parser that reports byte offsets can name lines.
import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import { InputError } from '../errors.js';

/** Length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence. */
export function utf8Boundary(bytes: Uint8Array, length = bytes.length): number {
  let end = Math.min(length, bytes.length);
  let lead = end;
  while (lead > 0 && lead > end - 4 && (bytes[lead - 1] & 0xc0) === 0x80) lead--;
  if (lead > 0 && lead > end - 4) {
    const b = bytes[lead - 1];
    const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (lead - 1 + size > end) end = lead - 1;
  }
  return end;
}

export class Utf8Lines extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  /** Lines finished so far. */
  private lines = 0;
  /** Bytes passed on so far. */
  private offset = 0;
  /** Offsets of newlines passed on but not yet asked about, and how many were asked about. */
  private pending: number[] = [];
  private counted = 0;

  /**
   * The 1-based line that byte `offset` of the stream is on. Offsets asked about must not
   * decrease (a parser reports records in order), which keeps the remembered newlines few.
   */
  lineAt(offset: number): number {
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop] < offset) drop++;
    this.counted += drop;
    this.pending = drop > 0 ? this.pending.slice(drop) : this.pending;
    return this.counted + 1;
  }

  constructor(private readonly source: string) {
    super();
  }

  private bad(bytes: Buffer): InputError {
    // Find the first line that does not decode: complete lines of `bytes` one by one.
    let line = this.lines;
    let start = 0;
    for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
      if (!isUtf8(bytes.subarray(start, nl))) break;
      line++;
      start = nl + 1;
    }
    return new InputError(`${this.source}:${line + 1}: not valid UTF-8`, 'convert the file to UTF-8 first, for example with iconv -t UTF-8');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const joined = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const end = utf8Boundary(joined);
    const whole = joined.subarray(0, end);
    if (!isUtf8(whole)) return done(this.bad(whole));
    for (let nl = whole.indexOf(0x0a); nl !== -1; nl = whole.indexOf(0x0a, nl + 1)) {
      this.lines++;
      this.pending.push(this.offset + nl);
    }
    this.offset += whole.length;
    this.carry = Buffer.from(joined.subarray(end));
    done(null, whole);
  }

  override _flush(done: TransformCallback): void {
    if (this.carry.length > 0) return done(this.bad(this.carry));
    done();
  }
}
