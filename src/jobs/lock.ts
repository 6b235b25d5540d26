// One writer per output on a host: `.<name>.lock` beside the output, made with its content in one
// step (a link of a finished file, which fails when the lock exists), naming the writer. A lock
// whose writer is gone (SIGKILL, a crash, a reboot, a restarted container) is taken over; one
// whose writer runs is a usage error. Writers on other hosts sharing the folder cannot be told
// alive from dead (README: Large jobs): their locks are taken over too.
import { closeSync, linkSync, openSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { outputFailure, sidePrefix, trackTemporary } from '../output/atomic-file.js';
import { writeAll } from '../write-all.js';
import { stillRunning, thisProcess, type ProcessIdentity } from './debris.js';

function lockPath(destination: string): string {
  return join(dirname(destination), `${sidePrefix(destination)}.lock`);
}

function holder(path: string): ProcessIdentity | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as ProcessIdentity;
    return typeof owner?.pid === 'number' ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock of `destination` (-o `target`); returns its release. */
export function lockOutput(destination: string, target: string, flag: string): () => void {
  const path = lockPath(destination);
  const draft = `${path}.${process.pid}.new`;
  const untrackDraft = trackTemporary(draft);
  try {
    const fd = openSync(draft, 'w');
    try {
      writeAll(fd, Buffer.from(JSON.stringify(thisProcess())));
    } finally {
      closeSync(fd);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === 2) throw err;
        const owner = holder(path);
        if (owner && stillRunning(owner)) {
          throw new UsageError(`${flag} ${target}: process ${owner.pid} is writing it`, 'wait for that run to end (or stop it), or write to another path');
        }
        rmSync(path, { force: true });
      }
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw outputFailure(target, 'cannot write there', err);
  } finally {
    rmSync(draft, { force: true });
    untrackDraft();
  }
  const untrack = trackTemporary(path);
  return () => {
    untrack();
    rmSync(path, { force: true });
  };
}
