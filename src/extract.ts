// The extract job: records in, pooled rows out, in input order, in bounded memory.
// Each record is tokenized as it is read (its text is dropped right after); records gather into
// windows, and each window is encoded in length-sorted batches and written before the next one.
import { existsSync, fstatSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { QUANTIZATION_FILE } from './convert/quantize-folder.js';
import { openEmbedder, type Embedder } from './embedder.js';
import type { BatchDone } from './pipeline/encoder.js';
import { UsageError } from './errors.js';
import { sha256File } from './hash.js';
import { checkInputs, readRecords, totalBytes } from './input/records.js';
import type { RecordId } from './input/record-id.js';
import { collectGarbage } from './memory.js';
import type { Device } from './model/devices.js';
import { readJson } from './model/folder.js';
import { resolveExtractSettings, type ExtractOptions, type ExtractSettings, type Naming } from './options.js';
import { finalTarget } from './output/atomic-file.js';
import { prepareOutput, type RowSink } from './output/sinks.js';
import { streamFd } from './output/stream.js';
import type { Prepared } from './pipeline/record-encoder.js';
import { textBudget } from './pipeline/tokenize.js';
import { VERSION } from './version.js';

export interface ExtractStats {
  rows: number;
  tokens: number;
  truncated: number;
  /** Token positions the graph computed, padding included. */
  paddedTokens: number;
  seconds: number;
  /** Share of the input bytes read so far; undefined when reading stdin. */
  fraction?: number;
}

export interface ExtractSummary extends ExtractStats {
  output: string;
  dim: number;
  maxLength: number;
  device: Device;
}

export interface ExtractIo {
  stdin: Readable;
  stdout: Writable;
  notice: (message: string) => void;
  onProgress?: (stats: ExtractStats) => void;
}

/** Windows between full garbage collections (see memory.ts). */
const GC_EVERY_WINDOWS = 4;
/**
 * Longest stretch of synchronous tokenization between returns to the event loop: signal
 * handlers run only there, and SIGINT/SIGTERM/SIGHUP must end a run promptly.
 */
const YIELD_EVERY_MS = 50;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One window of prepared records waiting to be encoded. */
interface Window {
  items: Prepared[];
  ids: RecordId[];
  /** `file:line` of each record, for messages about it. */
  places: string[];
  bytesEnd: number;
}

async function describeRun(embedder: Embedder, summary: ExtractSummary): Promise<Record<string, unknown>> {
  const { files } = embedder.loaded;
  const hashed: Record<string, string> = {};
  for (const [name, path] of [['config.json', files.config], ['tokenizer.json', files.tokenizer], [`onnx/${basename(files.onnx)}`, files.onnx]] as const) {
    hashed[name] = await sha256File(path);
  }
  const { settings } = embedder;
  return {
    tool: 'albert-embed',
    tool_version: VERSION,
    onnxruntime_version: embedder.description.onnxruntime,
    model: embedder.description.spec,
    model_source: embedder.description.source,
    ...(embedder.description.convertedFrom ? { converted_from: embedder.description.convertedFrom, converted_model: embedder.description.dir } : {}),
    files_sha256: hashed,
    dtype: files.dtype,
    device: summary.device,
    pooling: settings.pooling,
    normalize: settings.normalize,
    layers: settings.layers,
    overflow: settings.overflow,
    ...(settings.overflow === 'chunk' ? { chunk_overlap: settings.chunkOverlap } : {}),
    max_length: summary.maxLength,
    dim: summary.dim,
    rows: summary.rows,
    truncated_rows: summary.truncated,
    precision: settings.precision,
    ...quantizationOf(embedder),
  };
}

/** An int8 graph's record (what was quantized, its drift from fp32), when the folder has one. */
function quantizationOf(embedder: Embedder): { quantization?: Record<string, unknown> } {
  const { files } = embedder.loaded;
  const path = join(files.dir, QUANTIZATION_FILE);
  if (files.dtype !== 'q8' || !existsSync(path)) return {};
  return { quantization: readJson(path, 'quantization record') };
}

/** The file behind an -o path or a stream, as device and inode, when there is one. */
function identity(stat: { dev: number; ino: number } | undefined): string | undefined {
  return stat ? `${stat.dev}:${stat.ino}` : undefined;
}

function outputIdentity(settings: ExtractSettings, stdout: Writable): string | undefined {
  if (settings.output === '-') {
    const fd = streamFd(stdout);
    return fd === undefined ? undefined : identity(fstatSync(fd));
  }
  try {
    return identity(statSync(finalTarget(settings.output), { throwIfNoEntry: false }));
  } catch {
    // A folder that cannot be resolved: prepareOutput reports it.
    return undefined;
  }
}

/**
 * albert-embed never overwrites its input, nor reads its own output back: -o naming an input
 * file (through a symbolic link, a hard link or another spelling of its path), stdin redirected
 * from the output file, or stdout redirected onto an input, is refused before anything runs.
 */
function checkOutputIsNotInput(settings: ExtractSettings, io: ExtractIo, naming: Naming): void {
  const out = outputIdentity(settings, io.stdout);
  if (out === undefined) return;
  for (const input of settings.inputs) {
    const stdinFd = input === '-' ? streamFd(io.stdin) : undefined;
    if (input === '-' && stdinFd === undefined) continue;
    const stat = input === '-' ? fstatSync(stdinFd!) : statSync(input);
    // Only files can be the same: /dev/null as both stdin and stdout is no conflict.
    if (!stat.isFile() || identity(stat) !== out) continue;
    const flag = naming === 'cli' ? '-o' : 'output';
    const what = settings.output === '-' ? 'stdout is redirected onto' : `${flag} ${settings.output} is`;
    const inputName = input === '-' ? 'the file stdin is read from' : `the input file ${input}`;
    throw new UsageError(`${what} ${inputName}; albert-embed never overwrites its input or reads its own output`, `write the embeddings to another path, for example ${flag} embeddings.npz`);
  }
}

/** The extract job on resolved settings (the CLI's path); see extract() for the library's. */
export async function runExtract(settings: ExtractSettings, io: ExtractIo, naming: Naming = 'library'): Promise<ExtractSummary> {
  const started = performance.now();
  if (settings.output === '-' && !io.stdout) throw new UsageError("output '-' writes JSON Lines to io.stdout, and extract() was given none", 'pass { stdout } in the io argument, or an output path');
  if (settings.inputs.includes('-') && !io.stdin) throw new UsageError("input '-' reads io.stdin, and extract() was given none", 'pass { stdin } in the io argument, or input paths');
  checkInputs(settings.inputs);
  checkOutputIsNotInput(settings, io, naming);
  const output = await prepareOutput({ path: settings.output, format: settings.outputFormat, stdout: io.stdout });
  let embedder: Embedder | undefined;
  let sink: RowSink | undefined;
  try {
    embedder = await openEmbedder(settings.embedder, io.notice, naming);
    const e = embedder;
    const { pooling, overflow, precision } = settings.embedder;
    sink = await output.open({ dim: e.dim, precision, tokens: pooling === 'none', chunks: overflow === 'chunk' });
    const total = totalBytes(settings.inputs);
    const records = readRecords({
      files: settings.inputs,
      format: settings.inputFormat,
      textField: settings.textField,
      idField: settings.idField,
      textColumn: settings.textColumn,
      idColumn: settings.idColumn,
      stdin: io.stdin,
      // UTF-8 takes at most 3 bytes per UTF-16 code unit. Chunking, and refusing long texts,
      // need all of every line.
      maxTextBytes: overflow === 'truncate' ? 3 * textBudget(e.maxLength) : undefined,
    });
    // Rows written and truncated so far; token totals live in the encoder's counters.
    let written = 0;
    let truncatedRows = 0;
    let bytesDone = 0;
    const snapshot = (rows: number, fraction?: number): ExtractStats => {
      const tokenStats = e.tokenStats();
      const stats: ExtractStats = { rows, tokens: tokenStats.real, truncated: truncatedRows, paddedTokens: tokenStats.padded, seconds: (performance.now() - started) / 1000 };
      return fraction === undefined ? stats : { ...stats, fraction };
    };

    const flush = async (window: Window) => {
      const tokenCounts = window.items.map((item) => item.tokens);
      const windowTokens = tokenCounts.reduce((a, b) => a + b, 0);
      const windowBytes = window.bytesEnd - bytesDone;
      const windowCount = window.items.reduce((n, item) => n + item.windows.length, 0);
      let rowsDone = 0;
      let tokensDone = 0;
      const onBatch = (batch: BatchDone) => {
        rowsDone += batch.rows;
        tokensDone += batch.tokens;
        if (!io.onProgress) return;
        // Within a window, progress is interpolated by the share of its tokens already embedded;
        // rows are counted by the share of its text windows done.
        const share = windowTokens ? tokensDone / windowTokens : 1;
        const rows = Math.floor((window.items.length * rowsDone) / Math.max(1, windowCount));
        io.onProgress(snapshot(written + rows, total ? Math.min(1, (bytesDone + windowBytes * share) / total) : undefined));
      };
      const locate = (i: number) => window.places[i];
      const block = {
        ids: window.ids,
        tokenCounts,
        truncated: window.items.map((item) => item.truncated),
        chunks: window.items.map((item) => item.windows.length),
      };
      if (pooling === 'none') {
        const vectors = await e.embedTokens(window.items, onBatch, locate);
        await sink!.write({ ...block, tokens: { vectors, tokenIds: window.items.map((item) => item.windows[0].ids) } });
      } else {
        await sink!.write({ ...block, rows: await e.embedRows(window.items, onBatch, locate) });
      }
      const truncated = block.truncated;
      written += window.items.length;
      for (const t of truncated) if (t) truncatedRows++;
      bytesDone = window.bytesEnd;
    };

    let window: Window = { items: [], ids: [], places: [], bytesEnd: 0 };
    let windowCount = 0;
    let lastYield = performance.now();
    for await (const record of records) {
      window.items.push(e.prepare(record.text, record.cut, record.place));
      window.ids.push(record.id);
      window.places.push(record.place);
      window.bytesEnd = record.bytesEnd;
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (window.items.length >= settings.windowSize) {
        if (windowCount++ % GC_EVERY_WINDOWS === 0) collectGarbage();
        await flush(window);
        window = { items: [], ids: [], places: [], bytesEnd: 0 };
        lastYield = performance.now();
      }
    }
    if (window.items.length > 0) await flush(window);
    const summary: ExtractSummary = {
      ...snapshot(written),
      output: settings.output,
      dim: e.dim,
      maxLength: e.maxLength,
      device: e.description.device,
    };
    await sink.finish(await describeRun(e, summary));
    return summary;
  } catch (err) {
    await (sink ? sink.abort() : output.discard());
    throw err;
  } finally {
    await embedder?.close();
  }
}

/** Library entry point: embeds the inputs into `options.output`, validating options like the CLI. */
export async function extract(options: ExtractOptions, io: ExtractIo): Promise<ExtractSummary> {
  return runExtract(resolveExtractSettings(options), io, 'library');
}
