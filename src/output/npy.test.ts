import npyjs from 'npyjs';
import { describe, expect, it } from 'vitest';
import { encodeNpy, npyHeader, STREAMED_HEADER_SIZE, unicodeNpy } from './npy.js';

function parse(bytes: Buffer) {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return new npyjs().parse(ab as ArrayBuffer);
}

describe('npy encoding', () => {
  it('aligns headers to 64 bytes and ends them with a newline', () => {
    for (const shape of [[0, 768], [3, 4], [123456789, 1024]]) {
      const header = npyHeader('<f4', shape);
      expect(header.length % 64).toBe(0);
      expect(header[header.length - 1]).toBe(0x0a);
      expect(header.readUInt16LE(8)).toBe(header.length - 10);
    }
  });

  it('pads a streamed header to the reserved size whatever the row count', () => {
    expect(npyHeader('<f4', [1, 64], STREAMED_HEADER_SIZE).length).toBe(STREAMED_HEADER_SIZE);
    expect(npyHeader('<f4', [10 ** 15, 4096], STREAMED_HEADER_SIZE).length).toBe(STREAMED_HEADER_SIZE);
  });

  it('round-trips float32 matrices through npyjs', () => {
    const data = Float32Array.from([1.5, -2, 3.25, 0, 1e-8, 7]);
    const parsed = parse(encodeNpy('<f4', [2, 3], new Uint8Array(data.buffer)));
    expect(parsed.shape).toEqual([2, 3]);
    expect(Array.from(parsed.data as Float32Array)).toEqual(Array.from(data));
  });

  it('round-trips int32 vectors through npyjs', () => {
    const parsed = parse(encodeNpy('<i4', [3], new Uint8Array(Int32Array.of(3, 0, 128).buffer)));
    expect(parsed.shape).toEqual([3]);
    expect(Array.from(parsed.data as Int32Array)).toEqual([3, 0, 128]);
  });

  it('writes unicode arrays with numpy descriptors', () => {
    const u = unicodeNpy(['a', '编程😀']);
    expect(u.toString('latin1')).toContain("'descr': '<U3'");
    expect(u.toString('latin1')).toContain("'shape': (2,)");
    expect(unicodeNpy(['{}'], []).toString('latin1')).toContain("'shape': ()");
  });
});
