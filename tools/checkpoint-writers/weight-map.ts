// The weights the checkpoint writers take: values by Hugging Face key, in the order they are to
// be stored. The typed array says the dtype; 16-bit floats come as raw bits and say which kind.
export type WeightEntry =
  | { shape: number[]; data: Float32Array | Float64Array | BigInt64Array }
  | { shape: number[]; data: Uint16Array; bits: 'float16' | 'bfloat16' };

export type WeightMap = ReadonlyMap<string, WeightEntry>;

export type WriterDtype = 'float32' | 'float64' | 'int64' | 'float16' | 'bfloat16';

export function dtypeOf(entry: WeightEntry): WriterDtype {
  if ('bits' in entry) return entry.bits;
  if (entry.data instanceof Float32Array) return 'float32';
  if (entry.data instanceof Float64Array) return 'float64';
  return 'int64';
}

/** The entry's values as little-endian bytes (typed arrays are host-order; every target host is little-endian). */
export function entryBytes(entry: WeightEntry): Uint8Array {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (entry.data.length !== count) throw new Error(`shape ${JSON.stringify(entry.shape)} needs ${count} values, data has ${entry.data.length}`);
  return new Uint8Array(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
}
