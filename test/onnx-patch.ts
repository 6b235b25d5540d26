// Edits the float32 values of one initializer of an encoded ONNX model in place (same length, so
// no protobuf lengths change): how the tests make a damaged checkpoint out of a good one.
import { readFields } from '../src/protobuf.js';

const GRAPH = 7; // ModelProto.graph
const INITIALIZER = 5; // GraphProto.initializer
const NAME = 8; // TensorProto.name
const RAW_DATA = 9; // TensorProto.raw_data

export function patchInitializer(model: Buffer, name: string, edit: (values: Float32Array) => void): Buffer {
  const bytes = Buffer.from(model);
  for (const g of readFields(bytes)) {
    if (g.field !== GRAPH) continue;
    for (const t of readFields(g.bytes)) {
      if (t.field !== INITIALIZER) continue;
      const fields = [...readFields(t.bytes)];
      if (fields.find((f) => f.field === NAME)?.bytes.toString() !== name) continue;
      const raw = fields.find((f) => f.field === RAW_DATA)!.bytes;
      // raw_data need not be 4-byte aligned in the file: edit a copy, then write it back.
      const values = new Float32Array(Uint8Array.from(raw).buffer);
      edit(values);
      raw.set(new Uint8Array(values.buffer));
      return bytes;
    }
  }
  throw new Error(`no initializer ${name}`);
}
