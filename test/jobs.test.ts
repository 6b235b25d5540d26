// Large jobs: --shard I/N parts joined by merge are the single run's file byte for byte; merge
// refuses sets of parts that are not one job's; a run SIGKILLed at several points and continued
// with --resume ends with the uninterrupted run's file byte for byte; a resume refuses a changed
// input or changed settings; a run that starts over clears what dead runs left behind.
// (--shard auto under a real Slurm cluster: slurm-shards.test.ts.)
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveShard } from '../src/jobs/shard.js';
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

  it.each<[string, string[], number]>([
    ['mean pooling', [], 3],
    ['mean pooling, more shards than records (empty parts)', [], 30],
    ['token vectors (--pooling none)', ['--pooling', 'none'], 4],
    ['chunked long texts at float16', ['--overflow', 'chunk', '--max-length', '8', '--precision', 'float16'], 2],
    ['one shard', ['--normalize'], 1],
  ])('%s: the merged parts are the single run byte for byte', async (_what, flags, count) => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.jsonl', records);
    const common = ['extract', input, '--model', TINY_EN, '--window', '5', ...flags];
    await ok([...common, '-o', join(dir, 'single.npz')]);
    const parts = Array.from({ length: count }, (_, i) => join(dir, `part-${i}.npz`));
    for (let i = 0; i < count; i++) await ok([...common, '--shard', `${i}/${count}`, '-o', parts[i]]);
    // Any order on the command line.
    const r = await ok(['merge', ...parts.reverse(), '-o', join(dir, 'merged.npz')]);
    expect(r.stderr).toMatch(new RegExp(`merged ${count} parts, ${records.length} rows`));
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

  it('refuses a changed input or changed settings (exit 2, naming what changed), and keeps the run resumable', async () => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.txt', text);
    const out = join(dir, 'out.npz');
    const args = ['extract', input, '--model', TINY_EN, '--window', '8', '-o', out];
    // While the run is still going, its files are its own.
    let whileRunning: Awaited<ReturnType<typeof runMain>> | undefined;
    const killed = await killAt(args, out, 70, 0, 'SIGKILL', async () => {
      whileRunning = await runMain([...args, '--resume']);
    });
    expect(killed.killed).toBe(true);
    expect(whileRunning!.code, whileRunning!.stderr).toBe(2);
    expect(whileRunning!.stderr).toMatch(/--resume: process \d+ is still writing .*out\.npz/);

    let r = await runMain([...args, '--resume', '--normalize']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--resume: the settings changed since the interrupted run \(normalize false -> true\)/);

    r = await runMain([...args.slice(0, -2), '--window', '9', '-o', out, '--resume']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/window 8 -> 9/);

    const { mtime, atime } = statSync(input);
    writeFileSync(input, `${text.join('\n')}\nan extra line\n`);
    r = await runMain([...args, '--resume']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--resume: input .*in\.txt changed size \(\d+ -> \d+ bytes\) since the interrupted run/);

    // The same size but edited (one word swapped for another of its length).
    writeFileSync(input, `${text.join('\n').replace('the', 'cat')}\n`);
    utimesSync(input, atime, new Date(mtime.getTime() + 5000));
    r = await runMain([...args, '--resume']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/input .*in\.txt was modified/);
    expect(existsSync(out)).toBe(false);
    // Refusals touch nothing: the journal and the interrupted run's files are still there.
    expect(readdirSync(dir).filter((f) => f.endsWith('.journal') || f.endsWith('.tmp')).length).toBe(2);
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

  it('without --resume, starts over and removes what dead runs left (not what a live one writes)', async () => {
    const dir = tempDir();
    const input = writeInput(dir, 'in.txt', text);
    const out = join(dir, 'out.npz');
    const args = ['extract', input, '--model', TINY_EN, '--window', '8', '-o', out];
    expect((await killAt(args, out, 30, 0)).killed).toBe(true);
    const debris = readdirSync(dir).filter((f) => f !== 'in.txt');
    expect(debris.some((f) => f.endsWith('.tmp'))).toBe(true);
    expect(debris.some((f) => f.endsWith('.scratch'))).toBe(true);
    expect(debris).toContain('.out.npz.journal');
    // A second dead run's leftovers, and the files of a run still going (this process).
    const dead = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => dead.on('close', () => resolve(dead.pid!)));
    writeFileSync(join(dir, `.out.npz.${deadPid}.0123abcd.tmp`), 'x');
    const running = spawn('sleep', ['60']);
    const live = join(dir, `.out.npz.${running.pid}.0123abcd.tmp`);
    writeFileSync(live, 'x');
    // And a file named with this very process's pid: a dead run's, from a container restarted
    // with the same pid numbers (this process has no file of that output yet).
    writeFileSync(join(dir, `.out.npz.${process.pid}.0123abcd.scratch`), 'x');

    // Starting over needs no journal of the old run's window: a bigger one, fewer commits.
    const again = [...args, '--window', '256'];
    await ok(again);
    expect(readdirSync(dir).sort()).toEqual([`.out.npz.${running.pid}.0123abcd.tmp`, 'in.txt', 'out.npz'].sort());
    // With --resume and no journal left: a notice, and a run from the first record.
    const r = await ok([...again, '--resume']);
    expect(r.stderr).toMatch(/--resume: no interrupted run of .*out\.npz to continue; starting from the first record/);
    expect(existsSync(live)).toBe(true);
    running.kill();
  });
});
