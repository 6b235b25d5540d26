import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { tempDir } from '../../test/helpers.js';
import { readLines } from './lines.js';
import { JsonNumber } from './record-id.js';
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
      { number: 1, text: 'a', end: 3, cut: false },
      { number: 2, text: '', end: 4, cut: false },
      { number: 3, text: 'b', end: 6, cut: false },
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

  it('caps a long line: keeps its start, checks the rest is UTF-8, and marks it cut', async () => {
    const line = `${'é'.repeat(10)}${'x'.repeat(5000)}`;
    // 7-byte chunks: the cap (11 bytes, inside the 6th 'é') and the newline land mid-chunk.
    const bytes = Buffer.from(`${line}\nshort\n${line}`);
    const parts = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
    const lines = await collect(readLines(Readable.from(parts), 'x', { maxLineBytes: 11 }));
    expect(lines).toEqual([
      { number: 1, text: 'ééééé', end: Buffer.byteLength(line) + 1, cut: true },
      { number: 2, text: 'short', end: Buffer.byteLength(line) + 7, cut: false },
      { number: 3, text: 'ééééé', end: bytes.length, cut: true },
    ]);
  });

  it('finds invalid UTF-8 in the part of a capped line it drops', async () => {
    const bad = Buffer.concat([Buffer.from('ok\n'), Buffer.from('a'.repeat(100)), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]);
    await expect(collect(readLines(chunks(bad), 'in.txt', { maxLineBytes: 10 }))).rejects.toThrow(/in\.txt:2: not valid UTF-8/);
  });

  it('yields nothing for empty input, nor for a byte-order mark alone', async () => {
    expect(await collect(readLines(chunks(''), 'x'))).toEqual([]);
    expect(await collect(readLines(chunks(Buffer.from([0xef, 0xbb, 0xbf])), 'x'))).toEqual([]);
    expect((await collect(readLines(chunks(Buffer.from([0xef, 0xbb, 0xbf, 0x0a])), 'x'))).map((l) => l.text)).toEqual(['']);
  });
});

describe('readRecords', () => {
  const dir = tempDir();
  const spec = (files: string[], extra: Partial<InputSpec> = {}): InputSpec => ({
    files,
    format: 'auto',
    textField: 'text',
    textColumn: 'text',
    stdin: Readable.from([]),
    ...extra,
  });

  it('numbers text records across files, empty lines included', async () => {
    const a = join(dir, 'a.txt');
    const b = join(dir, 'b.txt');
    writeFileSync(a, 'one\n\n');
    writeFileSync(b, 'three');
    expect(await collect(readRecords(spec([a, b])))).toEqual([
      { id: 0, text: 'one', cut: false, place: `${a}:1`, bytesEnd: 4 },
      { id: 1, text: '', cut: false, place: `${a}:2`, bytesEnd: 5 },
      { id: 2, text: 'three', cut: false, place: `${b}:1`, bytesEnd: 10 },
    ]);
  });

  it('reads JSON Lines by extension, with id and text fields, skipping blank lines', async () => {
    const f = join(dir, 'r.jsonl');
    writeFileSync(f, '{"k":"x","body":"hi"}\n\n{"k":7,"body":""}\n');
    expect(await collect(readRecords(spec([f], { textField: 'body', idField: 'k' })))).toEqual([
      { id: 'x', text: 'hi', cut: false, place: `${f}:1`, bytesEnd: 22 },
      { id: new JsonNumber('7'), text: '', cut: false, place: `${f}:3`, bytesEnd: 41 },
    ]);
  });

  it('reads stdin as text unless told otherwise', async () => {
    const stdin = chunks('{"text":"a"}\n');
    expect(await collect(readRecords(spec(['-'], { stdin })))).toEqual([{ id: 0, text: '{"text":"a"}', cut: false, place: '<stdin>:1', bytesEnd: 13 }]);
    const stdin2 = chunks('{"text":"a"}\n');
    expect(await collect(readRecords(spec(['-'], { stdin: stdin2, format: 'jsonl' })))).toEqual([{ id: 0, text: 'a', cut: false, place: '<stdin>:1', bytesEnd: 13 }]);
  });

  it('keeps JSON number ids exactly as written', async () => {
    const f = join(dir, 'numbers.jsonl');
    const ids = ['12345678901234567890', '12345678901234567891', '1.50', '-0', '1e3', '2E-7', '9007199254740993'];
    writeFileSync(f, ids.map((id) => `{"id": ${id}, "text": "t"}`).join('\n'));
    const records = await collect(readRecords(spec([f], { idField: 'id' })));
    expect(records.map((r) => String(r.id))).toEqual(ids);
    expect(records.every((r) => r.id instanceof JsonNumber)).toBe(true);
  });

  it.each([
    ['{"text": "ok"}\n{"text": broken}\n', /bad\.jsonl:2: invalid JSON/],
    ['{"text": "ok"}\n["text"]\n', /bad\.jsonl:2: expected a JSON object, got an array/],
    ['{"body": "x"}\n', /bad\.jsonl:1: no "text" field \(fields: body\)/],
    ['{"text": 5}\n', /bad\.jsonl:1: field "text" is number/],
    ['{"body": "x"}\n', /bad\.jsonl:1: no "text" field/],
  ])('rejects %j with a message naming the line', async (content, message) => {
    const f = join(dir, 'bad.jsonl');
    writeFileSync(f, content);
    const run = collect(readRecords(spec([f])));
    await expect(run).rejects.toBeInstanceOf(InputError);
    await expect(collect(readRecords(spec([f])))).rejects.toThrow(message);
  });

  it.each([
    ['{"text": "a", "id": 1e400}', /ids\.jsonl:1: field "id" is 1e400, which is not a finite number/],
    ['{"text": "a", "id": {"k": 1}}', /ids\.jsonl:1: field "id" is an object; ids must be strings or numbers/],
    ['{"text": "a", "id": [1]}', /ids\.jsonl:1: field "id" is an array/],
    ['{"text": "a", "id": null}', /ids\.jsonl:1: field "id" is null/],
    ['{"text": "a", "id": true}', /ids\.jsonl:1: field "id" is boolean/],
  ])('refuses the id in %s', async (line, message) => {
    const f = join(dir, 'ids.jsonl');
    writeFileSync(f, `${line}\n`);
    await expect(collect(readRecords(spec([f], { idField: 'id' })))).rejects.toThrow(message);
  });

  it('finds own fields only, never what every object inherits', async () => {
    const f = join(dir, 'proto.jsonl');
    writeFileSync(f, '{"text": "a"}\n');
    await expect(collect(readRecords(spec([f], { textField: 'toString' })))).rejects.toThrow(/proto\.jsonl:1: no "toString" field \(fields: text\)/);
    await expect(collect(readRecords(spec([f], { idField: '__proto__' })))).rejects.toThrow(/proto\.jsonl:1: field "__proto__" is missing/);
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
