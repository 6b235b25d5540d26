import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { collectGarbage } from './memory.js';

describe('collectGarbage', () => {
  it('runs a full collection without node being started with --expose-gc', () => {
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe('undefined');
    let garbage: number[][] | undefined = Array.from({ length: 2000 }, (_, i) => Array.from({ length: 1000 }, () => i));
    const held = getHeapStatistics().used_heap_size;
    garbage = undefined;
    collectGarbage();
    // ~16 MB of arrays became unreachable; a full collection frees nearly all of it at once.
    expect(getHeapStatistics().used_heap_size).toBeLessThan(held - 8e6);
  });
});
