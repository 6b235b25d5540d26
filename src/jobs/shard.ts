// --shard: which records a run embeds. Record r (numbered from 0 over all inputs, in order)
// belongs to shard r mod N: a split that needs no count of the records beforehand, balanced to
// within one record, the same on every run of the same input, and as even in text lengths as the
// input is. `auto` asks the scheduler running the job: a Slurm job array or a Kubernetes Indexed Job.
import { UsageError } from '../errors.js';

export interface Shard {
  index: number;
  count: number;
}

type Env = Readonly<Record<string, string | undefined>>;

const integer = (value: string | undefined) => (value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined);

/** The shard a Slurm array task or a Kubernetes Indexed Job pod is, from its environment. */
function fromScheduler(env: Env, count: number | undefined, label: string, countLabel: string): Shard {
  const id = integer(env.SLURM_ARRAY_TASK_ID);
  if (id !== undefined) {
    // Arrays need not start at 0 (--array=1-8) and may step (--array=0-14:2).
    const min = integer(env.SLURM_ARRAY_TASK_MIN) ?? 0;
    const step = integer(env.SLURM_ARRAY_TASK_STEP) ?? 1;
    const tasks = integer(env.SLURM_ARRAY_TASK_COUNT);
    const max = integer(env.SLURM_ARRAY_TASK_MAX);
    if (tasks === undefined || step === 0) throw new UsageError(`${label} auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not a count`, 'run it as a task of an sbatch --array job');
    // A list (--array=1,4,9) reports step 1: only its maximum shows it is not a range.
    if ((max !== undefined && max !== min + (tasks - 1) * step) || (id - min) % step !== 0 || (id - min) / step >= tasks) {
      throw new UsageError(`${label} auto: array task ${id} is not one of ${tasks} tasks from ${min} in steps of ${step}`, 'give the job array a range (--array=0-7 or 1-8:1), not a list');
    }
    return { index: (id - min) / step, count: tasks };
  }
  const index = integer(env.JOB_COMPLETION_INDEX);
  if (index !== undefined) {
    const total = count ?? integer(env.ALBERT_EMBED_SHARD_COUNT);
    if (total === undefined) {
      throw new UsageError(`${label} auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job), but Kubernetes does not tell the number of shards`, `pass ${countLabel} N (the Job's completions) or set ALBERT_EMBED_SHARD_COUNT`);
    }
    if (index >= total) throw new UsageError(`${label} auto: JOB_COMPLETION_INDEX ${index} is not below the ${total} shards`, `set ${countLabel} to the Job's completions`);
    return { index, count: total };
  }
  throw new UsageError(`${label} auto: no scheduler tells this run its shard (no SLURM_ARRAY_TASK_ID, no JOB_COMPLETION_INDEX)`, `outside a job array give the shard yourself: ${label} 0/4`);
}

/** `I/N` or `auto` (with the environment, and N from --shard-count for Kubernetes). */
export function resolveShard(spec: string, env: Env, count: number | undefined, naming: 'cli' | 'library'): Shard {
  const label = naming === 'cli' ? '--shard' : 'shard';
  const countLabel = naming === 'cli' ? '--shard-count' : 'shardCount';
  if (spec === 'auto') return fromScheduler(env, count, label, countLabel);
  const match = /^(\d+)\/(\d+)$/.exec(spec);
  if (!match) throw new UsageError(`${label} must be I/N (0 <= I < N) or auto, got ${JSON.stringify(spec)}`, `for example ${label} 0/4`);
  const [index, total] = [Number(match[1]), Number(match[2])];
  if (total === 0 || index >= total) throw new UsageError(`${label} ${spec}: the shard index must be below the shard count (0 <= I < N)`, `shards of ${total || 'N'} are numbered 0..${Math.max(0, total - 1)}`);
  return { index, count: total };
}
