// Splits a byte stream into lines: LF or CRLF endings, a UTF-8 BOM dropped at the start, and
// invalid UTF-8 reported with its line number instead of silently turned into U+FFFD.
import { InputError } from '../errors.js';

export interface Line {
  /** 1-based line number in its source. */
  number: number;
  text: string;
  /** Bytes of the source up to the end of this line, its newline included. */
  end: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export async function* readLines(stream: AsyncIterable<Buffer | string>, source: string): AsyncGenerator<Line> {
  let carry: Buffer = Buffer.alloc(0);
  let number = 0;
  let consumed = 0;
  const decode = (bytes: Buffer): string => {
    number++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    let start = 0;
    if (number === 1 && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
    try {
      return decoder.decode(bytes.subarray(start, end));
    } catch {
      throw new InputError(`${source}:${number}: not valid UTF-8`, 'convert the file to UTF-8 first, for example with iconv -t UTF-8');
    }
  };
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const buffer = carry.length > 0 ? Buffer.concat([carry, bytes]) : bytes;
    let start = 0;
    for (let nl = buffer.indexOf(0x0a, start); nl !== -1; nl = buffer.indexOf(0x0a, start)) {
      const text = decode(buffer.subarray(start, nl));
      consumed += nl + 1 - start;
      yield { number, text, end: consumed };
      start = nl + 1;
    }
    carry = buffer.subarray(start);
  }
  // A last line without a newline is still a line; a trailing newline does not start another.
  if (carry.length > 0) {
    const text = decode(carry);
    yield { number, text, end: consumed + carry.length };
  }
}
