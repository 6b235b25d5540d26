// A 50 MB line costs what a normal line costs: it is read only as far as max_length tokens need
// (the rest is checked for valid UTF-8 and skipped), tokenized in a bounded prefix, and marked
// truncated. Time and peak memory are printed next to a run without it.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, maxAbsDiff, ROOT, numpy, tempDir, TINY_EN } from './helpers.js';

const PROBE = join(ROOT, 'bench', 'rss-probe.cjs');

/** Runs the CLI with the peak-RSS probe; returns seconds, peak RSS in MiB and stderr. */
function measured(args: string[]): Promise<{ code: number | null; seconds: number; peakMiB: number; stderr: string }> {
  const rss = join(tempDir(), 'rss');
  const started = performance.now();
  const child = spawn(process.execPath, ['--require', PROBE, BIN, ...args], { env: { ...process.env, ALBERT_EMBED_BENCH_RSS: rss }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ code, seconds: (performance.now() - started) / 1000, peakMiB: Number(readFileSync(rss, 'utf8')) / 1024, stderr }));
  });
}

describe('a 50 MB line', () => {
  it('takes about as long as a normal line, in normal memory, and is marked truncated', async () => {
    const dir = tempDir();
    const words = ['the', 'dog', 'runs', 'far', 'from', 'home'];
    const huge = Array.from({ length: 10_000_000 }, (_, i) => words[i % 6]).join(' ').slice(0, 50 * 2 ** 20);
    const start = huge.slice(0, 4000);
    writeFileSync(join(dir, 'normal.txt'), `short one\n${start}\nlast line\n`);
    writeFileSync(join(dir, 'huge.txt'), `short one\n${huge}\nlast line\n`);
    // Each run twice, alternated, and the lower peak kept: on a busy machine (the suite runs two
    // files at a time) a collection that comes late only ever adds to a peak.
    const run = (name: string) => measured(['extract', join(dir, `${name}.txt`), '-o', join(dir, `${name}.npz`), '--model', TINY_EN]);
    const [normal1, big1, big2, normal2] = [await run('normal'), await run('huge'), await run('huge'), await run('normal')];
    const lower = (a: typeof normal1, b: typeof normal1) => (b.peakMiB < a.peakMiB ? b : a);
    const [normal, big] = [lower(normal1, normal2), lower(big1, big2)];
    console.log(
      `a 50 MB line: ${big.seconds.toFixed(2)} s, peak RSS ${big.peakMiB.toFixed(0)} MiB; ` +
        `the same file with its first 4,000 characters instead: ${normal.seconds.toFixed(2)} s, ${normal.peakMiB.toFixed(0)} MiB`,
    );
    expect(normal.code, normal.stderr).toBe(0);
    expect(big.code, big.stderr).toBe(0);
    expect(big.stderr).toMatch(/3 rows, \d+ tokens, 1 truncated to 128 tokens/);
    const load = 'z = numpy.load(sys.argv[1]); print(json.dumps({k: z[k].tolist() for k in ["embeddings", "token_counts", "truncated"]}))';
    const a = numpy(load, join(dir, 'normal.npz'));
    const b = numpy(load, join(dir, 'huge.npz'));
    expect(b.token_counts).toEqual([4, 128, 4]);
    expect(b.truncated).toEqual([false, true, false]);
    // Both middle lines keep the same 126 text tokens, so they embed the same input (batch
    // invariance bound, see invariance.test.ts).
    b.embeddings.forEach((row: number[], i: number) => expect(maxAbsDiff(row, a.embeddings[i])).toBeLessThan(1e-5));
    // Reading the whole line would hold 50 MiB of bytes and 50-100 MiB of string at least; what
    // stays is at most 16 MiB of read chunks between two collections (lines.ts) and one chunk.
    expect(big.peakMiB - normal.peakMiB).toBeLessThan(32);
  });
});
