// CSV, TSV and Parquet records: the columns by name or index, RFC 4180 quoting (newlines and
// quotes inside fields), records located by the line they start on (CSV) or their row (Parquet),
// and Parquet files written by a real writer (hyparquet-writer, snappy-compressed as its default).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { InputError } from '../errors.js';
import { JsonNumber } from './record-id.js';
import { readRecords, type InputSpec } from './records.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const dir = tempDir();
const spec = (files: string[], extra: Partial<InputSpec> = {}): InputSpec => ({ files, format: 'auto', textField: 'text', textColumn: 'text', stdin: process.stdin, ...extra });
const brief = (records: Array<{ id: unknown; text: string; place: string }>) => records.map((r) => ({ id: r.id, text: r.text, place: r.place }));

describe('CSV and TSV', () => {
  it('reads quoted fields with newlines, quotes and commas, locating each record by its first line', async () => {
    const f = join(dir, 'docs.csv');
    writeFileSync(f, '\uFEFFkey,text,extra\r\na,"plain",1\r\nb,"two\r\nlines, and ""quotes""",2\r\n\r\nc,last,3\r\n');
    expect(brief(await collect(readRecords(spec([f], { idColumn: 'key' }))))).toEqual([
      { id: 'a', text: 'plain', place: `${f}:2` },
      { id: 'b', text: 'two\r\nlines, and "quotes"', place: `${f}:3` },
      { id: 'c', text: 'last', place: `${f}:6` },
    ]);
  });

  it('takes columns by 0-based index, and numbers records without an id column', async () => {
    const f = join(dir, 'docs.tsv');
    writeFileSync(f, 'a\tb\n1\tfirst\n2\tsecond\n');
    expect(brief(await collect(readRecords(spec([f], { textColumn: '1' }))))).toEqual([
      { id: 0, text: 'first', place: `${f}:2` },
      { id: 1, text: 'second', place: `${f}:3` },
    ]);
  });

  it.each<[string, string, Partial<InputSpec>, RegExp]>([
    ['bad quoting', 'text\n"ok"\n"broken"x\n', {}, /bad\.csv:3: /],
    ['a missing column', 'body\nx\n', {}, /bad\.csv: no column "text" \(columns: "body"\)/],
    ['a short row', 'id,text\n1,a\n2\n', { idColumn: 'id' }, /bad\.csv:3: /],
    ['invalid UTF-8', 'text\nok\n', {}, /bad\.csv:3: not valid UTF-8/],
  ])('%s is an input error naming the file and line', async (_name, content, extra, message) => {
    const f = join(dir, 'bad.csv');
    writeFileSync(f, _name === 'invalid UTF-8' ? Buffer.concat([Buffer.from(content), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])]) : content);
    const err = await collect(readRecords(spec([f], extra))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('Parquet', () => {
  const write = (name: string, columns: Parameters<typeof parquetWriteFile>[0]['columnData'], rowGroupSize = 2) => {
    const f = join(dir, name);
    parquetWriteFile({ filename: f, columnData: columns, rowGroupSize });
    return f;
  };

  it('reads a string column row group by row group, with string or int64 ids', async () => {
    const texts = ['first', 'second', 'third', 'fourth', 'fifth'];
    const f = write('docs.parquet', [
      { name: 'doc_id', data: [10n, 20n, 1234567890123456789n, 40n, 50n], type: 'INT64' },
      { name: 'body', data: texts, type: 'STRING' },
    ]);
    const records = await collect(readRecords(spec([f], { textColumn: 'body', idColumn: 'doc_id' })));
    expect(records.map((r) => r.text)).toEqual(texts);
    expect(records.map((r) => r.id)).toEqual(["10", "20", "1234567890123456789", "40", "50"].map((t) => new JsonNumber(t)));
    expect(records.map((r) => r.place)).toEqual(texts.map((_, i) => `${f} row ${i}`));
  });

  it.each<[string, () => string, Partial<InputSpec>, RegExp]>([
    ['a null text', () => write('nulls.parquet', [{ name: 'text', data: ['a', 'b', null, 'd'], type: 'STRING' }]), {}, /nulls\.parquet row 2: text column "text" is null/],
    ['a text column that is not strings', () => write('ints.parquet', [{ name: 'text', data: [1, 2], type: 'INT32' }]), {}, /ints\.parquet: text column "text" does not hold strings/],
    ['a file that is not Parquet', () => (writeFileSync(join(dir, 'fake.parquet'), 'text\nhello\n'), join(dir, 'fake.parquet')), {}, /fake\.parquet: not a Parquet file/],
  ])('%s is an input error naming the file and row', async (_name, make, extra, message) => {
    const err = await collect(readRecords(spec([make()], extra))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(message);
  });
});
