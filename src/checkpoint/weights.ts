// The weights of a Hugging Face checkpoint folder, whatever file holds them: the one entry point
// convert uses. The file is chosen in the order transformers prefers: model.safetensors, its
// sharded index, pytorch_model.bin, its sharded index.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ModelError, errorMessage } from '../errors.js';
import { damaged } from './file-bytes.js';
import { openSafetensors } from './safetensors.js';
import { type CheckpointWeights, lookup, type StoredTensor } from './stored-tensor.js';
import { openTorchBin } from './torch-bin.js';

export type { CheckpointWeights, StoredDtype, StoredTensor } from './stored-tensor.js';

const SUPPORTED = 'model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json';

/** Weight files of other frameworks, each with what to do about it. */
const UNSUPPORTED: readonly { file: string; what: string; fix: string }[] = [
  {
    file: 'tf_model.h5',
    what: 'TensorFlow 2 weights (tf_model.h5)',
    fix: 'in Python: AlbertModel.from_pretrained(folder, from_tf=True).save_pretrained(out, safe_serialization=True) writes model.safetensors',
  },
  {
    file: 'model.ckpt.index',
    what: 'an original TensorFlow 1 checkpoint (model.ckpt.*)',
    fix: "convert it with transformers' convert_albert_original_tf_checkpoint_to_pytorch script, then save_pretrained(out, safe_serialization=True)",
  },
  {
    file: 'flax_model.msgpack',
    what: 'Flax weights (flax_model.msgpack)',
    fix: 'in Python: AlbertModel.from_pretrained(folder, from_flax=True).save_pretrained(out, safe_serialization=True) writes model.safetensors',
  },
];

// A clone without git-lfs leaves these small text files where the weights should be.
const LFS_POINTER = 'version https://git-lfs.github.com/spec/v1';

function checkNotLfsPointer(file: string): void {
  const stat = statSync(file);
  if (!stat.isFile() || stat.size > 1024) return;
  if (readFileSync(file, 'latin1').startsWith(LFS_POINTER)) {
    throw new ModelError(`weights file ${file} is a Git LFS pointer, not the weights`, 'run `git lfs pull` in the checkpoint folder (or download the file from the hub)');
  }
}

function openWeightsFile(file: string): CheckpointWeights {
  checkNotLfsPointer(file);
  return file.endsWith('.safetensors') ? openSafetensors(file) : openTorchBin(file);
}

/** Several shard files seen as one checkpoint. */
class ShardedWeights implements CheckpointWeights {
  readonly tensors: ReadonlyMap<string, StoredTensor>;
  readonly files: readonly string[];
  readonly format: string;
  private readonly owner = new Map<string, CheckpointWeights>();

  constructor(
    private readonly index: string,
    private readonly shards: readonly CheckpointWeights[],
  ) {
    const tensors = new Map<string, StoredTensor>();
    for (const shard of shards) {
      for (const [name, tensor] of shard.tensors) {
        if (tensors.has(name)) throw damaged(index, `tensor ${name} is in both ${tensors.get(name)!.file} and ${tensor.file}`);
        tensors.set(name, tensor);
        this.owner.set(name, shard);
      }
    }
    this.tensors = tensors;
    this.files = shards.map((s) => s.files[0]);
    const formats = [...new Set(shards.map((s) => s.format))].join(' + ');
    this.format = `${formats} (${shards.length} shard${shards.length === 1 ? '' : 's'})`;
  }

  readFloat32(name: string): Float32Array {
    return lookup(this.owner, name, this.index).readFloat32(name);
  }

  close(): void {
    for (const shard of this.shards) shard.close();
  }
}

function openSharded(folder: string, index: string): CheckpointWeights {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch (err) {
    throw damaged(index, `not valid JSON (${errorMessage(err)})`, err);
  }
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap)) throw damaged(index, 'it has no weight_map object');
  const byFile = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') throw damaged(index, `weight_map entry ${name} is not a file name`);
    const path = resolve(folder, shard);
    const inside = relative(folder, path);
    if (inside === '' || isAbsolute(inside) || inside.split(sep)[0] === '..') throw damaged(index, `weight_map points outside the folder (${shard})`);
    if (!existsSync(path)) throw new ModelError(`checkpoint index ${index} lists ${shard}, which is missing`, 'download every shard the index lists');
    byFile.set(path, [...(byFile.get(path) ?? []), name]);
  }
  if (byFile.size === 0) throw damaged(index, 'its weight_map is empty');
  const shards: CheckpointWeights[] = [];
  try {
    // Shard files in name order (shard 1, 2, ...), whatever order the index lists keys in.
    for (const [path, names] of [...byFile].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const shard = openWeightsFile(path);
      shards.push(shard);
      const missing = names.find((n) => !shard.tensors.has(n));
      if (missing !== undefined) throw damaged(index, `weight_map puts ${missing} in ${basename(path)}, which does not hold it`);
    }
    return new ShardedWeights(index, shards);
  } catch (err) {
    for (const shard of shards) shard.close();
    throw err;
  }
}

/** Opens the weights of a checkpoint folder, choosing the file as above. Throws ModelError. */
export function openCheckpointWeights(folder: string): CheckpointWeights {
  const dir = resolve(folder);
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a folder');
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new ModelError(`checkpoint folder ${folder} cannot be read: ${errorMessage(err)}`, 'pass the folder that holds config.json and the weights', { cause: err });
  }
  const has = (name: string) => names.includes(name);
  if (has('model.safetensors')) return openWeightsFile(join(dir, 'model.safetensors'));
  if (has('model.safetensors.index.json')) return openSharded(dir, join(dir, 'model.safetensors.index.json'));
  if (has('pytorch_model.bin')) return openWeightsFile(join(dir, 'pytorch_model.bin'));
  if (has('pytorch_model.bin.index.json')) return openSharded(dir, join(dir, 'pytorch_model.bin.index.json'));

  const other = UNSUPPORTED.find((u) => has(u.file));
  if (other !== undefined) {
    throw new ModelError(`checkpoint folder ${folder} holds only ${other.what}, which convert does not read (it reads ${SUPPORTED})`, other.fix);
  }
  const listing = names.length > 0 ? names.join(', ') : 'nothing';
  throw new ModelError(
    `checkpoint folder ${folder} has no weights file: it holds ${listing}; convert reads ${SUPPORTED}`,
    'download the checkpoint\'s weights (for example model.safetensors) into the folder',
  );
}
