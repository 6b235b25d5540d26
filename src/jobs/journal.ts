// The journal of a run that writes a file: after every window, the output's temporary files are
// flushed to disk and this small file records how far they are valid and how far the input was
// read, written atomically and flushed too. A run killed at any moment (SIGKILL, the OOM killer,
// preemption, power loss) leaves a journal that points at a consistent state; `--resume`
// continues from it, and the windows it then embeds are the same windows an uninterrupted run
// embeds, so the file it ends with is the same.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError, errorMessage } from '../errors.js';
import { outputFailure, sidePrefix } from '../output/atomic-file.js';
import type { SinkState } from '../output/sinks.js';
import type { ProcessIdentity } from './debris.js';
import { writeAll } from '../write-all.js';

export const JOURNAL_VERSION = 1;

export interface InputIdentity {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export interface Journal {
  version: number;
  /** The run that wrote it, so that a resume never takes over files a live run still writes. */
  owner: ProcessIdentity;
  /** The output it belongs to (symbolic links followed). */
  output: string;
  /** The shard the run embedded (not a row setting: shards of one job share those). */
  shard: { index: number; count: number } | null;
  /** Each input file's bytes read so far, as [bytes, SHA-256 of them] (InputHasher.prefix). */
  inputPrefix: Array<[number, string]>;
  /** What decides the rows (settingsRecord in extract.ts), and its digest. */
  settings: Record<string, unknown>;
  settingsSha256: string;
  inputs: InputIdentity[];
  /** Input records read through the last committed window (every shard's records counted). */
  records: number;
  rows: number;
  truncated: number;
  tokens: number;
  padded: number;
  sink: SinkState;
}

export function journalPath(destination: string): string {
  return join(dirname(destination), `${sidePrefix(destination)}.journal`);
}

const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isText = (v: unknown) => typeof v === 'string' && v !== '';

/** Whether a parsed journal has every field a resume reads, of the right type. */
function wellFormed(j: Partial<Journal> | null): boolean {
  if (!j || typeof j !== 'object') return false;
  const sink = j.sink as Partial<SinkState> | undefined;
  const sinkOk =
    !!sink &&
    isText(sink.temp) &&
    isCount(sink.rows) &&
    (sink.format === 'npz'
      ? !!sink.entry && isCount(sink.entry.offset) && isCount(sink.entry.bodySize) && !!sink.spill && isText(sink.spill.path) && isCount(sink.spill.position)
      : (sink.format === 'npy' || sink.format === 'jsonl') && isCount(sink.position));
  return (
    sinkOk &&
    !!j.owner &&
    isCount(j.owner.pid) &&
    isText(j.output) &&
    (j.shard === null || (!!j.shard && isCount(j.shard.index) && isCount(j.shard.count))) &&
    Array.isArray(j.inputPrefix) &&
    Array.isArray(j.inputs) &&
    !!j.settings &&
    typeof j.settings === 'object' &&
    isText(j.settingsSha256) &&
    [j.records, j.rows, j.truncated, j.tokens, j.padded].every(isCount)
  );
}

export function inputIdentity(path: string): InputIdentity {
  const s = statSync(path);
  return { path: resolve(path), dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
}

/** The journal an interrupted run left, or undefined when there is none. */
export function readJournal(path: string): Journal | undefined {
  if (!existsSync(path)) return undefined;
  let journal: Journal;
  try {
    journal = JSON.parse(readFileSync(path, 'utf8')) as Journal;
  } catch (err) {
    throw new UsageError(`--resume: the journal ${path} is damaged (${errorMessage(err)})`, 'run again without --resume to start over', { cause: err });
  }
  if (journal?.version === JOURNAL_VERSION && !wellFormed(journal)) {
    throw new UsageError(`--resume: the journal ${path} is damaged (fields are missing or of the wrong type)`, 'run again without --resume to start over');
  }
  if (journal?.version !== JOURNAL_VERSION) {
    throw new UsageError(`--resume: the journal ${path} was written by another version of albert-embed`, 'run again without --resume to start over');
  }
  return journal;
}

/**
 * Writes the journal under a temporary name, flushes it, renames it into place, flushes the
 * folder. A failure (a full disk) is the output's: `target` is the -o it is named by.
 */
export function writeJournal(path: string, journal: Journal, target: string): void {
  const temp = `${path}.${process.pid}.new`;
  try {
    const fd = openSync(temp, 'w');
    try {
      writeAll(fd, Buffer.from(JSON.stringify(journal)));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    const folder = openSync(dirname(path), 'r');
    try {
      fsyncSync(folder);
    } finally {
      closeSync(folder);
    }
  } catch (err) {
    rmSync(temp, { force: true });
    throw outputFailure(target, 'writing its journal failed', err);
  }
}

export function removeJournal(path: string): void {
  rmSync(path, { force: true });
}

/** What changed in the inputs since the journal was written, one phrase each. */
export function inputChanges(journal: Journal, inputs: readonly string[]): string[] {
  if (journal.inputs.length !== inputs.length || journal.inputs.some((j, i) => j.path !== resolve(inputs[i]))) {
    return [`the inputs were ${journal.inputs.map((j) => j.path).join(', ')}, now ${inputs.map((p) => resolve(p)).join(', ')}`];
  }
  const changes: string[] = [];
  journal.inputs.forEach((before, i) => {
    const now = inputIdentity(inputs[i]);
    if (now.dev !== before.dev || now.ino !== before.ino) changes.push(`input ${inputs[i]} is another file now`);
    else if (now.size !== before.size) changes.push(`input ${inputs[i]} changed size (${before.size} -> ${now.size} bytes)`);
    else if (now.mtimeMs !== before.mtimeMs) changes.push(`input ${inputs[i]} was modified (${new Date(before.mtimeMs).toISOString()} -> ${new Date(now.mtimeMs).toISOString()})`);
  });
  return changes;
}
