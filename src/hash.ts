// SHA-256 of files, streamed (a 900 MB checkpoint is never read whole, and signals get through).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** The SHA-256 of the file, or of its first `bytes` bytes. */
export function sha256File(path: string, bytes?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    if (bytes === 0) return resolve(hash.digest('hex'));
    createReadStream(path, { highWaterMark: 1 << 20, ...(bytes === undefined ? {} : { start: 0, end: bytes - 1 }) })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export function sha256Text(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
