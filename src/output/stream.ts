// Writes to a stream (stdout) that report their outcome: a chunk counts as written only once the
// stream has handed it on, and a failure is an error the caller sees, never an unhandled event.
import type { Writable } from 'node:stream';
import { OutputError, StdoutClosed, errorMessage } from '../errors.js';

function failure(err: Error & { code?: string }, name: string): Error {
  // The reader of a pipe went away (`| head`): the run ends quietly, as other Unix tools do.
  if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED' || err.code === 'ERR_STREAM_WRITE_AFTER_END') return new StdoutClosed({ cause: err });
  const hint = err.code === 'ENOSPC' || err.code === 'EDQUOT' ? `free space on the disk ${name} is redirected to, or write to a file with -o` : `check where ${name} goes`;
  return new OutputError(`${name}: write failed: ${errorMessage(err)}`, hint, { cause: err });
}

/** Streams that already have the listener below. */
const listened = new WeakSet<Writable>();

/** Resolves once `chunk` has been handed to the operating system (or the stream's consumer). */
export function writeToStream(stream: Writable, chunk: string | Uint8Array, name = 'stdout'): Promise<void> {
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
