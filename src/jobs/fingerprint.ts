// Fingerprints of a run: of its input (every byte read, hashed as it is read, no extra pass),
// and of the settings that decide its rows. Shards of one job must agree on both to be merged,
// and a resumed run on the settings with the run it continues.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { sha256Text } from '../hash.js';

/** SHA-256 of each input file's bytes, as the readers pass them. */
export class InputHasher {
  private readonly files: Array<{ hash: Hash; bytes: number }> = [];
  private current: { hash: Hash; bytes: number } | undefined;

  /** Starts the next input file. */
  next(): void {
    this.current = { hash: createHash('sha256'), bytes: 0 };
    this.files.push(this.current);
  }

  update(chunk: Uint8Array): void {
    this.current!.hash.update(chunk);
    this.current!.bytes += chunk.byteLength;
  }

  /** Hashes a whole file in one read (Parquet, which its reader reads by ranges). */
  async wholeFile(path: string): Promise<void> {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) this.update(chunk as Buffer);
  }

  /** Of every file's size and digest, in order: the same files in the same order, the same fingerprint. */
  digest(): string {
    return sha256Text(JSON.stringify(this.files.map((f) => [f.bytes, f.hash.copy().digest('hex')])));
  }
}

/** The fingerprint of a settings record: its JSON with keys in a fixed order. */
export function settingsDigest(settings: Readonly<Record<string, unknown>>): string {
  const canonical = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
      : value;
  return sha256Text(JSON.stringify(canonical(settings)));
}

/** Keys of two settings records whose values differ, with both values, for messages. */
export function settingsChanges(before: Readonly<Record<string, unknown>>, now: Readonly<Record<string, unknown>>): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort();
  return keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(now[k])).map((k) => `${k} ${JSON.stringify(before[k])} -> ${JSON.stringify(now[k])}`);
}
