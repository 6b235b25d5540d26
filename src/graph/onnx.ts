// ONNX models (onnx/onnx.proto, IR version 8 and later) as plain objects, and their streaming
// writer. Field numbers are those of onnx.proto; fields go out in field-number order and repeated
// scalars unpacked, as onnx's own C++ serializer writes this proto2 schema. Initializer bytes are
// produced only when written, one tensor at a time, so a model of any size is written with about
// one tensor in memory; past `externalDataThreshold` they go to `<model>_data` as ONNX external data.
import { closeSync, fstatSync, openSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { OutputError, errorMessage } from '../errors.js';
import { type LazyBytes, ProtoWriter } from '../protobuf.js';
import { writeAll } from '../write-all.js';

/** onnx.TensorProto.DataType: the element types this project writes. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

const ELEMENT_BYTES: Record<DataType, number> = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 10: 2 };

/** A tensor whose bytes (little-endian, row-major, as ONNX raw_data) are produced when written. */
export interface Initializer extends LazyBytes {
  readonly name: string;
  /** onnx.TensorProto.DataType; any value passes through, `DataType` names those built here. */
  readonly dataType: number;
  readonly dims: readonly number[];
}

export type TypedData = Float32Array | Int32Array | BigInt64Array | Int8Array | Uint8Array | Uint16Array;

const TYPED_DATA: Array<[new (...args: never[]) => TypedData, DataType]> = [
  [Float32Array, DataType.FLOAT],
  [Int32Array, DataType.INT32],
  [BigInt64Array, DataType.INT64],
  [Int8Array, DataType.INT8],
  [Uint8Array, DataType.UINT8],
  // float16 bits: JS has no float16 array in Node 20.
  [Uint16Array, DataType.FLOAT16],
];

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** An initializer whose bytes come from `produce` when it is written. */
export function lazyTensor(name: string, dataType: DataType, dims: readonly number[], produce: () => Uint8Array): Initializer {
  if (!Object.hasOwn(ELEMENT_BYTES, dataType)) throw new Error(`onnx: tensor ${name} has unsupported data type ${dataType}`);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`onnx: tensor ${name} has bad dims [${dims.join(', ')}]`);
  return { name, dataType, dims: [...dims], byteLength: elementCount(dims) * ELEMENT_BYTES[dataType], produce };
}

/** An initializer over data already in memory. Float16 is passed as its bits in a Uint16Array. */
export function tensor(name: string, dims: readonly number[], data: TypedData): Initializer {
  const dataType = TYPED_DATA.find(([type]) => data instanceof type)?.[1];
  if (dataType === undefined) throw new Error(`onnx: tensor ${name}: unsupported array type`);
  if (data.length !== elementCount(dims)) throw new Error(`onnx: tensor ${name} has ${data.length} elements for dims [${dims.join(', ')}]`);
  // ONNX raw_data is little-endian: every platform Node runs on is.
  return lazyTensor(name, dataType, dims, () => new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/**
 * A node attribute. Integers are INT and integer lists INTS (bigint where int64 exceeds 2^53);
 * floats must be tagged, since JS cannot tell 1 from 1.0. `raw` is an encoded AttributeProto
 * carried through unchanged (the reader keeps kinds this module does not model that way).
 */
export type AttrValue =
  | number
  | bigint
  | ReadonlyArray<number | bigint>
  | string
  | { float: number }
  | { floats: readonly number[] }
  | { strings: readonly string[] }
  | { tensor: Initializer }
  | { raw: Uint8Array };

export interface Node {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Empty (or absent) for the default ONNX domain; `com.microsoft` for onnxruntime's contrib ops. */
  domain?: string;
  attrs?: Readonly<Record<string, AttrValue>>;
}

export interface ValueInfo {
  name: string;
  elemType: number;
  /** A number is a fixed size; a string names a symbolic (dynamic) dimension; null is unknown. */
  shape: ReadonlyArray<number | string | null>;
}

export interface Graph {
  name: string;
  nodes: readonly Node[];
  initializers: readonly Initializer[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  /** Types and shapes of intermediate values, which onnxruntime's fusions may need to match. */
  valueInfo?: readonly ValueInfo[];
}

export interface OpsetImport {
  /** '' is the default ONNX domain. */
  domain: string;
  version: number;
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetImports: readonly OpsetImport[];
  graph: Graph;
}

const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** Where one tensor's bytes lie in the external data file. */
interface ExternalPlacement {
  location: string;
  offset: number;
}

function tensorProto(t: Initializer, external?: ExternalPlacement): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.dataType);
  if (t.name) w.string(8, t.name);
  if (!external) return w.bytes(9, t);
  // Keys and their order as onnx's external_data_helper.set_external_data writes them.
  for (const [key, value] of [['location', external.location], ['offset', String(external.offset)], ['length', String(t.byteLength)]]) {
    w.message(13, new ProtoWriter().string(1, key).string(2, value));
  }
  return w.varint(14, 1); // data_location = EXTERNAL
}

// Array.isArray does not narrow readonly arrays.
const isIntList = (value: AttrValue): value is ReadonlyArray<number | bigint> => Array.isArray(value);

function attributeProto(name: string, value: AttrValue): ProtoWriter | Uint8Array {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (typeof value === 'number' && !Number.isInteger(value)) throw new Error(`onnx: attribute ${name}: ${value} is not an integer; tag floats as { float }`);
    return w.varint(3, value).varint(20, AttributeType.INT);
  }
  if (typeof value === 'string') return w.string(4, value).varint(20, AttributeType.STRING);
  if (isIntList(value)) {
    for (const v of value) w.varint(8, v);
    return w.varint(20, AttributeType.INTS);
  }
  if ('float' in value) return w.float(2, value.float).varint(20, AttributeType.FLOAT);
  if ('floats' in value) {
    for (const f of value.floats) w.float(7, f);
    return w.varint(20, AttributeType.FLOATS);
  }
  if ('strings' in value) {
    for (const s of value.strings) w.string(9, s);
    return w.varint(20, AttributeType.STRINGS);
  }
  if ('tensor' in value) return w.message(5, tensorProto(value.tensor)).varint(20, AttributeType.TENSOR);
  return value.raw;
}

