// Reads an encoded ONNX ModelProto into the same plain objects the writer takes, so that a graph
// exported elsewhere (Optimum's fp32 model.onnx) can be inspected and rewritten. Initializer bytes
// are views into the input, never copies; external data is described, and read on request.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { ModelError, errorMessage } from '../errors.js';
import { type ProtoField, proto, readFields } from '../protobuf.js';
import { type AttrValue, type Initializer, type Node, type OnnxModel, type OpsetImport, type ValueInfo } from './onnx.js';

const UTF8_DECODER = new TextDecoder();

/** Where an external tensor's bytes are: `location` is relative to the model file's folder. */
export interface ExternalDataRef {
  location: string;
  offset: number;
  /** Absent: to the end of the file. */
  length?: number;
}

export interface TensorRecord {
  name: string;
  /** onnx.TensorProto.DataType, any of them. */
  dataType: number;
  dims: number[];
  /** raw: little-endian bytes (typed-field data converted to that form); external: where they are. */
  data: { raw: Uint8Array } | { external: ExternalDataRef };
}

export interface ReadModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetImports: OpsetImport[];
  graph: {
    name: string;
    nodes: Node[];
    initializers: TensorRecord[];
    inputs: ValueInfo[];
    outputs: ValueInfo[];
    valueInfo: ValueInfo[];
  };
}

class Malformed extends Error {}

function fields(buf: Uint8Array): ProtoField[] {
  return [...readFields(buf)];
}

/** int64 as a number when exact, else as a bigint. */
function exactInt(v: bigint): number | bigint {
  const signed = BigInt.asIntN(64, v);
  return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : signed;
}

function dim(v: bigint): number {
  const d = exactInt(v);
  if (typeof d !== 'number' || d < 0) throw new Malformed(`bad tensor dimension ${d}`);
  return d;
}

// Typed-field storage (TensorProto int32_data=5, int64_data=7, uint64_data=11 hold varints;
// float_data=4 and double_data=10 fixed-width values), by data type: the field and the element
// width raw_data would use. From onnx.proto's comments on those fields.
const VARINT_STORAGE: Record<number, [field: number, bytes: number]> = {
  2: [5, 1], 3: [5, 1], 4: [5, 2], 5: [5, 2], 6: [5, 4], 9: [5, 1], 10: [5, 2], 16: [5, 2], // uint8 int8 uint16 int16 int32 bool float16 bfloat16
  7: [7, 8], // int64
  12: [11, 4], 13: [11, 8], // uint32 uint64
};
const FIXED_STORAGE: Record<number, [field: number, bytes: number]> = { 1: [4, 4], 11: [10, 8] }; // float, double

function typedToRaw(buf: Uint8Array, all: ProtoField[], dataType: number, count: number): Uint8Array | undefined {
  const out = new Uint8Array(count * (VARINT_STORAGE[dataType]?.[1] ?? FIXED_STORAGE[dataType]?.[1] ?? 0));
  const view = new DataView(out.buffer);
  let at = 0;
  const varint = VARINT_STORAGE[dataType];
  const fixed = FIXED_STORAGE[dataType];
  for (const f of all) {
    if (varint && f.field === varint[0]) {
      for (const v of proto.varints(f)) {
        if (at + varint[1] > out.length) throw new Malformed('more values than its dims hold');
        if (varint[1] === 8) view.setBigUint64(at, v, true);
        else for (let b = 0; b < varint[1]; b++) out[at + b] = Number((v >> BigInt(8 * b)) & 0xffn);
        at += varint[1];
      }
    } else if (fixed && f.field === fixed[0]) {
      // Packed (the usual form) is the raw bytes already; unpacked is one value per field.
      const bytes = f.wire === 2 ? f.bytes : buf.subarray(f.offset, f.offset + fixed[1]);
      if (at + bytes.length > out.length) throw new Malformed('more values than its dims hold');
      out.set(bytes, at);
      at += bytes.length;
    }
  }
  if (!varint && !fixed) return count === 0 ? out : undefined;
  if (at !== out.length) throw new Malformed(`holds ${at} bytes of values, its dims need ${out.length}`);
  return out;
}

function readTensor(buf: Uint8Array): TensorRecord {
  const all = fields(buf);
  let name = '';
  let dataType = 0;
  const dims: number[] = [];
  let raw: Uint8Array | undefined;
  let externalLocation = false;
  const entries = new Map<string, string>();
  for (const f of all) {
    if (f.field === 1) dims.push(...proto.varints(f).map(dim));
    else if (f.field === 2) dataType = proto.int(f);
    else if (f.field === 8) name = proto.string(f);
    else if (f.field === 9) raw = f.bytes;
    else if (f.field === 13) {
      let key = '';
      let value = '';
      for (const e of readFields(f.bytes)) {
        if (e.field === 1) key = proto.string(e);
        else if (e.field === 2) value = proto.string(e);
      }
      entries.set(key, value);
    } else if (f.field === 14) externalLocation = proto.int(f) === 1;
  }
  const label = name || '(unnamed)';
  if (externalLocation) {
    const location = entries.get('location');
    if (!location) throw new Malformed(`tensor ${label} is external but names no location`);
    const number = (key: string) => {
      const text = entries.get(key);
      if (text === undefined) return undefined;
      const n = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new Malformed(`tensor ${label} has external ${key} '${text}'`);
      return n;
    };
    const length = number('length');
    return { name, dataType, dims, data: { external: { location, offset: number('offset') ?? 0, ...(length === undefined ? {} : { length }) } } };
  }
  if (raw) return { name, dataType, dims, data: { raw } };
  let converted: Uint8Array | undefined;
  try {
    converted = typedToRaw(buf, all, dataType, dims.reduce((a, b) => a * b, 1));
  } catch (err) {
    throw new Malformed(`tensor ${label} ${errorMessage(err)}`);
  }
  if (!converted) throw new Malformed(`tensor ${label} keeps data type ${dataType} in a typed field this reader does not decode`);
  return { name, dataType, dims, data: { raw: converted } };
}

