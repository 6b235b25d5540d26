// A full disk never yields a file that looks complete: on a real tmpfs too small for the output,
// every format fails with exit 6 and one line naming the path and the cause, no temporary file
// is left, and a file already under the target name keeps its old content.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runMain, tempDir, TINY_EN } from './helpers.js';
import { mountTmpfs, type Mounted } from './mount.js';

// 1,000 lines embed to 1,000 x 64 float32 = 256 KB (and more as .npz or JSON Lines): twice and
// more what a 128 KiB disk holds, so every format runs out of space part-way.
const LINES = Array.from({ length: 1000 }, (_, i) => `line ${i} of the quick brown fox`).join('\n');
let disk: Mounted;
let input: string;

beforeAll(() => {
  const dir = tempDir();
  input = join(dir, 'lines.txt');
  writeFileSync(input, LINES);
  disk = mountTmpfs(join(dir, 'full'), { bytes: 128 * 1024 });
});
afterAll(() => disk?.unmount());

describe('on a full disk', () => {
  it.each(['out.npy', 'out.npz', 'out.jsonl'])('%s: exit 6, the cause named, no temp file, the old file kept', async (name) => {
    const target = join(disk.path, name);
    writeFileSync(target, 'the previous run');
    const r = await runMain(['extract', input, '-o', target, '--model', TINY_EN]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(new RegExp(`^albert-embed: -o ${target.replace(/[.]/g, '\\.')}: (write failed|writing its scratch file failed): ENOSPC: no space left on device`));
    expect(r.stderr).toMatch(/\(hint: free space on that disk, or write the output elsewhere with -o\)\n$/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(readdirSync(disk.path).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(readFileSync(target, 'utf8')).toBe('the previous run');
  });

  it('stdout redirected to a file there: exit 6 naming stdout and the cause', async () => {
    const target = join(disk.path, 'stdout.jsonl');
    const stdout = createWriteStream(target);
    const r = await runMain(['extract', input, '-o', '-', '--model', TINY_EN], { stdout });
    stdout.destroy();
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/^albert-embed: stdout: write failed: ENOSPC: no space left on device/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('the same through a shell redirect of the real process, no stack trace', () => {
    const target = join(disk.path, 'shell.jsonl');
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" extract "${input}" -o - --model "${TINY_EN}" > "${target}"`], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/^albert-embed: stdout: write failed: ENOSPC: no space left on device/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('a closed pipe', () => {
  it('ends the run quietly with exit 0 (`| head -1`)', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" extract "${input}" -o - --model "${TINY_EN}" -q | head -c 100 > /dev/null; echo "status \${PIPESTATUS[0]}"`], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.stdout.trim()).toBe('status 0');
    expect(r.stderr).toBe('');
  });

  it('a write error is not mistaken for success by the library either', async () => {
    // The same run into a file on a disk with room succeeds: the failures above are the disk's.
    const dir = tempDir();
    const r = await runMain(['extract', input, '-o', join(dir, 'ok.npz'), '--model', TINY_EN, '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'ok.npz'))).toBe(true);
  });
});

describe('stdout redirected to a file', () => {
  it('a short last write (file size limit reached mid-write) is exit 6, not a truncated success', () => {
    // One window, so one write: Node's own file stdout would take the short count and move on.
    const dir = tempDir();
    const small = join(dir, 'small.txt');
    writeFileSync(small, 'one line\nanother line\na third line\n');
    const target = join(dir, 'limited.jsonl');
    const r = spawnSync('bash', ['-c', `ulimit -f 2; "${process.execPath}" "${BIN}" extract "${small}" -o - --model "${TINY_EN}" > "${target}"`], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/^albert-embed: stdout: write failed: EFBIG: file too large/);
  });

  it('a stderr that cannot be written does not change the exit code', () => {
    const dir = tempDir();
    const small = join(dir, 'small.txt');
    writeFileSync(small, 'one line\nanother line\n');
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" extract "${small}" -o "${join(dir, 'out.npz')}" --model "${TINY_EN}" 2>/dev/full`], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'out.npz'))).toBe(true);
  });
});