function nodeProto(node: Node): ProtoWriter {
  const w = new ProtoWriter();
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  if (node.name !== undefined) w.string(3, node.name);
  w.string(4, node.op);
  for (const [name, value] of Object.entries(node.attrs ?? {})) {
    const attr = attributeProto(name, value);
    if (attr instanceof ProtoWriter) w.message(5, attr);
    else w.bytes(5, attr);
  }
  if (node.domain) w.string(7, node.domain);
  return w;
}

function valueInfoProto(v: ValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.varint(1, d);
    else if (typeof d === 'string') dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().varint(1, v.elemType).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

function checkModel(model: OnnxModel): void {
  const domains = new Set(model.opsetImports.map((o) => o.domain));
  for (const node of model.graph.nodes) {
    if (!domains.has(node.domain ?? '')) throw new Error(`onnx: node ${node.name ?? node.op} uses domain '${node.domain ?? ''}', which the model does not import`);
  }
  const names = new Set<string>();
  for (const t of model.graph.initializers) {
    if (names.has(t.name)) throw new Error(`onnx: two initializers are named ${t.name}`);
    names.add(t.name);
  }
}

/** The ModelProto, initializers placed inline or, where `external` says, in the data file. */
function modelProto(model: OnnxModel, external: ReadonlyMap<Initializer, ExternalPlacement>): ProtoWriter {
  checkModel(model);
  const { graph } = model;
  const g = new ProtoWriter();
  for (const node of graph.nodes) g.message(1, nodeProto(node));
  g.string(2, graph.name);
  for (const t of graph.initializers) g.message(5, tensorProto(t, external.get(t)));
  for (const v of graph.inputs) g.message(11, valueInfoProto(v));
  for (const v of graph.outputs) g.message(12, valueInfoProto(v));
  for (const v of graph.valueInfo ?? []) g.message(13, valueInfoProto(v));
  const m = new ProtoWriter().varint(1, model.irVersion).string(2, model.producerName).string(3, model.producerVersion).message(7, g);
  for (const o of model.opsetImports) m.message(8, new ProtoWriter().string(1, o.domain).varint(2, o.version));
  return m;
}

/** The whole model in memory, every initializer inline: for small models (tests, the bench). */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  return modelProto(model, new Map()).finish();
}

/** Under protobuf's 2 GiB message limit with room for the nodes. */
export const DEFAULT_EXTERNAL_DATA_THRESHOLD = Math.floor(1.9 * 2 ** 30);
/** onnx's convert_model_to_external_data default: smaller tensors stay inline even then. */
const EXTERNAL_MIN_BYTES = 1024;
/**
 * Large tensors start on a 64 KiB boundary, small ones on 64 bytes. ONNX's ExternalData.md asks
 * for page-size (4 KiB) offsets, or Windows' 64 KiB allocation granularity, so the data file can
 * be memory-mapped; onnxruntime's own writer aligns only tensors over 1 MiB. 64 bytes keeps every
 * element type (and SIMD loads) aligned for a loader that reads small tensors in place.
 */
const LARGE_TENSOR_BYTES = 1 << 20;
const LARGE_ALIGNMENT = 1 << 16;
const SMALL_ALIGNMENT = 64;

export interface WriteOptions {
  /** Initializer bytes above which they go to `<file>_data` instead of the model file. */
  externalDataThreshold?: number;
}

