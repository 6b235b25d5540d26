// What earlier runs of the same output left behind: their temporary and scratch files
// (`.<name>.<pid>.<random>.tmp|scratch`) and half-written journals. A run that starts over
// removes them; a run that resumes keeps the ones its journal names. And which processes are
// still running, told apart from the ones that reused their numbers.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sidePrefix } from '../output/atomic-file.js';

export function alive(pid: number): boolean {
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
 * Removes what earlier runs writing `destination` left (temporary and scratch files, a journal
 * cut off while being written), except the paths in `keep`; returns what it removed. Runs under
 * the output's lock (lock.ts), before this run makes any file of its own: no live run on this
 * host is writing them, whatever process numbers their names carry.
 */
export function removeDebris(destination: string, keep: ReadonlySet<string>): string[] {
  const folder = dirname(destination);
  const prefix = escape(sidePrefix(destination));
  const pattern = new RegExp(`^${prefix}\\.(\\d+\\.[0-9a-f]{8}\\.(tmp|scratch)|journal\\.\\d+\\.new)$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return removed;
  }
  for (const entry of names) {
    const path = join(folder, entry);
    if (!pattern.test(entry) || keep.has(path)) continue;
    rmSync(path, { force: true });
    removed.push(path);
  }
  return removed;
}
