// The CPU features that decide int8 speed, as Linux reports them in /proc/cpuinfo. onnxruntime's
// int8 kernels (MLAS) multiply uint8 activations by int8 weights with VNNI's dot products where
// the CPU has them (avx512_vnni, or avx_vnni on recent client CPUs), with AMX tiles where it has
// amx_int8, and otherwise with AVX2's pairwise 16-bit sums, which can saturate.
import { readFileSync } from 'node:fs';

const INT8_CPU_FLAGS = ['avx2', 'avx512_vnni', 'avx_vnni', 'amx_int8'] as const;
export type Int8CpuFlag = (typeof INT8_CPU_FLAGS)[number];

/** Which of INT8_CPU_FLAGS the first CPU lists; undefined where /proc/cpuinfo is not there (not Linux) or lists no flags (not x86). */
export function int8CpuFlags(cpuinfo?: string): Record<Int8CpuFlag, boolean> | undefined {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  const line = text.match(/^flags\s*:(.*)$/m);
  if (!line) return undefined;
  const flags = new Set(line[1].trim().split(/\s+/));
  return Object.fromEntries(INT8_CPU_FLAGS.map((f) => [f, flags.has(f)])) as Record<Int8CpuFlag, boolean>;
}

/** Whether the flags promise exact, fast u8 x s8 products (VNNI or AMX). */
export function hasInt8DotProduct(flags: Record<Int8CpuFlag, boolean>): boolean {
  return flags.avx512_vnni || flags.avx_vnni || flags.amx_int8;
}
