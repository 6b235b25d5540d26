import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { decodeModel, encodeModel } from '../../test/reference/onnx-schema.js';
import { ModelError, OutputError } from '../errors.js';
import { openSession } from '../model/session.js';
import { DataType, type Initializer, type OnnxModel, encodeOnnxModel, lazyTensor, tensor, writeOnnxModel } from './onnx.js';
import { countNodeTypes, initializerOf, readExternalData, readOnnxModel, readOnnxModelFile } from './onnx-reader.js';

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Initializers of every written type; `width` elements each, so width >= 1024 puts all but the scalar external. */
function everyType(width: number): Initializer[] {
  return [
    tensor('f32', [1, width], Float32Array.from({ length: width }, (_, i) => i / 8 - 3)),
    tensor('f16', [width], Uint16Array.from({ length: width }, (_, i) => 0x3c00 + (i % 64))), // 1 + (i % 64) / 1024
    tensor('i64', [width], BigInt64Array.from({ length: width }, (_, i) => BigInt(i * 1000 - 7))),
    tensor('i32', [width], Int32Array.from({ length: width }, (_, i) => -i)),
    tensor('i8', [width], Int8Array.from({ length: width }, (_, i) => (i % 256) - 128)),
    tensor('u8', [width], Uint8Array.from({ length: width }, (_, i) => i % 256)),
    tensor('scalar', [], Float32Array.of(0.5)),
  ];
}

function sampleModel(initializers: Initializer[]): OnnxModel {
  return {
    irVersion: 8,
    producerName: 'test',
    producerVersion: '0.1',
    opsetImports: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: 'g',
      nodes: [
        { op: 'FusedMatMul', domain: 'com.microsoft', name: 'fmm', inputs: ['x', 'f32'], outputs: ['y'], attrs: { alpha: { float: 0.5 }, transA: 0 } },
        {
          op: 'Custom',
          inputs: ['y', ''],
          outputs: ['z'],
          attrs: {
            i: -1,
            big: 2n ** 62n,
            ints: [1, -2, 2n ** 40n],
            f: { float: 0.1 },
            fs: { floats: [1.5, -2] },
            s: 'tanh',
            ss: { strings: ['a', 'wörd'] },
            t: { tensor: tensor('', [2], BigInt64Array.of(3n, -4n)) },
          },
        },
      ],
      initializers,
      inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', 1] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', 4] }],
      valueInfo: [{ name: 'z', elemType: DataType.FLOAT16, shape: [null, 4] }],
    },
  };
}

