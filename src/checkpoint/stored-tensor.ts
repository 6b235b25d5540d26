// What every weight reader hands back, and the one routine that turns stored bytes (any dtype,
// any strides) into float32. Readers only say where a tensor's elements live.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { endianness } from 'node:os';
import { ModelError, errorMessage } from '../errors.js';
import { float16BitsToFloat32 } from '../model/float16.js';
import { readExactly } from './file-bytes.js';

export type StoredDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export interface StoredTensor {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  /** Absolute path of the file holding it. */
  file: string;
}

export interface CheckpointWeights {
  /** 'safetensors' | 'torch zip' | 'torch legacy', with ' (N shards)' after it when sharded. */
  readonly format: string;
  /** Weight files read, absolute paths. */
  readonly files: readonly string[];
  /** Every tensor, by its key exactly as stored (e.g. 'albert.embeddings.word_embeddings.weight'). */
  readonly tensors: ReadonlyMap<string, StoredTensor>;
  /** Values widened to float32 (float16/bfloat16 exactly, float64 rounded), read from disk now. */
  readFloat32(name: string): Float32Array;
  close(): void;
}

export const DTYPE_BYTES: Readonly<Record<StoredDtype, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Where a tensor's elements sit: element i (row-major over shape) is at storage element offset + Σ index·stride. */
export interface TensorLayout {
  dtype: StoredDtype;
  shape: number[];
  stride: number[];
  /** Elements from the start of the storage to the tensor's first element. */
  storageOffset: number;
  /** Byte position of the storage's element 0 in the file. */
  storageStart: number;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let step = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    stride[d] = step;
    step *= shape[d];
  }
  return stride;
}

/** One past the largest storage element the tensor touches (0 for an empty tensor). */
export function storageSpan(layout: Pick<TensorLayout, 'shape' | 'stride' | 'storageOffset'>): number {
  if (layout.shape.some((n) => n === 0)) return 0;
  return layout.storageOffset + layout.shape.reduce((sum, n, d) => sum + (n - 1) * layout.stride[d], 0) + 1;
}

function decode(bytes: Uint8Array, dtype: StoredDtype): Float32Array {
  // Typed views read in host order and the files are little-endian.
  if (endianness() !== 'LE') throw new ModelError('reading checkpoint weights needs a little-endian machine', 'convert the checkpoint on an x86-64 or arm64 machine');
  const { buffer, byteOffset, byteLength } = bytes;
  const n = byteLength / DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, n);
    case 'float16':
      return float16BitsToFloat32(new Uint16Array(buffer, byteOffset, n));
    case 'bfloat16': {
      // bfloat16 is the top half of a float32: shifting the bits up widens it exactly.
      const halves = new Uint16Array(buffer, byteOffset, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = halves[i] << 16;
      return out;
    }
    case 'float64':
      return Float32Array.from(new Float64Array(buffer, byteOffset, n));
    case 'int64': {
      const wide = new BigInt64Array(buffer, byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(wide[i]);
      return out;
    }
    case 'int32':
      return Float32Array.from(new Int32Array(buffer, byteOffset, n));
    case 'int8':
      return Float32Array.from(new Int8Array(buffer, byteOffset, n));
    case 'uint8':
    case 'bool':
      return Float32Array.from(bytes);
    default: {
      const never: never = dtype;
      throw new Error(`unhandled dtype ${String(never)}`);
    }
  }
}

/**
 * Reads one tensor's elements from disk and widens them to float32. Only the storage elements
 * between the tensor's first and last are read, so a tensor that views a larger storage costs
 * its own size, and strided (e.g. transposed) views are gathered into row-major order.
 */
export function readTensorFloat32(fd: number, file: string, name: string, layout: TensorLayout): Float32Array {
  const count = elementCount(layout.shape);
  if (count === 0) return new Float32Array(0);
  const size = DTYPE_BYTES[layout.dtype];
  const first = layout.storageOffset;
  const span = storageSpan(layout) - first;
  const bytes = readExactly(fd, file, layout.storageStart + first * size, span * size, `tensor ${name}`);
  const values = decode(bytes, layout.dtype);
  const rowMajor = contiguousStrides(layout.shape);
  // Strides may differ from row-major ones only on dimensions of size 1 for a plain copy.
  if (layout.stride.every((s, d) => s === rowMajor[d] || layout.shape[d] === 1)) return values;
  const out = new Float32Array(count);
  const rank = layout.shape.length;
  const index = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < count; i++) {
    out[i] = values[at];
    // Odometer over the shape, moving the storage position by the strides.
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < layout.shape[d]) {
        at += layout.stride[d];
        break;
      }
      at -= (layout.shape[d] - 1) * layout.stride[d];
      index[d] = 0;
    }
  }
  return out;
}

/** The tensor by name, or a ModelError listing how many there are. */
export function lookup<T>(tensors: ReadonlyMap<string, T>, name: string, where: string): T {
  const t = tensors.get(name);
  if (t === undefined) throw new ModelError(`${where} has no tensor named ${name} (it holds ${tensors.size})`, 'check the key names with the checkpoint\'s own loader');
  return t;
}

/** The weights of one open file: tensors by name and where each one's elements are. */
export class SingleFileWeights implements CheckpointWeights {
  readonly files: readonly string[];
  private closed = false;

  constructor(
    readonly format: string,
    private readonly file: string,
    private readonly fd: number,
    readonly tensors: ReadonlyMap<string, StoredTensor>,
    private readonly layouts: ReadonlyMap<string, TensorLayout>,
  ) {
    this.files = [file];
  }

  readFloat32(name: string): Float32Array {
    if (this.closed) throw new Error(`weights of ${this.file} read after close()`);
    return readTensorFloat32(this.fd, this.file, name, lookup(this.layouts, name, this.file));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/**
 * Opens a file for reading and hands its descriptor to `parse`; the descriptor is closed again
 * when parsing throws. Errors that are not ours (permissions, a folder) become ModelErrors.
 */
export function withOpenFile<T>(file: string, parse: (fd: number, size: number) => T): T {
  let fd: number;
  let size: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new ModelError(`weights file ${file} cannot be opened: ${errorMessage(err)}`, 'check that the file exists and is readable', { cause: err });
  }
  try {
    size = fstatSync(fd).size;
    return parse(fd, size);
  } catch (err) {
    closeSync(fd);
    if (err instanceof ModelError) throw err;
    throw new ModelError(`weights file ${file} cannot be read: ${errorMessage(err)}`, 'check that the file is a readable regular file', { cause: err });
  }
}
