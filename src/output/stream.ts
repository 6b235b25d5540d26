// Writes to stdout (or any stream) that report their outcome: a chunk counts as written only once
// it has been handed on, and a failure is an error the caller sees, never an unhandled event.
// When stdout is a regular file, Node writes it with one unchecked writeSync per chunk, so a
// short write near a full disk would be lost silently: then the descriptor is written directly.
import { fstatSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { OutputError, StdoutClosed, errorMessage } from '../errors.js';
import { writeAll } from '../write-all.js';

function failure(err: Error & { code?: string }, name: string): Error {
  // The reader of a pipe went away (`| head`): the run ends quietly, as other Unix tools do.
  if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED' || err.code === 'ERR_STREAM_WRITE_AFTER_END') return new StdoutClosed({ cause: err });
  const full = err.code === 'ENOSPC' || err.code === 'EDQUOT' || err.code === 'EFBIG';
  const hint = full ? `free space on the disk ${name} is redirected to, or write to a file elsewhere with -o` : `check where ${name} goes`;
  return new OutputError(`${name}: write failed: ${errorMessage(err)}`, hint, { cause: err });
}

/** The file descriptor behind a stream, when it has one (process.stdout does; a PassThrough does not). */
export function streamFd(stream: unknown): number | undefined {
  const fd = (stream as { fd?: unknown } | undefined)?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function regularFileFd(stream: Writable): number | undefined {
  const fd = streamFd(stream);
  if (fd === undefined) return undefined;
  try {
    return fstatSync(fd).isFile() ? fd : undefined;
  } catch {
    return undefined;
  }
}

/** Streams that already have the listener below. */
const listened = new WeakSet<Writable>();

/** Resolves once `chunk` has been handed to the operating system (or the stream's consumer). */
export function writeToStream(stream: Writable, chunk: string | Uint8Array, name = 'stdout'): Promise<void> {
  const fd = regularFileFd(stream);
  if (fd !== undefined) {
    try {
      writeAll(fd, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(failure(err as Error, name));
    }
  }
  // A failed write is reported to its callback and then again as an 'error' event, which would
  // crash the process without a listener: the callback is where it is handled.
  if (!listened.has(stream)) {
    listened.add(stream);
    stream.on('error', () => {});
  }
  return new Promise((resolve, reject) => {
    stream.write(chunk, (err) => (err ? reject(failure(err, name)) : resolve()));
  });
}
