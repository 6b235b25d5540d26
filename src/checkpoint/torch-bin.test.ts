import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../errors.js';
import {
  hostilePickle,
  legacyHeader,
  PyGlobal,
  PyList,
  PyPersistent,
  PyReduce,
  PyTuple,
  pickleProtocol2,
  torchLegacyParts,
  torchZipDataPkl,
  type TorchView,
  type TorchWeights,
  type WeightEntry,
  TorchZipRecords,
  writeHostileTorchLegacy,
  writeHostileTorchZip,
  writeParts,
  writeTorchArchive,
  writeTorchLegacy,
  writeTorchZip,
} from '../../tools/checkpoint-writers/index.js';
import { tempDir } from '../../test/helpers.js';
import { fakeTorchSave, python } from '../../test/python.js';
import { allDtypeWeights } from '../../test/sample-weights.js';
import { openTorchBin } from './torch-bin.js';

/** Every dtype, plus views into shared storages: tied, transposed, offset, strided. */
function sample(): { weights: TorchWeights; expected: Map<string, number[]> } {
  const { weights, expected } = allDtypeWeights();
  const e = expected.get('embeddings.word_embeddings.weight')!;
  const h = expected.get('half')!;
  const all: TorchWeights = new Map<string, WeightEntry | TorchView>([
    ...weights,
    // The MLM decoder tied to the word embeddings: the same storage, the same view.
    ['predictions.decoder.weight', { viewOf: 'embeddings.word_embeddings.weight', shape: [2, 3], stride: [3, 1], storageOffset: 0 }],
    ['transposed', { viewOf: 'embeddings.word_embeddings.weight', shape: [3, 2], stride: [1, 3], storageOffset: 0 }],
    ['second_row', { viewOf: 'embeddings.word_embeddings.weight', shape: [3], stride: [1], storageOffset: 3 }],
    ['half_odd', { viewOf: 'half', shape: [2], stride: [2], storageOffset: 1 }],
  ]);
  const all_expected = new Map([
    ...expected,
    ['predictions.decoder.weight', e],
    ['transposed', [e[0], e[3], e[1], e[4], e[2], e[5]]],
    ['second_row', e.slice(3)],
    ['half_odd', [h[1], h[3]]],
  ]);
  return { weights: all, expected: all_expected };
}

const METADATA = [
  ['', 1],
  ['embeddings', 1],
  ['predictions', 1],
] as const;

function expectValues(path: string, expected: Map<string, number[]>, format: string): void {
  const w = openTorchBin(path);
  try {
    expect(w.format).toBe(format);
    expect([...w.tensors.keys()]).toEqual([...expected.keys()]);
    for (const [name, values] of expected) expect([name, Array.from(w.readFloat32(name))]).toEqual([name, values]);
    expect(w.tensors.get('transposed')).toEqual({ name: 'transposed', dtype: 'float32', shape: [3, 2], file: path });
    expect(w.tensors.get('embeddings.position_ids')!.dtype).toBe('int64');
    expect(w.tensors.get('brain')!.dtype).toBe('bfloat16');
  } finally {
    w.close();
  }
}

function openError(path: string): ModelError {
  try {
    openTorchBin(path).close();
  } catch (err) {
    if (err instanceof ModelError) return err;
    throw err;
  }
  throw new Error(`${path} was accepted`);
}

describe('torch writers match what torch.save writes through CPython', () => {
  const { weights } = sample();

  it.each([
    ['an OrderedDict with _metadata (model.state_dict())', { metadata: METADATA }],
    ['a plain dict (transformers shards)', { container: 'dict' as const }],
  ])('zip data.pkl of %s is byte for byte CPython\'s', (_label, options) => {
    const out = join(tempDir(), 'data.pkl');
    fakeTorchSave('zip-pkl', weights, out, options);
    expect(Buffer.from(torchZipDataPkl(weights, options).dataPkl).equals(readFileSync(out))).toBe(true);
  });

  it('a legacy file is byte for byte what _legacy_save writes', () => {
    const out = join(tempDir(), 'legacy.bin');
    fakeTorchSave('legacy', weights, out, { metadata: METADATA });
    expect(Buffer.concat(torchLegacyParts(weights, { metadata: METADATA })).equals(readFileSync(out))).toBe(true);
  });

  it('pickletools disassembles every pickle, and zipfile finds a sound, 64-byte aligned torch archive', () => {
    const dir = tempDir();
    const zipPath = join(dir, 'pytorch_model.bin');
    const legacyPath = join(dir, 'legacy.bin');
    writeTorchZip(zipPath, weights, { metadata: METADATA });
    writeTorchLegacy(legacyPath, weights, { metadata: METADATA });
    const seen = python(
      `
import io, pickletools, struct, zipfile
out = {}
with zipfile.ZipFile(sys.argv[1]) as z:
    out['bad_crc'] = z.testzip()
    out['names'] = z.namelist()
    out['stored'] = all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    out['dates'] = sorted({i.date_time for i in z.infolist()})
    raw = open(sys.argv[1], 'rb').read()
    out['misaligned'] = []
    for i in z.infolist():
        n, m = struct.unpack('<HH', raw[i.header_offset + 26:i.header_offset + 30])
        if i.filename.split('/')[1] == 'data' and (i.header_offset + 30 + n + m) % 64:
            out['misaligned'].append(i.filename)
    pickletools.dis(z.read('pytorch_model/data.pkl'), out=io.StringIO())
    out['version'] = z.read('pytorch_model/version').decode()
with open(sys.argv[2], 'rb') as f:
    for _ in range(5):
        pickletools.dis(f, out=io.StringIO())
    out['legacy_storage_bytes'] = len(f.read())
print(json.dumps(out))
`,
      zipPath,
      legacyPath,
    );
    expect(seen.bad_crc).toBeNull();
    expect(seen.names).toEqual([
      'pytorch_model/data.pkl',
      'pytorch_model/.format_version',
      'pytorch_model/.storage_alignment',
      'pytorch_model/byteorder',
      ...[0, 1, 2, 3, 4, 5].map((k) => `pytorch_model/data/${k}`),
      'pytorch_model/version',
      'pytorch_model/.data/serialization_id',
    ]);
    expect(seen.stored).toBe(true);
    expect(seen.dates).toEqual([[1980, 0, 0, 0, 0, 0]]);
    expect(seen.misaligned).toEqual([]);
    expect(seen.version).toBe('3\n');
    // The five pickles end exactly where the storages (count + bytes each) begin.
    const storageParts = torchLegacyParts(weights, { metadata: METADATA }).slice(5);
    expect(seen.legacy_storage_bytes).toBe(storageParts.reduce((n, p) => n + p.length, 0));
  });
});

