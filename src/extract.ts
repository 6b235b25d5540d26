// The extract job: records in, pooled rows out, in input order, in bounded memory.
// Each record is prepared (tokenized into its windows) as it is read and its text dropped right
// after; records gather into windows of the job, each embedded in length-sorted batches and
// written before the next one is read. With --shard, only the records of one shard are embedded;
// with a journal, every finished window is committed durably, and --resume continues from the
// last commit.
import { fstatSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { readQuantizationRecord } from './convert/quantize-folder.js';
import { openEmbedder, type Embedder } from './embedder.js';
import { AlbertEmbedError, extendHint, InputError, UsageError } from './errors.js';
import { sha256File } from './hash.js';
import { checkInputs, readRecords, totalBytes } from './input/records.js';
import type { RecordId } from './input/record-id.js';
import { removeDebris, stillRunning, thisProcess } from './jobs/debris.js';
import { lockOutput } from './jobs/lock.js';
import { InputHasher, prefixChanges, settingsChanges, settingsDigest } from './jobs/fingerprint.js';
import { inputChanges, inputIdentity, JOURNAL_VERSION, journalPath, readJournal, removeJournal, writeJournal, type Journal } from './jobs/journal.js';
import { collectGarbage } from './memory.js';
import type { Device } from './model/devices.js';
import { labelOf, resolveExtractSettings, type ExtractOptions, type ExtractSettings, type Naming } from './options.js';
import { finalTarget, setResumable } from './output/atomic-file.js';
import { prepareOutput, type RowSink, type SinkState } from './output/sinks.js';
import { entryEnd } from './output/zip.js';
import { streamFd } from './output/stream.js';
import type { BatchDone } from './pipeline/encoder.js';
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
  /** What the interrupted run this one resumed had done (included in the counts above). */
  resumed?: { rows: number; tokens: number; paddedTokens: number };
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

/** One window of prepared records waiting to be encoded. */
interface Window {
  items: Prepared[];
  ids: RecordId[];
  /** `file:line` of each record, for messages about it. */
  places: string[];
  /** Each record's number in the whole input. */
  records: number[];
  bytesEnd: number;
}

const emptyWindow = (): Window => ({ items: [], ids: [], places: [], records: [], bytesEnd: 0 });

/**
 * What decides a run's rows, as a record for the fingerprint, the journal and the .npz meta:
 * the model's files, the embedding settings, and how records are read. The shard and the thread
 * count are not in it (shards of one job, run on any machines, must agree on it).
 */
async function rowSettings(settings: ExtractSettings, embedder: Embedder): Promise<Record<string, unknown>> {
  const { files } = embedder.loaded;
  // Every file that decides a row: the tokenizer's class comes from tokenizer_config.json, and
  // the weights of a large graph live in its external data files beside it.
  const graphName = basename(files.onnx);
  const externalData = readdirSync(dirname(files.onnx)).filter((f) => f.startsWith(`${graphName}_data`)).sort();
  const hashed: Record<string, string> = {};
  for (const [name, path] of [
    ['config.json', files.config],
    ['tokenizer.json', files.tokenizer],
    ...(files.tokenizerConfig ? [['tokenizer_config.json', files.tokenizerConfig]] : []),
    [`onnx/${graphName}`, files.onnx],
    ...externalData.map((f) => [`onnx/${f}`, join(dirname(files.onnx), f)]),
  ]) {
    hashed[name] = await sha256File(path);
  }
  const e = settings.embedder;
  // A q8 row depends a little on its batch (one activation scale per batch), so its batches are
  // part of what decides it; fp32 rows do not depend on them.
  const batches = files.dtype === 'q8' ? { batch_size: e.batch.batchSize, max_batch_tokens: embedder.maxBatchTokens } : {};
  return {
    tool_version: VERSION,
    files_sha256: hashed,
    dtype: files.dtype,
    // CUDA and CPU kernels differ in the last bits: one file's rows come from one device kind.
    device: embedder.description.device,
    max_length: embedder.maxLength,
    pooling: e.pooling,
    layers: e.layers,
    normalize: e.normalize,
    overflow: e.overflow,
    chunk_overlap: e.overflow === 'chunk' ? e.chunkOverlap : undefined,
    precision: e.precision,
    input_format: settings.inputFormat,
    text_field: settings.textField,
    id_field: settings.idField,
    text_column: settings.textColumn,
    id_column: settings.idColumn,
    output_format: settings.outputFormat,
    // Windows decide the batches; an unchanged window is what makes a resumed run's rows the
    // uninterrupted run's, bit for bit.
    window: settings.windowSize,
    ...batches,
  };
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
    const flag = labelOf('output', naming);
    const what = settings.output === '-' ? 'stdout is redirected onto' : `${flag} ${settings.output} is`;
    const inputName = input === '-' ? 'the file stdin is read from' : `the input file ${input}`;
    throw new UsageError(`${what} ${inputName}; albert-embed never overwrites its input or reads its own output`, `write the embeddings to another path, for example ${flag} embeddings.npz`);
  }
}

