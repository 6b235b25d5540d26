// Output files are written under a temporary name beside the target and renamed onto it only
// when the run succeeds, so a failed or interrupted run never leaves a partial file behind.
import { randomBytes } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OutputError, errorMessage } from '../errors.js';

/** Temp files neither committed nor discarded yet, so that a signal can remove them. */
const openTemps = new Set<string>();

function tempBeside(target: string, suffix: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.${suffix}`);
}

/** A temporary file beside `target`, renamed onto it by commit(). */
export class AtomicFile {
  private constructor(
    readonly target: string,
    readonly temp: string,
    readonly handle: FileHandle,
  ) {}

  static async create(target: string): Promise<AtomicFile> {
    try {
      if (statSync(target, { throwIfNoEntry: false })?.isDirectory()) throw new Error('it is a directory');
      const temp = tempBeside(target, 'tmp');
      const file = new AtomicFile(target, temp, await open(temp, 'wx'));
      openTemps.add(temp);
      return file;
    } catch (err) {
      throw new OutputError(`-o ${target}: cannot write there: ${errorMessage(err)}`, 'choose an output path in an existing, writable folder');
    }
  }

  async commit(): Promise<void> {
    openTemps.delete(this.temp);
    await this.handle.close();
    try {
      await rename(this.temp, this.target);
    } catch (err) {
      await rm(this.temp, { force: true });
      throw new OutputError(`-o ${this.target}: cannot move the finished file into place: ${errorMessage(err)}`);
    }
  }

  async discard(): Promise<void> {
    openTemps.delete(this.temp);
    await this.handle.close().catch(() => {});
    await rm(this.temp, { force: true });
  }

  /**
   * A scratch file beside the target for data that must wait for the end of the run; it is
   * removed by its own discard() and, like the temp file, on a signal.
   */
  async scratch(): Promise<ScratchFile> {
    const path = tempBeside(this.target, 'scratch');
    let handle: FileHandle;
    try {
      handle = await open(path, 'wx+');
    } catch (err) {
      throw new OutputError(`-o ${this.target}: cannot create a scratch file beside it: ${errorMessage(err)}`, 'choose an output path in a writable folder with free space');
    }
    openTemps.add(path);
    return {
      handle,
      async discard() {
        openTemps.delete(path);
        await handle.close().catch(() => {});
        await rm(path, { force: true });
      },
    };
  }
}

export interface ScratchFile {
  readonly handle: FileHandle;
  discard(): Promise<void>;
}

/** Removes every temp and scratch file not yet committed or discarded (for SIGINT/SIGTERM). */
export function discardOpenOutputsSync(): void {
  for (const path of openTemps) rmSync(path, { force: true });
  openTemps.clear();
}
