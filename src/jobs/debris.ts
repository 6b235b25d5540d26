// What a dead earlier run of the same output left behind: its temporary and scratch files
// (`.<name>.<pid>.<random>.tmp|scratch`) whose process no longer exists, and its journal. A run
// that starts over removes them; a run that resumes keeps the ones its journal names.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but is someone else's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process stays a zombie until its parent reaps it: dead all the same.
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * A process as the kernel knows it: its pid alone is reused, by a restarted container (which
 * numbers its processes from 1 again) and after a reboot, so the boot and the start time are kept.
 */
export interface ProcessIdentity {
  pid: number;
  bootId: string;
  /** Clock ticks after boot when the process started (/proc/<pid>/stat field 22). */
  startTicks: number;
}

function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses) start at field 3.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

export function thisProcess(): ProcessIdentity {
  return { pid: process.pid, bootId: bootId(), startTicks: startTicks(process.pid) ?? 0 };
}

/** Whether the process is still running (and is not this one): same boot, same pid, same start. */
export function stillRunning(owner: ProcessIdentity): boolean {
  if (owner.pid === process.pid || owner.bootId !== bootId()) return false;
  return alive(owner.pid) && startTicks(owner.pid) === owner.startTicks;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Removes the debris of dead runs writing `destination`, except the paths in `keep`; returns what
 * it removed. Called before this run makes any file of its own for `destination`.
 */
export function removeDebris(destination: string, keep: ReadonlySet<string>): string[] {
  const folder = dirname(destination);
  // Temporary names cut the output name to 200 bytes (atomic-file.ts); match on that prefix.
  const name = Buffer.from(basename(destination)).subarray(0, 200).toString().replace(/\uFFFD$/, '');
  const pattern = new RegExp(`^\\.${escape(name)}\\.(\\d+)\\.[0-9a-f]{8}\\.(tmp|scratch)$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return removed;
  }
  for (const entry of names) {
    const match = pattern.exec(entry);
    const path = join(folder, entry);
    // This process has no files of this output yet (removeDebris runs before they are made): a
    // name with its pid is a dead run's, from a restarted container that reused the number.
    const pid = Number(match?.[1]);
    if (!match || keep.has(path) || (pid !== process.pid && alive(pid))) continue;
    rmSync(path, { force: true });
    removed.push(path);
  }
  return removed;
}
