// Protocol Buffers wire format (protobuf.dev/programming-guides/encoding), both ways, with no
// schema compiler. Writing: a message is a list of byte parts whose sizes are known before any
// large part is produced, so an ONNX graph with a gigabyte of weights streams to disk one tensor
// at a time instead of being assembled in memory. Reading: a flat walk over one message's fields;
// nested messages and bytes fields are subarrays of the input, never copies.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { writeAll } from './write-all.js';

/** Bytes whose length is known now and whose content is produced only when written. */
export interface LazyBytes {
  readonly byteLength: number;
  produce(): Uint8Array;
}

type Part = Uint8Array | LazyBytes | ProtoWriter;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

function varintBytes(value: bigint): Uint8Array {
  // Negative int64 values are sent as their two's complement: ten bytes.
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

function smallVarint(value: number): Uint8Array {
  if (value >= 0 && value < 0x80) return Uint8Array.of(value);
  return varintBytes(BigInt(value));
}

const tag = (field: number, wire: number) => smallVarint(field * 8 + wire);
const utf8 = new TextEncoder();

export class ProtoWriter {
  private readonly parts: Part[] = [];
  /** Encoded size in bytes, known before any lazy part is produced. */
  byteLength = 0;

  private push(part: Part): this {
    this.parts.push(part);
    this.byteLength += part.byteLength;
    return this;
  }

  /** int32/int64/uint64/enum/bool fields. */
  varint(field: number, value: number | bigint | boolean): this {
    const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
    return this.push(tag(field, WIRE_VARINT)).push(varintBytes(v));
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.push(tag(field, WIRE_FIXED32)).push(b);
  }

  bytes(field: number, value: Uint8Array | LazyBytes): this {
    return this.push(tag(field, WIRE_BYTES)).push(smallVarint(value.byteLength)).push(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  message(field: number, value: ProtoWriter): this {
    return this.push(tag(field, WIRE_BYTES)).push(smallVarint(value.byteLength)).push(value);
  }

  /** A packed repeated varint field (proto3 style; proto2 readers accept it too). */
  packedVarints(field: number, values: ReadonlyArray<number | bigint>): this {
    const body = new ProtoWriter();
    for (const v of values) body.push(varintBytes(BigInt(v)));
    return this.message(field, body);
  }

  /** Every part in order, producing lazy parts one at a time. */
  private *chunks(): Generator<Uint8Array> {
    for (const part of this.parts) {
      if (part instanceof ProtoWriter) yield* part.chunks();
      else if (part instanceof Uint8Array) yield part;
      else {
        const bytes = part.produce();
        if (bytes.byteLength !== part.byteLength) throw new Error(`protobuf: lazy part produced ${bytes.byteLength} bytes, promised ${part.byteLength}`);
        yield bytes;
      }
    }
  }

  /** The whole message in memory: for small messages only. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    let at = 0;
    for (const chunk of this.chunks()) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }

  /** The message as write-sized pieces: small parts coalesced, large ones as they are. */
  private *blocks(): Generator<Uint8Array> {
    const buffer = new Uint8Array(1 << 16);
    let filled = 0;
    for (const chunk of this.chunks()) {
      if (chunk.byteLength > buffer.byteLength / 2) {
        if (filled > 0) yield buffer.subarray(0, filled);
        filled = 0;
        yield chunk;
      } else {
        if (filled + chunk.byteLength > buffer.byteLength) {
          yield buffer.subarray(0, filled);
          filled = 0;
        }
        buffer.set(chunk, filled);
        filled += chunk.byteLength;
      }
    }
    if (filled > 0) yield buffer.subarray(0, filled);
  }

  /**
   * Streams the message to an open file descriptor at its current position. Every write is
   * checked to completion: a short write is retried, an error thrown.
   */
  writeTo(fd: number): void {
    for (const block of this.blocks()) writeAll(fd, block);
  }

  /**
   * The same, returning to the event loop after every large part (a tensor), so that signals are
   * handled while a gigabyte of weights is written.
   */
  async writeToAsync(fd: number): Promise<void> {
    for (const block of this.blocks()) {
      writeAll(fd, block);
      if (block.byteLength > 1 << 15) await yieldToEventLoop();
    }
  }
}

export interface ProtoField {
  field: number;
  wire: 0 | 1 | 2 | 5;
  /** Varint fields, as unsigned 64-bit. */
  varint: bigint;
  /** Length-delimited fields: a view into the input. */
  bytes: Uint8Array;
  /** fixed32 / fixed64 fields: the position of their little-endian bytes in the input. */
  offset: number;
}

export class ProtoError extends Error {}

/** Reads one varint of `buf` at `pos.at`, advancing it. */
function readVarint(buf: Uint8Array, pos: { at: number }): bigint {
  let result = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos.at >= buf.length) throw new ProtoError('truncated varint');
    const b = buf[pos.at++];
    result |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return BigInt.asUintN(64, result);
  }
  throw new ProtoError('varint longer than 10 bytes');
}

/** Walks the fields of one encoded message in order; throws ProtoError on malformed input. */
export function* readFields(buf: Uint8Array): Generator<ProtoField> {
  const pos = { at: 0 };
  const empty = new Uint8Array(0);
  while (pos.at < buf.length) {
    const key = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new ProtoError('field number 0');
    if (wire === WIRE_VARINT) {
      yield { field, wire, varint: readVarint(buf, pos), bytes: empty, offset: 0 };
    } else if (wire === WIRE_BYTES) {
      const length = readVarint(buf, pos);
      if (length > BigInt(buf.length - pos.at)) throw new ProtoError(`field ${field}: length ${length} runs past the end`);
      const start = pos.at;
      pos.at += Number(length);
      yield { field, wire, varint: 0n, bytes: buf.subarray(start, pos.at), offset: start };
    } else if (wire === WIRE_FIXED32 || wire === WIRE_FIXED64) {
      const size = wire === WIRE_FIXED32 ? 4 : 8;
      if (pos.at + size > buf.length) throw new ProtoError(`field ${field}: fixed value runs past the end`);
      yield { field, wire, varint: 0n, bytes: empty, offset: pos.at };
      pos.at += size;
    } else {
      throw new ProtoError(`field ${field}: unsupported wire type ${wire}`);
    }
  }
}

const utf8Decoder = new TextDecoder('utf-8');

/** Field value helpers. */
export const proto = {
  int(f: ProtoField): number {
    return Number(BigInt.asIntN(64, f.varint));
  },
  bool(f: ProtoField): boolean {
    return f.varint !== 0n;
  },
  /** A fixed32 float field; `buf` is the message the field was read from. */
  float(buf: Uint8Array, f: ProtoField): number {
    return new DataView(buf.buffer, buf.byteOffset + f.offset, 4).getFloat32(0, true);
  },
  string(f: ProtoField): string {
    return utf8Decoder.decode(f.bytes);
  },
  /** A repeated varint field, packed or not. */
  varints(f: ProtoField): bigint[] {
    if (f.wire === WIRE_VARINT) return [f.varint];
    const out: bigint[] = [];
    const pos = { at: 0 };
    while (pos.at < f.bytes.length) out.push(readVarint(f.bytes, pos));
    return out;
  },
};
