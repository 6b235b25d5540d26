// One error class per meaning. Each carries the exit code the CLI returns and a hint that says
// what to do about it; the CLI prints `albert-embed: <message>` and `  hint: <hint>` and nothing
// else unless --verbose.

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  input: 3,
  model: 4,
  device: 5,
  output: 6,
  inference: 7,
  /** Set by bin/albert-embed.js on SIGINT/SIGTERM/SIGHUP, after removing any temp output. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class AlbertEmbedError extends Error {
  abstract readonly exitCode: ExitCode;
  readonly hint?: string;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** Adds to an error's hint (what a failed run kept for --resume). */
export function extendHint(err: AlbertEmbedError, more: string): void {
  (err as { hint?: string }).hint = err.hint ? `${err.hint}; ${more}` : more;
}

/** A flag or argument is wrong. */
export class UsageError extends AlbertEmbedError {
  readonly exitCode = ExitCode.usage;
}

/** An input file or record cannot be read as asked. */
export class InputError extends AlbertEmbedError {
  readonly exitCode = ExitCode.input;
}

/** The model folder, hub id, its files or its graph are missing or unusable. */
export class ModelError extends AlbertEmbedError {
  readonly exitCode = ExitCode.model;
}

/** The requested execution device cannot be used. */
export class DeviceError extends AlbertEmbedError {
  readonly exitCode = ExitCode.device;
}

/** The output cannot be written. */
export class OutputError extends AlbertEmbedError {
  readonly exitCode = ExitCode.output;
}

/** onnxruntime failed while running the graph. */
export class InferenceError extends AlbertEmbedError {
  readonly exitCode = ExitCode.inference;
}

/**
 * The reader of stdout went away (`| head`): not a failure of albert-embed, so the run ends
 * quietly with exit code 0 and no summary.
 */
export class StdoutClosed extends Error {
  constructor(options?: { cause?: unknown }) {
    super('stdout was closed by its reader', options);
    this.name = 'StdoutClosed';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
