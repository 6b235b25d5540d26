// Fingerprints of a run: of its input (every byte read, hashed as it is read, no extra pass),
// and of the settings that decide its rows. Shards of one job must agree on both to be merged,
// and a resumed run on the settings with the run it continues.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { sha256File, sha256Text } from '../hash.js';

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

  /** Each file's bytes read so far and their SHA-256, for a journal. */
  prefix(): Array<[number, string]> {
    return this.files.map((f) => [f.bytes, f.hash.copy().digest('hex')]);
  }

  /** Of every file's size and digest, in order: the same files in the same order, the same fingerprint. */
  digest(): string {
    return sha256Text(JSON.stringify(this.prefix()));
  }
}

/**
 * The inputs whose first bytes are no longer those an interrupted run read (its journal's
 * InputHasher.prefix): an edit in place that kept the size and the modification time.
 */
export async function prefixChanges(inputs: readonly string[], prefix: ReadonlyArray<readonly [number, string]>): Promise<string[]> {
  const changed: string[] = [];
  for (const [i, [bytes, sha256]] of prefix.entries()) {
    if (i >= inputs.length) break;
    if ((await sha256File(inputs[i], bytes)) !== sha256) changed.push(`input ${inputs[i]} changed (its first ${bytes.toLocaleString('en-US')} bytes differ)`);
  }
  return changed;
}

/** The fingerprint of a settings record: its JSON with keys in a fixed order. */
export function settingsDigest(settings: Readonly<Record<string, unknown>>): string {
  const canonical = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
      : value;
  return sha256Text(JSON.stringify(canonical(settings)));
}

/**
 * The settings that differ between two records, with both values, for messages; nested records
 * (the model files' digests) name the entry that changed.
 */
export function settingsChanges(before: Readonly<Record<string, unknown>>, now: Readonly<Record<string, unknown>>, path = ''): string[] {
  const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort();
  return keys.flatMap((k) => {
    const [a, b] = [before[k], now[k]];
    if (JSON.stringify(a) === JSON.stringify(b)) return [];
    if (isRecord(a) && isRecord(b)) return settingsChanges(a, b, `${path}${k}.`);
    const short = (v: unknown) => (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? `${v.slice(0, 12)}…` : JSON.stringify(v));
    return [`${path}${k} ${short(a)} -> ${short(b)}`];
  });
}
