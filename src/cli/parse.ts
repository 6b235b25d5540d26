// argv -> one validated, frozen options object per command. Pure: no I/O beyond what `env`
// and `stdinIsTTY` tell it, so the whole flag surface is testable as a table.
import { Command, CommanderError, Option } from 'commander';
import { UsageError } from '../errors.js';
import type { ExtractOptions } from '../extract.js';
import { formatOf, INPUT_FORMATS, type InputFormat } from '../input/records.js';
import { DTYPES, type Dtype } from '../model/dtypes.js';
import type { DeviceChoice } from '../model/session.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_TOKENS, DEFAULT_MODEL, DEFAULT_WINDOW, DEVICES, resolveEmbedderSettings, type EmbedderOptions, type EmbedderSettings } from '../options.js';
import { formatFromPath } from '../output/sinks.js';
import { POOLINGS, type Pooling } from '../pipeline/pooling.js';
import { VERSION } from '../version.js';

export interface OutputSettings {
  quiet: boolean;
  verbose: boolean;
}

export type ParsedCommand =
  | { command: 'extract'; options: ExtractOptions; output: OutputSettings }
  | { command: 'info'; embedder: EmbedderSettings; json: boolean; output: OutputSettings }
  | { command: 'exit'; code: number };

export interface ParseContext {
  env: Readonly<Record<string, string | undefined>>;
  stdinIsTTY: boolean;
  /** Where commander writes help, version and its own errors. */
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
}

function integer(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
    return Number(value);
  };
}

const modelOptions = (cmd: Command) =>
  cmd
    .addOption(new Option('-m, --model <dir|hub-id>', `model folder or hub id (env ALBERT_EMBED_MODEL; default ${DEFAULT_MODEL})`))
    .addOption(new Option('--dtype <dtype>', 'which ONNX weight file to load').choices(DTYPES).default('fp32'))
    .addOption(new Option('--cache-dir <dir>', 'where hub downloads are cached (env ALBERT_EMBED_CACHE; default ~/.cache/albert-embed)'))
    .addOption(new Option('--revision <rev>', 'hub branch, tag or commit').default('main'))
    .addOption(new Option('--offline', 'never use the network; hub ids must already be cached (also HF_HUB_OFFLINE=1)'))
    .addOption(new Option('--device <device>', 'cpu, cuda, or auto (CUDA when it loads, else CPU)').choices(DEVICES).default('cpu'))
    .addOption(new Option('--threads <n>', 'onnxruntime intra-op threads (default: os.availableParallelism())').argParser(integer('--threads')))
    .addOption(new Option('-q, --quiet', 'no progress and no summary on stderr'))
    .addOption(new Option('--verbose', 'stack traces and onnxruntime details on errors'));

