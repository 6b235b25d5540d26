import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { tempDir } from '../../test/helpers.js';
import { readLines } from './lines.js';
import { checkInputs, readRecords, type InputSpec } from './records.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const chunks = (...parts: Array<string | Buffer>) => Readable.from(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));

describe('readLines', () => {
  it('splits LF and CRLF, keeps empty lines, ignores one trailing newline', async () => {
    const lines = await collect(readLines(chunks('a\r\n\nb\n'), 'x'));
    expect(lines).toEqual([
      { number: 1, text: 'a', end: 3 },
      { number: 2, text: '', end: 4 },
      { number: 3, text: 'b', end: 6 },
    ]);
  });

  it('keeps a last line without newline and lines split across chunks', async () => {
    const lines = await collect(readLines(chunks('hel', 'lo\nwor', 'ld'), 'x'));
    expect(lines.map((l) => l.text)).toEqual(['hello', 'world']);
  });

  it('strips a UTF-8 BOM at the start only', async () => {
    const lines = await collect(readLines(chunks('\uFEFFfirst\n\uFEFFsecond\n'), 'x'));
    expect(lines.map((l) => l.text)).toEqual(['first', '\uFEFFsecond']);
  });

  it('does not split multi-byte characters across chunks', async () => {
    const bytes = Buffer.from('编程\n');
    const lines = await collect(readLines(chunks(bytes.subarray(0, 2), bytes.subarray(2)), 'x'));
    expect(lines.map((l) => l.text)).toEqual(['编程']);
  });

  it('names the line with invalid UTF-8', async () => {
    const bad = Buffer.from([0x6f, 0x6b, 0x0a, 0xff, 0xfe, 0x0a]);
    await expect(collect(readLines(chunks(bad), 'in.txt'))).rejects.toThrow(/in\.txt:2: not valid UTF-8/);
  });

  it('yields nothing for empty input', async () => {
    expect(await collect(readLines(chunks(''), 'x'))).toEqual([]);
  });
});

describe('readRecords', () => {
  const dir = tempDir();
  const spec = (files: string[], extra: Partial<InputSpec> = {}): InputSpec => ({
    files,
    format: 'auto',
    textField: 'text',
    stdin: Readable.from([]),
    ...extra,
  });

  it('numbers text records across files, empty lines included', async () => {
    const a = join(dir, 'a.txt');
    const b = join(dir, 'b.txt');
    writeFileSync(a, 'one\n\n');
    writeFileSync(b, 'three');
    expect(await collect(readRecords(spec([a, b])))).toEqual([
      { id: 0, text: 'one', bytesEnd: 4 },
      { id: 1, text: '', bytesEnd: 5 },
      { id: 2, text: 'three', bytesEnd: 10 },
    ]);
  });

  it('reads JSON Lines by extension, with id and text fields, skipping blank lines', async () => {
    const f = join(dir, 'r.jsonl');
    writeFileSync(f, '{"k":"x","body":"hi"}\n\n{"k":7,"body":""}\n');
    expect(await collect(readRecords(spec([f], { textField: 'body', idField: 'k' })))).toEqual([
      { id: 'x', text: 'hi', bytesEnd: 22 },
      { id: 7, text: '', bytesEnd: 41 },
    ]);
  });

  it('reads stdin as text unless told otherwise', async () => {
    const stdin = chunks('{"text":"a"}\n');
    expect(await collect(readRecords(spec(['-'], { stdin })))).toEqual([{ id: 0, text: '{"text":"a"}', bytesEnd: 13 }]);
    const stdin2 = chunks('{"text":"a"}\n');
    expect(await collect(readRecords(spec(['-'], { stdin: stdin2, format: 'jsonl' })))).toEqual([{ id: 0, text: 'a', bytesEnd: 13 }]);
  });

  it.each([
    ['{"text": "ok"}\n{"text": broken}\n', /bad\.jsonl:2: invalid JSON/],
    ['{"text": "ok"}\n["text"]\n', /bad\.jsonl:2: expected a JSON object, got an array/],
    ['{"body": "x"}\n', /bad\.jsonl:1: no "text" field \(fields: body\)/],
    ['{"text": 5}\n', /bad\.jsonl:1: field "text" is number/],
  ])('rejects %j with a message naming the line', async (content, message) => {
    const f = join(dir, 'bad.jsonl');
    writeFileSync(f, content);
    const run = collect(readRecords(spec([f])));
    await expect(run).rejects.toBeInstanceOf(InputError);
    await expect(collect(readRecords(spec([f])))).rejects.toThrow(message);
  });

  it('names the missing id field and its flag', async () => {
    const f = join(dir, 'ids.jsonl');
    writeFileSync(f, '{"text": "a", "id": 1}\n{"text": "b"}\n');
    const err = await collect(readRecords(spec([f], { idField: 'id' }))).catch((e) => e);
    expect(err.message).toMatch(/ids\.jsonl:2: field "id" is missing/);
    expect(err.hint).toMatch(/--id-field/);
  });

  it('checkInputs fails fast on missing files and folders', () => {
    expect(() => checkInputs([join(dir, 'nope.txt')])).toThrow(/input file .*nope\.txt cannot be read/);
    expect(() => checkInputs([dir])).toThrow(/is not a regular file/);
    expect(() => checkInputs(['-'])).not.toThrow();
  });
});
