import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { ProtoError, ProtoWriter, proto, readFields } from './protobuf.js';

// protobufjs is the independent codec both directions are checked against.
const schema = protobuf.parse(`
syntax = "proto2";
message Inner { optional string name = 1; repeated int64 dims = 2 [packed = true]; }
message Outer {
  optional int64 big = 1; optional int32 neg = 2; optional float f = 3; optional bytes raw = 4;
  repeated Inner inner = 5; optional bool flag = 6; repeated int64 loose = 7;
}`).root.lookupType('Outer');

function sample(): ProtoWriter {
  const inner = new ProtoWriter().string(1, 'wörd').packedVarints(2, [1, 768, 2n ** 40n]);
  return new ProtoWriter()
    .varint(1, 2n ** 62n + 5n)
    .varint(2, -3)
    .float(3, 0.1)
    .bytes(4, { byteLength: 3, produce: () => Uint8Array.of(7, 8, 9) })
    .message(5, inner)
    .message(5, new ProtoWriter().string(1, ''))
    .varint(6, true)
    .varint(7, 1)
    .varint(7, 300);
}

describe('ProtoWriter', () => {
  it('encodes what protobufjs decodes, sizes known up front', () => {
    const w = sample();
    const bytes = w.finish();
    expect(bytes.length).toBe(w.byteLength);
    const o = schema.toObject(schema.decode(bytes), { longs: String, bytes: Array }) as Record<string, unknown>;
    expect(o).toEqual({
      big: String(2n ** 62n + 5n),
      neg: -3,
      f: Math.fround(0.1),
      raw: [7, 8, 9],
      inner: [{ name: 'wörd', dims: ['1', '768', String(2n ** 40n)] }, { name: '' }],
      flag: true,
      loose: ['1', '300'],
    });
  });

  it('streams to a file the same bytes it would build in memory', () => {
    const path = join(tempDir(), 'm.pb');
    const fd = openSync(path, 'w');
    sample().writeTo(fd);
    closeSync(fd);
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(sample().finish()))).toBe(true);
  });

  it('refuses a lazy part that breaks its promised size', () => {
    const w = new ProtoWriter().bytes(1, { byteLength: 4, produce: () => new Uint8Array(3) });
    expect(() => w.finish()).toThrow(/produced 3 bytes, promised 4/);
  });
});

describe('readFields', () => {
  it('reads what protobufjs encodes', () => {
    const bytes = schema.encode(schema.fromObject({ big: '-2', f: 2.5, raw: [1, 2], inner: [{ name: 'x', dims: [3, 4] }], loose: [5, 6] })).finish();
    const fields = [...readFields(bytes)];
    expect(fields.map((f) => f.field)).toEqual([1, 3, 4, 5, 7, 7]);
    expect(proto.int(fields[0])).toBe(-2);
    expect(proto.float(bytes, fields[1])).toBe(2.5);
    expect(Array.from(fields[2].bytes)).toEqual([1, 2]);
    const inner = [...readFields(fields[3].bytes)];
    expect(proto.string(inner[0])).toBe('x');
    expect(proto.varints(inner[1])).toEqual([3n, 4n]);
    expect(fields.slice(4).flatMap((f) => proto.varints(f))).toEqual([5n, 6n]);
  });

  it.each([
    [[0x08], /truncated varint/],
    [[0x0a, 0x05, 0x01], /runs past the end/],
    [[0x0b], /unsupported wire type 3/],
    [[0x00, 0x00], /field number 0/],
    [[0x08, ...new Array(11).fill(0xff)], /longer than 10 bytes/],
  ])('rejects malformed input %j', (bytes, message) => {
    expect(() => [...readFields(Uint8Array.from(bytes))]).toThrow(ProtoError);
    expect(() => [...readFields(Uint8Array.from(bytes))]).toThrow(message);
  });
});
