// Where embedding rows go: .npy, .npz and .jsonl files (through AtomicFile), or JSON Lines on
// stdout; each in the precision asked for, with token vectors (--pooling none) where the format
// can hold them.
import type { Writable } from 'node:stream';
import type { RecordId } from '../input/record-id.js';
import type { Precision } from '../options.js';
import { AtomicFile, outputFailure } from './atomic-file.js';
import { ByteSpill } from './byte-spill.js';
import type { OutputFormat } from './formats.js';
import { jsonLines } from './jsonl.js';
import { STREAMED_HEADER_SIZE, npyHeader, unicodeNpy, type NpyDescr } from './npy.js';
import { bytesOf, encodeRows, precisionDescr, rowWidth } from './precision.js';
import { RowSpill, type SpilledColumn } from './row-spill.js';
import { writeToStream } from './stream.js';
import { ZipWriter, type OpenEntry } from './zip.js';

export interface RowBlock {
  ids: readonly RecordId[];
  /** Tokens embedded per record, special tokens included, over all its windows. */
  tokenCounts: ArrayLike<number>;
  truncated: ArrayLike<boolean>;
  /** Windows per record (1 unless chunked). */
  chunks: ArrayLike<number>;
  /** Pooled rows: [ids.length, dim] float32, row-major. */
  rows?: Float32Array;
  /** Token vectors (--pooling none): each record's [tokens, dim] matrix and its token ids. */
  tokens?: { vectors: readonly Float32Array[]; tokenIds: readonly Int32Array[] };
}

/** What every block of a run looks like. */
export interface RowShape {
  /** float32 values per row, or per token vector. */
  dim: number;
  precision: Precision;
  /** Token vectors instead of rows (--pooling none). */
  tokens: boolean;
  /** Whether records carry window counts worth writing (--overflow chunk). */
  chunks: boolean;
}

export interface RowSink {
  write(block: RowBlock): Promise<void>;
  /** Seals the output; `meta` is stored where the format has room for it (.npz). */
  finish(meta: Record<string, unknown>): Promise<void>;
  /** Drops everything written so far. Safe to call after a failure, and more than once. */
  abort(): Promise<void>;
}

abstract class FileSink implements RowSink {
  protected constructor(protected readonly file: AtomicFile) {}
  abstract write(block: RowBlock): Promise<void>;
  protected abstract seal(meta: Record<string, unknown>): Promise<void>;

  /** Removes whatever the sink keeps besides the output file; runs once the output is settled. */
  protected async release(): Promise<void> {}

  async finish(meta: Record<string, unknown>): Promise<void> {
    try {
      await this.seal(meta);
      await this.file.commit();
    } catch (err) {
      await this.file.discard();
      throw outputFailure(this.file.target, 'write failed', err);
    } finally {
      await this.release();
    }
  }

  async abort(): Promise<void> {
    await this.file.discard();
    await this.release();
  }
}

/** The values of `block` as stored: rows, or every token vector one after another. */
function storedValues(block: RowBlock, shape: RowShape): Uint8Array {
  const values = block.tokens ? concat(block.tokens.vectors) : block.rows!;
  return bytesOf(encodeRows(values, shape.dim, shape.precision));
}

