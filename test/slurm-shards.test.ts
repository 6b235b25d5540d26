// `extract --shard auto` under a real scheduler, as README.md's "Large jobs" tells it: its
// embed.sbatch script, taken from the README as written, runs as an sbatch job array on a
// one-node Slurm cluster (test/slurm.ts), array ids starting at 1; the merge is its dependent
// job, the README's --wrap command; the result is a single run's file byte for byte.
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runMain, tempDir, TINY_EN } from './helpers.js';
import { startSlurm, type SlurmCluster } from './slurm.js';

let cluster: SlurmCluster;

beforeAll(async () => {
  cluster = await startSlurm(tempDir('slurm-'));
});
afterAll(() => cluster?.stop());

function readmeExample(): { script: string; merge: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const script = /<!-- slurm-example -->\n```bash\n([\s\S]*?)```/.exec(readme)?.[1];
  const merge = /--dependency=afterok:"\$job" --wrap '([^']+)'/.exec(readme)?.[1];
  if (!script || !merge) throw new Error("README.md's Slurm example is not where this test looks for it");
  return { script, merge };
}

describe('a Slurm job array', () => {
  it("README's embed.sbatch as --array=1-3, then its merge as a dependent job: the single run byte for byte", async () => {
    const { script, merge } = readmeExample();
    const dir = tempDir('shards-');
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    writeFileSync(join(dir, 'corpus.txt'), Array.from({ length: 41 }, (_, i) => words.slice(0, 1 + (i % 5)).join(' ')).join('\n'));
    const single = join(dir, 'single.npz');
    const r = await runMain(['extract', join(dir, 'corpus.txt'), '--model', TINY_EN, '-o', single]);
    expect(r.code, r.stderr).toBe(0);

    // `albert-embed` on the PATH, as an installed package puts it there.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'albert-embed'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
    chmodSync(join(bin, 'albert-embed'), 0o755);
    // Command-line options override the script's #SBATCH lines: three tasks from 1, a CPU each.
    const common = [`--chdir=${dir}`, `--export=ALL,PATH=${bin}:${cluster.env.PATH},ALBERT_EMBED_MODEL=${TINY_EN},ALBERT_EMBED_CACHE=${join(dir, 'cache')}`];
    const array = await cluster.sbatch([...common, '--array=1-3', '--cpus-per-task=1'], script);
    const merged = await cluster.sbatch([...common, `--dependency=afterok:${array}`, `--output=${join(dir, 'merge.log')}`], `#!/bin/sh\n${merge}\n`);

    const logs = () => readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => `${f}: ${readFileSync(join(dir, f), 'utf8')}`).join('\n');
    const tasks = await cluster.waitForJob(array, 120_000);
    expect(tasks.map((t) => [t.arrayTaskId, t.state]), logs()).toEqual([
      [1, 'COMPLETED'],
      [2, 'COMPLETED'],
      [3, 'COMPLETED'],
    ]);
    expect(readdirSync(join(dir, 'parts')).sort()).toEqual(['part-1.npz', 'part-2.npz', 'part-3.npz']);
    const [mergeJob] = await cluster.waitForJob(merged, 60_000);
    expect(mergeJob.state, logs()).toBe('COMPLETED');
    expect(readFileSync(join(dir, 'corpus.npz')).equals(readFileSync(single))).toBe(true);
    // Each task's log holds its summary line: three shards of 41 records, 14, 14 and 13 rows.
    expect(readdirSync(dir).filter((f) => /^embed-\d+_\d\.log$/.test(f)).map((f) => /(\d+) rows/.exec(readFileSync(join(dir, f), 'utf8'))?.[1]).sort()).toEqual(['13', '14', '14']);
  });
});
