// argv -> one validated, frozen settings object per command. The flags are built from the option
// table in options.ts and their values resolved by the same functions the library uses. Pure: no
// I/O beyond what `env` and `stdinIsTTY` tell it, so the whole flag surface is testable as a table.
import { Command, CommanderError, Option } from 'commander';
import { UsageError } from '../errors.js';
import { formatFromPath } from '../output/formats.js';
import {
  OPTIONS,
  resolveConvertSettings,
  resolveEmbedderSettings,
  resolveExtractSettings,
  resolveQuantizeSettings,
  type ConvertOptions,
  type ConvertSettings,
  type EmbedderSettings,
  type ExtractOptions,
  type ExtractSettings,
  type OptionDef,
  type OptionName,
  type QuantizeOptions,
  type QuantizeSettings,
} from '../options.js';
import { VERSION } from '../version.js';

export interface OutputSettings {
  quiet: boolean;
  verbose: boolean;
}

export type ParsedCommand =
  | { command: 'extract'; settings: ExtractSettings; output: OutputSettings }
  | { command: 'info'; embedder: EmbedderSettings; json: boolean; output: OutputSettings }
  | { command: 'convert'; settings: ConvertSettings; output: OutputSettings }
  | { command: 'merge'; parts: string[]; target: string; output: OutputSettings }
  | { command: 'quantize'; settings: QuantizeSettings; output: OutputSettings }
  | { command: 'exit'; code: number };

export interface ParseContext {
  env: Readonly<Record<string, string | undefined>>;
  stdinIsTTY: boolean;
  /** Where commander writes help, version and its own errors. */
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
}

/** A commander flag from the option table: help, choices, shown default and text parser. */
function flag(name: OptionName, required = false): Option {
  const def: OptionDef<unknown> = OPTIONS[name];
  const option = new Option(def.flags, def.help);
  if (def.choices) option.choices(def.choices);
  if (def.default !== undefined && typeof def.default !== 'boolean') option.default(def.default);
  if (def.fromText) option.argParser((text: string) => def.fromText!(text));
  if (required) option.makeOptionMandatory();
  return option;
}

const MODEL_FLAGS = ['model', 'dtype', 'cacheDir', 'revision', 'offline', 'device', 'threads'] as const satisfies readonly OptionName[];
const EXTRACT_FLAGS = [
  'output',
  'inputFormat',
  'textField',
  'idField',
  'textColumn',
  'idColumn',
  ...MODEL_FLAGS,
  'maxLength',
  'overflow',
  'chunkOverlap',
  'pooling',
  'layers',
  'normalize',
  'precision',
  'batchSize',
  'maxBatchTokens',
  'windowSize',
  'shard',
  'shardCount',
  'resume',
  'journal',
] as const satisfies readonly OptionName[];

const CONVERT_FLAGS = ['modelFolder', 'force', 'quantize', 'cacheDir', 'revision', 'offline', 'threads'] as const satisfies readonly OptionName[];
const QUANTIZE_FLAGS = ['force', 'threads'] as const satisfies readonly OptionName[];

function withFlags(cmd: Command, names: readonly OptionName[]): Command {
  for (const name of names) cmd.addOption(flag(name, name === 'output' || name === 'modelFolder' || name === 'mergedFile'));
  return cmd
    .addOption(new Option('-q, --quiet', 'no progress and no summary on stderr'))
    .addOption(new Option('--verbose', 'stack traces and the underlying errors'));
}

/** The values of the named flags, under their library names (--layer holds `layers`, -o of convert `output`). */
function pick(raw: Record<string, unknown>, names: readonly OptionName[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const def: OptionDef<unknown> = OPTIONS[name];
    const value = raw[new Option(def.flags).attributeName()];
    if (value !== undefined) values[def.name] = value;
  }
  return values;
}

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

  withFlags(
    program
      .command('extract')
      .description('embed every record of the inputs, one output row per record, in input order')
      .argument('[files...]', 'text files (one record per line), .jsonl, .csv, .tsv or .parquet files; - or nothing reads stdin'),
    EXTRACT_FLAGS,
  ).action((files: string[], raw: Record<string, unknown>) => {
    if (files.length === 0 && ctx.stdinIsTTY) {
      throw new UsageError('no input: pass FILE arguments or pipe text into stdin', 'for example: albert-embed extract texts.txt -o embeddings.npz');
    }
    const options = { ...pick(raw, EXTRACT_FLAGS), inputs: files.length > 0 ? files : ['-'] } as unknown as ExtractOptions;
    onParsed({ command: 'extract', settings: deepFreeze(resolveExtractSettings(options, ctx.env, 'cli')), output: outputSettings(raw) });
  });

  withFlags(
    program
      .command('convert')
      .description('convert a Hugging Face ALBERT checkpoint (safetensors or PyTorch weights, spiece.model or vocab.txt) into a model folder extract reads')
      .argument('<checkpoint>', 'checkpoint folder or hub id'),
    CONVERT_FLAGS,
  ).action((checkpoint: string, raw: Record<string, unknown>) => {
    const options = { ...pick(raw, CONVERT_FLAGS), checkpoint } as ConvertOptions;
    onParsed({ command: 'convert', settings: deepFreeze(resolveConvertSettings(options, ctx.env, 'cli')), output: outputSettings(raw) });
  });

  withFlags(
    program
      .command('merge')
      .description('join the .npz parts of a sharded extract (--shard I/N) into the file one run would have written')
      .argument('<parts...>', 'the .npz parts, in any order'),
    ['mergedFile'],
  ).action((parts: string[], raw: Record<string, unknown>) => {
    const target = raw.output as string;
    if (formatFromPath(target) !== 'npz') throw new UsageError(`-o ${target}: merge writes .npz`, 'name the output X.npz');
    onParsed({ command: 'merge', parts, target, output: outputSettings(raw) });
  });

  withFlags(
    program
      .command('quantize')
      .description('add an int8 graph (onnx/model_quantized.onnx, --dtype q8) to a model folder with an fp32 graph, and measure its drift')
      .argument('<folder>', 'model folder holding config.json, tokenizer.json and onnx/model.onnx'),
    QUANTIZE_FLAGS,
  ).action((folder: string, raw: Record<string, unknown>) => {
    const options = { ...pick(raw, QUANTIZE_FLAGS), folder } as QuantizeOptions;
    onParsed({ command: 'quantize', settings: deepFreeze(resolveQuantizeSettings(options, 'cli')), output: outputSettings(raw) });
  });

  withFlags(program.command('info').description('describe a model: files, dtypes, dimensions, tokenizer, graph inputs and outputs'), MODEL_FLAGS)
    .option('--json', 'machine-readable output')
    .action((raw: Record<string, unknown>) => {
      onParsed({
        command: 'info',
        embedder: deepFreeze(resolveEmbedderSettings(pick(raw, MODEL_FLAGS), ctx.env, 'cli')),
        json: Boolean(raw.json),
        output: outputSettings(raw),
      });
    });
  return program;
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

/** Parses argv (without the node and script paths). Throws UsageError for bad flag values. */
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
