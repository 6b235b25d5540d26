// Memory mode: peak RSS of albert-embed for 20k and 200k short lines with the tiny fixture model.
// Flat memory means the second figure stays within 10% of the first.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shortLines } from './corpus.js';
import { ROOT, runMeasured } from './measure.js';

const BIN = join(ROOT, 'bin', 'albert-embed.js');
const SIZES = [20_000, 200_000];
const FORMATS = ['npz', 'npy', 'jsonl'] as const;

export interface MemoryRun {
  lines: number;
  format: string;
  seconds: number;
  peakRssMiB: number;
}

export async function runMemory({ work, threads }: { work: string; threads: number }): Promise<{ runs: MemoryRun[]; growth: Record<string, number> }> {
  const model = join(ROOT, 'fixtures', 'albert-tiny');
  const runs: MemoryRun[] = [];
  const growth: Record<string, number> = {};
  for (const format of FORMATS) {
    for (const lines of SIZES) {
      const input = join(work, `short-${lines}.txt`);
      if (format === FORMATS[0]) writeFileSync(input, `${shortLines(lines).join('\n')}\n`);
      const run = await runMeasured(BIN, ['extract', input, '--model', model, '-o', join(work, `memory.${format}`), '--threads', String(threads)], 'albert-embed');
      runs.push({ lines, format, seconds: run.seconds, peakRssMiB: run.peakRssMiB });
      console.log(`${format.padEnd(5)} ${lines.toLocaleString('en-US').padStart(7)} lines: peak RSS ${run.peakRssMiB.toFixed(1)} MiB in ${run.seconds.toFixed(1)} s`);
    }
    const [small, large] = runs.slice(-2);
    growth[format] = large.peakRssMiB / small.peakRssMiB - 1;
    console.log(`${format.padEnd(5)} 200k vs 20k: ${(100 * growth[format]).toFixed(1)}% (target: within 10%)`);
  }
  return { runs, growth };
}
