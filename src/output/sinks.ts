// Where embedding rows go: .npy, .npz and .jsonl files (through AtomicFile), or JSON Lines on
// stdout.
import type { Writable } from 'node:stream';
import type { RecordId } from '../input/record-id.js';
import { AtomicFile, outputFailure } from './atomic-file.js';
import type { OutputFormat } from './formats.js';
import { jsonLines } from './jsonl.js';
import { STREAMED_HEADER_SIZE, npyHeader, unicodeNpy, type NpyDescr } from './npy.js';
import { RowSpill } from './row-spill.js';
import { writeToStream } from './stream.js';
import { ZipWriter, type OpenEntry } from './zip.js';

export interface RowBlock {
  /** [ids.length, dim] float32, row-major. */
  rows: Float32Array;
  ids: readonly RecordId[];
  tokenCounts: ArrayLike<number>;
  truncated: ArrayLike<boolean>;
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

function bytesOf(rows: Float32Array): Uint8Array {
  return new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
}

/** .npy: a float32 [rows, dim] matrix; the header's row count is filled in at the end. */
class NpySink extends FileSink {
  private rows = 0;
  private position = STREAMED_HEADER_SIZE;

  constructor(
    file: AtomicFile,
    private readonly dim: number,
  ) {
    super(file);
  }

  async write(block: RowBlock): Promise<void> {
    const bytes = bytesOf(block.rows);
    await this.file.writeAt(bytes, this.position);
    this.position += bytes.length;
    this.rows += block.ids.length;
  }

  protected async seal(): Promise<void> {
    await this.file.writeAt(npyHeader('<f4', [this.rows, this.dim], STREAMED_HEADER_SIZE), 0);
  }
}

/**
 * .npz: `embeddings` streams into the archive as it is computed; `ids`, `token_counts` and
 * `truncated` wait in a scratch file (RowSpill) and follow it at the end; `meta` is a 0-d
 * string of JSON. Memory stays flat however many rows pass through.
 */
class NpzSink extends FileSink {
  private rows = 0;

  private constructor(
    file: AtomicFile,
    private readonly dim: number,
    private readonly zip: ZipWriter,
    private readonly embeddings: OpenEntry,
    private readonly spill: RowSpill,
  ) {
    super(file);
  }

  static async create(file: AtomicFile, dim: number, forceZip64: boolean): Promise<NpzSink> {
    const zip = new ZipWriter(file, forceZip64);
    const embeddings = await zip.begin('embeddings.npy', STREAMED_HEADER_SIZE);
    return new NpzSink(file, dim, zip, embeddings, new RowSpill(await file.scratch()));
  }

  async write(block: RowBlock): Promise<void> {
    await this.embeddings.write(bytesOf(block.rows));
    await this.spill.append(block.ids, block.tokenCounts, block.truncated);
    this.rows += block.ids.length;
  }

  private async addColumn(name: 'ids' | 'token_counts' | 'truncated', descr: NpyDescr): Promise<void> {
    const header = npyHeader(descr, [this.rows]);
    const entry = await this.zip.begin(`${name}.npy`, header.length);
    await this.spill.column(name, (chunk) => entry.write(chunk));
    await entry.finish(header);
  }

  protected async seal(meta: Record<string, unknown>): Promise<void> {
    await this.embeddings.finish(npyHeader('<f4', [this.rows, this.dim], STREAMED_HEADER_SIZE));
    await this.addColumn('ids', `<U${this.spill.idWidth}`);
    await this.addColumn('token_counts', '<i4');
    await this.addColumn('truncated', '|b1');
    await this.zip.add('meta.npy', unicodeNpy([JSON.stringify(meta)], []));
    await this.zip.close();
  }

  protected override async release(): Promise<void> {
    await this.spill.discard();
  }
}

/** JSON Lines in a file: one object per row. */
class JsonlFileSink extends FileSink {
  private position = 0;
  constructor(
    file: AtomicFile,
    private readonly dim: number,
  ) {
    super(file);
  }
  async write(block: RowBlock): Promise<void> {
    const bytes = Buffer.from(jsonLines(block, this.dim));
    await this.file.writeAt(bytes, this.position);
    this.position += bytes.length;
  }
  protected async seal(): Promise<void> {}
}

/** JSON Lines on a stream (stdout): each block counts as written once the stream has taken it. */
class StreamSink implements RowSink {
  constructor(
    private readonly stream: Writable,
    private readonly dim: number,
  ) {}
  write(block: RowBlock): Promise<void> {
    return writeToStream(this.stream, jsonLines(block, this.dim));
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
  /** The sink for rows of `dim` floats. */
  open(dim: number): Promise<RowSink>;
  /** Removes the temp file when the run fails before or after open(). */
  discard(): Promise<void>;
}

/** Creates the temp file up front, so a bad -o fails before any model is loaded. */
export async function prepareOutput(target: SinkTarget): Promise<PreparedOutput> {
  if (target.path === '-') {
    return { open: async (dim) => new StreamSink(target.stdout, dim), discard: async () => {} };
  }
  const file = await AtomicFile.create(target.path);
  return {
    async open(dim) {
      switch (target.format) {
        case 'npy':
          return new NpySink(file, dim);
        case 'npz':
          return NpzSink.create(file, dim, target.forceZip64 ?? false);
        case 'jsonl':
          return new JsonlFileSink(file, dim);
      }
    },
    discard: () => file.discard(),
  };
}
