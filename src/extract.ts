// The extract job: records in, pooled rows out, in input order, in bounded memory.
// Each record is tokenized as it is read (its text is dropped right after); records gather into
// windows, and each window is encoded in length-sorted batches and written before the next one.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { openEmbedder, type Embedder } from './embedder.js';
import { UsageError } from './errors.js';
import { checkInputs, readRecords, totalBytes } from './input/records.js';
import type { RecordId } from './input/record-id.js';
import { collectGarbage } from './memory.js';
import type { Device } from './model/devices.js';
import { resolveExtractSettings, type ExtractOptions, type ExtractSettings, type Naming } from './options.js';
import { finalTarget } from './output/atomic-file.js';
import { prepareOutput, type RowSink } from './output/sinks.js';
import type { Tokenized } from './pipeline/tokenize.js';
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

/** One window of tokenized records waiting to be encoded. */
interface Window {
  items: Tokenized[];
  ids: RecordId[];
  /** `file:line` of each record, for messages about it. */
  places: string[];
  bytesEnd: number;
}

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

async function describeRun(embedder: Embedder, summary: ExtractSummary): Promise<Record<string, unknown>> {
  const { files } = embedder.loaded;
  const hashed: Record<string, string> = {};
  for (const [name, path] of [['config.json', files.config], ['tokenizer.json', files.tokenizer], [`onnx/${basename(files.onnx)}`, files.onnx]] as const) {
    hashed[name] = await sha256(path);
  }
  const { settings } = embedder;
  return {
    tool: 'albert-embed',
    tool_version: VERSION,
    onnxruntime_version: embedder.description.onnxruntime,
    model: embedder.description.spec,
    model_source: embedder.description.source,
    files_sha256: hashed,
    dtype: files.dtype,
    device: summary.device,
    pooling: settings.pooling,
    normalize: settings.normalize,
    max_length: summary.maxLength,
    dim: summary.dim,
    rows: summary.rows,
    truncated_rows: summary.truncated,
    embeddings_dtype: 'float32',
  };
}

/**
 * albert-embed never overwrites its input: -o naming an input file, through a symbolic link, a
 * hard link or another spelling of its path, is refused before anything runs.
 */
function checkOutputIsNotInput(settings: ExtractSettings, naming: Naming): void {
  if (settings.output === '-') return;
  const out = statSync(finalTarget(settings.output), { throwIfNoEntry: false });
  if (!out) return;
  for (const input of settings.inputs) {
    if (input === '-') continue;
    const stat = statSync(input);
    if (stat.dev === out.dev && stat.ino === out.ino) {
      const flag = naming === 'cli' ? '-o' : 'output';
      throw new UsageError(`${flag} ${settings.output} is the input file ${input}; albert-embed never overwrites its input`, `write the embeddings to another path, for example ${flag} embeddings.npz`);
    }
  }
}

/** The extract job on resolved settings (the CLI's path); see extract() for the library's. */
export async function runExtract(settings: ExtractSettings, io: ExtractIo, naming: Naming = 'library'): Promise<ExtractSummary> {
  const started = performance.now();
  checkInputs(settings.inputs);
  checkOutputIsNotInput(settings, naming);
  const output = await prepareOutput({ path: settings.output, format: settings.outputFormat, stdout: io.stdout });
  let embedder: Embedder | undefined;
  let sink: RowSink | undefined;
  try {
    embedder = await openEmbedder(settings.embedder, io.notice, naming);
    const e = embedder;
    sink = await output.open(e.dim);
    const total = totalBytes(settings.inputs);
    const records = readRecords({
      files: settings.inputs,
      format: settings.inputFormat,
      textField: settings.textField,
      idField: settings.idField,
      stdin: io.stdin,
      // UTF-8 takes at most 3 bytes per UTF-16 code unit.
      maxTextBytes: 3 * textBudget(e.maxLength),
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
      const tokenCounts = window.items.map((item) => item.ids.length);
      const windowTokens = tokenCounts.reduce((a, b) => a + b, 0);
      const windowBytes = window.bytesEnd - bytesDone;
      let rowsDone = 0;
      let tokensDone = 0;
      const rows = await e.encode(
        window.items,
        undefined,
        (batch) => {
          rowsDone += batch.rows;
          tokensDone += batch.tokens;
          if (!io.onProgress) return;
          // Within a window, progress is interpolated by the share of its tokens already embedded.
          const share = windowTokens ? tokensDone / windowTokens : 1;
          io.onProgress(snapshot(written + rowsDone, total ? Math.min(1, (bytesDone + windowBytes * share) / total) : undefined));
        },
        (i) => window.places[i],
      );
      const truncated = window.items.map((item) => item.truncated);
      await sink!.write({ rows, ids: window.ids, tokenCounts, truncated });
      written += window.items.length;
      for (const t of truncated) if (t) truncatedRows++;
      bytesDone = window.bytesEnd;
    };

    let window: Window = { items: [], ids: [], places: [], bytesEnd: 0 };
    let windowCount = 0;
    let lastYield = performance.now();
    for await (const record of records) {
      window.items.push(e.tokenize(record.text, record.cut));
      window.ids.push(record.id);
      window.places.push(`${record.source}:${record.line}`);
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
