// Splits a byte stream into lines: LF or CRLF endings, a UTF-8 BOM dropped at the start, and
// invalid UTF-8 reported with its line number instead of silently turned into U+FFFD.
//
// A line may be capped: past `maxLineBytes` its bytes are checked for valid UTF-8 and dropped,
// and the line is marked `cut`, so a 50 MB line costs a bounded amount of memory and time.
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { InputError } from '../errors.js';
import { utf8Boundary } from './utf8-lines.js';
import { collectGarbage } from '../memory.js';

export interface Line {
  /** 1-based line number in its source. */
  number: number;
  text: string;
  /** Bytes of the source up to the end of this line, its newline included. */
  end: number;
  /** The line was longer than the cap; `text` holds its start only. */
  cut: boolean;
}

export interface LineOptions {
  /** Most bytes of a line kept; the rest is validated and dropped. Default: no cap. */
  maxLineBytes?: number;
}

/**
 * Bytes read between full garbage collections. Read chunks are off-heap buffers, and V8 collects
 * them only once ~64 MiB of them have piled up; a run through a 50 MB line would peak that much
 * higher. A full collection of albert-embed's small heap takes milliseconds.
 */
const GC_EVERY_BYTES = 16 * 2 ** 20;

/**
 * The longest line read whole (JSON Lines records): V8 cannot hold a longer string, and it would
 * fail only after reading all of it.
 */
const MAX_WHOLE_LINE = 2 ** 29 - 24;

const tooLong = (source: string, number: number) =>
  new InputError(
    `${source}:${number}: the line is longer than ${MAX_WHOLE_LINE.toLocaleString('en-US')} bytes, more than one JavaScript string can hold`,
    'split the record, or give its text as a plain text line (--input-format text reads only as much of a line as it can embed)',
  );

const badUtf8 = (source: string, number: number) =>
  new InputError(`${source}:${number}: not valid UTF-8`, 'convert the file to UTF-8 first, for example with iconv -t UTF-8');

/**
 * Checks bytes arriving in pieces for valid UTF-8 without decoding them into strings (a dropped
 * 50 MB tail would otherwise become 50-100 MB of garbage strings). A character split between
 * pieces is carried over to the next one.
 */
class Utf8Check {
  private carry: Buffer = Buffer.alloc(0);

  feed(bytes: Buffer): boolean {
    const joined = this.carry.length > 0 ? Buffer.concat([this.carry, bytes]) : bytes;
    const end = utf8Boundary(joined, joined.length);
    // Anything past the boundary is an incomplete sequence of at most 3 bytes.
    this.carry = Buffer.from(joined.subarray(end));
    return isUtf8(joined.subarray(0, end));
  }

  end(): boolean {
    return this.carry.length === 0;
  }
}

export async function* readLines(stream: AsyncIterable<Buffer | string>, source: string, options: LineOptions = {}): AsyncGenerator<Line> {
  const cap = options.maxLineBytes ?? Infinity;
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  // The current line: kept bytes (up to the cap) in parts, and for a cut line a streaming
  // decoder that validates what is dropped.
  let parts: Buffer[] = [];
  let kept = 0;
  let overflow: Utf8Check | undefined;
  let number = 0;
  let consumed = 0;
  let lineStart = 0;

  const take = (bytes: Buffer) => {
    if (overflow) {
      if (!overflow.feed(bytes)) throw badUtf8(source, number + 1);
      return;
    }
    if (kept + bytes.length <= cap) {
      if (kept + bytes.length > MAX_WHOLE_LINE) throw tooLong(source, number + 1);
      parts.push(bytes);
      kept += bytes.length;
      return;
    }
    const room = cap - kept;
    // Copied: a view would keep the whole read chunk alive for as long as the line is.
    parts = [Buffer.concat([...parts, bytes.subarray(0, room)])];
    kept = cap;
    overflow = new Utf8Check();
    // The kept bytes are validated when decoded; the dropped ones start where they end, so the
    // check starts from the last complete character of the kept part.
    const boundary = utf8Boundary(parts[0], parts[0].length);
    if (!overflow.feed(parts[0].subarray(boundary)) || !overflow.feed(bytes.subarray(room))) throw badUtf8(source, number + 1);
  };

  const finishLine = (end: number): Line => {
    number++;
    let bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const cut = overflow !== undefined;
    if (overflow) {
      if (!overflow.end()) throw badUtf8(source, number);
      bytes = bytes.subarray(0, utf8Boundary(bytes, bytes.length));
    }
    let stop = bytes.length;
    if (!cut && stop > 0 && bytes[stop - 1] === 0x0d) stop--;
    const start = number === 1 && stop >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(start, stop));
    } catch {
      throw badUtf8(source, number);
    }
    parts = [];
    kept = 0;
    overflow = undefined;
    lineStart = end;
    return { number, text, end, cut };
  };

  let collectAt = GC_EVERY_BYTES;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (consumed >= collectAt) {
      collectGarbage();
      collectAt = consumed + GC_EVERY_BYTES;
    }
    let start = 0;
    // Only the new chunk is searched for newlines: a long line costs one pass, not one per chunk.
    for (let nl = bytes.indexOf(0x0a, start); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
      take(bytes.subarray(start, nl));
      consumed += nl + 1 - start;
      yield finishLine(consumed);
      start = nl + 1;
    }
    if (start < bytes.length) {
      take(bytes.subarray(start));
      consumed += bytes.length - start;
    }
  }
  // A last line without a newline is still a line; a trailing newline does not start another, and
  // neither does a file that holds nothing but a byte-order mark.
  const bomOnly = number === 0 && consumed === 3 && kept === 3 && parts.length > 0 && Buffer.concat(parts).equals(Buffer.from([0xef, 0xbb, 0xbf]));
  if (consumed > lineStart && !bomOnly) yield finishLine(consumed);
}