/** A tensor record with inline bytes as an initializer the writer takes (tensor attributes). */
function inlineInitializer(t: TensorRecord): Initializer {
  if (!('raw' in t.data)) throw new Malformed(`attribute tensor ${t.name} is external, which ONNX allows only for initializers`);
  const raw = t.data.raw;
  return { name: t.name, dataType: t.dataType, dims: t.dims, byteLength: raw.byteLength, produce: () => raw };
}

function readAttribute(buf: Uint8Array): [string, AttrValue] {
  let name = '';
  let type = 0;
  let f32: number | undefined;
  let int: bigint | undefined;
  let s: Uint8Array | undefined;
  let t: Uint8Array | undefined;
  const floats: number[] = [];
  const ints: bigint[] = [];
  const strings: string[] = [];
  for (const f of readFields(buf)) {
    if (f.field === 1) name = proto.string(f);
    else if (f.field === 20) type = proto.int(f);
    else if (f.field === 2) f32 = proto.float(buf, f);
    else if (f.field === 3) int = f.varint;
    else if (f.field === 4) s = f.bytes;
    else if (f.field === 5) t = f.bytes;
    else if (f.field === 7) {
      if (f.wire === 2) for (let at = 0; at < f.bytes.length; at += 4) floats.push(new DataView(f.bytes.buffer, f.bytes.byteOffset + at, 4).getFloat32(0, true));
      else floats.push(proto.float(buf, f));
    } else if (f.field === 8) ints.push(...proto.varints(f));
    else if (f.field === 9) strings.push(proto.string(f));
  }
  switch (type) {
    case 1:
      return [name, { float: f32 ?? 0 }];
    case 2:
      return [name, exactInt(int ?? 0n)];
    case 3:
      return [name, UTF8_DECODER.decode(s ?? new Uint8Array(0))];
    case 4:
      if (!t) throw new Malformed(`attribute ${name} is a tensor but holds none`);
      return [name, { tensor: inlineInitializer(readTensor(t)) }];
    case 6:
      return [name, { floats }];
    case 7:
      return [name, ints.map(exactInt)];
    case 8:
      return [name, { strings }];
    default:
      // Graphs, sparse tensors, type protos and their lists: carried through as encoded.
      return [name, { raw: buf }];
  }
}

function readNode(buf: Uint8Array): Node {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attrs: Record<string, AttrValue> = {};
  let op = '';
  let name: string | undefined;
  let domain = '';
  for (const f of readFields(buf)) {
    if (f.field === 1) inputs.push(proto.string(f));
    else if (f.field === 2) outputs.push(proto.string(f));
    else if (f.field === 3) name = proto.string(f);
    else if (f.field === 4) op = proto.string(f);
    else if (f.field === 5) {
      const [key, value] = readAttribute(f.bytes);
      attrs[key] = value;
    } else if (f.field === 7) domain = proto.string(f);
  }
  return { op, inputs, outputs, ...(name === undefined ? {} : { name }), ...(domain ? { domain } : {}), ...(Object.keys(attrs).length ? { attrs } : {}) };
}

function readValueInfo(buf: Uint8Array): ValueInfo {
  let name = '';
  let tensorType: Uint8Array | undefined;
  for (const f of readFields(buf)) {
    if (f.field === 1) name = proto.string(f);
    else if (f.field === 2) for (const t of readFields(f.bytes)) if (t.field === 1) tensorType = t.bytes;
  }
  if (!tensorType) throw new Malformed(`graph value ${name} is not a tensor`);
  let elemType = 0;
  const shape: Array<number | string | null> = [];
  for (const f of readFields(tensorType)) {
    if (f.field === 1) elemType = proto.int(f);
    else if (f.field === 2) {
      for (const d of readFields(f.bytes)) {
        if (d.field !== 1) continue;
        let value: number | string | null = null;
        for (const v of readFields(d.bytes)) {
          if (v.field === 1) value = dim(v.varint);
          else if (v.field === 2) value = proto.string(v);
        }
        shape.push(value);
      }
    }
  }
  return { name, elemType, shape };
}