function concat(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** .npy: a [rows, width] matrix in the shape's precision; the header's row count is filled in at the end. */
class NpySink extends FileSink {
  private rows = 0;
  private position = STREAMED_HEADER_SIZE;

  constructor(
    file: AtomicFile,
    private readonly shape: RowShape,
  ) {
    super(file);
  }

  async write(block: RowBlock): Promise<void> {
    const bytes = storedValues(block, this.shape);
    await this.file.writeAt(bytes, this.position);
    this.position += bytes.length;
    this.rows += block.ids.length;
  }

  protected async seal(): Promise<void> {
    const { precision, dim } = this.shape;
    await this.file.writeAt(npyHeader(precisionDescr(precision), [this.rows, rowWidth(precision, dim)], STREAMED_HEADER_SIZE), 0);
  }
}

/**
 * .npz: `embeddings` (or `tokens`) streams into the archive as it is computed; the per-row
 * columns wait in a scratch file (RowSpill), token ids in another (ByteSpill), and follow it at
 * the end; `meta` is a 0-d string of JSON. Memory stays flat however many rows pass through.
 */
class NpzSink extends FileSink {
  private rows = 0;
  private tokenRows = 0;

  private constructor(
    file: AtomicFile,
    private readonly shape: RowShape,
    private readonly zip: ZipWriter,
    private readonly values: OpenEntry,
    private readonly spill: RowSpill,
    private readonly tokenIds: ByteSpill | undefined,
  ) {
    super(file);
  }

  static async create(file: AtomicFile, shape: RowShape, forceZip64: boolean): Promise<NpzSink> {
    const zip = new ZipWriter(file, forceZip64);
    const values = await zip.begin(shape.tokens ? 'tokens.npy' : 'embeddings.npy', STREAMED_HEADER_SIZE);
    const tokenIds = shape.tokens ? new ByteSpill(await file.scratch()) : undefined;
    return new NpzSink(file, shape, zip, values, new RowSpill(await file.scratch()), tokenIds);
  }

  async write(block: RowBlock): Promise<void> {
    await this.values.write(storedValues(block, this.shape));
    await this.spill.append(block.ids, block.tokenCounts, block.truncated, block.chunks);
    if (block.tokens) {
      for (const ids of block.tokens.tokenIds) {
        await this.tokenIds!.append(bytesOf(ids));
        this.tokenRows += ids.length;
      }
    }
    this.rows += block.ids.length;
  }

  private async addColumn(name: SpilledColumn, descr: NpyDescr, length = this.rows): Promise<void> {
    const header = npyHeader(descr, [length]);
    const entry = await this.zip.begin(`${name}.npy`, header.length);
    await this.spill.column(name, (chunk) => entry.write(chunk));
    await entry.finish(header);
  }

  protected async seal(meta: Record<string, unknown>): Promise<void> {
    const { precision, dim, tokens } = this.shape;
    await this.values.finish(npyHeader(precisionDescr(precision), [tokens ? this.tokenRows : this.rows, rowWidth(precision, dim)], STREAMED_HEADER_SIZE));
    if (this.tokenIds) {
      await this.addColumn('offsets', '<i8', this.rows + 1);
      const header = npyHeader('<i4', [this.tokenRows]);
      const entry = await this.zip.begin('token_ids.npy', header.length);
      await this.tokenIds.copyTo((chunk) => entry.write(chunk));
      await entry.finish(header);
    }
    await this.addColumn('ids', `<U${this.spill.idWidth}`);
    await this.addColumn('token_counts', '<i4');
    await this.addColumn('truncated', '|b1');
    if (this.shape.chunks) await this.addColumn('chunks', '<i4');
    await this.zip.add('meta.npy', unicodeNpy([JSON.stringify(meta)], []));
    await this.zip.close();
  }

  protected override async release(): Promise<void> {
    await this.spill.discard();
    await this.tokenIds?.discard();
  }
}

/** JSON Lines in a file: one object per row. */
class JsonlFileSink extends FileSink {
  private position = 0;
  constructor(
    file: AtomicFile,
    private readonly shape: RowShape,
  ) {
    super(file);
  }
  async write(block: RowBlock): Promise<void> {
    const bytes = Buffer.from(jsonLines(block, this.shape));
    await this.file.writeAt(bytes, this.position);
    this.position += bytes.length;
  }
  protected async seal(): Promise<void> {}
}

/** JSON Lines on a stream (stdout): each block counts as written once the stream has taken it. */
class StreamSink implements RowSink {
  constructor(
    private readonly stream: Writable,
    private readonly shape: RowShape,
  ) {}
  write(block: RowBlock): Promise<void> {
    return writeToStream(this.stream, jsonLines(block, this.shape));
  }
  async finish(): Promise<void> {}
  async abort(): Promise<void> {}
}

export interface SinkTarget {
  /** A path, or '-' for `stdout`. */
  path: string;
  format: OutputFormat;
  stdout: Writable;
  forceZip64?: boolean;
}

export interface PreparedOutput {
  /** The sink for blocks of `shape`. */
  open(shape: RowShape): Promise<RowSink>;
  /** Removes the temp file when the run fails before or after open(). */
  discard(): Promise<void>;
}

/** Creates the temp file up front, so a bad -o fails before any model is loaded. */
export async function prepareOutput(target: SinkTarget): Promise<PreparedOutput> {
  if (target.path === '-') {
    return { open: async (shape) => new StreamSink(target.stdout, shape), discard: async () => {} };
  }
  const file = await AtomicFile.create(target.path);
  return {
    async open(shape) {
      switch (target.format) {
        case 'npy':
          return new NpySink(file, shape);
        case 'npz':
          return NpzSink.create(file, shape, target.forceZip64 ?? false);
        case 'jsonl':
          return new JsonlFileSink(file, shape);
        default: {
          const never: never = target.format;
          throw new Error(`unhandled output format ${never}`);
        }
      }
    },
    discard: () => file.discard(),
  };
}
