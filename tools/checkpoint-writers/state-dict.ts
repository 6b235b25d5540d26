// The object graph torch.save pickles for a state dict, with Python's object identities: which
// strings and globals are the same object (and so memo fetches) and which are fresh each time.
// Read from torch/serialization.py (_save, _legacy_save), torch/_tensor.py (__reduce_ex__:
// _rebuild_tensor_v2 with a fresh TypedStorage, size and stride tuples and an empty
// OrderedDict of backward hooks) and nn.Module.state_dict (an OrderedDict whose instance dict
// holds `_metadata`, an OrderedDict of module prefix -> {'version': n}).
import { dtypeOf, entryBytes, type WeightEntry, type WriterDtype } from './weight-map.js';
import { PyDict, PyGlobal, PyPersistent, PyReduce, PyStr, PyTuple, type PyValue } from './pickler.js';

/** A tensor that views the storage of another entry (tied weights, offsets, transposes). */
export interface TorchView {
  viewOf: string;
  shape: number[];
  stride: number[];
  storageOffset: number;
}

/** Entries in state-dict order: weights own a storage each, views share one. */
export type TorchWeights = ReadonlyMap<string, WeightEntry | TorchView>;

export interface StateDictOptions {
  /**
   * 'OrderedDict' (default) is what model.state_dict() gives and old transformers saved;
   * 'dict' is what transformers' save_pretrained writes into each .bin since it shards.
   */
  container?: 'OrderedDict' | 'dict';
  /** The OrderedDict's `_metadata` entries (module prefix, version); written only when given. */
  metadata?: readonly (readonly [prefix: string, version: number])[];
}

export const STORAGE_CLASS: Readonly<Record<WriterDtype, string>> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  int64: 'LongStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
};

/** One storage as torch writes it: the bytes of the entry that owns it. */
export interface StorageRecord {
  owner: string;
  dtype: WriterDtype;
  numel: number;
  bytes: Uint8Array;
}

export function isView(entry: WeightEntry | TorchView): entry is TorchView {
  return 'viewOf' in entry;
}

function contiguousStrides(shape: readonly number[]): number[] {
  const stride: number[] = [];
  let step = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    stride[d] = step;
    step *= shape[d];
  }
  return stride;
}

/**
 * Builds the state dict object. `persistentId(storage, index)` gives the tuple torch's
 * persistent_id returns for the storage first used as number `index`; storages come back in
 * first-use order, which is torch's key order.
 */
export function stateDictObject(
  weights: TorchWeights,
  options: StateDictOptions,
  persistentId: (storage: StorageRecord, index: number, common: { storage: PyStr; location: PyStr; type: PyGlobal }) => PyTuple,
): { object: PyValue; storages: StorageRecord[] } {
  const orderedDict = new PyGlobal('collections', 'OrderedDict');
  const rebuild = new PyGlobal('torch._utils', '_rebuild_tensor_v2');
  // 'storage' and 'cpu' are literals in torch's code, so one object each; so is each storage class.
  const storageWord = new PyStr('storage');
  const cpu = new PyStr('cpu');
  const classes = new Map<WriterDtype, PyGlobal>();
  const storages = new Map<string, { record: StorageRecord; index: number }>();

  const storageOf = (name: string) => {
    const entry = weights.get(name);
    if (entry === undefined || isView(entry)) throw new Error(`view base ${name} is not a weight entry`);
    let known = storages.get(name);
    if (known === undefined) {
      const dtype = dtypeOf(entry);
      known = { record: { owner: name, dtype, numel: entry.data.length, bytes: entryBytes(entry) }, index: storages.size };
      storages.set(name, known);
    }
    return known;
  };
  const tensor = (name: string, entry: WeightEntry | TorchView): PyReduce => {
    const base = isView(entry) ? entry.viewOf : name;
    const { record, index } = storageOf(base);
    let type = classes.get(record.dtype);
    if (type === undefined) classes.set(record.dtype, (type = new PyGlobal('torch', STORAGE_CLASS[record.dtype])));
    const pid = persistentId(record, index, { storage: storageWord, location: cpu, type });
    const shape = entry.shape;
    const stride = isView(entry) ? entry.stride : contiguousStrides(shape);
    const offset = isView(entry) ? entry.storageOffset : 0;
    const hooks = new PyReduce(orderedDict, new PyTuple([]));
    return new PyReduce(rebuild, new PyTuple([new PyPersistent(pid), offset, new PyTuple(shape), new PyTuple(stride), false, hooks]));
  };

  const items: [PyValue, PyValue][] = [...weights].map(([name, entry]) => [name, tensor(name, entry)]);
  let object: PyValue;
  if (options.container === 'dict') {
    object = new PyDict(items);
  } else {
    let state: PyValue | undefined;
    if (options.metadata) {
      const version = new PyStr('version');
      const entries = options.metadata.map(([prefix, v]) => [prefix, new PyDict([[version, v]])] as const);
      state = new PyDict([['_metadata', new PyReduce(orderedDict, new PyTuple([]), { dictItems: entries })]]);
    }
    object = new PyReduce(orderedDict, new PyTuple([]), { state, dictItems: items });
  }
  return { object, storages: [...storages.values()].map((s) => s.record) };
}