/** The file -o names, links followed; undefined for stdout, or when it cannot be resolved (prepareOutput says why). */
function destinationOf(settings: ExtractSettings): string | undefined {
  if (settings.output === '-') return undefined;
  try {
    return finalTarget(settings.output);
  } catch {
    return undefined;
  }
}

/** Whether this run keeps a journal: file outputs from input files, unless --no-journal. */
function keepsJournal(settings: ExtractSettings): boolean {
  return settings.journal && settings.output !== '-' && !settings.inputs.includes('-');
}

/** The on-disk length a journal's sink state vouches for, per file it names. */
function committedLengths(sink: SinkState): Array<[string, number]> {
  if (sink.format !== 'npz') return [[sink.temp, sink.position]];
  return [[sink.temp, entryEnd(sink.entry)], [sink.spill.path, sink.spill.position], ...(sink.tokenIds ? [[sink.tokenIds.path, sink.tokenIds.length] as [string, number]] : [])];
}

/**
 * The interrupted run to continue (--resume), after checking it ran the same command on the same
 * input; whatever earlier runs left that is not continued is removed. Runs under the output's lock.
 */
async function pickUp(settings: ExtractSettings, destination: string, io: ExtractIo, naming: Naming): Promise<Journal | undefined> {
  const flag = labelOf('resume', naming);
  const journalFile = journalPath(destination);
  const journal = settings.resume && keepsJournal(settings) ? readJournal(journalFile) : undefined;
  const keep = new Set<string>();
  if (journal) {
    const s = journal.sink;
    if (journal.output !== destination) {
      throw new UsageError(`${flag}: the journal ${journalFile} belongs to ${journal.output}, not ${destination}`, 'rerun without --resume to start over');
    }
    if (s.format !== settings.outputFormat) {
      throw new UsageError(`${flag}: the interrupted run wrote ${s.format}, this one writes ${settings.outputFormat}`, 'rerun with the same -o, or without --resume to start over');
    }
    const shard = (x: { index: number; count: number } | null | undefined) => (x ? `${x.index}/${x.count}` : 'none');
    if (shard(journal.shard) !== shard(settings.shard)) {
      throw new UsageError(`${flag}: the interrupted run embedded shard ${shard(journal.shard)}, this one shard ${shard(settings.shard)}`, 'rerun with the same --shard, or without --resume to start over');
    }
    if (stillRunning(journal.owner)) {
      throw new UsageError(`${flag}: process ${journal.owner.pid} is still writing ${settings.output}`, 'wait for it to end, or stop it, then resume');
    }
    const identityChanges = inputChanges(journal, settings.inputs);
    // Hashed again only when nothing else changed: an edit in place that kept size and time.
    const changes = identityChanges.length > 0 ? identityChanges : await prefixChanges(settings.inputs, journal.inputPrefix);
    if (changes.length > 0) throw new UsageError(`${flag}: ${changes.join('; ')} since the interrupted run`, 'rerun without --resume to start over');
    for (const [path, length] of committedLengths(s)) {
      const size = statSync(path, { throwIfNoEntry: false })?.size;
      if (size === undefined) throw new UsageError(`${flag}: the interrupted run's file ${path} is gone`, 'rerun without --resume to start over');
      if (size < length) throw new UsageError(`${flag}: the interrupted run's file ${path} holds ${size} bytes, fewer than the ${length} its journal committed`, 'rerun without --resume to start over');
      keep.add(path);
    }
  } else {
    if (settings.resume) io.notice(`${flag}: no interrupted run of ${settings.output} to continue; starting from the first record`);
    removeJournal(journalFile);
  }
  removeDebris(destination, keep);
  return journal;
}