function readGraph(buf: Uint8Array): ReadModel['graph'] {
  const graph: ReadModel['graph'] = { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
  for (const f of readFields(buf)) {
    if (f.field === 1) graph.nodes.push(readNode(f.bytes));
    else if (f.field === 2) graph.name = proto.string(f);
    else if (f.field === 5) graph.initializers.push(readTensor(f.bytes));
    else if (f.field === 11) graph.inputs.push(readValueInfo(f.bytes));
    else if (f.field === 12) graph.outputs.push(readValueInfo(f.bytes));
    else if (f.field === 13) graph.valueInfo.push(readValueInfo(f.bytes));
  }
  return graph;
}

function modelError(source: string, err: unknown): ModelError {
  return new ModelError(`${source} is not a readable ONNX model: ${errorMessage(err)}`, 'export the graph again (optimum-cli export onnx) or convert the checkpoint again', { cause: err });
}

/**
 * The model's metadata, nodes, initializers, graph inputs/outputs and value_info. Fields this
 * project has no use for (doc strings, metadata_props, functions, training info) are skipped. `source` names the
 * file in error messages.
 */
export function readOnnxModel(bytes: Uint8Array, source = 'the ONNX model'): ReadModel {
  try {
    const model: ReadModel = { irVersion: 0, producerName: '', producerVersion: '', opsetImports: [], graph: readGraph(new Uint8Array(0)) };
    for (const f of readFields(bytes)) {
      if (f.field === 1) model.irVersion = proto.int(f);
      else if (f.field === 2) model.producerName = proto.string(f);
      else if (f.field === 3) model.producerVersion = proto.string(f);
      else if (f.field === 7) model.graph = readGraph(f.bytes);
      else if (f.field === 8) {
        const opset: OpsetImport = { domain: '', version: 0 };
        for (const o of readFields(f.bytes)) {
          if (o.field === 1) opset.domain = proto.string(o);
          else if (o.field === 2) opset.version = proto.int(o);
        }
        model.opsetImports.push(opset);
      }
    }
    return model;
  } catch (err) {
    throw modelError(source, err);
  }
}

/** Counts the nodes of an encoded model by operator (`domain:op` outside the default domain). */
export function countNodeTypes(bytes: Uint8Array, source = 'the ONNX model'): Record<string, number> {
  const counts: Record<string, number> = {};
  try {
    for (const m of readFields(bytes)) {
      if (m.field !== 7) continue;
      for (const g of readFields(m.bytes)) {
        if (g.field !== 1) continue;
        let op = '';
        let domain = '';
        for (const f of readFields(g.bytes)) {
          if (f.field === 4) op = proto.string(f);
          else if (f.field === 7) domain = proto.string(f);
        }
        const key = domain ? `${domain}:${op}` : op;
        counts[key] = (counts[key] ?? 0) + 1;
      }
    }
  } catch (err) {
    throw modelError(source, err);
  }
  return counts;
}

/**
 * The bytes of an external tensor of the model at `modelPath`. The location must stay inside the
 * model's folder (ONNX disallows absolute paths and `..`).
 */
export function readExternalData(modelPath: string, ref: ExternalDataRef): Uint8Array {
  const hint = 'the model and its external data file must be exported together; export or convert it again';
  if (isAbsolute(ref.location) || ref.location.split(/[\\/]/).includes('..')) {
    throw new ModelError(`${modelPath}: external data location '${ref.location}' leaves the model's folder`, hint);
  }
  const path = join(dirname(modelPath), ref.location);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new ModelError(`${modelPath}: cannot open its external data ${path}: ${errorMessage(err)}`, hint, { cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    const length = ref.length ?? size - ref.offset;
    if (ref.offset + length > size || length < 0) {
      throw new ModelError(`${modelPath}: external data ${path} holds ${size} bytes; a tensor needs bytes ${ref.offset} to ${ref.offset + length}`, hint);
    }
    const out = new Uint8Array(length);
    for (let at = 0; at < length; ) {
      const n = readSync(fd, out, at, length - at, ref.offset + at);
      if (n <= 0) throw new ModelError(`${modelPath}: external data ${path} ended early at byte ${ref.offset + at}`, hint);
      at += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** A read tensor as an initializer for the writer; external bytes are read from beside `modelPath` only when written. */
export function initializerOf(t: TensorRecord, modelPath: string): Initializer {
  const data = t.data;
  const byteLength = 'raw' in data ? data.raw.byteLength : (data.external.length ?? -1);
  if (byteLength < 0) throw new ModelError(`${modelPath}: external tensor ${t.name} gives no length`, 'export the graph again');
  return { name: t.name, dataType: t.dataType, dims: t.dims, byteLength, produce: () => ('raw' in data ? data.raw : readExternalData(modelPath, data.external)) };
}

/**
 * The ONNX file at `path` as a model the writer takes: its initializers are views into the file's
 * bytes (external ones read from beside it only when written), so a graph can be read, rewritten
 * and written again without a second copy of its weights.
 */
export function readOnnxModelFile(path: string): OnnxModel {
  const read = readOnnxModel(readFileSync(path), path);
  return { ...read, graph: { ...read.graph, initializers: read.graph.initializers.map((t) => initializerOf(t, path)) } };
}
