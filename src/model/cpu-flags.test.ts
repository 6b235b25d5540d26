import { describe, expect, it } from 'vitest';
import { hasInt8DotProduct, int8CpuFlags } from './cpu-flags.js';

// Abridged /proc/cpuinfo of one CPU of each kind; only the first processor's flags are read.
const cpuinfo = (flags: string) => `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme sse2 ${flags}\nbugs\t\t: spectre_v1\n\nprocessor\t: 1\nflags\t\t: fpu amx_int8\n`;

describe('int8CpuFlags', () => {
  it('reads the int8 flags of the first CPU', () => {
    expect(int8CpuFlags(cpuinfo('avx2 avx512f avx512_vnni'))).toEqual({ avx2: true, avx512_vnni: true, avx_vnni: false, amx_int8: false });
    expect(int8CpuFlags(cpuinfo('avx2 avx_vnni'))).toEqual({ avx2: true, avx512_vnni: false, avx_vnni: true, amx_int8: false });
    // avx512_vnni is not avx512_vnni_fp16-like prefixes: flags match whole words only.
    expect(int8CpuFlags(cpuinfo('avx2 avx512_vnni_extra'))?.avx512_vnni).toBe(false);
  });

  it('is undefined where there are no flags (arm64 lists Features)', () => {
    expect(int8CpuFlags('processor\t: 0\nFeatures\t: fp asimd asimddp\n')).toBeUndefined();
  });

  it('VNNI or AMX make the int8 products exact; AVX2 alone does not', () => {
    expect(hasInt8DotProduct(int8CpuFlags(cpuinfo('avx2'))!)).toBe(false);
    expect(hasInt8DotProduct(int8CpuFlags(cpuinfo('avx2 avx_vnni'))!)).toBe(true);
    expect(hasInt8DotProduct(int8CpuFlags(cpuinfo('avx2 avx512_vnni'))!)).toBe(true);
  });
});