export interface WrittenModel {
  path: string;
  bytes: number;
  /** Present when the initializers went to an external data file. */
  externalData?: { path: string; bytes: number };
}

function placeExternal(initializers: readonly Initializer[], location: string): Map<Initializer, ExternalPlacement> {
  const placed = new Map<Initializer, ExternalPlacement>();
  let end = 0;
  for (const t of initializers) {
    if (t.byteLength < EXTERNAL_MIN_BYTES) continue;
    const align = t.byteLength >= LARGE_TENSOR_BYTES ? LARGE_ALIGNMENT : SMALL_ALIGNMENT;
    const offset = Math.ceil(end / align) * align;
    placed.set(t, { location, offset });
    end = offset + t.byteLength;
  }
  return placed;
}

/** The external data file's bytes: each tensor at its offset, zero padding between. */
function* externalBlocks(placed: ReadonlyMap<Initializer, ExternalPlacement>): Generator<Uint8Array> {
  let at = 0;
  for (const [t, { offset }] of placed) {
    if (offset > at) yield new Uint8Array(offset - at);
    const bytes = t.produce();
    if (bytes.byteLength !== t.byteLength) throw new Error(`onnx: tensor ${t.name} produced ${bytes.byteLength} bytes, promised ${t.byteLength}`);
    yield bytes;
    at = offset + t.byteLength;
  }
}

/** A failure of the file system (ENOSPC, EACCES, ...), as opposed to one of a tensor's producer. */
function isFileSystemError(err: unknown): boolean {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

function writeFile(path: string, write: (fd: number) => void): number {
  const fd = openSync(path, 'w');
  try {
    write(fd);
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

async function writeFileAsync(path: string, write: (fd: number) => Promise<void>): Promise<number> {
  const fd = openSync(path, 'w');
  try {
    await write(fd);
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

interface Plan {
  proto: ProtoWriter;
  dataPath: string;
  placed: Map<Initializer, ExternalPlacement>;
}

function plan(path: string, model: OnnxModel, options: WriteOptions): Plan {
  const threshold = options.externalDataThreshold ?? DEFAULT_EXTERNAL_DATA_THRESHOLD;
  const dataPath = `${path}_data`;
  const total = model.graph.initializers.reduce((sum, t) => sum + t.byteLength, 0);
  const placed = total > threshold ? placeExternal(model.graph.initializers, basename(dataPath)) : new Map<Initializer, ExternalPlacement>();
  return { proto: modelProto(model, placed), dataPath, placed };
}

function failed(path: string, dataPath: string, err: unknown): Error {
  rmSync(path, { force: true });
  rmSync(dataPath, { force: true });
  if (!isFileSystemError(err)) return err as Error;
  return new OutputError(`cannot write the ONNX graph ${path}: ${errorMessage(err)}`, 'check that the folder is writable and the disk has room for the model', { cause: err });
}

/**
 * Streams `model` to `path`. When its initializers total more than `externalDataThreshold`
 * bytes, those of 1 KiB or more go to `<path>_data` (the name Optimum and Transformers.js use)
 * with data_location EXTERNAL and location/offset/length entries; otherwise a stale `<path>_data`
 * from an earlier write is removed. On failure neither file is left behind; file-system failures
 * are OutputErrors, a tensor producer's own error passes through unchanged.
 */
export function writeOnnxModel(path: string, model: OnnxModel, options: WriteOptions = {}): WrittenModel {
  const { proto, dataPath, placed } = plan(path, model, options);
  try {
    const bytes = writeFile(path, (fd) => proto.writeTo(fd));
    if (placed.size === 0) {
      rmSync(dataPath, { force: true });
      return { path, bytes };
    }
    const data = writeFile(dataPath, (fd) => {
      for (const block of externalBlocks(placed)) writeAll(fd, block);
    });
    return { path, bytes, externalData: { path: dataPath, bytes: data } };
  } catch (err) {
    throw failed(path, dataPath, err);
  }
}

/**
 * writeOnnxModel, returning to the event loop after each tensor: a gigabyte of weights takes
 * seconds to write, and signals must get through meanwhile.
 */
export async function writeOnnxModelAsync(path: string, model: OnnxModel, options: WriteOptions = {}): Promise<WrittenModel> {
  const { proto, dataPath, placed } = plan(path, model, options);
  try {
    const bytes = await writeFileAsync(path, (fd) => proto.writeToAsync(fd));
    if (placed.size === 0) {
      rmSync(dataPath, { force: true });
      return { path, bytes };
    }
    const data = await writeFileAsync(dataPath, async (fd) => {
      for (const block of externalBlocks(placed)) {
        writeAll(fd, block);
        await yieldToEventLoop();
      }
    });
    return { path, bytes, externalData: { path: dataPath, bytes: data } };
  } catch (err) {
    throw failed(path, dataPath, err);
  }
}
