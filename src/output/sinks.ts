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
import { RowSpill, type SpilledColumn, type SpillState } from './row-spill.js';
import { writeToStream } from './stream.js';
import { entryEnd, ZipWriter, type EntryState, type OpenEntry } from './zip.js';

export interface RowBlock {
  ids: readonly RecordId[];
  /** Tokens embedded per record, special tokens included, over all its windows. */
  tokenCounts: ArrayLike<number>;
  truncated: ArrayLike<boolean>;
  /** Windows per record (1 unless chunked). */
  chunks: ArrayLike<number>;
  /** Each record's number in the whole input (from 0), for the parts of a sharded run. */
  records?: ArrayLike<number>;
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
  /** Whether to write each row's record number (the part of a sharded run). */
  recordNumbers?: boolean;
}

/** Where a file sink stands after a journal commit: enough to reopen it after a crash. */
export type SinkState =
  | { format: 'npy' | 'jsonl'; temp: string; position: number; rows: number }
  | {
      format: 'npz';
      temp: string;
      entry: EntryState;
      spill: SpillState;
      tokenIds?: { path: string; length: number };
      rows: number;
      tokenRows: number;
    };

export interface FinishOptions {
  /** Runs once the file is complete on disk, before it is renamed into place. */
  beforeRename?: () => void;
  /**
   * On a failure before the rename, leave the files (closed) as they are instead of removing
   * them: a journal committed them, and --resume cuts them back to that commit.
   */
  keepOnFailure?: boolean;
}

export interface RowSink {
  write(block: RowBlock): Promise<void>;
  /**
   * Flushes everything written so far to disk and returns where the sink stands, for a journal
   * (file sinks only); its files are left for --resume on a signal from then on.
   */
  checkpoint?(): Promise<SinkState>;
  /** Seals the output; `meta` is stored where the format has room for it (.npz). */
  finish(meta: Record<string, unknown>, options?: FinishOptions): Promise<void>;
  /**
   * Closes the files and leaves them as a journal committed them, for --resume (file sinks after a
   * checkpoint only).
   */
  keep?(): Promise<void>;
  /** Drops everything written so far. Safe to call after a failure, and more than once. */
  abort(): Promise<void>;
}

abstract class FileSink implements RowSink {
  protected constructor(protected readonly file: AtomicFile) {}
  abstract write(block: RowBlock): Promise<void>;
  abstract checkpoint(): Promise<SinkState>;
  protected abstract seal(meta: Record<string, unknown>): Promise<void>;

  /** Removes whatever the sink keeps besides the output file; runs once the output is settled. */
  protected async release(): Promise<void> {}
  /** Closes whatever the sink keeps besides the output file, leaving it for --resume. */
  protected async closeScratch(): Promise<void> {}

  async finish(meta: Record<string, unknown>, options: FinishOptions = {}): Promise<void> {
    let renaming = false;
    try {
      await this.seal(meta);
      await this.file.commit(() => {
        options.beforeRename?.();
        renaming = true;
      }, options.keepOnFailure);
    } catch (err) {
      if (options.keepOnFailure && !renaming) {
        await this.keep();
        throw outputFailure(this.file.target, 'write failed', err);
      }
      await this.file.discard();
      await this.release();
      throw outputFailure(this.file.target, 'write failed', err);
    }
    await this.release();
  }

  async abort(): Promise<void> {
    await this.file.discard();
    await this.release();
  }

  async keep(): Promise<void> {
    await this.file.close();
    await this.closeScratch();
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
    resume?: { position: number; rows: number },
  ) {
    super(file);
    if (resume) ({ position: this.position, rows: this.rows } = resume);
  }

