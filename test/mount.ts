// Real small file systems for the tests that need a full or read-only disk: a tmpfs mounted by
// the test itself. That needs root (CI runs as root); where it cannot mount, the test fails with
// the reason rather than skipping the check.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

export interface Mounted {
  path: string;
  /** Grows (or shrinks) the file system in place: space freed on a full disk, files kept. */
  resize(bytes: number): void;
  unmount(): void;
}

export function mountTmpfs(path: string, options: { bytes: number; readOnly?: boolean }): Mounted {
  mkdirSync(path, { recursive: true });
  const flags = [`size=${options.bytes}`, ...(options.readOnly ? ['ro'] : [])].join(',');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', flags, 'albert-embed-test', path], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`cannot mount a ${options.bytes}-byte tmpfs at ${path} (this test needs root, as CI runs it): ${(r.stderr || r.error?.message || '').trim()}`);
  }
  return {
    path,
    resize: (bytes) => {
      const grown = spawnSync('mount', ['-o', `remount,size=${bytes}`, path], { encoding: 'utf8' });
      if (grown.status !== 0) throw new Error(`cannot resize the tmpfs at ${path}: ${(grown.stderr || grown.error?.message || '').trim()}`);
    },
    unmount: () => {
      spawnSync('umount', ['-l', path]);
    },
  };
}
