// Large jobs: --shard I/N parts joined by merge are the single run's file byte for byte; merge
// refuses sets of parts that are not one job's; a run SIGKILLed at several points and continued
// with --resume ends with the uninterrupted run's file byte for byte; a resume refuses a changed
// input or changed settings; a run that starts over clears what dead runs left behind.
// (--shard auto under a real Slurm cluster: slurm-shards.test.ts.)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveShard } from '../src/jobs/shard.js';
import { STREAMED_HEADER_SIZE } from '../src/output/npy.js';
import { BIN, numpy, runMain, tempDir, TINY_EN } from './helpers.js';
import { mountTmpfs } from './mount.js';

const WORDS = 'the quick brown fox jumps over a lazy dog while cats sleep in warm sun'.split(' ');

/** Deterministic lines of 1 to 12 words (a seeded LCG), so runs and reruns read the same input. */
function lines(count: number, seed: number): string[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(next() * 12) }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' '));
}

function writeInput(dir: string, name: string, content: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${content.join('\n')}\n`);
  return file;
}

async function ok(args: string[]) {
  const r = await runMain(args);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

const bytes = (file: string) => readFileSync(file);

describe('--shard I/N and merge', () => {
  // Ids of different widths per part (the merged ids column is as wide as the widest), an empty
  // text, numeric ids.
  const records = [
    ...lines(23, 7).map((text, i) => JSON.stringify({ id: i % 5 === 0 ? `a-much-longer-id-${i}` : `r${i}`, text })),
    JSON.stringify({ id: 99, text: '' }),
  ];

  it.each<[string, string[], number, number]>([
    ['mean pooling', [], 3, records.length],
    ['mean pooling, more shards than records (empty parts)', [], 5, 3],
    ['token vectors (--pooling none)', ['--pooling', 'none'], 4, records.length],
    ['chunked long texts at float16', ['--overflow', 'chunk', '--max-length', '8', '--precision', 'float16'], 2, records.length],
    ['one shard', ['--normalize'], 1, records.length],
  ])('%s: the merged parts are the single run byte for byte', async (_what, flags, count, used) => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.jsonl', records.slice(0, used));
    const common = ['extract', input, '--model', TINY_EN, '--window', '5', ...flags];
    await ok([...common, '-o', join(dir, 'single.npz')]);
    const parts = Array.from({ length: count }, (_, i) => join(dir, `part-${i}.npz`));
    for (let i = 0; i < count; i++) await ok([...common, '--shard', `${i}/${count}`, '-o', parts[i]]);
    // Any order on the command line.
    const r = await ok(['merge', ...parts.reverse(), '-o', join(dir, 'merged.npz')]);
    expect(r.stderr).toMatch(new RegExp(`merged ${count} parts, ${used} rows`));
    expect(bytes(join(dir, 'merged.npz')).equals(bytes(join(dir, 'single.npz')))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('splits record numbers r mod N, within one record of balanced, and says so in each part', async () => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.txt', lines(11, 3));
    const part = join(dir, 'p.npz');
    await ok(['extract', input, '--model', TINY_EN, '--shard', '2/4', '-o', part]);
    const got = numpy(
      `z = numpy.load(sys.argv[1])
meta = json.loads(str(z['meta']))
print(json.dumps({'numbers': z['record_numbers'].tolist(), 'ids': z['ids'].tolist(), 'dtype': str(z['record_numbers'].dtype), 'meta': {k: meta[k] for k in ['shard', 'rows', 'records_total']}, 'fingerprints': [len(meta['input_sha256']), len(meta['settings_sha256'])]}))`,
      part,
    );
    expect(got).toEqual({ numbers: [2, 6, 10], ids: ['2', '6', '10'], dtype: 'int64', meta: { shard: { index: 2, count: 4 }, rows: 3, records_total: 11 }, fingerprints: [64, 64] });
  });

  it.each<[string, string[]]>([
    ['a shard index past the count', ['--shard', '4/4']],
    ['a count of 0', ['--shard', '0/0']],
    ['no I/N', ['--shard', 'half']],
    ['auto outside any scheduler', ['--shard', 'auto']],
    ['an .npy output', ['--shard', '0/2', '-o', 'x.npy']],
    ['stdin', ['-', '--shard', '0/2']],
  ])('refuses %s (exit 2, before any model is loaded)', async (_what, flags) => {
    const input = writeInput(tempDir(), 'in.txt', ['a']);
    const args = ['extract', ...(flags[0] === '-' ? [] : [input]), '--model', '/nonexistent', '-o', join(tempDir(), 'x.npz'), ...flags];
    const r = await runMain(args, { env: { SLURM_ARRAY_TASK_ID: undefined, JOB_COMPLETION_INDEX: undefined } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--shard/);
  });
});

describe('--shard auto', () => {
  const slurm = (id: number, min: number, count: number, max: number, step?: number) => ({
    SLURM_ARRAY_TASK_ID: String(id),
    SLURM_ARRAY_TASK_MIN: String(min),
    SLURM_ARRAY_TASK_COUNT: String(count),
    SLURM_ARRAY_TASK_MAX: String(max),
    ...(step ? { SLURM_ARRAY_TASK_STEP: String(step) } : {}),
  });

  it.each<[string, Record<string, string>, number | undefined, { index: number; count: number }]>([
    ['a Slurm array from 0', slurm(2, 0, 4, 3), undefined, { index: 2, count: 4 }],
    ['a Slurm array from 1 (--array=1-8)', slurm(1, 1, 8, 8), undefined, { index: 0, count: 8 }],
    ['a Slurm array in steps (--array=10-20:5)', slurm(20, 10, 3, 20, 5), undefined, { index: 2, count: 3 }],
    ['a Kubernetes Indexed Job with --shard-count', { JOB_COMPLETION_INDEX: '3' }, 5, { index: 3, count: 5 }],
    ['a Kubernetes Indexed Job with ALBERT_EMBED_SHARD_COUNT', { JOB_COMPLETION_INDEX: '0', ALBERT_EMBED_SHARD_COUNT: '2' }, undefined, { index: 0, count: 2 }],
  ])('reads %s', (_what, env, count, shard) => {
    expect(resolveShard('auto', env, count, 'cli')).toEqual(shard);
  });

  it.each<[string, Record<string, string>, number | undefined, RegExp]>([
    ['no scheduler', {}, undefined, /no scheduler tells this run its shard/],
    ['a Slurm array given as a list (--array=1,4,9)', slurm(4, 1, 3, 9), undefined, /not one of 3 tasks from 1 in steps of 1/],
    ['Kubernetes without a count', { JOB_COMPLETION_INDEX: '1' }, undefined, /Kubernetes does not tell the number of shards/],
    ['a Kubernetes index past the count', { JOB_COMPLETION_INDEX: '5' }, 5, /JOB_COMPLETION_INDEX 5 is not below the 5 shards/],
  ])('refuses %s', (_what, env, count, message) => {
    expect(() => resolveShard('auto', env, count, 'cli')).toThrow(message);
  });
});

describe('merge refuses', () => {
  const dir = tempDir();
  const inputA = writeInput(dir, 'a.txt', lines(7, 1));
  const inputB = writeInput(dir, 'b.txt', lines(7, 2));
  const part = async (name: string, input: string, shard: string, flags: string[] = []) => {
    const file = join(dir, name);
    if (!existsSync(file)) await ok(['extract', input, '--model', TINY_EN, '--shard', shard, '-o', file, ...flags]);
    return file;
  };
  const parts = async () => ({
    a0: await part('a0.npz', inputA, '0/2'),
    a1: await part('a1.npz', inputA, '1/2'),
    b1: await part('b1.npz', inputB, '1/2'),
    norm1: await part('norm1.npz', inputA, '1/2', ['--normalize']),
    a1of3: await part('a1of3.npz', inputA, '1/3'),
  });

  it.each<[string, (p: Awaited<ReturnType<typeof parts>>) => string[], number, RegExp]>([
    ['a missing shard', (p) => [p.a0], 2, /shard 1 of 2 is missing \(given: 0\)/],
    ['a shard given twice', (p) => [p.a0, p.a1, p.a1], 2, /shard 1 of 2 is given twice/],
    ['parts of different inputs', (p) => [p.a0, p.b1], 2, /come from different inputs \(input_sha256/],
    ['parts of different settings', (p) => [p.a0, p.norm1], 2, /come from different settings or models \(settings_sha256/],
    ['parts of different shard counts', (p) => [p.a0, p.a1of3], 2, /split the input into 2 and 3 shards/],
    ['a file that is not a part', () => [join(dir, 'whole.npz')], 2, /written without --shard/],
    ['a part cut short', () => [join(dir, 'a0.npz'), join(dir, 'cut.npz')], 3, /part .*cut\.npz is not a complete \.npz/],
    ['a part that is missing', (p) => [p.a0, join(dir, 'nope.npz')], 3, /part .*nope\.npz cannot be read/],
  ])('%s: one line, its exit code, no output', async (_what, pick, code, message) => {
    const p = await parts();
    if (!existsSync(join(dir, 'whole.npz'))) await ok(['extract', inputA, '--model', TINY_EN, '-o', join(dir, 'whole.npz')]);
    const full = bytes(p.a1);
    writeFileSync(join(dir, 'cut.npz'), full.subarray(0, full.length - 200));
    const out = join(dir, 'merged.npz');
    const r = await runMain(['merge', ...pick(p), '-o', out]);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('a part damaged inside an array (one byte of its embeddings): exit 3 naming the member, no output', async () => {
    const p = await parts();
    const bad = join(dir, 'damaged.npz');
    const data = Buffer.from(bytes(p.a1));
    const at = numpy(
      `import zipfile
z = zipfile.ZipFile(sys.argv[1]); i = z.getinfo('embeddings.npy')
f = open(sys.argv[1], 'rb'); f.seek(i.header_offset); h = f.read(30)
print(json.dumps(i.header_offset + 30 + int.from_bytes(h[26:28], 'little') + int.from_bytes(h[28:30], 'little') + i.file_size - 3))`,
      p.a1,
    ) as number;
    data[at] ^= 0x10;
    writeFileSync(bad, data);
    const out = join(dir, 'merged-bad.npz');
    const r = await runMain(['merge', p.a0, bad, '-o', out]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/part .*damaged\.npz: its embeddings member fails its CRC-32 check/);
    expect(existsSync(out)).toBe(false);
  });

  it('token vectors whose counts do not add up (checksums rewritten to match): exit 3, no output', async () => {
    const t0 = await part('t0.npz', inputA, '0/2', ['--pooling', 'none']);
    const t1 = await part('t1.npz', inputA, '1/2', ['--pooling', 'none']);
    const bad = join(dir, 't1-bad.npz');
    // Rebuilt by Python's zipfile with token_counts[0] one lower: every CRC is right again.
    numpy(
      `import io, zipfile
src = zipfile.ZipFile(sys.argv[1]); dst = zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_STORED)
for name in src.namelist():
    data = src.read(name)
    if name == 'token_counts.npy':
        a = numpy.load(io.BytesIO(data)); a[0] -= 1; b = io.BytesIO(); numpy.save(b, a); data = b.getvalue()
    dst.writestr(name, data)
