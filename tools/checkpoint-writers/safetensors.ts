// model.safetensors as the Rust safetensors crate's serialize() writes it (what Python's
// safetensors and transformers' save_pretrained call): tensors sorted by dtype, largest
// alignment first, then by name; a compact JSON header with `__metadata__` first and each
// tensor as {"dtype","shape","data_offsets"}; the header padded with spaces to a multiple of 8.
import { dtypeOf, entryBytes, type WeightMap, type WriterDtype } from './weight-map.js';
import { writeParts } from './write-parts.js';

const CODE: Readonly<Record<WriterDtype, string>> = { float32: 'F32', float64: 'F64', int64: 'I64', float16: 'F16', bfloat16: 'BF16' };
// Position in the crate's Dtype enum (BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64), whose derived Ord it sorts by.
const RANK: Readonly<Record<WriterDtype, number>> = { float16: 5, bfloat16: 6, float32: 9, float64: 10, int64: 11 };

/** The file's bytes: 8-byte header length, header, data. */
export function safetensorsParts(weights: WeightMap, metadata?: Readonly<Record<string, string>>): Uint8Array[] {
  const entries = [...weights].sort(([an, a], [bn, b]) => RANK[dtypeOf(b)] - RANK[dtypeOf(a)] || Buffer.compare(Buffer.from(an), Buffer.from(bn)));
  // Built as text: a JS object would move integer-like keys to the front.
  const fields: string[] = [];
  if (metadata) fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const [name, entry] of entries) {
    const bytes = entryBytes(entry);
    fields.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: CODE[dtypeOf(entry)], shape: entry.shape, data_offsets: [offset, offset + bytes.length] })}`);
    offset += bytes.length;
    data.push(bytes);
  }
  let json = `{${fields.join(',')}}`;
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return [length, Buffer.from(json, 'utf8'), ...data];
}

export function writeSafetensors(path: string, weights: WeightMap, metadata?: Readonly<Record<string, string>>): void {
  writeParts(path, safetensorsParts(weights, metadata));
}
