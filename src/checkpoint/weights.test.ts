import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../errors.js';
import {
  type TorchView,
  type TorchWeights,
  type WeightEntry,
  type WeightMap,
  writeSafetensors,
  writeShardedSafetensors,
  writeShardedTorchBin,
  writeTorchLegacy,
  writeTorchZip,
} from '../../tools/checkpoint-writers/index.js';
import { tempDir } from '../../test/helpers.js';
import { allDtypeWeights } from '../../test/sample-weights.js';
import { openCheckpointWeights } from './weights.js';

function constant(value: number): WeightMap {
  return new Map([['w', { shape: [2], data: new Float32Array([value, value]) }]]);
}

function openError(folder: string): ModelError {
  try {
    openCheckpointWeights(folder).close();
  } catch (err) {
    if (err instanceof ModelError) return err;
    throw err;
  }
  throw new Error(`${folder} was accepted`);
}

describe('openCheckpointWeights', () => {
  it('prefers model.safetensors, then its index, then pytorch_model.bin, then its index', () => {
    const dir = tempDir();
    // Each candidate holds a different constant, so the value read says which file was chosen.
    writeSafetensors(join(dir, 'model.safetensors'), constant(1));
    writeShardedSafetensors(dir, constant(2), [['w']]);
    writeTorchZip(join(dir, 'pytorch_model.bin'), constant(3));
    writeShardedTorchBin(dir, constant(4), [['w']], 'legacy');
    const order: [string, number][] = [];
    for (const file of ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json']) {
      const w = openCheckpointWeights(dir);
      order.push([w.format, w.readFloat32('w')[0]]);
      w.close();
      rmSync(join(dir, file));
    }
    expect(order).toEqual([
      ['safetensors', 1],
      ['safetensors (1 shard)', 2],
      ['torch zip', 3],
      ['torch legacy (1 shard)', 4],
    ]);
  });

  it('reads sharded safetensors exactly, each tensor from its shard', () => {
    const { weights, expected } = allDtypeWeights();
    const dir = tempDir();
    const names = [...weights.keys()];
    const shards = writeShardedSafetensors(dir, weights, [names.slice(0, 2), names.slice(2)]);
    const w = openCheckpointWeights(dir);
    try {
      expect(w.format).toBe('safetensors (2 shards)');
      expect(w.files).toEqual(shards);
      expect(w.tensors.get(names[0])!.file).toBe(shards[0]);
      expect(w.tensors.get(names[4])!.file).toBe(shards[1]);
      for (const [name, values] of expected) expect([name, Array.from(w.readFloat32(name))]).toEqual([name, values]);
    } finally {
      w.close();
    }
  });

  for (const format of ['zip', 'legacy'] as const) {
    it(`reads a sharded pytorch_model.bin (${format}) exactly, tied weights within a shard`, () => {
      const { weights, expected } = allDtypeWeights();
      const names = [...weights.keys()];
      // 'double' is in the second shard, and so is the tensor tied to it.
      const torchWeights: TorchWeights = new Map<string, WeightEntry | TorchView>([...weights, ['tied', { viewOf: 'double', shape: [3], stride: [1], storageOffset: 0 }]]);
      const dir = tempDir();
      const shards = writeShardedTorchBin(dir, torchWeights, [names.slice(0, 3), [...names.slice(3), 'tied']], format);
      const w = openCheckpointWeights(dir);
      try {
        expect(w.format).toBe(`torch ${format} (2 shards)`);
        expect(w.files).toEqual(shards);
        expect(w.tensors.get('tied')!.file).toBe(shards[1]);
        for (const [name, values] of [...expected, ['tied', expected.get('double')!] as const]) {
          expect([name, Array.from(w.readFloat32(name))]).toEqual([name, values]);
        }
      } finally {
        w.close();
      }
    });
  }

  it('lists what the folder holds and the supported formats when there are no weights', () => {
    const dir = tempDir();
    for (const f of ['config.json', 'spiece.model', 'tokenizer.json']) writeFileSync(join(dir, f), '{}');
    const err = openError(dir);
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain('config.json, spiece.model, tokenizer.json');
    expect(err.message).toContain('model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json');
    expect(err.message).not.toContain('\n');
  });

  it.each([
    ['tf_model.h5', /TensorFlow 2 weights/, /from_tf=True/],
    ['flax_model.msgpack', /Flax weights/, /from_flax=True/],
    ['model.ckpt.index', /TensorFlow 1 checkpoint/, /convert_albert_original_tf_checkpoint_to_pytorch/],
  ])('says how to convert a folder holding only %s', (file, message, hint) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), '{}');
    writeFileSync(join(dir, file), 'x');
    const err = openError(dir);
    expect(err.message).toMatch(message);
    expect(err.message).toContain('convert does not read');
    expect(err.hint).toMatch(hint);
    expect(err.hint).toMatch(/safe_serialization=True/);
  });

  it('recognizes a Git LFS pointer in place of the weights', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'model.safetensors'), 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 47376696\n');
    const err = openError(dir);
    expect(err.message).toMatch(/Git LFS pointer/);
    expect(err.hint).toMatch(/git lfs pull/);
  });

  it('refuses an index that names a missing shard, a shard outside the folder, or a tensor its shard lacks', () => {
    const dir = tempDir();
    const index = (weightMap: Record<string, string>) => writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    writeSafetensors(join(dir, 'model-00001-of-00001.safetensors'), constant(1));
    index({ w: 'model-00001-of-00002.safetensors' });
    expect(openError(dir).message).toMatch(/lists model-00001-of-00002.safetensors, which is missing/);
    index({ w: '../elsewhere.safetensors' });
    expect(openError(dir).message).toMatch(/points outside the folder/);
    index({ w: 'model-00001-of-00001.safetensors', v: 'model-00001-of-00001.safetensors' });
    expect(openError(dir).message).toMatch(/puts v in model-00001-of-00001.safetensors, which does not hold it/);
  });

  it('names a folder that cannot be read, and a tensor that is not there', () => {
    expect(openError(join(tempDir(), 'absent')).message).toMatch(/checkpoint folder .*absent cannot be read/);
    const dir = tempDir();
    writeTorchLegacy(join(dir, 'pytorch_model.bin'), constant(1));
    const w = openCheckpointWeights(dir);
    expect(() => w.readFloat32('missing')).toThrow(/has no tensor named missing/);
    w.close();
  });
});
