// Turns any error into one line on stderr and an exit code from the table in errors.ts.
import type { Writable } from 'node:stream';
import { AlbertEmbedError, ExitCode, errorMessage } from '../errors.js';

/** Messages quoted from parsers and onnxruntime can hold newlines; an error stays one line. */
const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

export function reportError(err: unknown, stderr: Writable, verbose: boolean): number {
  if (err instanceof AlbertEmbedError) {
    stderr.write(`albert-embed: ${oneLine(err.message)}${err.hint ? ` (hint: ${oneLine(err.hint)})` : ''}\n`);
    if (verbose) {
      stderr.write(`${err.stack ?? ''}\n`);
      if (err.cause) stderr.write(`caused by: ${err.cause instanceof Error ? err.cause.stack : String(err.cause)}\n`);
    }
    return err.exitCode;
  }
  stderr.write(`albert-embed: internal error: ${oneLine(errorMessage(err))} (hint: rerun with --verbose and report the stack trace)\n`);
  if (verbose && err instanceof Error) stderr.write(`${err.stack}\n`);
  return ExitCode.internal;
}
