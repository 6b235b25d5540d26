import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../errors.js';
import { safetensorsParts, writeSafetensors, type WeightMap } from '../../tools/checkpoint-writers/index.js';
import { tempDir } from '../../test/helpers.js';
import { python } from '../../test/python.js';
import { allDtypeWeights } from '../../test/sample-weights.js';
import { openSafetensors } from './safetensors.js';

/** A safetensors file with a hand-made header and `dataLength` zero bytes of data. */
function rawFile(path: string, header: unknown, dataLength: number, headerText = JSON.stringify(header)): string {
  const json = Buffer.from(headerText);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([length, json, Buffer.alloc(dataLength)]));
  return path;
}

function openError(path: string): ModelError {
  try {
    openSafetensors(path).close();
  } catch (err) {
    if (err instanceof ModelError) return err;
    throw err;
  }
  throw new Error(`${path} was accepted`);
}

describe('safetensors writer', () => {
  // Expected bytes from the safetensors crate's own tests (safetensors/src/tensor.rs:
  // test_serialization, test_serialization_forced_alignement, test_empty).
  const f32 = new Float32Array([0, 1, 2, 3, 4, 5]);
  it.each([
    [
      'attn.0 F32 [1,2,3]',
      new Map([['attn.0', { shape: [1, 2, 3], data: f32 }]]),
      undefined,
      [
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93,
        125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
      ],
    ],
    [
      'attn0 F32 [1,1,2,3], header padded with spaces',
      new Map([['attn0', { shape: [1, 1, 2, 3], data: f32 }]]),
      undefined,
      [
        72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52,
        93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
      ],
    ],
    ['no tensors', new Map(), undefined, [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]],
    [
      'no tensors, with __metadata__',
      new Map(),
      { framework: 'pt' },
      [
        40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
      ],
    ],
  ] as const)('writes the crate\'s bytes for %s', (_label, weights, metadata, bytes) => {
    expect([...Buffer.concat(safetensorsParts(weights as WeightMap, metadata))]).toEqual(bytes);
  });

  it('orders tensors by dtype alignment, largest first, then by name, as the crate sorts them', () => {
    const { weights } = allDtypeWeights();
    const [, header] = safetensorsParts(weights);
    const names = Object.keys(JSON.parse(Buffer.from(header).toString()));
    expect(names).toEqual(['embeddings.position_ids', 'wide', 'double', 'embeddings.word_embeddings.weight', 'brain', 'half']);
  });
});

describe('safetensors reader', () => {
  it('round-trips every dtype exactly, and numpy reads the same values from the file', () => {
    const { weights, expected } = allDtypeWeights();
    const path = join(tempDir(), 'model.safetensors');
    writeSafetensors(path, weights, { format: 'pt' });
    const st = openSafetensors(path);
    try {
      expect(st.format).toBe('safetensors');
      expect(st.metadata).toEqual({ format: 'pt' });
      expect(st.tensors.get('brain')).toEqual({ name: 'brain', dtype: 'bfloat16', shape: [2, 2], file: path });
      for (const [name, values] of expected) expect([name, Array.from(st.readFloat32(name))]).toEqual([name, values]);
    } finally {
      st.close();
    }
    // An independent reader: the header parsed by Python, the data by numpy.
    const seen = python(
      `
import struct, numpy
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
kinds = {'F32': '<f4', 'F16': '<f2', 'F64': '<f8', 'I64': '<i8', 'BF16': '<u2'}
out = {}
for name, info in header.items():
    if name == '__metadata__': continue
    b, e = info['data_offsets']
    a = numpy.frombuffer(raw[8 + n + b:8 + n + e], dtype=kinds[info['dtype']])
    if info['dtype'] == 'BF16': a = (a.astype(numpy.uint32) << 16).view(numpy.float32)
    out[name] = [repr(float(numpy.float32(x))) if info['dtype'] != 'I64' else int(x) for x in a]
print(json.dumps(out))
`,
      path,
    );
    for (const [name, values] of expected) {
      const numpyValues = (seen[name] as (string | number)[]).map((v) => (typeof v === 'number' ? v : v === 'inf' ? Infinity : Number(v)));
      expect([name, numpyValues]).toEqual([name, values]);
    }
  });

  it('reads only the header when opening: tensors of a sparse 1 GB file are listed without loading it', () => {
    const path = join(tempDir(), 'big.safetensors');
    const gig = 1 << 30;
    rawFile(path, { small: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, big: { dtype: 'F32', shape: [gig / 4], data_offsets: [8, 8 + gig] } }, 0);
    // Extend to the full length without writing it (a sparse file).
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, readFileSync(path).length + 8 + gig);
    closeSync(fd);
    const before = process.memoryUsage().rss;
    const st = openSafetensors(path);
    expect(st.tensors.get('big')!.shape).toEqual([gig / 4]);
    expect(Array.from(st.readFloat32('small'))).toEqual([0, 0]);
    st.close();
    // Loading the file would add a gigabyte; 200 MB of slack covers the allocator's noise.
    expect(process.memoryUsage().rss - before).toBeLessThan(200 << 20);
  });

  describe('refuses damaged files with a one-line ModelError naming the file', () => {
    const dir = tempDir();
    it.each([
      ['shorter than the length field', () => (writeFileSync(join(dir, 'a'), Buffer.from([1, 2, 3])), join(dir, 'a')), /shorter than the 8-byte/],
      [
        'a header length over 100 MB',
        () => {
          const b = Buffer.alloc(16);
          b.writeBigUInt64LE(200_000_000n);
          writeFileSync(join(dir, 'b'), b);
          return join(dir, 'b');
        },
        /over the format's 100 MB limit/,
      ],
      ['a header cut short', () => (writeFileSync(join(dir, 'c'), readFileSync(rawFile(join(dir, 'c0'), { w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 4)).subarray(0, 20)), join(dir, 'c')), /header of \d+ bytes runs past the end/],
      ['a header that is not JSON', () => rawFile(join(dir, 'd'), null, 0, '{"w": {"dtype": '), /not valid JSON/],
      ['a tensor past the end of the file', () => rawFile(join(dir, 'e'), { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 12), /tensor w \(bytes \d+-\d+\) lies past the end of the file/],
      ['offsets that disagree with the shape', () => rawFile(join(dir, 'f'), { w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4), /spans 4 bytes, but F32 \[2\] needs 8/],
      [
        'overlapping tensors',
        () => rawFile(join(dir, 'g'), { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
        /tensors a and b overlap/,
      ],
      ['an entry without data_offsets', () => rawFile(join(dir, 'h'), { w: { dtype: 'F32', shape: [2] } }, 8), /lacks a dtype, shape or data_offsets/],
      ['non-string metadata', () => rawFile(join(dir, 'i'), { __metadata__: { n: 1 } }, 0), /__metadata__ is not a map of strings/],
    ])('%s', (_label, make, message) => {
      const path = make();
      const err = openError(path);
      expect(err.message).toMatch(message);
      expect(err.message).toContain(path);
      expect(err.message).not.toContain('\n');
      expect(err.exitCode).toBe(4);
    });

    it('names an unsupported dtype and what is supported', () => {
      const err = openError(rawFile(join(dir, 'j'), { w: { dtype: 'I16', shape: [2], data_offsets: [0, 4] } }, 4));
      expect(err.message).toMatch(/tensor w has dtype I16.*F32, F16, BF16/);
    });
  });
});
