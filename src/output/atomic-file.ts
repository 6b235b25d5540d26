// Output files are written under a temporary name beside the target and renamed onto it only
// when the run succeeds, so a failed or interrupted run never leaves a partial file behind.
// Every write is checked to completion, the data is fsynced before the rename and the folder
// after it: a run that says it is done has its file on disk, whole.
import { randomBytes } from 'node:crypto';
import { lstatSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { OutputError, errorMessage } from '../errors.js';
import { sha256Text } from '../hash.js';

/** Temp files neither committed nor discarded yet, so that a signal can remove them. */
const openTemps = new Set<string>();
/** Outputs being renamed into place, and those already there: what a signal can no longer undo. */
let renaming = 0;
let committed = 0;
/** Set while a journal holds committed progress that a signal should leave for --resume. */
let resumable: string | undefined;

/** What a signal now leaves behind for --resume (undefined: nothing). */
export function setResumable(note: string | undefined): void {
  resumable = note;
}

/**
 * `.<name>` for the files that belong to output `target` (temporary, scratch, journal, lock): a
 * name past 200 bytes is cut, so that these names fit wherever the target's does (255 bytes),
 * and marked with a digest of the whole name, so that two long names never share files.
 */
export function sidePrefix(target: string): string {
  const full = Buffer.from(basename(target));
  if (full.length <= 200) return `.${basename(target)}`;
  const cut = full.subarray(0, 180).toString().replace(/\uFFFD$/, '');
  return `.${cut}~${sha256Text(basename(target)).slice(0, 12)}`;
}

function tempBeside(target: string, suffix: string): string {
  return join(dirname(target), `${sidePrefix(target)}.${process.pid}.${randomBytes(4).toString('hex')}.${suffix}`);
}

/** Hints by the cause of a failed write, so the user knows what to change. */
function writeHint(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'free space on that disk, or write the output elsewhere with -o';
  if (code === 'EFBIG') return 'the file system limits the file size; write the output elsewhere with -o';
  if (code === 'EIO') return 'the disk reported an I/O error; check it, or write the output elsewhere with -o';
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'choose an output path in a writable folder';
  return 'choose an output path in an existing, writable folder with free space';
}

export function outputFailure(target: string, what: string, err: unknown): OutputError {
  if (err instanceof OutputError) return err;
  return new OutputError(`-o ${target}: ${what}: ${errorMessage(err)}`, writeHint(err), { cause: err });
}

/** Writes all of `bytes` at `position`: the kernel may accept less than asked, so loop until done. */
async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.byteLength; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done);
    if (bytesWritten <= 0) throw new Error(`the write of ${bytes.byteLength - done} bytes at offset ${position + done} stored nothing`);
    done += bytesWritten;
  }
}

/**
 * `path` with its folder resolved as the kernel resolves it: symbolic links first, then `..`
 * (path.resolve, and fs.realpathSync without .native, drop `link/..` as text before following it).
 */
function realFolder(path: string): string {
  const absolute = isAbsolute(path) ? path : `${process.cwd()}/${path}`;
  return join(realpathSync.native(dirname(absolute)), basename(absolute));
}

/**
 * Where -o really writes: a symbolic link is followed to the file it names (which is replaced;
 * the link stays), however many links deep, also when that file does not exist yet. Folders are
 * resolved by the kernel's rules, so `link/../x` is x beside the link's target, not beside the link.
 */
export function finalTarget(path: string): string {
  let current = realFolder(path);
  for (let hops = 0; hops < 40; hops++) {
    const stat = lstatSync(current, { throwIfNoEntry: false });
    if (!stat?.isSymbolicLink()) return current;
    const target = readlinkSync(current);
    current = realFolder(isAbsolute(target) ? target : `${dirname(current)}/${target}`);
  }
  throw new OutputError(`-o ${path}: too many levels of symbolic links`, 'point -o at a regular file');
}

