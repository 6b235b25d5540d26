// The extract job: records in, pooled rows out, in input order, in bounded memory.
// Records are taken a window at a time; each window is tokenized, encoded in length-sorted
// batches, and written before the next window is read.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { openEmbedder, type Embedder } from './embedder.js';
import { checkInputs, readRecords, totalBytes, type InputFormat, type TextRecord } from './input/records.js';
import type { EmbedderSettings } from './options.js';
import { collectGarbage } from './memory.js';
import { prepareOutput, type OutputFormat, type RowSink } from './output/sinks.js';
import { VERSION } from './version.js';

export interface ExtractOptions {
  embedder: EmbedderSettings;
  inputs: readonly string[];
  inputFormat: InputFormat;
  textField: string;
  idField?: string;
  output: string;
  outputFormat: OutputFormat;
  /** Records tokenized and length-sorted together; bounds memory. */
  windowSize: number;
}

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
  device: 'cpu' | 'cuda';
}

export interface ExtractIo {
  stdin: Readable;
  stdout: Writable;
  notice: (message: string) => void;
  onProgress?: (stats: ExtractStats) => void;
}

/** Windows between full garbage collections (see memory.ts). */
const GC_EVERY_WINDOWS = 4;

async function* windows(records: AsyncIterable<TextRecord>, size: number): AsyncGenerator<TextRecord[]> {
  let window: TextRecord[] = [];
  for await (const record of records) {
    window.push(record);
    if (window.length >= size) {
      yield window;
      window = [];
    }
  }
  if (window.length > 0) yield window;
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

export async function extract(options: ExtractOptions, io: ExtractIo): Promise<ExtractSummary> {
  const started = performance.now();
  checkInputs(options.inputs);
  const output = await prepareOutput({ path: options.output, format: options.outputFormat, stdout: io.stdout });
  let embedder: Embedder | undefined;
  let sink: RowSink | undefined;
  try {
    embedder = await openEmbedder(options.embedder, io.notice);
    sink = await output.open(embedder.dim);
    const total = totalBytes(options.inputs);
    const records = readRecords({
      files: options.inputs,
      format: options.inputFormat,
      textField: options.textField,
      idField: options.idField,
      stdin: io.stdin,
    });
    // Rows written and truncated so far; token totals live in the encoder's counters.
    let written = 0;
    let truncatedRows = 0;
    const snapshot = (rows: number, fraction?: number): ExtractStats => {
      const tokenStats = embedder!.tokenStats();
      const stats: ExtractStats = { rows, tokens: tokenStats.real, truncated: truncatedRows, paddedTokens: tokenStats.padded, seconds: (performance.now() - started) / 1000 };
      return fraction === undefined ? stats : { ...stats, fraction };
    };
    let windowCount = 0;
    let bytesDone = 0;
    for await (const window of windows(records, options.windowSize)) {
      if (windowCount++ % GC_EVERY_WINDOWS === 0) collectGarbage();
      const items = window.map((r) => embedder!.tokenize(r.text));
      const tokenCounts = items.map((item) => item.ids.length);
      const windowTokens = tokenCounts.reduce((a, b) => a + b, 0);
      const windowBytes = window[window.length - 1].bytesEnd - bytesDone;
      let rowsDone = 0;
      let tokensDone = 0;
      const rows = await embedder.encode(items, undefined, (batch) => {
        rowsDone += batch.rows;
        tokensDone += batch.tokens;
        if (!io.onProgress) return;
        // Within a window, progress is interpolated by the share of its tokens already embedded.
        const share = windowTokens ? tokensDone / windowTokens : 1;
        io.onProgress(snapshot(written + rowsDone, total ? Math.min(1, (bytesDone + windowBytes * share) / total) : undefined));
      });
      const truncated = items.map((item) => item.truncated);
      await sink.write({ rows, ids: window.map((r) => r.id), tokenCounts, truncated });
      written += window.length;
      for (const t of truncated) if (t) truncatedRows++;
      bytesDone += windowBytes;
    }
    const summary: ExtractSummary = {
      ...snapshot(written),
      output: options.output,
      dim: embedder.dim,
      maxLength: embedder.maxLength,
      device: embedder.description.device,
    };
    await sink.finish(await describeRun(embedder, summary));
    return summary;
  } catch (err) {
    await (sink ? sink.abort() : output.discard());
    throw err;
  } finally {
    await embedder?.close();
  }
}