/** The extract job on resolved settings (the CLI's path); see extract() for the library's. */
export async function runExtract(settings: ExtractSettings, io: ExtractIo, naming: Naming = 'library'): Promise<ExtractSummary> {
  const started = performance.now();
  if (settings.output === '-' && !io.stdout) throw new UsageError("output '-' writes JSON Lines to io.stdout, and extract() was given none", 'pass { stdout } in the io argument, or an output path');
  if (settings.inputs.includes('-') && !io.stdin) throw new UsageError("input '-' reads io.stdin, and extract() was given none", 'pass { stdin } in the io argument, or input paths');
  checkInputs(settings.inputs);
  checkOutputIsNotInput(settings, io, naming);
  const destination = destinationOf(settings);
  const release = destination ? lockOutput(destination, settings.output, labelOf('output', naming)) : undefined;
  try {
    const resumed = destination ? await pickUp(settings, destination, io, naming) : undefined;
    return await embedInto(settings, io, naming, started, destination, resumed);
  } finally {
    release?.();
  }
}

/** Errors a rerun of the same command may not meet again: worth keeping committed windows for. */
const mayPass = (err: unknown) => !(err instanceof InputError || err instanceof UsageError);

async function embedInto(settings: ExtractSettings, io: ExtractIo, naming: Naming, started: number, destination: string | undefined, resumed: Journal | undefined): Promise<ExtractSummary> {
  const flag = labelOf('resume', naming);
  const journalFile = destination && keepsJournal(settings) ? journalPath(destination) : undefined;
  const target = { path: settings.output, format: settings.outputFormat, stdout: io.stdout };
  // A resumed run reopens (and cuts back) the interrupted run's files only once the settings are
  // known to match: a refused resume touches nothing.
  let output = resumed ? undefined : await prepareOutput(target);
  if (resumed) setResumable(`the ${resumed.rows.toLocaleString('en-US')} rows done are kept: run the same command with --resume to continue`);
  let embedder: Embedder | undefined;
  let sink: RowSink | undefined;
  // Rows the journal holds durably (undefined: nothing committed yet), and whether the journal
  // was dropped for the final rename (a failure after it leaves nothing to resume).
  let committedRows = resumed?.rows;
  let journalDropped = false;
  try {
    embedder = await openEmbedder(settings.embedder, io.notice, naming);
    const e = embedder;
    const record = await rowSettings(settings, e);
    const { files } = e.loaded;
    const quantization = files.dtype === 'q8' ? readQuantizationRecord(files.dir, (record.files_sha256 as Record<string, string>)[`onnx/${basename(files.onnx)}`]) : undefined;
    const digest = settingsDigest(record);
    if (resumed && resumed.settingsSha256 !== digest) {
      throw new UsageError(`${flag}: the settings changed since the interrupted run (${settingsChanges(resumed.settings, record).join('; ')})`, 'rerun with the same flags and model, or without --resume to start over');
    }
    output ??= await prepareOutput(target, resumed!.sink);
    const { pooling, overflow, precision } = settings.embedder;
    const { shard } = settings;
    sink = await output.open({ dim: e.dim, precision, tokens: pooling === 'none', chunks: overflow === 'chunk', recordNumbers: shard !== undefined });
    const total = totalBytes(settings.inputs);
    // The input's fingerprint goes into the .npz meta and the journal only: other runs need not
    // read a Parquet file a second time for it.
    const hasher = settings.outputFormat === 'npz' || journalFile ? new InputHasher() : undefined;
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
      hasher,
    });
    // Rows written and truncated so far, with what a resumed run had done; token totals live in
    // the encoder's counters.
    let written = resumed?.rows ?? 0;
    let truncatedRows = resumed?.truncated ?? 0;
    const carried = { tokens: resumed?.tokens ?? 0, padded: resumed?.padded ?? 0 };
    let bytesDone = 0;
    let recordsRead = 0;
    const snapshot = (rows: number, fraction?: number): ExtractStats => {
      const tokenStats = e.tokenStats();
      const stats: ExtractStats = {
        rows,
        tokens: carried.tokens + tokenStats.real,
        truncated: truncatedRows,
        paddedTokens: carried.padded + tokenStats.padded,
        seconds: (performance.now() - started) / 1000,
        ...(resumed ? { resumed: { rows: resumed.rows, tokens: resumed.tokens, paddedTokens: resumed.padded } } : {}),
      };
      return fraction === undefined ? stats : { ...stats, fraction };
    };

    // The inputs as they were when this run started reading them, for a later --resume to compare.
    const identities = journalFile ? settings.inputs.map(inputIdentity) : [];
    const owner = thisProcess();
    const commit = async () => {
      if (!journalFile) return;
      const stats = snapshot(written);
      writeJournal(journalFile, {
        version: JOURNAL_VERSION,
        owner,
        output: destination!,
        shard: shard ?? null,
        inputPrefix: hasher!.prefix(),
        settings: record,
        settingsSha256: digest,
        inputs: identities,
        records: recordsRead,
        rows: written,
        truncated: truncatedRows,
        tokens: stats.tokens,
        padded: stats.paddedTokens,
        sink: await sink!.checkpoint!(),
      }, settings.output);
      committedRows = written;
      setResumable(`the ${written.toLocaleString('en-US')} rows done are kept: run the same command with --resume to continue`);
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
        records: window.records,
      };
      if (pooling === 'none') {
        const vectors = await e.embedTokens(window.items, onBatch, locate);
        await sink!.write({ ...block, tokens: { vectors, tokenIds: window.items.map((item) => item.windows[0].ids) } });
      } else {
        await sink!.write({ ...block, rows: await e.embedRows(window.items, onBatch, locate) });
      }
      written += window.items.length;
      for (const t of block.truncated) if (t) truncatedRows++;
      bytesDone = window.bytesEnd;
      await commit();
    };

    let window = emptyWindow();
    let windowCount = 0;
    let lastYield = performance.now();
    for await (const r of records) {
      const number = recordsRead++;
      // Another shard's record, or one the interrupted run already embedded: read, not embedded.
      if ((shard && number % shard.count !== shard.index) || number < (resumed?.records ?? 0)) continue;
      window.items.push(e.prepare(r.text, r.cut, r.place));
      window.ids.push(r.id);
      window.places.push(r.place);
      window.records.push(number);
      window.bytesEnd = r.bytesEnd;
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (window.items.length >= settings.windowSize) {
        if (windowCount++ % GC_EVERY_WINDOWS === 0) collectGarbage();
        await flush(window);
        window = emptyWindow();
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
    const meta = {
      tool: 'albert-embed',
      tool_version: VERSION,
      onnxruntime_version: e.description.onnxruntime,
      model: e.description.spec,
      model_source: e.description.source,
      ...(e.description.convertedFrom ? { converted_from: e.description.convertedFrom, converted_model: e.description.dir } : {}),
      ...record,
      ...(quantization ? { quantization } : {}),
      device: summary.device,
      dim: summary.dim,
      rows: summary.rows,
      truncated_rows: summary.truncated,
      records_total: recordsRead,
      input_sha256: hasher?.digest(),
      settings_sha256: digest,
      ...(shard ? { shard: { index: shard.index, count: shard.count } } : {}),
    };
    const dropJournal = () => {
      if (journalFile) removeJournal(journalFile);
      journalDropped = true;
    };
    await sink.finish(meta, { beforeRename: dropJournal, keepOnFailure: journalFile !== undefined && committedRows !== undefined });
    setResumable(undefined);
    return summary;
  } catch (err) {
    // A failure after a durable commit keeps what the journal committed, as a crash would: an hour
    // of rows is not thrown away over a full disk, even one that fills while the file is sealed.
    // Not so where the rerun must change the input or the command (and a resume would be
    // refused), except in a resumed run: whatever refuses it leaves its files as they were.
    const keep = journalFile !== undefined && committedRows !== undefined && !journalDropped && (resumed !== undefined || mayPass(err));
    if (keep) {
      await (sink ? sink.keep!() : output?.keep());
      if (err instanceof AlbertEmbedError && mayPass(err)) {
        extendHint(err, `the ${committedRows!.toLocaleString('en-US')} rows committed before are kept: rerun with --resume to continue, or without it to start over`);
      }
    } else {
      await (sink ? sink.abort() : output?.discard());
      if (journalFile && !resumed) removeJournal(journalFile);
    }
    setResumable(undefined);
    throw err;
  } finally {
    await embedder?.close();
  }
}

/** Library entry point: embeds the inputs into `options.output`, validating options like the CLI. */
export async function extract(options: ExtractOptions, io: ExtractIo): Promise<ExtractSummary> {
  return runExtract(resolveExtractSettings(options), io, 'library');
}
