// Where a graph's time goes: onnxruntime's own profiler (enableProfiling) over the batches
// albert-embed plans, kernel time summed by operator type.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { runPlan, SESSION_DEFAULTS, timed } from './engine.js';

export interface OpProfile {
  /** Wall-clock seconds of the profiled run. */
  seconds: number;
  /** Kernel seconds by operator type (domain dropped), largest first. */
  byOp: Array<[string, number]>;
  kernelSeconds: number;
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

export async function profileByOp(path: string, threads: number, ids: Int32Array[], plan: number[][], workDir: string): Promise<OpProfile> {
  const dir = join(workDir, 'profiles');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const session = await ort.InferenceSession.create(path, {
    ...SESSION_DEFAULTS,
    intraOpNumThreads: threads,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    enableProfiling: true,
    profileFilePrefix: join(dir, 'profile'),
  });
  let seconds: number;
  try {
    seconds = await timed(() => runPlan(session, ids, plan, ['last_hidden_state']));
    session.endProfiling();
  } finally {
    await session.release();
  }
  const [file] = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
  const totals = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    totals.set(e.args.op_name, (totals.get(e.args.op_name) ?? 0) + e.dur / 1e6);
  }
  rmSync(dir, { recursive: true, force: true });
  const byOp = [...totals].sort((a, b) => b[1] - a[1]);
  return { seconds, byOp, kernelSeconds: byOp.reduce((sum, [, s]) => sum + s, 0) };
}
