// Sharded checkpoints as transformers' save_pretrained writes them: numbered shard files and an
// index, json.dumps({"metadata": {"total_size": n}, "weight_map": {key: shard}}, indent=2,
// sort_keys=True) + "\n". Each shard of a .bin holds a plain dict, as save_pretrained pickles it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from './safetensors.js';
import { isView, type StateDictOptions, type TorchWeights } from './state-dict.js';
import { writeTorchLegacy } from './torch-legacy.js';
import { writeTorchZip } from './torch-zip.js';
import { entryBytes, type WeightMap } from './weight-map.js';

/** The keys of each shard, in order. */
export type ShardPlan = readonly (readonly string[])[];

function shardName(stem: string, ext: string, i: number, n: number): string {
  const pad = (k: number) => String(k).padStart(5, '0');
  return `${stem}-${pad(i + 1)}-of-${pad(n)}.${ext}`;
}

function pick<T>(weights: ReadonlyMap<string, T>, names: readonly string[]): Map<string, T> {
  return new Map(
    names.map((name) => {
      const entry = weights.get(name);
      if (entry === undefined) throw new Error(`shard plan names ${name}, which is not in the weights`);
      return [name, entry];
    }),
  );
}

function writeIndex(path: string, totalSize: number, weightMap: Map<string, string>): void {
  const sorted = Object.fromEntries([...weightMap].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  writeFileSync(path, `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`);
}

/** Writes model-0000i-of-0000n.safetensors and model.safetensors.index.json; returns the shard paths. */
export function writeShardedSafetensors(folder: string, weights: WeightMap, plan: ShardPlan): string[] {
  const weightMap = new Map<string, string>();
  let total = 0;
  const paths = plan.map((names, i) => {
    const file = shardName('model', 'safetensors', i, plan.length);
    const shard = pick(weights, names);
    for (const [name, entry] of shard) {
      weightMap.set(name, file);
      total += entryBytes(entry).length;
    }
    writeSafetensors(join(folder, file), shard, { format: 'pt' });
    return join(folder, file);
  });
  writeIndex(join(folder, 'model.safetensors.index.json'), total, weightMap);
  return paths;
}

/** Writes pytorch_model-0000i-of-0000n.bin (zip or legacy) and pytorch_model.bin.index.json; returns the shard paths. */
export function writeShardedTorchBin(folder: string, weights: TorchWeights, plan: ShardPlan, format: 'zip' | 'legacy', options: StateDictOptions = { container: 'dict' }): string[] {
  const weightMap = new Map<string, string>();
  let total = 0;
  const paths = plan.map((names, i) => {
    const file = shardName('pytorch_model', 'bin', i, plan.length);
    const shard = pick(weights, names);
    for (const [name, entry] of shard) {
      weightMap.set(name, file);
      if (!isView(entry)) total += entryBytes(entry).length;
    }
    const path = join(folder, file);
    if (format === 'zip') writeTorchZip(path, shard, options);
    else writeTorchLegacy(path, shard, options);
    return path;
  });
  writeIndex(join(folder, 'pytorch_model.bin.index.json'), total, weightMap);
  return paths;
}
