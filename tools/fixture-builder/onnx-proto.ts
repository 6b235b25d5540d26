// Serialises ONNX models with protobufjs. The schema below is the subset of onnx/onnx.proto
// (proto2, IR version 8) that a feed-forward graph with initializers needs; field numbers are
// copied from the upstream file, so any ONNX reader parses the result.
import protobuf from 'protobufjs';

const ONNX_PROTO = `
syntax = "proto2";
package onnx;
message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
                       FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10; }
  optional string name = 1;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
}
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
}
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
`;

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

/** onnx.TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, FLOAT16: 10 } as const;

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface ValueInfo {
  name: string;
  elemType: number;
  /** A number is a fixed size; a string names a symbolic (dynamic) dimension. */
  shape: Array<number | string>;
}

export interface Graph {
  name: string;
  nodes: Node[];
  initializers: Initializer[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

function attribute(name: string, value: AttrValue): Record<string, unknown> {
  // Integers and integer lists are INT/INTS; floats must be tagged, since JS cannot tell 1 from 1.0.
  if (typeof value === 'number') return { name, type: 2, i: value };
  if (typeof value === 'string') return { name, type: 3, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: 7, ints: value };
  if ('float' in value) return { name, type: 1, f: value.float };
  return { name, type: 6, floats: value.floats };
}

function valueInfo(v: ValueInfo): Record<string, unknown> {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

export function encodeModel(graph: Graph, opset: number, producer: string): Uint8Array {
  const message = ModelProto.fromObject({
    ir_version: 8,
    producer_name: producer,
    producer_version: '1',
    opset_import: [{ domain: '', version: opset }],
    graph: {
      name: graph.name,
      node: graph.nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        op_type: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: graph.initializers.map((t) => ({
        name: t.name,
        dims: t.dims,
        data_type: t.data instanceof Float32Array ? DataType.FLOAT : DataType.INT64,
        // ONNX raw_data is little-endian, which is every platform Node runs on in practice.
        raw_data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      })),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  });
  return ModelProto.encode(message).finish();
}

/** Counts the nodes of an encoded model by operator (`domain:op` outside the default domain). */
export function countNodeTypes(bytes: Uint8Array): Record<string, number> {
  const model = ModelProto.toObject(ModelProto.decode(bytes), { defaults: false }) as {
    graph?: { node?: Array<{ op_type: string; domain?: string }> };
  };
  const counts: Record<string, number> = {};
  for (const node of model.graph?.node ?? []) {
    const key = node.domain ? `${node.domain}:${node.op_type}` : node.op_type;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
