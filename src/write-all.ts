// Synchronous writes that are checked to completion: the kernel may accept fewer bytes than asked
// (a disk filling up, a file size limit), and such a write is retried until it fails outright.
import { writeSync } from 'node:fs';

export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.byteLength; ) {
    const n = writeSync(fd, bytes, at, bytes.byteLength - at);
    if (n <= 0) throw new Error(`write returned ${n}`);
    at += n;
  }
}