describe('writeOnnxModel', () => {
  it('writes what protobufjs decodes with the onnx.proto schema', () => {
    const model = decodeModel(encodeOnnxModel(sampleModel(everyType(4))));
    expect(model).toMatchObject({ ir_version: '8', producer_name: 'test', producer_version: '0.1' });
    expect(model.opset_import).toEqual([{ domain: '', version: '17' }, { domain: 'com.microsoft', version: '1' }]);
    const [fmm, custom] = model.graph.node;
    expect(fmm).toMatchObject({ op_type: 'FusedMatMul', domain: 'com.microsoft', name: 'fmm', input: ['x', 'f32'], output: ['y'] });
    expect(fmm.attribute).toEqual([
      { name: 'alpha', type: 'FLOAT', f: 0.5 },
      { name: 'transA', type: 'INT', i: '0' },
    ]);
    expect(custom.domain).toBeUndefined();
    expect(custom.input).toEqual(['y', '']);
    const attrs = Object.fromEntries(custom.attribute.map((a: any) => [a.name, a]));
    expect(attrs.i).toMatchObject({ type: 'INT', i: '-1' });
    expect(attrs.big).toMatchObject({ type: 'INT', i: String(2n ** 62n) });
    expect(attrs.ints).toMatchObject({ type: 'INTS', ints: ['1', '-2', String(2n ** 40n)] });
    expect(attrs.f).toMatchObject({ type: 'FLOAT', f: Math.fround(0.1) });
    expect(attrs.fs).toMatchObject({ type: 'FLOATS', floats: [1.5, -2] });
    expect(attrs.s.type).toBe('STRING');
    expect(Buffer.from(attrs.s.s).toString()).toBe('tanh');
    expect(attrs.ss.strings.map((s: Uint8Array) => Buffer.from(s).toString())).toEqual(['a', 'wörd']);
    expect(attrs.t.type).toBe('TENSOR');
    expect(attrs.t.t).toMatchObject({ dims: ['2'], data_type: DataType.INT64 });
    expect(Array.from(new BigInt64Array(new Uint8Array(attrs.t.t.raw_data).buffer))).toEqual([3n, -4n]);

    const inits = model.graph.initializer;
    expect(inits.map((t: any) => [t.name, t.data_type, t.dims ?? []])).toEqual([
      ['f32', DataType.FLOAT, ['1', '4']],
      ['f16', DataType.FLOAT16, ['4']],
      ['i64', DataType.INT64, ['4']],
      ['i32', DataType.INT32, ['4']],
      ['i8', DataType.INT8, ['4']],
      ['u8', DataType.UINT8, ['4']],
      ['scalar', DataType.FLOAT, []],
    ]);
    expect(Array.from(new Float32Array(new Uint8Array(inits[0].raw_data).buffer))).toEqual([-3, -2.875, -2.75, -2.625]);
    expect(Array.from(new Int8Array(new Uint8Array(inits[4].raw_data).buffer))).toEqual([-128, -127, -126, -125]);
    expect(model.graph.input[0].type.tensor_type).toEqual({ elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'batch' }, { dim_value: '1' }] } });
    expect(model.graph.value_info).toEqual([{ name: 'z', type: { tensor_type: { elem_type: DataType.FLOAT16, shape: { dim: [{}, { dim_value: '4' }] } } } }]);
  });

  it('streams to disk the bytes it encodes in memory, producing each tensor once and only while writing', () => {
    const calls: string[] = [];
    const counted = everyType(16).map((t) => ({ ...t, produce: () => (calls.push(t.name), t.produce()) }));
    const model = sampleModel(counted);
    const path = join(tempDir(), 'model.onnx');
    expect(calls).toEqual([]);
    const written = writeOnnxModel(path, model);
    expect(calls).toEqual(counted.map((t) => t.name));
    expect(written).toEqual({ path, bytes: statSync(path).size });
    expect(readFileSync(path).equals(bytesOf(encodeOnnxModel(model)))).toBe(true);
  });

  it('past the threshold, puts tensors of 1 KiB or more in <model>_data, aligned, as onnx external data', () => {
    const big = lazyTensor('big', DataType.FLOAT, [300_000], () => bytesOf(Float32Array.from({ length: 300_000 }, (_, i) => i)));
    const inits = [...everyType(1100), big];
    const dir = tempDir();
    const path = join(dir, 'model.onnx');
    const written = writeOnnxModel(path, sampleModel(inits), { externalDataThreshold: 10_000 });
    const dataPath = join(dir, 'model.onnx_data');
    expect(written.externalData).toEqual({ path: dataPath, bytes: statSync(dataPath).size });
    const data = readFileSync(dataPath);

    const decoded = decodeModel(readFileSync(path)).graph.initializer;
    let end = 0;
    for (const [i, t] of inits.entries()) {
      const proto = decoded[i];
      if (t.byteLength < 1024) {
        expect(proto.data_location, t.name).toBeUndefined();
        expect(proto.raw_data.length).toBe(t.byteLength);
        continue;
      }
      expect(proto.raw_data, t.name).toBeUndefined();
      expect(proto.data_location).toBe('EXTERNAL');
      expect(proto.external_data.map((e: any) => e.key)).toEqual(['location', 'offset', 'length']);
      const [location, offset, length] = proto.external_data.map((e: any) => e.value);
      expect(location).toBe('model.onnx_data');
      expect(Number(length)).toBe(t.byteLength);
      expect(Number(offset) % (t.byteLength >= 2 ** 20 ? 65536 : 64), t.name).toBe(0);
      expect(Number(offset)).toBeGreaterThanOrEqual(end);
      expect(data.subarray(end, Number(offset)).every((b) => b === 0)).toBe(true);
      expect(data.subarray(Number(offset), Number(offset) + t.byteLength).equals(bytesOf(t.produce()))).toBe(true);
      end = Number(offset) + t.byteLength;
    }
    expect(data.length).toBe(end);
  });

  it('keeps everything inline under the threshold and removes a stale data file', () => {
    const dir = tempDir();
    const path = join(dir, 'model.onnx');
    writeFileSync(`${path}_data`, 'stale');
    expect(writeOnnxModel(path, sampleModel(everyType(1100))).externalData).toBeUndefined();
    expect(existsSync(`${path}_data`)).toBe(false);
  });

  it('leaves no file behind when a tensor fails to produce, and passes its error on', () => {
    const dir = tempDir();
    const path = join(dir, 'model.onnx');
    const failing = lazyTensor('bad', DataType.FLOAT, [1000], () => {
      throw new ModelError('checkpoint unreadable');
    });
    for (const externalDataThreshold of [0, undefined]) {
      expect(() => writeOnnxModel(path, sampleModel([...everyType(1100), failing]), { externalDataThreshold })).toThrow(ModelError);
      expect(existsSync(path) || existsSync(`${path}_data`)).toBe(false);
    }
  });

  it('reports a file it cannot write as an OutputError', () => {
    const path = join(tempDir(), 'missing', 'model.onnx');
    expect(() => writeOnnxModel(path, sampleModel(everyType(4)))).toThrow(OutputError);
  });

  it.each([undefined, 0])('writes what onnxruntime loads and runs, with every element type (threshold %s)', async (externalDataThreshold) => {
    // y = 0.5 * x @ f32 + cast(f16) + cast(i64) + cast(i32) + cast(i8) + cast(u8), through a com.microsoft op.
    const width = 1100;
    const inits = everyType(width);
    const cast = (name: string) => ({ op: 'Cast', name: `cast_${name}`, inputs: [name], outputs: [`${name}_f`], attrs: { to: DataType.FLOAT } });
    const sum = ['f16', 'i64', 'i32', 'i8', 'u8'].reduce((acc, n, i) => {
      return { ...acc, nodes: [...acc.nodes, cast(n), { op: 'Add', name: `add_${i}`, inputs: [acc.out, `${n}_f`], outputs: [`sum_${i}`] }], out: `sum_${i}` };
    }, { nodes: [] as OnnxModel['graph']['nodes'], out: 'mm' });
    const model = sampleModel(inits);
    const graph = {
      ...model.graph,
      nodes: [{ op: 'FusedMatMul', domain: 'com.microsoft', name: 'fmm', inputs: ['x', 'f32'], outputs: ['mm'], attrs: { alpha: { float: 0.5 } } }, ...sum.nodes, { op: 'Identity', name: 'out', inputs: [sum.out], outputs: ['y'] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', width] }],
    };
    const path = join(tempDir(), 'model.onnx');
    expect(Boolean(writeOnnxModel(path, { ...model, graph }, { externalDataThreshold }).externalData)).toBe(externalDataThreshold === 0);
    const session = await openSession(path, { device: 'cpu', threads: 1 }, () => {});
    try {
      const [{ data, dims }] = await session.run({ x: { data: Float32Array.of(2, -1), dims: [2, 1] } }, ['y']);
      expect(dims).toEqual([2, width]);
      for (const [row, x] of [2, -1].entries()) {
        for (const i of [0, 1, 63, 64, 255, 1099]) {
          const expected = 0.5 * x * (i / 8 - 3) + (1 + (i % 64) / 1024) + (i * 1000 - 7) - i + ((i % 256) - 128) + (i % 256);
          // float32 sums of values up to 1e6: a relative bound.
          expect(Math.abs(data[row * width + i] - expected)).toBeLessThanOrEqual(1e-6 * Math.abs(expected));
        }
      }
    } finally {
      await session.release();
    }
  });
});

