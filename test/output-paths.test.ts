// Where -o writes: never over an input, through symbolic links to the file they name, keeping
// the permissions of a file it replaces, and refusing an unwritable place before the model loads.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, numpy, runMain, tempDir, TINY_EN } from './helpers.js';
import { mountTmpfs, type Mounted } from './mount.js';

const TEXT = 'one line\nanother line\n';
const mounts: Mounted[] = [];
afterAll(() => mounts.forEach((m) => m.unmount()));

describe('-o naming an input', () => {
  it.each<[string, (dir: string, input: string) => string]>([
    ['the same path', (_d, input) => input],
    ['another spelling of the path', (dir) => `${dir}/.//texts.jsonl`],
    ['a relative path from the working directory', (_d, input) => relative(ROOT, input)],
    ['a symbolic link to it', (dir, input) => (symlinkSync(input, join(dir, 'link.jsonl')), join(dir, 'link.jsonl'))],
    ['a hard link to it', (dir, input) => (linkSync(input, join(dir, 'hard.jsonl')), join(dir, 'hard.jsonl'))],
  ])('%s is a usage error before anything runs, and the input is untouched', async (_name, outputFor) => {
    const dir = tempDir();
    const input = join(dir, 'texts.jsonl');
    writeFileSync(input, '{"text": "hello"}\n');
    const output = outputFor(dir, input);
    // The model does not exist: the refusal comes before it would be loaded.
    const r = await runMain(['extract', input, '-o', output, '--model', join(dir, 'no-model')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^albert-embed: -o .* is the input file .*texts\.jsonl; albert-embed never overwrites its input/);
    expect(readFileSync(input, 'utf8')).toBe('{"text": "hello"}\n');
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

describe('an existing output', () => {
  it('behind a symbolic link: the file it names is replaced, the link stays', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.txt'), TEXT);
    writeFileSync(join(dir, 'real.npy'), 'old');
    symlinkSync('real.npy', join(dir, 'link.npy'));
    const r = await runMain(['extract', join(dir, 'in.txt'), '-o', join(dir, 'link.npy'), '--model', TINY_EN, '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(join(dir, 'link.npy')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'link.npy'))).toBe('real.npy');
    expect(numpy('print(json.dumps(list(numpy.load(sys.argv[1]).shape)))', join(dir, 'real.npy'))).toEqual([2, 64]);
  });

  it('behind a dangling symbolic link: the file it names is created', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.txt'), TEXT);
    symlinkSync('made.npy', join(dir, 'link.npy'));
    const r = await runMain(['extract', join(dir, 'in.txt'), '-o', join(dir, 'link.npy'), '--model', TINY_EN, '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(dir, 'made.npy')).size).toBeGreaterThan(2 * 64 * 4);
  });

  it('keeps the permissions of the file it replaces; a new file gets the umask default', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.txt'), TEXT);
    writeFileSync(join(dir, 'kept.npz'), 'old');
    chmodSync(join(dir, 'kept.npz'), 0o640);
    for (const out of ['kept.npz', 'new.npz']) {
      const r = await runMain(['extract', join(dir, 'in.txt'), '-o', join(dir, out), '--model', TINY_EN, '-q']);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(statSync(join(dir, 'kept.npz')).mode & 0o777).toBe(0o640);
    const umask = process.umask();
    expect(statSync(join(dir, 'new.npz')).mode & 0o777).toBe(0o666 & ~umask);
  });
});

describe('an output folder that cannot be written', () => {
  it('read-only: exit 6 before the model loads', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.txt'), TEXT);
    const ro = mountTmpfs(join(dir, 'ro'), { bytes: 64 * 1024, readOnly: true });
    mounts.push(ro);
    const r = await runMain(['extract', join(dir, 'in.txt'), '-o', join(ro.path, 'out.npz'), '--model', join(dir, 'no-model')]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/^albert-embed: -o .*ro\/out\.npz: cannot write there: EROFS: read-only file system/);
  });
});

describe('-o that is no regular file', () => {
  it.each<[string, (path: string) => void]>([
    ['a FIFO', (p) => void spawnSync('mkfifo', [p])],
    ['a character device (a copy of /dev/null)', (p) => void spawnSync('mknod', [p, 'c', '1', '3'])],
  ])('%s is refused and left as it is', async (_name, make) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.txt'), TEXT);
    const special = join(dir, 'special.npy');
    make(special);
    symlinkSync(special, join(dir, 'link.npy'));
    for (const out of [special, join(dir, 'link.npy')]) {
      const r = await runMain(['extract', join(dir, 'in.txt'), '-o', out, '--model', TINY_EN]);
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/is a (FIFO \(named pipe\)|character device); albert-embed writes regular files/);
    }
    const stat = lstatSync(special);
    expect(stat.isFIFO() || stat.isCharacterDevice()).toBe(true);
  });
});

describe('-o through a symbolic link and ..', () => {
  it('resolves .. after the link as the kernel does', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.txt'), TEXT);
    mkdirSync(join(dir, 'real', 'sub'), { recursive: true });
    symlinkSync(join(dir, 'real', 'sub'), join(dir, 'lnk'));
    // For the kernel, lnk/../x.npy is real/x.npy; as text it would be ./x.npy.
    const r = await runMain(['extract', join(dir, 'in.txt'), '-o', `${dir}/lnk/../x.npy`, '--model', TINY_EN, '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'real', 'x.npy'))).toBe(true);
    expect(existsSync(join(dir, 'x.npy'))).toBe(false);
  });
});

describe('stdin and stdout redirected to and from an input', () => {
  it('stdin read from the output file is refused, and the file kept', () => {
    const dir = tempDir();
    const victim = join(dir, 'victim.jsonl');
    writeFileSync(victim, '{"text": "hello"}\n');
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" extract - --input-format jsonl --model "${TINY_EN}" -o "${victim}" < "${victim}"`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/-o .*victim\.jsonl is the file stdin is read from; albert-embed never overwrites its input/);
    expect(readFileSync(victim, 'utf8')).toBe('{"text": "hello"}\n');
  });

  it('stdout appended to an input is refused, and the input not grown', () => {
    const dir = tempDir();
    const input = join(dir, 'in.txt');
    writeFileSync(input, TEXT);
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" extract "${input}" --model "${TINY_EN}" -o - >> "${input}"`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/stdout is redirected onto the input file .*in\.txt/);
    expect(readFileSync(input, 'utf8')).toBe(TEXT);
  });
});
