// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
// then the data, offsets counted from the end of the header. Only the header is read here.
import { ModelError } from '../errors.js';
import { damaged, readExactly } from './file-bytes.js';
import {
  type CheckpointWeights,
  contiguousStrides,
  DTYPE_BYTES,
  elementCount,
  SingleFileWeights,
  type StoredDtype,
  type StoredTensor,
  type TensorLayout,
  withOpenFile,
} from './stored-tensor.js';

// The safetensors crate's own limit (MAX_HEADER_SIZE).
const MAX_HEADER = 100_000_000;

const DTYPES: Readonly<Record<string, StoredDtype>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

export interface SafetensorsWeights extends CheckpointWeights {
  /** The header's `__metadata__` (transformers writes {"format": "pt"}). */
  readonly metadata: Readonly<Record<string, string>>;
}

function isDim(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function openSafetensors(path: string): SafetensorsWeights {
  return withOpenFile(path, (fd, size) => {
    if (size < 8) throw damaged(path, `${size} bytes is shorter than the 8-byte safetensors header length`);
    const n = new DataView(readExactly(fd, path, 0, 8, 'safetensors header length').buffer).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER)) throw damaged(path, `safetensors header length ${n} is over the format's 100 MB limit (not a safetensors file?)`);
    const headerLength = Number(n);
    if (8 + headerLength > size) throw damaged(path, `safetensors header of ${headerLength} bytes runs past the end of the file (${size} bytes)`);
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(readExactly(fd, path, 8, headerLength, 'safetensors header')).toString('utf8'));
    } catch (err) {
      throw damaged(path, `safetensors header is not valid JSON (${err instanceof Error ? err.message : String(err)})`, err);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) throw damaged(path, 'safetensors header is not a JSON object');

    const dataStart = 8 + headerLength;
    const tensors = new Map<string, StoredTensor>();
    const layouts = new Map<string, TensorLayout>();
    const spans: { name: string; begin: number; end: number }[] = [];
    let metadata: Record<string, string> = {};
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') {
        if (info === null || typeof info !== 'object' || Array.isArray(info) || Object.values(info).some((v) => typeof v !== 'string')) {
          throw damaged(path, 'safetensors __metadata__ is not a map of strings');
        }
        metadata = { ...(info as Record<string, string>) };
        continue;
      }
      const { dtype: code, shape, data_offsets: offsets } = (info ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof code !== 'string' || !Array.isArray(shape) || !shape.every(isDim) || !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim)) {
        throw damaged(path, `safetensors entry ${name} lacks a dtype, shape or data_offsets`);
      }
      const dtype = DTYPES[code];
      if (dtype === undefined) {
        throw new ModelError(
          `weights file ${path}: tensor ${name} has dtype ${code}, which convert does not read (it reads ${Object.keys(DTYPES).join(', ')})`,
          'save the checkpoint in float32, float16 or bfloat16',
        );
      }
      const [begin, end] = offsets as number[];
      const bytes = elementCount(shape) * DTYPE_BYTES[dtype];
      if (end < begin || end - begin !== bytes) {
        throw damaged(path, `safetensors entry ${name} spans ${end - begin} bytes, but ${code} ${JSON.stringify(shape)} needs ${bytes}`);
      }
      if (dataStart + end > size) {
        throw damaged(path, `tensor ${name} (bytes ${dataStart + begin}-${dataStart + end}) lies past the end of the file (${size} bytes)`);
      }
      if (end > begin) spans.push({ name, begin, end });
      tensors.set(name, { name, dtype, shape, file: path });
      layouts.set(name, { dtype, shape, stride: contiguousStrides(shape), storageOffset: 0, storageStart: dataStart + begin });
    }
    spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
    for (let i = 1; i < spans.length; i++) {
      const [a, b] = [spans[i - 1], spans[i]];
      if (b.begin < a.end) throw damaged(path, `tensors ${a.name} and ${b.name} overlap in the safetensors data`);
    }
    return Object.assign(new SingleFileWeights('safetensors', path, fd, tensors, layouts), { metadata });
  });
}
