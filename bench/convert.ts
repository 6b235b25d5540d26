// Convert mode: time and peak memory of `albert-embed convert` on checkpoints shaped like
// albert-base-v2 (30,000-piece spiece.model, 768 hidden, 12 layers sharing one group) in
// safetensors and in torch's legacy .bin, and optionally like albert-xxlarge-v2 (4,096 hidden,
// 16,384 FFN; ~890 MB of float32), where "about two copies of the weights at most" is visible.
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CheckpointFormat, writeAlbertCheckpoint } from '../tools/checkpoint-writers/albert-checkpoint.js';
import { ROOT, runMeasured } from './measure.js';
import { BASE_SHAPED } from './models.js';

const BIN = join(ROOT, 'bin', 'albert-embed.js');

const SHAPES = {
  base: BASE_SHAPED.architecture,
  xxlarge: { ...BASE_SHAPED.architecture, hidden_size: 4096, num_attention_heads: 64, intermediate_size: 16384 },
} as const;

export interface ConvertRun {
  shape: keyof typeof SHAPES;
  format: CheckpointFormat;
  weightsMiB: number;
  seconds: number;
  peakRssMiB: number;
}

export async function runConvert({ work, threads, xxlarge }: { work: string; threads: number; xxlarge: boolean }): Promise<ConvertRun[]> {
  const runs: ConvertRun[] = [];
  const cases: Array<[keyof typeof SHAPES, CheckpointFormat]> = [
    ['base', 'safetensors'],
    ['base', 'torch-legacy'],
    ...(xxlarge ? ([['xxlarge', 'safetensors']] as Array<[keyof typeof SHAPES, CheckpointFormat]>) : []),
  ];
  for (const [shape, format] of cases) {
    const checkpoint = join(work, `checkpoint-${shape}-${format}`);
    const out = join(work, `converted-${shape}-${format}`);
    rmSync(checkpoint, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
    const built = writeAlbertCheckpoint(checkpoint, { format, tokenizer: { kind: 'spiece', pieces: 30000 }, architecture: SHAPES[shape], hiddenAct: 'gelu_new', seed: 1, head: 'masked-lm' });
    const weightsMiB = built.files.reduce((n, f) => n + statSync(join(checkpoint, f)).size, 0) / 2 ** 20;
    const run = await runMeasured(BIN, ['convert', checkpoint, '-o', out, '--threads', String(threads)], 'albert-embed convert');
    runs.push({ shape, format, weightsMiB, seconds: run.seconds, peakRssMiB: run.peakRssMiB });
    console.log(
      `${shape.padEnd(8)} ${format.padEnd(13)} ${weightsMiB.toFixed(0).padStart(5)} MiB of weights: ${run.seconds.toFixed(2)} s, peak RSS ${run.peakRssMiB.toFixed(0)} MiB ` +
        `(${(run.peakRssMiB / weightsMiB).toFixed(2)}x the weights)`,
    );
    rmSync(checkpoint, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
  return runs;
}
