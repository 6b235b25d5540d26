// CSV and TSV records (RFC 4180 quoting, embedded newlines and quotes, a header row) through
// csv-parse, streamed: one record at a time, located by the line it starts on.
import { CsvError, parse } from 'csv-parse';
import { pipeline, type Readable } from 'node:stream';
import { InputError } from '../errors.js';
import { columnIndex, type ColumnChoice } from './columns.js';
import type { RecordId } from './record-id.js';
import { Utf8Lines } from './utf8-lines.js';

export interface TableRow {
  id: RecordId | undefined;
  text: string;
  /** `file:line` of the line the record starts on. */
  place: string;
  /** Bytes of the source read when the record was complete. */
  bytes: number;
}

export async function* readCsv(stream: Readable, source: string, delimiter: ',' | '\t', columns: ColumnChoice): AsyncGenerator<TableRow> {
  const parser = parse({ delimiter, bom: true, info: true, skip_empty_lines: true });
  const utf8 = new Utf8Lines(source);
  // pipeline (not pipe) carries a read or UTF-8 error of an earlier stage to the parser, whose
  // iterator then throws it.
  pipeline(stream, utf8, parser, () => {});
  let header: string[] | undefined;
  let textAt = 0;
  let idAt: number | undefined;
  // csv-parse's own line count drifts on CRLF inside quoted fields; bytes are exact. A record
  // starts on the line after the previous record's end, past any empty lines it skipped.
  let lastBytes = 0;
  let lastEmpty = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number; bytes: number; empty_lines: number } }>) {
      const start = utf8.lineAt(lastBytes) + (info.empty_lines - lastEmpty);
      lastBytes = info.bytes;
      lastEmpty = info.empty_lines;
      if (!header) {
        header = record;
        textAt = columnIndex(header, columns.text, '--text-column', source);
        idAt = columns.id === undefined ? undefined : columnIndex(header, columns.id, '--id-column', source);
        continue;
      }
      yield { id: idAt === undefined ? undefined : record[idAt], text: record[textAt], place: `${source}:${start}`, bytes: info.bytes };
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (err instanceof CsvError) {
      const line = (err as unknown as { lines?: number }).lines;
      throw new InputError(`${source}:${line ?? utf8.lineAt(lastBytes)}: ${err.message.replace(/^Invalid [^:]*: /, '')}`, `check the ${delimiter === ',' ? 'CSV' : 'TSV'} quoting on that line`, { cause: err });
    }
    throw err;
  }
  if (!header) throw new InputError(`${source}: no header row`, 'CSV and TSV inputs start with a header row naming the columns');
}
