// Writers of real checkpoint formats, byte-faithful to the tools that write them, for tests and
// the benchmark.
export { type WeightEntry, type WeightMap, type WriterDtype, dtypeOf, entryBytes } from './weight-map.js';
export { PyDict, PyGlobal, PyList, PyPersistent, PyReduce, PyStr, PyTuple, type PyValue, pickleProtocol2 } from './pickler.js';
export { type StateDictOptions, type TorchView, type TorchWeights, STORAGE_CLASS } from './state-dict.js';
export { safetensorsParts, writeSafetensors } from './safetensors.js';
export { defaultFolder, TorchZipRecords, type TorchZipOptions, torchZipDataPkl, writeTorchArchive, writeTorchZip } from './torch-zip.js';
export { LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, legacyHeader, legacyStorageKey, torchLegacyParts, writeTorchLegacy } from './torch-legacy.js';
export { type ShardPlan, writeShardedSafetensors, writeShardedTorchBin } from './sharded.js';
export { hostilePickle, writeHostileTorchLegacy, writeHostileTorchZip } from './hostile.js';
export { writeParts } from './write-parts.js';