  async checkpoint(): Promise<SinkState> {
    await this.file.sync();
    this.file.keepOnSignal();
    return { format: 'npy', temp: this.file.temp, position: this.position, rows: this.rows };
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

  static async create(file: AtomicFile, shape: RowShape, forceZip64: boolean, resume?: Extract<SinkState, { format: 'npz' }>): Promise<NpzSink> {
    if (resume) {
      const { zip, entry } = ZipWriter.resume(file, resume.entry, forceZip64);
      const tokenIds = resume.tokenIds && new ByteSpill(await file.scratch(resume.tokenIds), resume.tokenIds.length);
      const spill = new RowSpill(await file.scratch({ path: resume.spill.path, length: resume.spill.position }), undefined, resume.spill);
      const sink = new NpzSink(file, shape, zip, entry, spill, tokenIds);
      sink.rows = resume.rows;
      sink.tokenRows = resume.tokenRows;
      return sink;
    }
    const zip = new ZipWriter(file, forceZip64);
    const values = await zip.begin(shape.tokens ? 'tokens.npy' : 'embeddings.npy', STREAMED_HEADER_SIZE);
    const tokenIds = shape.tokens ? new ByteSpill(await file.scratch()) : undefined;
    return new NpzSink(file, shape, zip, values, new RowSpill(await file.scratch()), tokenIds);
  }

  async checkpoint(): Promise<SinkState> {
    await Promise.all([this.file.sync(), this.spill.scratch.sync(), this.tokenIds?.file.sync()]);
    for (const f of [this.file, this.spill.scratch, this.tokenIds?.file]) f?.keepOnSignal();
    return {
      format: 'npz',
      temp: this.file.temp,
      entry: this.values.state(),
      spill: this.spill.state(),
      ...(this.tokenIds ? { tokenIds: { path: this.tokenIds.file.path, length: this.tokenIds.length } } : {}),
      rows: this.rows,
      tokenRows: this.tokenRows,
    };
  }

  async write(block: RowBlock): Promise<void> {
    await this.values.write(storedValues(block, this.shape));
    await this.spill.append(block.ids, block.tokenCounts, block.truncated, block.chunks, block.records);
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
    if (this.shape.recordNumbers) await this.addColumn('record_numbers', '<i8');
    await this.zip.add('meta.npy', unicodeNpy([JSON.stringify(meta)], []));
    await this.zip.close();
  }

  protected override async release(): Promise<void> {
    await this.spill.discard();
    await this.tokenIds?.discard();
  }

  protected override async closeScratch(): Promise<void> {
    await this.spill.scratch.close();
    await this.tokenIds?.file.close();
  }
}

/** JSON Lines in a file: one object per row. */
class JsonlFileSink extends FileSink {
  private position = 0;
  private rows = 0;
  constructor(
    file: AtomicFile,
    private readonly shape: RowShape,
    resume?: { position: number; rows: number },
  ) {
    super(file);
    if (resume) ({ position: this.position, rows: this.rows } = resume);
  }
  async write(block: RowBlock): Promise<void> {
    const bytes = Buffer.from(jsonLines(block, this.shape));
    await this.file.writeAt(bytes, this.position);
    this.position += bytes.length;
    this.rows += block.ids.length;
  }
  async checkpoint(): Promise<SinkState> {
    await this.file.sync();
    this.file.keepOnSignal();
    return { format: 'jsonl', temp: this.file.temp, position: this.position, rows: this.rows };
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
  /** Closes the reopened temp file of a resumed run, leaving it for another --resume. */
  keep(): Promise<void>;
}

/**
 * Creates the temp file up front, so a bad -o fails before any model is loaded; with `resume`,
 * reopens the files of the interrupted run that a journal committed, cut back to that commit.
 */
export async function prepareOutput(target: SinkTarget, resume?: SinkState): Promise<PreparedOutput> {
  if (target.path === '-') {
    return { open: async (shape) => new StreamSink(target.stdout, shape), discard: async () => {}, keep: async () => {} };
  }
  if (resume && resume.format !== target.format) throw new Error(`a ${resume.format} journal for a ${target.format} output`);
  const file = await AtomicFile.create(target.path, resume && { temp: resume.temp, length: resume.format === 'npz' ? entryEnd(resume.entry) : resume.position });
  return {
    async open(shape) {
      switch (target.format) {
        case 'npy':
          return new NpySink(file, shape, resume?.format === 'npy' ? resume : undefined);
        case 'npz':
          return NpzSink.create(file, shape, target.forceZip64 ?? false, resume?.format === 'npz' ? resume : undefined);
        case 'jsonl':
          return new JsonlFileSink(file, shape, resume?.format === 'jsonl' ? resume : undefined);
        default: {
          const never: never = target.format;
          throw new Error(`unhandled output format ${never}`);
        }
      }
    },
    discard: () => file.discard(),
    keep: () => file.close(),
  };
}
