// pytorch_model.bin in both of torch.save's formats, read the way torch/serialization.py's
// _load and _legacy_load read them, but through the allow-list pickle interpreter and with
// storages located by file offset instead of loaded.
//
// zip (torch >= 1.6): `<folder>/data.pkl` pickles the state dict with persistent ids
//   ('storage', StorageType, key, location, numel); storage `key` is the stored entry
//   `<folder>/data/<key>`. The folder is the first entry's, as PyTorchStreamReader takes it.
// legacy (torch < 1.6): five pickles in a row, magic number, protocol version 1001, sys_info,
//   the state dict (persistent ids ('storage', StorageType, root_key, location, numel,
//   view_metadata)), the sorted list of storage keys; then, in that order, each storage as an
//   int64 element count and its raw little-endian bytes.
import { ModelError } from '../errors.js';
import { ByteReader, damaged, readExactly } from './file-bytes.js';
import { StorageType, TensorRebuild, unpickle } from './pickle.js';
import {
  type CheckpointWeights,
  DTYPE_BYTES,
  elementCount,
  SingleFileWeights,
  type StoredDtype,
  type StoredTensor,
  storageSpan,
  type TensorLayout,
  withOpenFile,
} from './stored-tensor.js';
import { type ZipEntry, ZipReader } from './zip-reader.js';

const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;
// Zero strides let a tiny storage claim any shape; no ALBERT tensor comes near 2^31 elements.
const MAX_ELEMENTS = 2 ** 31;

interface Storage {
  key: string;
  dtype: StoredDtype;
  numel: number;
  /** File position of element 0; -1 until a legacy file's storage section is indexed. */
  start: number;
}

/** The fields every torch persistent id starts with: ('storage', StorageType, key, location, numel). */
function storageId(pid: unknown, fields: number, file: string): { type: StorageType; key: string; numel: number; rest: readonly unknown[] } {
  if (Array.isArray(pid) && pid[0] === 'module') {
    throw new ModelError(
      `weights file ${file} pickles a whole nn.Module (torch.save(model)), not a state dict`,
      'save model.state_dict() instead, or use save_pretrained',
    );
  }
  const ok =
    Array.isArray(pid) &&
    pid.length === fields &&
    pid[0] === 'storage' &&
    pid[1] instanceof StorageType &&
    typeof pid[2] === 'string' &&
    typeof pid[3] === 'string' &&
    typeof pid[4] === 'number' &&
    Number.isSafeInteger(pid[4]) &&
    pid[4] >= 0;
  if (!ok) throw damaged(file, `pickle has a persistent id that is not a ${fields}-field torch storage reference`);
  return { type: pid[1] as StorageType, key: pid[2] as string, numel: pid[4] as number, rest: pid.slice(5) };
}

/** The state dict's tensors, each checked to lie inside its storage. */
function collectTensors(state: unknown, file: string): { tensors: Map<string, StoredTensor>; views: Map<string, TensorRebuild> } {
  if (!(state instanceof Map)) throw damaged(file, 'the pickle holds no state dict (its top level is not a dict)');
  const tensors = new Map<string, StoredTensor>();
  const views = new Map<string, TensorRebuild>();
  for (const [name, value] of state) {
    if (typeof name !== 'string') throw damaged(file, `the state dict has a key that is not a string (${String(name)})`);
    if (!(value instanceof TensorRebuild)) throw damaged(file, `state dict entry ${name} is not a tensor`);
    const storage = value.storage as Storage;
    const count = elementCount(value.size);
    if (count > MAX_ELEMENTS) throw damaged(file, `tensor ${name} claims ${count} elements (shape ${JSON.stringify(value.size)})`);
    const span = storageSpan({ shape: [...value.size], stride: [...value.stride], storageOffset: value.storageOffset });
    if (span > storage.numel) {
      throw damaged(file, `tensor ${name} reaches element ${span} of its ${storage.numel}-element storage ${storage.key}`);
    }
    tensors.set(name, { name, dtype: storage.dtype, shape: [...value.size], file });
    views.set(name, value);
  }
  return { tensors, views };
}

function layouts(views: Map<string, TensorRebuild>): Map<string, TensorLayout> {
  const out = new Map<string, TensorLayout>();
  for (const [name, view] of views) {
    const storage = view.storage as Storage;
    out.set(name, { dtype: storage.dtype, shape: [...view.size], stride: [...view.stride], storageOffset: view.storageOffset, storageStart: storage.start });
  }
  return out;
}

