// pytorch_model.bin as torch.save(..., _use_new_zipfile_serialization=False) writes it (the only
// format before torch 1.6), per _legacy_save in torch/serialization.py: five protocol-2
// pickles (magic number, protocol version 1001, sys_info, the state dict with 6-field
// persistent ids, the sorted storage keys), then each storage in key order as an int64 element
// count and its raw little-endian bytes.
import { PyDict, PyList, PyTuple, type PyValue, pickleProtocol2 } from './pickler.js';
import { type StateDictOptions, stateDictObject, type TorchWeights } from './state-dict.js';
import { writeParts } from './write-parts.js';

export const LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
export const LEGACY_PROTOCOL_VERSION = 1001;

/**
 * Storage keys are str(storage._cdata), a memory address. These count down from a typical one,
 * so sorted key order (the order of the storage section) differs from first-use order, as
 * addresses make it in real files.
 */
export function legacyStorageKey(index: number): string {
  return String(94_000_000_000_000 - index * 4096);
}

/** The three pickles every legacy file starts with. */
export function legacyHeader(): Uint8Array[] {
  const sysInfo = new PyDict([
    ['protocol_version', LEGACY_PROTOCOL_VERSION],
    ['little_endian', true],
    ['type_sizes', new PyDict([['short', 2], ['int', 4], ['long', 8]])],
  ]);
  return [pickleProtocol2(LEGACY_MAGIC_NUMBER), pickleProtocol2(LEGACY_PROTOCOL_VERSION), pickleProtocol2(sysInfo)];
}

/** The bytes of a legacy file, in order. */
export function torchLegacyParts(weights: TorchWeights, options: StateDictOptions = {}): Uint8Array[] {
  const { object, storages } = stateDictObject(weights, options, (record, index, common) =>
    // str(obj._cdata) builds a new str at every call; offset 0 and no view, as since torch 0.4.
    new PyTuple([common.storage, common.type, legacyStorageKey(index), common.location, record.numel, null]),
  );
  const keyed = storages.map((s, i) => ({ key: legacyStorageKey(i), storage: s })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const parts = [...legacyHeader(), pickleProtocol2(object), pickleProtocol2(new PyList(keyed.map((k): PyValue => k.key)))];
  for (const { storage } of keyed) {
    const count = Buffer.alloc(8);
    count.writeBigInt64LE(BigInt(storage.numel));
    parts.push(count, storage.bytes);
  }
  return parts;
}

export function writeTorchLegacy(path: string, weights: TorchWeights, options: StateDictOptions = {}): void {
  writeParts(path, torchLegacyParts(weights, options));
}
