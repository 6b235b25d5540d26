// Parquet records through hyparquet, one row group at a time (memory holds one row group's two
// columns, whatever the file's size). The text column must hold strings; an id column may hold
// strings or integers.
import { open } from 'node:fs/promises';
import { compressors } from 'hyparquet-compressors';
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { InputError, errorMessage } from '../errors.js';
import { columnIndex, type ColumnChoice } from './columns.js';
import { JsonNumber, type RecordId } from './record-id.js';
import type { TableRow } from './csv.js';

/** The file as hyparquet reads it: byte ranges by positioned reads, never the whole file. */
async function fileBuffer(path: string): Promise<AsyncBuffer & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    byteLength: size,
    async slice(start: number, end = size) {
      const bytes = Buffer.alloc(end - start);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, start);
      if (bytesRead !== bytes.length) throw new Error(`read ${bytesRead} of ${bytes.length} bytes at ${start}`);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    },
    close: () => handle.close(),
  };
}

function isStringColumn(metadata: FileMetaData, name: string): boolean {
  const element = metadata.schema.find((e) => e.name === name);
  return Boolean(element && element.type === 'BYTE_ARRAY' && (element.converted_type === 'UTF8' || element.logical_type?.type === 'STRING'));
}

function idOf(value: unknown, where: string, column: string): RecordId {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return new JsonNumber(value.toString());
  if (typeof value === 'number' && Number.isFinite(value)) return Number.isInteger(value) ? value : new JsonNumber(String(value));
  throw new InputError(`${where}: id column "${column}" is ${value === null || value === undefined ? 'null' : typeof value}; ids must be strings or numbers`, 'name the id column with --id-column');
}

export async function* readParquet(path: string, columns: ColumnChoice): AsyncGenerator<TableRow> {
  let file: Awaited<ReturnType<typeof fileBuffer>>;
  let metadata: FileMetaData;
  try {
    file = await fileBuffer(path);
  } catch (err) {
    throw new InputError(`input ${path} cannot be read: ${errorMessage(err)}`, 'check the path', { cause: err });
  }
  try {
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (err) {
      throw new InputError(`${path}: not a Parquet file: ${errorMessage(err)}`, 'pass a .parquet file, or name the format with --input-format', { cause: err });
    }
    const names = parquetSchema(metadata).children.map((c) => c.element.name);
    const text = names[columnIndex(names, columns.text, '--text-column', path)];
    const id = columns.id === undefined ? undefined : names[columnIndex(names, columns.id, '--id-column', path)];
    if (!isStringColumn(metadata, text)) {
      throw new InputError(`${path}: text column "${text}" does not hold strings`, 'name a string column with --text-column');
    }
    const totalRows = Number(metadata.num_rows) || 1;
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file, metadata, columns: id === undefined ? [text] : [text, id], rowStart, rowEnd, compressors });
      } catch (err) {
        throw new InputError(`${path}: rows ${rowStart}-${rowEnd - 1} cannot be read: ${errorMessage(err)}`, 'the file may be damaged; write it again', { cause: err });
      }
      for (let i = 0; i < rows.length; i++) {
        const where = `${path} row ${rowStart + i}`;
        const value = rows[i][text];
        if (typeof value !== 'string') throw new InputError(`${where}: text column "${text}" is ${value === null || value === undefined ? 'null' : typeof value}`, 'fill or drop rows without text before embedding');
        // Progress in bytes, read as the share of rows done.
        yield { id: id === undefined ? undefined : idOf(rows[i][id], where, id), text: value, place: where, bytes: Math.round((file.byteLength * (rowStart + i + 1)) / totalRows) };
      }
      rowStart = rowEnd;
    }
  } finally {
    await file.close();
  }
}