describe('readOnnxModel', () => {
  it('reads back what the writer writes, which writes it back byte for byte', () => {
    const dir = tempDir();
    const path = join(dir, 'model.onnx');
    const original = sampleModel(everyType(1100));
    writeOnnxModel(path, original, { externalDataThreshold: 0 });
    const read = readOnnxModel(readFileSync(path), path);
    expect(read.irVersion).toBe(8);
    expect(read.opsetImports).toEqual(original.opsetImports);
    expect(read.graph.inputs).toEqual(original.graph.inputs);
    expect(read.graph.valueInfo).toEqual(original.graph.valueInfo);
    expect(read.graph.nodes[0]).toEqual({ ...original.graph.nodes[0], attrs: { alpha: { float: 0.5 }, transA: 0 } });
    const attrs = read.graph.nodes[1].attrs!;
    expect(attrs.big).toBe(2n ** 62n);
    expect(attrs.ints).toEqual([1, -2, 2 ** 40]);
    expect(attrs.f).toEqual({ float: Math.fround(0.1) });
    expect(read.graph.initializers.map((t) => [t.name, 'external' in t.data])).toEqual(original.graph.initializers.map((t) => [t.name, t.byteLength >= 1024]));
    const i8 = read.graph.initializers[4];
    expect('external' in i8.data && i8.data.external).toMatchObject({ location: 'model.onnx_data', length: 1100 });
    expect(Array.from(new Int8Array(initializerOf(i8, path).produce().slice().buffer)).slice(0, 3)).toEqual([-128, -127, -126]);

    const copy = join(tempDir(), 'model.onnx');
    writeOnnxModel(copy, readOnnxModelFile(path), { externalDataThreshold: 0 });
    expect(readFileSync(`${copy}_data`).equals(readFileSync(`${path}_data`))).toBe(true);
    expect(readFileSync(copy).equals(readFileSync(path))).toBe(true);
  });

  it('reads what protobufjs encodes: typed data fields, external refs, kinds it carries through', () => {
    const graphAttr = { name: 'body', type: 5, g: { name: 'inner', node: [{ op_type: 'Relu', input: ['a'], output: ['b'] }] } };
    const bytes = encodeModel({
      ir_version: 9,
      producer_name: 'pytorch',
      opset_import: [{ domain: '', version: 14 }],
      graph: {
        name: 'main',
        node: [{ op_type: 'Loop', input: ['x'], output: ['y'], attribute: [graphAttr, { name: 'axes', type: 7, ints: [-1] }] }],
        initializer: [
          { name: 'fd', dims: [2], data_type: 1, float_data: [1.5, -2] },
          { name: 'i64', dims: [2], data_type: 7, int64_data: ['-1', String(2n ** 40n)] },
          { name: 'i8', dims: [2], data_type: 3, int32_data: [-3, 4] },
          { name: 'h', dims: [1], data_type: 10, int32_data: [0x3c00] },
          { name: 'd', dims: [1], data_type: 11, double_data: [0.1] },
          { name: 'ext', dims: [4], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: 'w.bin' }, { key: 'offset', value: '4096' }] },
        ],
        input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'n' }, {}] } } } }],
      },
    });
    const read = readOnnxModel(bytes);
    expect(read).toMatchObject({ irVersion: 9, producerName: 'pytorch', producerVersion: '' });
    const raw = (i: number) => {
      const data = read.graph.initializers[i].data;
      if (!('raw' in data)) throw new Error('not raw');
      return data.raw.slice().buffer;
    };
    expect(Array.from(new Float32Array(raw(0)))).toEqual([1.5, -2]);
    expect(Array.from(new BigInt64Array(raw(1)))).toEqual([-1n, 2n ** 40n]);
    expect(Array.from(new Int8Array(raw(2)))).toEqual([-3, 4]);
    expect(Array.from(new Uint16Array(raw(3)))).toEqual([0x3c00]);
    expect(Array.from(new Float64Array(raw(4)))).toEqual([0.1]);
    expect(read.graph.initializers[5].data).toEqual({ external: { location: 'w.bin', offset: 4096 } });
    expect(read.graph.inputs).toEqual([{ name: 'x', elemType: 1, shape: ['n', null] }]);
    expect(read.graph.nodes[0].attrs!.axes).toEqual([-1]);

    // The graph attribute is carried through as encoded, and survives a rewrite.
    const rewritten = encodeOnnxModel({ ...read, graph: { ...read.graph, inputs: [], initializers: [] } });
    expect(decodeModel(rewritten).graph.node[0].attribute[0]).toEqual(decodeModel(bytes).graph.node[0].attribute[0]);
  });

  it('names the file when the bytes are not a model', () => {
    const bytes = encodeOnnxModel(sampleModel(everyType(4)));
    expect(() => readOnnxModel(bytes.subarray(0, bytes.length - 3), 'onnx/model.onnx')).toThrow(ModelError);
    expect(() => readOnnxModel(bytes.subarray(0, bytes.length - 3), 'onnx/model.onnx')).toThrow(/onnx\/model.onnx is not a readable ONNX model/);
    const typedTooShort = encodeModel({ graph: { initializer: [{ name: 'w', dims: [3], data_type: 1, float_data: [1] }] } });
    expect(() => readOnnxModel(typedTooShort)).toThrow(/tensor w holds 4 bytes of values, its dims need 12/);
  });
});

