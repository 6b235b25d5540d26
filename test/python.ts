// Python 3 as an independent reader and writer of checkpoint formats: pickle, pickletools,
// zipfile, struct, and test/fake_torch.py (torch.save's pickling without torch). As with the
// numpy checks, there is no skip: without python3 these tests fail.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dtypeOf, entryBytes, legacyStorageKey, type StateDictOptions, type TorchWeights } from '../tools/checkpoint-writers/index.js';
import { PYTHON, ROOT } from './helpers.js';

export const FAKE_TORCH = join(ROOT, 'test', 'fake_torch.py');

// Importing fake_torch must not leave a __pycache__ in the source tree.
const ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };

/** Runs a Python script (argv after it in sys.argv[1:]) and returns what it prints as JSON. */
export function python(script: string, ...args: string[]): any {
  const result = spawnSync(PYTHON, ['-c', `import json, sys\nsys.path.insert(0, ${JSON.stringify(join(ROOT, 'test'))})\n${script}`, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, env: ENV });
  if (result.error) throw new Error(`python3 could not run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`python3 failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The fake_torch.py spec of a torch weight map. */
export function fakeTorchSpec(weights: TorchWeights, options: StateDictOptions & { folder?: string } = {}): object {
  const storages = [...weights.values()].filter((e) => !('viewOf' in e)).length;
  return {
    container: options.container ?? 'OrderedDict',
    metadata: options.metadata ?? null,
    folder: options.folder ?? 'archive',
    legacy_keys: Array.from({ length: storages }, (_, i) => legacyStorageKey(i)),
    entries: [...weights].map(([name, e]) =>
      'viewOf' in e
        ? { name, view_of: e.viewOf, shape: e.shape, stride: e.stride, offset: e.storageOffset }
        : { name, dtype: dtypeOf(e), shape: e.shape, data: Buffer.from(entryBytes(e)).toString('base64') },
    ),
  };
}

/** Writes what torch.save would write, through CPython: mode 'zip-pkl' (data.pkl only), 'zip' (Python zipfile container) or 'legacy'. */
export function fakeTorchSave(mode: 'zip-pkl' | 'zip' | 'legacy', weights: TorchWeights, out: string, options: StateDictOptions & { folder?: string } = {}): void {
  const spec = `${out}.spec.json`;
  writeFileSync(spec, JSON.stringify(fakeTorchSpec(weights, options)));
  const result = spawnSync(PYTHON, [FAKE_TORCH, mode, spec, out], { encoding: 'utf8', env: ENV });
  if (result.error) throw new Error(`python3 could not run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`fake_torch.py failed (${result.status}): ${result.stderr}`);
}
