// Bytes that must wait for the end of a run (the token ids of an .npz of token vectors: their
// entry can only follow the tokens entry still streaming), appended to a scratch file and copied
// out in bounded chunks.
import type { ScratchFile } from './atomic-file.js';

const CHUNK = 16 << 20;

export class ByteSpill {
  length = 0;

  constructor(
    readonly file: ScratchFile,
    resumeLength = 0,
  ) {
    this.length = resumeLength;
  }

  async append(bytes: Uint8Array): Promise<void> {
    await this.file.writeAt(bytes, this.length);
    this.length += bytes.byteLength;
  }

  async copyTo(sink: (chunk: Uint8Array) => Promise<void>): Promise<void> {
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, this.length)));
    for (let at = 0; at < this.length; ) {
      const n = await this.file.readAt(buffer, 0, Math.min(buffer.length, this.length - at), at);
      if (n === 0) throw new Error('scratch file ended early');
      // The sink has written the chunk when its promise settles, so the buffer can be refilled.
      await sink(buffer.subarray(0, n));
      at += n;
    }
  }

  discard(): Promise<void> {
    return this.file.discard();
  }
}
