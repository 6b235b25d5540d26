// Output files are written under a temporary name beside the target and renamed onto it only
// when the run succeeds, so a failed or interrupted run never leaves a partial file behind.
import { randomBytes } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OutputError, errorMessage } from '../errors.js';

/** Temp files neither committed nor discarded yet, so that a signal can remove them. */
const openFiles = new Set<AtomicFile>();

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
      const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      const file = new AtomicFile(target, temp, await open(temp, 'wx'));
      openFiles.add(file);
      return file;
    } catch (err) {
      throw new OutputError(`-o ${target}: cannot write there: ${errorMessage(err)}`, 'choose an output path in an existing, writable folder');
    }
  }

  async commit(): Promise<void> {
    openFiles.delete(this);
    await this.handle.close();
    try {
      await rename(this.temp, this.target);
    } catch (err) {
      await rm(this.temp, { force: true });
      throw new OutputError(`-o ${this.target}: cannot move the finished file into place: ${errorMessage(err)}`);
    }
  }

  async discard(): Promise<void> {
    openFiles.delete(this);
    await this.handle.close().catch(() => {});
    await rm(this.temp, { force: true });
  }

  /** Last-resort cleanup from a signal handler, where nothing can be awaited. */
  discardSync(): void {
    rmSync(this.temp, { force: true });
  }
}

/** Removes every temp file not yet committed or discarded (for SIGINT/SIGTERM). */
export function discardOpenOutputsSync(): void {
  for (const f of openFiles) f.discardSync();
  openFiles.clear();
}
