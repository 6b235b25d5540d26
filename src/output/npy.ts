// numpy's .npy format, version 1.0 (numpy/lib/format.py): magic, a little-endian uint16 header
// length, a Python dict literal padded with spaces to a 64-byte boundary, then C-order data.

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00]);
const ALIGN = 64;

export type NpyDescr = '<f4' | '<f2' | '|u1' | '<i4' | '<i8' | '|b1' | `<U${number}`;

function dict(descr: NpyDescr, shape: readonly number[]): string {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  return `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
}

/**
 * The header for an array; with `size`, padded to exactly that many bytes so a streamed
 * file can reserve room first and write the final row count later.
 */
export function npyHeader(descr: NpyDescr, shape: readonly number[], size?: number): Buffer {
  const body = dict(descr, shape);
  const minimal = MAGIC.length + 2 + body.length + 1;
  const total = size ?? Math.ceil(minimal / ALIGN) * ALIGN;
  if (total < minimal || total % ALIGN !== 0 || total - MAGIC.length - 2 > 0xffff) {
    throw new Error(`npy header for shape (${shape.join(', ')}) does not fit in ${total} bytes`);
  }
  const header = Buffer.alloc(total, 0x20);
  MAGIC.copy(header, 0);
  header.writeUInt16LE(total - MAGIC.length - 2, MAGIC.length);
  header.write(body, MAGIC.length + 2, 'latin1');
  header[total - 1] = 0x0a;
  return header;
}

/** Header bytes reserved for a [rows, dim] float32 matrix whose row count is not known yet. */
export const STREAMED_HEADER_SIZE = 128;

export function encodeNpy(descr: NpyDescr, shape: readonly number[], data: Uint8Array): Buffer {
  return Buffer.concat([npyHeader(descr, shape), data]);
}

/**
 * A numpy unicode array ('<U{width}', UTF-32LE, zero-padded to the longest string); shape []
 * makes the 0-d array numpy uses for a scalar string.
 */
export function unicodeNpy(values: readonly string[], shape: readonly number[] = [values.length]): Buffer {
  const codepoints = values.map((v) => Array.from(v, (c) => c.codePointAt(0)!));
  const width = Math.max(1, ...codepoints.map((c) => c.length));
  const data = new Uint32Array(values.length * width);
  codepoints.forEach((cps, i) => data.set(cps, i * width));
  return encodeNpy(`<U${width}`, shape, new Uint8Array(data.buffer));
}

export interface NpyHeader {
  descr: string;
  shape: number[];
  /** Bytes from the start of the .npy data to its first array byte. */
  headerLength: number;
}

/**
 * The header of a .npy written by numpy or by this module (format 1.0 or 2.0): descr and shape of
 * a C-order array. Throws on anything else (Fortran order, structured dtypes).
 */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC.subarray(0, 6))) throw new Error('not a .npy array (no magic)');
  const major = buf[6];
  const lengthBytes = major === 1 ? 2 : 4;
  const length = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = 8 + lengthBytes;
  if (buf.length < start + length) throw new Error('.npy header cut short');
  const dict = buf.toString('latin1', start, start + length);
  const descr = /'descr':\s*'([^']+)'/.exec(dict)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(dict)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(dict)?.[1];
  if (!descr || fortran === undefined || shapeText === undefined) throw new Error(`.npy header ${JSON.stringify(dict.trim())} is not understood`);
  if (fortran === 'True') throw new Error('.npy array in Fortran order');
  const shape = shapeText.split(',').map((d) => d.trim()).filter(Boolean).map(Number);
  return { descr, shape, headerLength: start + length };
}

/** A 0-d or 1-d '<U{n}' array's strings (UTF-32LE code points, zero-padded). */
export function decodeUnicode(data: Uint8Array, width: number): string[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: string[] = [];
  for (let at = 0; at + width * 4 <= data.byteLength; at += width * 4) {
    let text = '';
    for (let i = 0; i < width; i++) {
      const cp = view.getUint32(at + i * 4, true);
      if (cp === 0) break;
      text += String.fromCodePoint(cp);
    }
    out.push(text);
  }
  return out;
}
