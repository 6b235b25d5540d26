// A full garbage collection between windows, so that peak memory is reached within the first
// windows of a run and stays there, whatever its length.
//
// Without it, V8 sizes the old generation by its own growth heuristics: each window's records
// and token arrays outlive a scavenge or two and are promoted, and the first full collection came
// only after ~45,000 short lines, so a 200,000-line run peaked 12-17% above a 20,000-line one
// (`npm run bench -- memory`; BENCHMARKS.md). A full collection of albert-embed's small live heap
// takes a few milliseconds, against hundreds of milliseconds or more of inference per window.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      // The documented way to reach gc() without starting node with --expose-gc.
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}
