// The Slurm harness itself, on a real one-node cluster: a job array that does not start at 0
// runs every task with the array variables extract --shard auto reads, waitForJob reports each
// task's final state (failures included), and stop() leaves no daemon and no job process behind.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { alive } from '../src/jobs/debris.js';
import { startSlurm, type SlurmCluster } from './slurm.js';

let cluster: SlurmCluster;

beforeAll(async () => {
  cluster = await startSlurm(tempDir('slurm-'));
});
afterAll(() => cluster?.stop());

describe('a one-node Slurm cluster', () => {
  it('runs --array=3-5 as three tasks that see their id, the lowest id, the count and the highest id', async () => {
    const out = tempDir('slurm-out-');
    const id = await cluster.sbatch(
      ['--array=3-5', '--output=/dev/null'],
      `#!/bin/sh
echo "$SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_MIN $SLURM_ARRAY_TASK_COUNT $SLURM_ARRAY_TASK_MAX" > '${out}'/task-$SLURM_ARRAY_TASK_ID
`,
    );
    const tasks = await cluster.waitForJob(id, 30_000);
    expect(tasks.map((t) => [t.arrayTaskId, t.state, t.exitCode])).toEqual([
      [3, 'COMPLETED', '0:0'],
      [4, 'COMPLETED', '0:0'],
      [5, 'COMPLETED', '0:0'],
    ]);
    // Each task is a job of its own; the array's id stays with one of them.
    expect(new Set(tasks.map((t) => t.jobId)).size).toBe(3);
    expect(tasks.map((t) => t.jobId)).toContain(id);
    expect(readdirSync(out).sort()).toEqual(['task-3', 'task-4', 'task-5']);
    for (const task of [3, 4, 5]) expect(readFileSync(join(out, `task-${task}`), 'utf8')).toBe(`${task} 3 3 5\n`);
  });

  it('reports a task that fails as FAILED with its exit status, and the others as COMPLETED', async () => {
    const id = await cluster.sbatch(['--array=0-1', '--output=/dev/null'], '#!/bin/sh\n[ "$SLURM_ARRAY_TASK_ID" = 1 ] && exit 3\nexit 0\n');
    const tasks = await cluster.waitForJob(id, 30_000);
    expect(tasks.map((t) => [t.arrayTaskId, t.state, t.exitCode])).toEqual([
      [0, 'COMPLETED', '0:0'],
      [1, 'FAILED', '3:0'],
    ]);
  });

  it('stop() ends a job still running, then munged, slurmctld and slurmd', async () => {
    const started = join(tempDir('slurm-run-'), 'started');
    await cluster.sbatch(['--output=/dev/null'], `#!/bin/sh\ntouch '${started}'\nexec sleep 300\n`);
    const end = Date.now() + 30_000;
    while (!existsSync(started)) {
      if (Date.now() > end) throw new Error(`the job did not start\n${cluster.logTails()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const pids = Object.values(cluster.pids);
    expect(pids.every((pid) => pid > 0)).toBe(true);
    expect(marked(cluster.dir).length).toBeGreaterThan(0);
    await cluster.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(marked(cluster.dir)).toEqual([]);
  });
});

/** The live processes whose environment carries this cluster's job mark (the job's sleep, its slurmstepd). */
function marked(dir: string): number[] {
  const line = `ALBERT_EMBED_TEST_SLURM=${dir}`;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(line);
      } catch {
        return false;
      }
    })
    .map(Number);
}