/** What a path names when it is not a regular file, for messages. */
function fileKind(stat: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean; isFile(): boolean }): string | undefined {
  if (stat.isFile()) return undefined;
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** A file that can be written at any position, every write checked; used by every file sink. */
export interface PositionalFile {
  writeAt(bytes: Uint8Array, position: number): Promise<void>;
}

/** A temporary file beside `target`, renamed onto it by commit(). */
export class AtomicFile implements PositionalFile {
  private constructor(
    /** The path as given with -o, for messages. */
    readonly target: string,
    /** The file actually replaced: -o with symbolic links followed. */
    readonly destination: string,
    readonly temp: string,
    private readonly handle: FileHandle,
    /** Permission bits of the file being replaced, kept on the new one. */
    private readonly mode: number | undefined,
  ) {}

  /**
   * A new temporary file beside `target`, or with `resume`, the temporary file of an interrupted
   * run cut back to the length its journal committed.
   */
  static async create(target: string, resume?: { temp: string; length: number }): Promise<AtomicFile> {
    let temp: string | undefined;
    try {
      const destination = finalTarget(target);
      const existing = statSync(destination, { throwIfNoEntry: false });
      const kind = existing && fileKind(existing);
      // Renaming a finished file onto a device or a FIFO would replace it (/dev/null included)
      // instead of writing to it.
      if (kind === 'a directory') throw new Error('it is a directory');
      if (kind) throw new OutputError(`-o ${target} is ${kind}; albert-embed writes regular files (it renames a finished file into place)`, 'write JSON Lines to a pipe or device with -o - instead');
      const mode = existing ? existing.mode & 0o7777 : undefined;
      if (resume) {
        const handle = await open(resume.temp, 'r+');
        await handle.truncate(resume.length);
        return new AtomicFile(target, destination, resume.temp, handle, mode);
      }
      temp = tempBeside(destination, 'tmp');
      // Tracked before it exists: a signal between creating and tracking it would leave it behind.
      openTemps.add(temp);
      return new AtomicFile(target, destination, temp, await open(temp, 'wx'), mode);
    } catch (err) {
      if (temp) openTemps.delete(temp);
      if (err instanceof OutputError) throw err;
      throw new OutputError(`-o ${target}: cannot write there: ${errorMessage(err)}`, writeHint(err), { cause: err });
    }
  }

  async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    try {
      await writeFully(this.handle, bytes, position);
    } catch (err) {
      throw outputFailure(this.target, 'write failed', err);
    }
  }

  /** Flushes what was written to the disk (a journal commit), every write checked first. */
  async sync(): Promise<void> {
    try {
      await this.handle.datasync();
    } catch (err) {
      throw outputFailure(this.target, 'flushing to disk failed', err);
    }
  }

  /**
   * From now on the temp file belongs to a journal: a signal leaves it for --resume (as does
   * close(); discard() removes it).
   */
  keepOnSignal(): void {
    openTemps.delete(this.temp);
  }

  /**
   * fsync, rename onto the target, fsync the folder; on any failure the temp file is removed.
   * `beforeRename` runs once the file is complete on disk (a journal is dropped there: a crash
   * after it leaves a complete file or nothing to resume, never a journal of a finished run);
   * `keepOnFailure` leaves the temp file for --resume when a failure comes before it.
   */
  async commit(beforeRename?: () => void, keepOnFailure = false): Promise<void> {
    try {
      if (this.mode !== undefined) await this.handle.chmod(this.mode);
      await this.handle.sync();
      await this.handle.close();
      beforeRename?.();
    } catch (err) {
      await (keepOnFailure ? this.close() : this.discard());
      throw outputFailure(this.target, 'flushing the finished file failed', err);
    }
    openTemps.delete(this.temp);
    renaming++;
    try {
      await rename(this.temp, this.destination);
      committed++;
    } catch (err) {
      await rm(this.temp, { force: true });
      throw outputFailure(this.target, 'cannot move the finished file into place', err);
    } finally {
      renaming--;
    }
    try {
      const folder = await open(dirname(this.destination), 'r');
      try {
        await folder.sync();
      } finally {
        await folder.close();
      }
    } catch (err) {
      throw outputFailure(this.target, 'the file is in place, but flushing its folder failed', err);
    }
  }

  /** Closes the temp file and leaves it where it is, for a journal's --resume. */
  async close(): Promise<void> {
    openTemps.delete(this.temp);
    await this.handle.close().catch(() => {});
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
  async scratch(resume?: { path: string; length: number }): Promise<ScratchFile> {
    const path = resume?.path ?? tempBeside(this.destination, 'scratch');
    let handle: FileHandle;
    if (!resume) openTemps.add(path);
    try {
      handle = await open(path, resume ? 'r+' : 'wx+');
      if (resume) await handle.truncate(resume.length);
    } catch (err) {
      openTemps.delete(path);
      throw new OutputError(`-o ${this.target}: cannot ${resume ? 'reopen' : 'create'} a scratch file beside it: ${errorMessage(err)}`, writeHint(err), { cause: err });
    }
    const target = this.target;
    return {
      path,
      async sync() {
        try {
          await handle.datasync();
        } catch (err) {
          throw outputFailure(target, 'flushing its scratch file failed', err);
        }
      },
      keepOnSignal() {
        openTemps.delete(path);
      },
      async writeAt(bytes, position) {
        try {
          await writeFully(handle, bytes, position);
        } catch (err) {
          throw outputFailure(target, 'writing its scratch file failed', err);
        }
      },
      async readAt(buffer, offset, length, position) {
        try {
          return (await handle.read(buffer, offset, length, position)).bytesRead;
        } catch (err) {
          throw outputFailure(target, 'reading its scratch file back failed', err);
        }
      },
      async close() {
        openTemps.delete(path);
        await handle.close().catch(() => {});
      },
      async discard() {
        openTemps.delete(path);
        await handle.close().catch(() => {});
        await rm(path, { force: true });
      },
    };
  }
}

export interface ScratchFile extends PositionalFile {
  readonly path: string;
  readAt(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  sync(): Promise<void>;
  keepOnSignal(): void;
  /** Closes the file and leaves it where it is, for a journal's --resume. */
  close(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * Registers a temporary file or folder (a model folder being converted) for removal on a
 * signal; the returned function unregisters it once it is renamed into place or removed.
 */
export function trackTemporary(path: string): () => void {
  openTemps.add(path);
  return () => void openTemps.delete(path);
}

/**
 * Removes every temp and scratch file or folder not yet committed or discarded (for signals),
 * and says what became of the output, as the end of the sentence "interrupted by SIGTERM...".
 */
export function discardOpenOutputsSync(): string {
  for (const path of openTemps) rmSync(path, { recursive: true, force: true });
  openTemps.clear();
  if (renaming > 0) return '; the finished output was being moved into place, so it may or may not have replaced the old one';
  if (committed > 0) return '; the output had already been written in full';
  if (resumable) return `; no output file was written, and ${resumable}`;
  return '; no output file was written';
}