describe('readExternalData', () => {
  it('reads a tensor beside the model and refuses locations outside its folder or past the end', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'w.bin'), Uint8Array.from({ length: 16 }, (_, i) => i));
    const model = join(dir, 'model.onnx');
    expect(Array.from(readExternalData(model, { location: 'w.bin', offset: 4, length: 3 }))).toEqual([4, 5, 6]);
    expect(Array.from(readExternalData(model, { location: 'w.bin', offset: 14 }))).toEqual([14, 15]);
    expect(() => readExternalData(model, { location: '../w.bin', offset: 0 })).toThrow(/leaves the model's folder/);
    expect(() => readExternalData(model, { location: join(dir, 'w.bin'), offset: 0 })).toThrow(/leaves the model's folder/);
    expect(() => readExternalData(model, { location: 'w.bin', offset: 10, length: 8 })).toThrow(/holds 16 bytes; a tensor needs bytes 10 to 18/);
    expect(() => readExternalData(model, { location: 'none.bin', offset: 0 })).toThrow(ModelError);
  });
});

describe('countNodeTypes', () => {
  it('counts operators, with the domain outside the default one', () => {
    expect(countNodeTypes(encodeOnnxModel(sampleModel(everyType(4))))).toEqual({ 'com.microsoft:FusedMatMul': 1, Custom: 1 });
  });
});
