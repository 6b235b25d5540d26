// Jobs mode: what the journal's durable commits cost, and what merge does with a large job.
//   - extract with the journal (the default) and with --no-journal, side by side, alternated, the
//     fastest of three runs each, at the default window and a small one, on the
//     ALBERT-base-shaped model (short lines: the most rows per second, so the most commits per
//     second a real model sees) and on the tiny fixture model, whose thousands of rows per
//     second make it the worst case for commits;
//   - merge of 200,000 rows x 768 float32 (586 MiB of embeddings, 591 MiB merged) from 4 and 16 parts: seconds,
//     rows/s and peak RSS. The parts are written by the real .npz sink with random rows, as
//     --shard runs would write them (embedding 200,000 rows with a 768-wide model would take an
//     hour here and measure nothing merge does).
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { prepareOutput } from '../src/output/sinks.js';
import { uniform } from '../tools/fixture-builder/weights.js';
import { shortLines } from './corpus.js';
import { ROOT, runMeasured } from './measure.js';
import { buildBaseShaped } from './models.js';

const BIN = join(ROOT, 'bin', 'albert-embed.js');

export interface JournalRun {
  model: string;
  lines: number;
  window: number;
  journal: boolean;
  seconds: number;
  textsPerSecond: number;
}

export interface MergeRun {
  parts: number;
  rows: number;
  dim: number;
  outputMiB: number;
  seconds: number;
  rowsPerSecond: number;
  peakRssMiB: number;
}

async function journalRuns(work: string, threads: number): Promise<JournalRun[]> {
  const runs: JournalRun[] = [];
  const base = buildBaseShaped(work).dir;
  const tiny = join(ROOT, 'fixtures', 'albert-tiny');
  const cases: Array<{ model: string; dir: string; lines: number; windows: number[] }> = [
    { model: 'albert-base-shaped', dir: base, lines: 2048, windows: [2048, 256] },
    { model: 'albert-tiny', dir: tiny, lines: 50_000, windows: [2048, 256] },
  ];
  for (const c of cases) {
    const input = join(work, `jobs-short-${c.lines}.txt`);
    writeFileSync(input, `${shortLines(c.lines).join('\n')}\n`);
    for (const window of c.windows) {
      // Alternated (on, off, off, on, on, off), and the fastest of each kept: other processes on a
      // shared machine only ever add time.
      const order = [true, false, false, true, true, false];
      const seconds = { on: [] as number[], off: [] as number[] };
      for (const journal of order) {
        const out = join(work, `jobs-journal.npz`);
        const run = await runMeasured(BIN, ['extract', input, '--model', c.dir, '-o', out, '--threads', String(threads), '--window', String(window), ...(journal ? [] : ['--no-journal'])], 'albert-embed extract');
        seconds[journal ? 'on' : 'off'].push(run.seconds);
      }
      for (const journal of [true, false]) {
        const s = Math.min(...seconds[journal ? 'on' : 'off']);
        runs.push({ model: c.model, lines: c.lines, window, journal, seconds: s, textsPerSecond: c.lines / s });
      }
      const [on, off] = runs.slice(-2);
      console.log(
        `${c.model.padEnd(18)} ${c.lines.toLocaleString('en-US').padStart(7)} lines, window ${String(window).padStart(4)}: ` +
          `journal ${on.textsPerSecond.toFixed(0)} texts/s, --no-journal ${off.textsPerSecond.toFixed(0)} texts/s ` +
          `(journal costs ${(100 * (1 - on.textsPerSecond / off.textsPerSecond)).toFixed(1)}%, ${Math.ceil(c.lines / window)} commits)`,
      );
    }
    rmSync(input, { force: true });
  }
  return runs;
}

/** The parts of a sharded job of `rows` records over `count` shards, as extract --shard writes them. */
async function writeParts(work: string, rows: number, dim: number, count: number): Promise<string[]> {
  const random = uniform(7);
  const files: string[] = [];
  for (let index = 0; index < count; index++) {
    const path = join(work, `merge-part-${index}-of-${count}.npz`);
    const sink = await (await prepareOutput({ path, format: 'npz', stdout: new PassThrough() })).open({ dim, precision: 'float32', tokens: false, chunks: false, recordNumbers: true });
    const numbers: number[] = [];
    for (let r = index; r < rows; r += count) numbers.push(r);
    for (let start = 0; start < numbers.length; start += 2048) {
      const block = numbers.slice(start, start + 2048);
      const values = new Float32Array(block.length * dim);
      for (let i = 0; i < values.length; i++) values[i] = random() * 2 - 1;
      await sink.write({ ids: block.map(String), tokenCounts: block.map((r) => 3 + (r % 10)), truncated: block.map(() => false), chunks: block.map(() => 1), records: block, rows: values });
    }
    await sink.finish({ tool: 'albert-embed', rows: numbers.length, truncated_rows: 0, records_total: rows, input_sha256: 'bench', settings_sha256: 'bench', shard: { index, count } });
    files.push(path);
  }
  return files;
}

async function mergeRuns(work: string): Promise<MergeRun[]> {
  const rows = 200_000;
  const dim = 768;
  const runs: MergeRun[] = [];
  for (const count of [4, 16]) {
    const parts = await writeParts(work, rows, dim, count);
    const out = join(work, 'merged.npz');
    const run = await runMeasured(BIN, ['merge', ...parts, '-o', out], 'albert-embed merge');
    const outputMiB = statSync(out).size / 2 ** 20;
    runs.push({ parts: count, rows, dim, outputMiB, seconds: run.seconds, rowsPerSecond: rows / run.seconds, peakRssMiB: run.peakRssMiB });
    console.log(
      `merge ${String(count).padStart(2)} parts -> ${rows.toLocaleString('en-US')} rows x ${dim} (${outputMiB.toFixed(0)} MiB): ${run.seconds.toFixed(2)} s, ` +
        `${Math.round(rows / run.seconds).toLocaleString('en-US')} rows/s (${(outputMiB / run.seconds).toFixed(0)} MiB/s), peak RSS ${run.peakRssMiB.toFixed(0)} MiB`,
    );
    for (const p of [...parts, out]) rmSync(p, { force: true });
  }
  return runs;
}

export async function runJobs({ work, threads }: { work: string; threads: number }): Promise<{ journal: JournalRun[]; merge: MergeRun[] }> {
  const merge = await mergeRuns(work);
  const journal = await journalRuns(work, threads);
  return { journal, merge };
}