function buildProgram(ctx: ParseContext, onParsed: (result: ParsedCommand) => void): Command {
  const program = new Command('albert-embed')
    .description('ALBERT sentence embeddings from text files or stdin, written as .npy, .npz or JSON Lines')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: ctx.writeOut,
      writeErr: ctx.writeErr,
      outputError: (text, write) => write(`albert-embed: ${text.replace(/^error: /, '').trimEnd()}\n`),
    });

  const extract = modelOptions(
    program
      .command('extract')
      .description('embed every record of the inputs, one output row per record, in input order')
      .argument('[files...]', 'text files (one record per line) or .jsonl files; - or nothing reads stdin')
      .requiredOption('-o, --output <path>', 'output: X.npy, X.npz, X.jsonl, or - for JSON Lines on stdout')
      .addOption(new Option('--input-format <format>', 'auto: .jsonl/.ndjson are JSON Lines, everything else text').choices(INPUT_FORMATS).default('auto'))
      .option('--text-field <name>', 'JSON Lines field holding the text', 'text')
      .option('--id-field <name>', 'JSON Lines field holding the record id (default: the record number from 0)'),
  )
    .addOption(new Option('--max-length <n>', 'tokens per text incl. [CLS]/[SEP] (default: the model limit); longer texts are truncated').argParser(integer('--max-length')))
    .addOption(new Option('--pooling <mode>', 'mean and max over real tokens, or the [CLS] vector').choices(POOLINGS).default('mean'))
    .addOption(new Option('--normalize', 'L2-normalize every row'))
    .addOption(new Option('--batch-size <n>', 'most texts per forward pass').argParser(integer('--batch-size')).default(DEFAULT_BATCH_SIZE))
    .addOption(
      new Option('--max-batch-tokens <n>', `most padded tokens per forward pass (default: ${DEFAULT_MAX_BATCH_TOKENS.cpu} on CPU, ${DEFAULT_MAX_BATCH_TOKENS.cuda} on CUDA)`)
        .argParser(integer('--max-batch-tokens')),
    );

  extract.action((files: string[], raw: Record<string, unknown>) => {
    const inputs = files.length > 0 ? files : ['-'];
    if (files.length === 0 && ctx.stdinIsTTY) {
      throw new UsageError('no input: pass FILE arguments or pipe text into stdin', 'for example: albert-embed extract texts.txt -o embeddings.npz');
    }
    if (inputs.filter((f) => f === '-').length > 1) throw new UsageError('stdin (-) can be read only once');
    const inputFormat = raw.inputFormat as InputFormat;
    if (raw.idField !== undefined && !inputs.some((f) => formatOf(f, inputFormat) === 'jsonl')) {
      throw new UsageError(`--id-field ${raw.idField} needs JSON Lines input, but ${inputs.join(', ')} is read as text`, 'name .jsonl files, or pass --input-format jsonl');
    }
    const output = raw.output as string;
    const outputFormat = formatFromPath(output);
    if (!outputFormat) {
      throw new UsageError(`-o ${output}: unknown output format`, 'end the path in .npy, .npz or .jsonl, or pass - for JSON Lines on stdout');
    }
    const options: ExtractOptions = {
      embedder: resolveEmbedderSettings(embedderOptions(raw), ctx.env),
      inputs,
      inputFormat,
      textField: raw.textField as string,
      idField: raw.idField as string | undefined,
      output,
      outputFormat,
      windowSize: DEFAULT_WINDOW,
    };
    onParsed({ command: 'extract', options: deepFreeze(options), output: outputSettings(raw) });
  });

  modelOptions(program.command('info').description('describe a model: files, dtypes, dimensions, tokenizer, graph inputs and outputs'))
    .option('--json', 'machine-readable output')
    .action((raw: Record<string, unknown>) => {
      onParsed({
        command: 'info',
        embedder: deepFreeze(resolveEmbedderSettings(embedderOptions(raw), ctx.env)),
        json: Boolean(raw.json),
        output: outputSettings(raw),
      });
    });
  return program;
}

function embedderOptions(raw: Record<string, unknown>): EmbedderOptions {
  return {
    model: raw.model as string | undefined,
    dtype: raw.dtype as Dtype,
    device: raw.device as DeviceChoice,
    threads: raw.threads as number | undefined,
    cacheDir: raw.cacheDir as string | undefined,
    revision: raw.revision as string,
    offline: raw.offline ? true : undefined,
    maxLength: raw.maxLength as number | undefined,
    pooling: raw.pooling as Pooling | undefined,
    normalize: raw.normalize ? true : undefined,
    batchSize: raw.batchSize as number | undefined,
    maxBatchTokens: raw.maxBatchTokens as number | undefined,
  };
}

function outputSettings(raw: Record<string, unknown>): OutputSettings {
  return { quiet: Boolean(raw.quiet), verbose: Boolean(raw.verbose) };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Parses argv (without the node and script paths). Throws UsageError for bad flags. */
export function parseCommandLine(argv: readonly string[], ctx: ParseContext): ParsedCommand {
  let parsed: ParsedCommand | undefined;
  const program = buildProgram(ctx, (result) => {
    parsed = result;
  });
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return { command: 'exit', code: 2 };
  }
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version exit 0; every other commander error is a usage error it already printed.
      return { command: 'exit', code: err.exitCode === 0 ? 0 : 2 };
    }
    throw err;
  }
  if (!parsed) return { command: 'exit', code: 2 };
  return parsed;
}