describe('openTorchBin', () => {
  const { weights, expected } = sample();

  it('reads a torch zip it wrote: every dtype exactly, views, offsets and tied weights', () => {
    const path = join(tempDir(), 'pytorch_model.bin');
    writeTorchZip(path, weights, { metadata: METADATA, folder: 'odd name' });
    expectValues(path, expected, 'torch zip');
  });

  it('reads a legacy file it wrote, storages located by key whatever their order', () => {
    const path = join(tempDir(), 'pytorch_model.bin');
    writeTorchLegacy(path, weights, { metadata: METADATA });
    expectValues(path, expected, 'torch legacy');
  });

  it('reads what CPython and Python zipfile write (torch.save without torch)', () => {
    const dir = tempDir();
    fakeTorchSave('zip', weights, join(dir, 'zip.bin'), { metadata: METADATA, folder: 'checkpoint' });
    expectValues(join(dir, 'zip.bin'), expected, 'torch zip');
    fakeTorchSave('legacy', weights, join(dir, 'legacy.bin'), { container: 'dict' });
    expectValues(join(dir, 'legacy.bin'), expected, 'torch legacy');
  });

  describe('refuses a hostile pickle without running it', () => {
    it('the hostile pickle is what CPython writes for a (os.system, (command,)) reduction', () => {
      const marker = join(tempDir(), "it's a marker");
      const cpython = python(
        `
import base64, os, pickle
class Payload:
    def __reduce__(self): return (os.system, ("touch '" + sys.argv[1].replace("'", "'\\\\''") + "'",))
print(json.dumps(base64.b64encode(pickle.dumps(Payload(), protocol=2)).decode()))
`,
        marker,
      );
      expect(Buffer.from(hostilePickle(marker)).toString('base64')).toBe(cpython);
    });

    for (const format of ['zip', 'legacy'] as const) {
      it(`as a ${format} file`, () => {
        const dir = tempDir();
        const write = format === 'zip' ? writeHostileTorchZip : writeHostileTorchLegacy;
        // The payload is live: plain Python unpickling runs it and creates its marker.
        const control = join(dir, 'control-marker');
        write(join(dir, 'control.bin'), control);
        python(
          `
import pickle, zipfile
path = sys.argv[1]
if zipfile.is_zipfile(path):
    with zipfile.ZipFile(path) as z: pickle.loads(z.read('control/data.pkl'))
else:
    with open(path, 'rb') as f:
        for _ in range(4): pickle.load(f)
print('null')
`,
          join(dir, 'control.bin'),
        );
        expect(existsSync(control)).toBe(true);

        const marker = join(dir, 'marker');
        const path = join(dir, 'pytorch_model.bin');
        write(path, marker);
        const err = openError(path);
        expect(err.exitCode).toBe(4);
        expect(err.message).toContain('posix.system');
        expect(err.message).toContain(path);
        expect(err.message).not.toContain('\n');
        expect(existsSync(marker)).toBe(false);
      });
    }
  });

  describe('refuses damaged files with a one-line ModelError naming the file', () => {
    for (const format of ['zip', 'legacy'] as const) {
      it(`every truncation of a ${format} file`, () => {
        const dir = tempDir();
        const whole = join(dir, 'whole.bin');
        (format === 'zip' ? writeTorchZip : writeTorchLegacy)(whole, weights);
        const bytes = readFileSync(whole);
        const cut = join(dir, 'cut.bin');
        for (let length = 0; length < bytes.length; length += 7) {
          writeFileSync(cut, bytes.subarray(0, length));
          const err = openError(cut);
          expect(err.message).toContain(cut);
          expect(err.message).not.toContain('\n');
        }
      });
    }

    it('a legacy storage count that disagrees with its reference', () => {
      const path = join(tempDir(), 'count.bin');
      const parts = torchLegacyParts(weights);
      // parts: 5 pickles, then (count, bytes) per storage.
      Buffer.from(parts[5].buffer, parts[5].byteOffset, 8).writeBigInt64LE(999n);
      writeParts(path, parts);
      expect(openError(path).message).toMatch(/counts 999 elements, but its reference says \d+/);
    });

    it('a legacy storage that runs past the end of the file', () => {
      const path = join(tempDir(), 'short.bin');
      writeTorchLegacy(path, weights);
      writeFileSync(path, readFileSync(path).subarray(0, statSync(path).size - 3));
      expect(openError(path).message).toMatch(/runs past the end of the file|cut short/);
    });

    it('a zip without a storage the pickle uses, or with one of the wrong size', () => {
      const dir = tempDir();
      const { dataPkl, storages } = torchZipDataPkl(weights);
      writeTorchArchive(join(dir, 'missing.bin'), 'missing', dataPkl, storages.slice(0, 3));
      expect(openError(join(dir, 'missing.bin')).message).toMatch(/lacks missing\/data\/3/);
      writeTorchArchive(join(dir, 'size.bin'), 'size', dataPkl, storages.map((s, i) => (i === 1 ? { key: s.key, bytes: s.bytes.subarray(2) } : s)));
      expect(openError(join(dir, 'size.bin')).message).toMatch(/size\/data\/1 holds 10 bytes, but its reference says 6 float16 elements \(12 bytes\)/);
    });

    it('a tensor that reaches past its storage', () => {
      const path = join(tempDir(), 'reach.bin');
      writeTorchZip(path, new Map([...weights, ['beyond', { viewOf: 'half', shape: [4], stride: [1], storageOffset: 3 }]]));
      expect(openError(path).message).toMatch(/tensor beyond reaches element 7 of its 6-element storage/);
    });
  });

  it('explains TorchScript archives, pickled modules, big-endian files and other files', () => {
    const dir = tempDir();
    python(
      `
import zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('m/constants.pkl', b'')
    z.writestr('m/code/__torch__.py', b'')
print('null')
`,
      join(dir, 'script.bin'),
    );
    expect(openError(join(dir, 'script.bin')).message).toMatch(/TorchScript archive/);

    const module = pickleProtocol2(new PyPersistent(new PyTuple(['module', new PyGlobal('torch', 'FloatStorage'), null, null])));
    writeTorchArchive(join(dir, 'module.bin'), 'module', module, []);
    const moduleError = openError(join(dir, 'module.bin'));
    expect(moduleError.message).toMatch(/pickles a whole nn.Module/);
    expect(moduleError.hint).toMatch(/state_dict/);

    const fd = openSync(join(dir, 'big-endian.bin'), 'w');
    const zip = new TorchZipRecords(fd, 'big-endian');
    zip.writeRecord('data.pkl', torchZipDataPkl(weights).dataPkl);
    zip.writeRecord('byteorder', Buffer.from('big'));
    zip.finish();
    closeSync(fd);
    expect(openError(join(dir, 'big-endian.bin')).message).toMatch(/saved on a big-endian machine/);

    writeFileSync(join(dir, 'text.bin'), 'not weights at all');
    expect(openError(join(dir, 'text.bin')).message).toMatch(/neither a zip archive nor a pickle/);
  });

  it('indexes a legacy file without loading it: a sparse 1 GB storage costs only the tensor read', () => {
    const path = join(tempDir(), 'big.bin');
    const numel = (1 << 30) / 4;
    const key = '140000000000000';
    const od = new PyGlobal('collections', 'OrderedDict');
    const rebuild = new PyGlobal('torch._utils', '_rebuild_tensor_v2');
    const tensor = (shape: number[]) =>
      new PyReduce(rebuild, new PyTuple([new PyPersistent(new PyTuple(['storage', new PyGlobal('torch', 'FloatStorage'), key, 'cpu', numel, null])), 0, new PyTuple(shape), new PyTuple([1]), false, new PyReduce(od, new PyTuple([]))]));
    const state = new PyReduce(od, new PyTuple([]), { dictItems: [['big', tensor([numel])], ['head', tensor([4])]] });
    const count = Buffer.alloc(8);
    count.writeBigInt64LE(BigInt(numel));
    writeParts(path, [...legacyHeader(), pickleProtocol2(state), pickleProtocol2(new PyList([key])), count]);
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, statSync(path).size + numel * 4);
    closeSync(fd);
    const before = process.memoryUsage().rss;
    const w = openTorchBin(path);
    expect(w.tensors.get('big')!.shape).toEqual([numel]);
    expect(Array.from(w.readFloat32('head'))).toEqual([0, 0, 0, 0]);
    w.close();
    // Loading the file would add a gigabyte; 200 MB of slack covers the allocator's noise.
    expect(process.memoryUsage().rss - before).toBeLessThan(200 << 20);
  });
});