function openZip(path: string, fd: number, size: number): CheckpointWeights {
  const zip = ZipReader.open(fd, path, size);
  const first = zip.entries[0];
  if (first === undefined) throw damaged(path, 'the zip archive is empty');
  const slash = first.name.indexOf('/');
  if (slash < 0) throw damaged(path, `zip entry ${first.name} is not inside a folder, as torch.save puts every record`);
  const folder = first.name.slice(0, slash + 1);
  const pkl = zip.find(`${folder}data.pkl`);
  if (pkl === undefined) {
    if (zip.find(`${folder}constants.pkl`)) {
      throw new ModelError(`weights file ${path} is a TorchScript archive (torch.jit.save), not a state dict`, 'save the model with save_pretrained or torch.save(model.state_dict())');
    }
    throw damaged(path, `the zip archive has no ${folder}data.pkl`);
  }
  const byteorder = zip.find(`${folder}byteorder`);
  if (byteorder !== undefined && byteorder.size <= 16) {
    const order = Buffer.from(zip.read(byteorder)).toString('latin1');
    if (order !== 'little') {
      throw new ModelError(`weights file ${path} was saved on a ${order}-endian machine, which convert does not read`, 'load and re-save it with torch on a little-endian machine');
    }
  }

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    const { type, key, numel } = storageId(pid, 5, path);
    const known = storages.get(key);
    if (known !== undefined) {
      if (known.dtype !== type.dtype) throw damaged(path, `storage ${key} is referenced as both ${known.dtype} and ${type.dtype}`);
      return known;
    }
    const entry: ZipEntry | undefined = zip.find(`${folder}data/${key}`);
    if (entry === undefined) throw damaged(path, `the zip archive lacks ${folder}data/${key}, a storage the state dict uses`);
    const bytes = numel * DTYPE_BYTES[type.dtype];
    if (entry.size !== bytes) throw damaged(path, `${entry.name} holds ${entry.size} bytes, but its reference says ${numel} ${type.dtype} elements (${bytes} bytes)`);
    const storage: Storage = { key, dtype: type.dtype, numel, start: zip.dataOffset(entry) };
    storages.set(key, storage);
    return storage;
  };
  const start = zip.dataOffset(pkl);
  const state = unpickle(ByteReader.fromFile(fd, path, start, start + pkl.size), { persistentLoad });
  const { tensors, views } = collectTensors(state, path);
  return new SingleFileWeights('torch zip', path, fd, tensors, layouts(views));
}

function openLegacy(path: string, fd: number, size: number): CheckpointWeights {
  const input = ByteReader.fromFile(fd, path, 0, size);
  const noPersistentIds = {
    persistentLoad: () => {
      throw damaged(path, 'a header pickle of the legacy format refers to a storage');
    },
  };
  const magic = unpickle(input, noPersistentIds);
  if (magic !== MAGIC_NUMBER) throw damaged(path, 'it starts with a pickle that is not torch.save\'s magic number (not a PyTorch file)');
  const version = unpickle(input, noPersistentIds);
  if (version !== PROTOCOL_VERSION) throw damaged(path, `legacy torch.save protocol version ${String(version)}, where ${PROTOCOL_VERSION} is the only one`);
  const sysInfo = unpickle(input, noPersistentIds);
  if (!(sysInfo instanceof Map)) throw damaged(path, 'the legacy sys_info pickle is not a dict');
  if (sysInfo.get('little_endian') !== true) {
    throw new ModelError(`weights file ${path} was saved on a big-endian machine, which convert does not read`, 'load and re-save it with torch on a little-endian machine');
  }

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    const { type, key, numel, rest } = storageId(pid, 6, path);
    if (rest[0] !== null) {
      throw new ModelError(`weights file ${path} uses storage views from PyTorch before 0.4, which convert does not read`, 'load and re-save it with a recent torch (torch.save or save_pretrained)');
    }
    const known = storages.get(key);
    if (known !== undefined) {
      if (known.dtype !== type.dtype || known.numel !== numel) throw damaged(path, `storage ${key} is referenced with two different types or sizes`);
      return known;
    }
    const storage: Storage = { key, dtype: type.dtype, numel, start: -1 };
    storages.set(key, storage);
    return storage;
  };
  const state = unpickle(input, { persistentLoad });
  const keys = unpickle(input, noPersistentIds);
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw damaged(path, 'the legacy storage key list is not a list of strings');

  // Index the storage section by walking its element counts; no storage is read.
  let at = input.position;
  for (const key of keys as string[]) {
    const storage = storages.get(key);
    if (storage === undefined) throw damaged(path, `storage ${key} is listed but no tensor refers to it`);
    const count = new DataView(readExactly(fd, path, at, 8, `storage ${key} element count`).buffer).getBigInt64(0, true);
    if (count !== BigInt(storage.numel)) throw damaged(path, `storage ${key} at byte ${at} counts ${count} elements, but its reference says ${storage.numel}`);
    storage.start = at + 8;
    at = storage.start + storage.numel * DTYPE_BYTES[storage.dtype];
    if (at > size) throw damaged(path, `storage ${key} (bytes ${storage.start}-${at}) runs past the end of the file (${size} bytes)`);
  }
  for (const storage of storages.values()) {
    if (storage.start < 0) throw damaged(path, `storage ${storage.key} is used by a tensor but missing from the storage list`);
  }
  const { tensors, views } = collectTensors(state, path);
  return new SingleFileWeights('torch legacy', path, fd, tensors, layouts(views));
}

/** Opens a pytorch_model.bin of either format, told apart by its first bytes as torch.load does. */
export function openTorchBin(path: string): CheckpointWeights {
  return withOpenFile(path, (fd, size) => {
    const head = readExactly(fd, path, 0, Math.min(size, 512), 'file start');
    if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return openZip(path, fd, size);
    if (head[0] === 0x80) return openLegacy(path, fd, size);
    if (Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar') {
      throw new ModelError(`weights file ${path} is a tar archive from PyTorch before 0.4, which convert does not read`, 'load and re-save it with a recent torch (torch.save or save_pretrained)');
    }
    throw damaged(path, 'it is neither a zip archive nor a pickle (not a pytorch_model.bin)');
  });
}
