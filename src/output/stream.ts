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

/** Resolves once `chunk` has been handed to the operating system (or the stream's consumer). */
export function writeToStream(stream: Writable, chunk: string | Uint8Array, name = 'stdout'): Promise<void> {
  return new Promise((resolve, reject) => {
    // The same error also arrives as an 'error' event; without a listener it would crash the process.
    const ignore = () => {};
    stream.on('error', ignore);
    stream.write(chunk, (err) => {
      stream.off('error', ignore);
      if (err) reject(failure(err, name));
      else resolve();
    });
  });
}