dst.close(); print(1)`,
      t1,
      bad,
    );
    const out = join(dir, 'merged-t.npz');
    const ok1 = await runMain(['merge', t0, t1, '-o', out]);
    expect(ok1.code, ok1.stderr).toBe(0);
    rmSync(out);
    const r = await runMain(['merge', t0, bad, '-o', out]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/part .*t1-bad\.npz: its tokens member holds more than its rows and token counts account for/);
    expect(existsSync(out)).toBe(false);
  });

  it('library misuse: a string for the parts, an output that is not .npz (UsageError)', async () => {
    const { merge } = await import('../src/index.js');
    await expect(merge('a0.npz' as unknown as string[], join(dir, 'm.npz'))).rejects.toMatchObject({ name: 'UsageError', exitCode: 2, message: 'merge takes an array of part paths' });
    await expect(merge([join(dir, 'a0.npz')], join(dir, 'm.npy'))).rejects.toThrow(/merge writes an \.npz file, got output ".*m\.npy"/);
  });

  it('-o naming one of the parts (exit 2, the part intact)', async () => {
    const p = await parts();
    const before = bytes(p.a0);
    const r = await runMain(['merge', p.a0, p.a1, '-o', p.a0]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/-o .*a0\.npz is the part/);
    expect(bytes(p.a0).equals(before)).toBe(true);
  });
});

// --- --resume after SIGKILL ------------------------------------------------------------------

interface Journal {
  records: number;
}

function journalOf(out: string): Journal | undefined {
  const file = join(out, '..', `.${out.split('/').pop()}.journal`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Journal;
  } catch {
    return undefined; // not there yet, or caught mid-rename
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs extract as a real process and SIGKILLs it once its journal has committed `records` input
 * records (or, for 0, once its temporary file exists) plus `delayMs`, to land between commits.
 * Resolves to whether the kill landed (false when the run finished first).
 */
async function killAt(
  args: string[],
  out: string,
  records: number,
  delayMs: number,
  signal: NodeJS.Signals = 'SIGKILL',
  beforeKill?: () => Promise<void>,
): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => ((exited = true), resolve(code))));
  const folder = join(out, '..');
  const reached = () => (records === 0 ? readdirSync(folder).some((f) => f.endsWith('.tmp')) : (journalOf(out)?.records ?? 0) >= records);
  while (!exited && !reached()) await sleep(2);
  if (!exited) {
    await sleep(delayMs);
    await beforeKill?.();
    child.kill(signal);
  }
  const code = await closed;
  if (code === 0) return { killed: false, code, stderr };
  if (signal === 'SIGKILL') expect(code, stderr).toBe(null); // killed, not failed
  return { killed: true, code, stderr };
}

describe('--resume after SIGKILL', () => {
  // 400 short lines in windows of 8: 50 durable commits, a second or two of work to kill into.
  const text = lines(400, 11);

  it.each<[string, number[]]>([
    // Kill points: records committed before the kill (0: as soon as the temp file exists, before
    // or at the first commit), each followed by a wait that lands the kill inside a later window.
    ['npz', [0, 90, 220, 340]],
    ['npy', [40, 260]],
  ])('.%s: killed at %j committed records and resumed each time, the file is the uninterrupted run', async (format, points) => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.txt', text);
    const args = (out: string) => ['extract', input, '--model', TINY_EN, '--window', '8', '-o', out];
    const reference = join(dir, `reference.${format}`);
    await ok(args(reference));
    const out = join(dir, `out.${format}`);
    let killed = 0;
    for (const [i, records] of points.entries()) {
      const extra = i === 0 ? [] : ['--resume'];
      if ((await killAt([...args(out), ...extra], out, records, 3 + ((i * 7) % 11))).killed) killed++;
      expect(existsSync(out)).toBe(false);
    }
    // Every kill must have landed, or the test would prove less than it claims.
    expect(killed).toBe(points.length);
    const done = journalOf(out)!.records;
    const r = await ok([...args(out), '--resume']);
    expect(r.stderr).toMatch(/rows \([\d,]+ of them done before, resumed\)/);
    expect(done).toBeGreaterThanOrEqual(points[points.length - 1]);
    expect(bytes(out).equals(bytes(reference))).toBe(true);
    // Nothing left behind: no journal, temporary or scratch file.
    expect(readdirSync(dir).sort()).toEqual(['in.txt', `out.${format}`, `reference.${format}`]);
  });

  it('refuses, with exit 2 naming what changed, a changed input, settings or shard, a journal of another output or cut-back files, and touches nothing', async () => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.txt', text);
    // A whole second as modification time, so that the test can put it back exactly.
    const mtime = 1_700_000_000;
    utimesSync(input, mtime, mtime);
    const out = join(dir, 'out.npz');
    const args = ['extract', input, '--model', TINY_EN, '--window', '8', '-o', out];
    // While the run is still going, its files are its own. (The in-process attempt is made with
    // its modules loaded, so that it is quick while the run goes on.)
    await import('../src/extract.js');
    let whileRunning: Awaited<ReturnType<typeof runMain>> | undefined;
    const killed = await killAt(args, out, 70, 0, 'SIGKILL', async () => {
      whileRunning = await runMain([...args, '--resume']);
    });
    expect(killed.killed).toBe(true);
    expect(whileRunning!.code, whileRunning!.stderr).toBe(2);
    expect(whileRunning!.stderr).toMatch(/-o .*out\.npz: process \d+ is writing it/);
    // (The dead run's lock is taken over and released by each refused run; a journal draft is
    // left when the kill lands while the journal is being written.)
    const files = () => Object.fromEntries(readdirSync(dir).filter((f) => f.startsWith('.out.npz') && !/\.(lock|new)$/.test(f)).map((f) => [f, bytes(join(dir, f)).toString('base64')]));
    const before = files();
    expect(Object.keys(before).map((f) => f.replace(/\d+\.[0-9a-f]{8}/, 'ID')).sort()).toEqual(['.out.npz.ID.scratch', '.out.npz.ID.tmp', '.out.npz.journal']);

    const refused = async (extra: string[], message: RegExp, argv = args) => {
      const r = await runMain([...argv, ...extra]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    };
    await refused(['--resume', '--normalize'], /--resume: the settings changed since the interrupted run \(normalize false -> true\)/);
    await refused(['--resume', '--window', '9'], /window 8 -> 9/);
    await refused(['--resume', '--shard', '0/2'], /--resume: the interrupted run embedded shard none, this one shard 0\/2/);

    // Another output's journal copied beside this one: not this output's run.
    const other = join(dir, 'other.npz');
    writeFileSync(join(dir, '.other.npz.journal'), bytes(join(dir, '.out.npz.journal')));
    await refused(['--resume'], /--resume: the journal .*\.other\.npz\.journal belongs to .*out\.npz, not .*other\.npz/, [...args.slice(0, -1), other]);
    writeFileSync(join(dir, '.other.npz.journal'), JSON.stringify({ version: 1, sink: { format: 'npz' } }));
    await refused(['--resume'], /--resume: the journal .*\.other\.npz\.journal is damaged \(fields are missing or of the wrong type\)/, [...args.slice(0, -1), other]);

    const original = readFileSync(input);
    writeFileSync(input, Buffer.concat([original, Buffer.from('an extra line\n')]));
    await refused(['--resume'], /--resume: input .*in\.txt changed size \(\d+ -> \d+ bytes\) since the interrupted run/);
    // Edited in place, one word for another of its length, with the old modification time put back:
    // the bytes read before the interruption are hashed again as they are read, and differ.
    writeFileSync(input, original.toString().replace('the', 'cat'));
    utimesSync(input, mtime, mtime);
    await refused(['--resume'], /--resume: input .*in\.txt changed \(its first [\d,]+ bytes differ\) since the interrupted run/);
    utimesSync(input, mtime, mtime + 5);
    await refused(['--resume'], /input .*in\.txt was modified/);
    writeFileSync(input, original);
    utimesSync(input, mtime, mtime);
    expect(existsSync(out)).toBe(false);
    // Refusals touch nothing: the journal and the interrupted run's files are as they were.
    expect(files()).toEqual(before);

    // The temporary file cut shorter than the journal committed (by hand, a damaged disk).
    const temp = Object.keys(before).find((f) => f.endsWith('.tmp'))!;
    writeFileSync(join(dir, temp), bytes(join(dir, temp)).subarray(0, 100));
    await refused(['--resume'], /--resume: the interrupted run's file .*\.tmp holds 100 bytes, fewer than the \d+ its journal committed/);
  });

  it('SIGTERM after a commit: exit 130 saying the committed rows are kept; --resume finishes the same file', async () => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.txt', text);
    const reference = join(dir, 'reference.npz');
    const out = join(dir, 'out.npz');
    const args = (o: string) => ['extract', input, '--model', TINY_EN, '--window', '8', '-o', o];
    await ok(args(reference));
    const { code, stderr } = await killAt(args(out), out, 130, 0, 'SIGTERM');
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted by SIGTERM; no output file was written, and the [\d,]+ rows done are kept: run the same command with --resume to continue\n$/);
    expect(readdirSync(dir).filter((f) => f.startsWith('.')).length).toBe(3); // journal, temp, scratch
    await ok([...args(out), '--resume']);
    expect(bytes(out).equals(bytes(reference))).toBe(true);
  });

  it('a disk that fills up part-way: exit 6 keeping the committed rows; with space freed, --resume finishes the same file', async () => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.txt', text);
    const reference = join(dir, 'reference.npz');
    const args = (out: string) => ['extract', input, '--model', TINY_EN, '--window', '64', '-o', out];
    await ok(args(reference));
    // 400 rows x 64 float32 are 100 KiB of embeddings, with the ids and counts in a scratch file
    // beside them: a 64 KiB disk fills a few windows in.
    const disk = mountTmpfs(join(dir, 'disk'), { bytes: 64 * 1024 });
    try {
      const out = join(disk.path, 'out.npz');
      const r = await runMain(args(out));
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/ENOSPC: no space left on device(, write)? \(hint: free space on that disk, or write the output elsewhere with -o; the [\d,]+ rows committed before are kept: rerun with --resume to continue, or without it to start over\)\n$/);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
      const committed = journalOf(out)!.records;
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThan(400);
      disk.resize(4 * 1024 * 1024);
      await ok([...args(out), '--resume']);
      expect(bytes(out).equals(bytes(reference))).toBe(true);
      expect(readdirSync(disk.path)).toEqual(['out.npz']);
    } finally {
      disk.unmount();
    }
  });

  it('a file size limit reached while the finished file is sealed: exit 6 keeping every window; --resume seals the same file', async () => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.txt', text);
    const reference = join(dir, 'reference.npz');
    const out = join(dir, 'out.npz');
    const args = (o: string) => ['extract', input, '--model', TINY_EN, '--window', '8', '-o', o];
    await ok(args(reference));
    // Every window fits (the archive's first entry: a 64-byte local header, the .npy header, 400
    // rows of 64 float32); the columns and the directory sealing appends do not.
    const committed = 64 + STREAMED_HEADER_SIZE + text.length * 64 * 4;
    const blocks = Math.ceil(committed / 1024);
    expect(bytes(reference).length).toBeGreaterThan(blocks * 1024);
    const r = spawnSync('bash', ['-c', `ulimit -f ${blocks}; exec "${process.execPath}" "${BIN}" "$@"`, 'bash', ...args(out)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/EFBIG: file too large.*the 400 rows committed before are kept: rerun with --resume to continue/);
    expect(journalOf(out)!.records).toBe(400);
    await ok([...args(out), '--resume']);
    expect(bytes(out).equals(bytes(reference))).toBe(true);
  });

  it('one writer per output: a second run is refused while the first runs; after it dies, a run without --resume clears what it left', async () => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.txt', text);
    const out = join(dir, 'out.npz');
    const args = ['extract', input, '--model', TINY_EN, '--window', '8', '-o', out];
    await import('../src/extract.js');
    let second: Awaited<ReturnType<typeof runMain>> | undefined;
    const killed = await killAt(args, out, 30, 0, 'SIGKILL', async () => {
      second = await runMain([...args, '--window', '256', '--no-journal']);
    });
    expect(killed.killed).toBe(true);
    expect(second!.code, second!.stderr).toBe(2);
    expect(second!.stderr).toMatch(/-o .*out\.npz: process \d+ is writing it/);
    const debris = readdirSync(dir).filter((f) => f !== 'in.txt');
    expect(debris.some((f) => f.endsWith('.tmp'))).toBe(true);
    expect(debris.some((f) => f.endsWith('.scratch'))).toBe(true);
    expect(debris).toContain('.out.npz.journal');
    expect(debris).toContain('.out.npz.lock');
    // Older leftovers: a journal cut off while being written, files named with a live process's
    // number (reused by a restarted container, say: no live run holds the lock).
    const running = spawn('sleep', ['60']);
    for (const name of [`.out.npz.journal.${running.pid}.new`, `.out.npz.${running.pid}.0123abcd.tmp`, `.out.npz.${process.pid}.0123abcd.scratch`]) writeFileSync(join(dir, name), 'x');
    // An unrelated hidden file stays.
    writeFileSync(join(dir, '.out.npz.notes'), 'x');
    running.kill();

    // Starting over needs no journal of the old run's window: a bigger one, fewer commits.
    const again = [...args, '--window', '256', '--no-journal'];
    await ok(again);
    expect(readdirSync(dir).sort()).toEqual(['.out.npz.notes', 'in.txt', 'out.npz']);
    // With --resume and no journal left: a notice, and a run from the first record.
    const r = await ok([...args, '--window', '256', '--resume']);
    expect(r.stderr).toMatch(/--resume: no interrupted run of .*out\.npz to continue; starting from the first record/);
  });
});
