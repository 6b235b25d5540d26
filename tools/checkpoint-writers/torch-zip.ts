// pytorch_model.bin as torch.save (torch >= 2.6) writes it: a zip made by PyTorchStreamWriter
// (caffe2/serialize/inline_container.cc) over miniz 3.0.2 built with MINIZ_NO_TIME and
// MZ_ZIP_FLAG_WRITE_ZIP64. Each record is stored, with:
//   - a local header with version 0, flags 0x0808 (data descriptor, UTF-8; 0x0800 when empty),
//     zero time/date, zero CRC and sizes;
//   - an extra field "FB" + u16 length + 'Z' padding that puts the data on a 64-byte boundary;
//   - a 16-byte data descriptor (PK\7\8, CRC, sizes) after non-empty data;
// then the central directory, a ZIP64 end record, its locator and the end record.
// Records: data.pkl, .format_version, .storage_alignment, byteorder, data/<key> in first-use
// order, version ("3\n"), .data/serialization_id.
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import { PyStr, PyTuple, pickleProtocol2 } from './pickler.js';
import { type StateDictOptions, stateDictObject, type TorchWeights } from './state-dict.js';

const ALIGNMENT = 64;
const MAX32 = 0xffffffff;

/** c10::hash_combine on 64-bit size_t. */
function hashCombine(seed: bigint, value: bigint): bigint {
  const mask = (1n << 64n) - 1n;
  return (seed ^ ((value + 0x9e3779b9n + ((seed << 6n) & mask) + (seed >> 2n)) & mask)) & mask;
}

interface CentralRecord {
  name: Buffer;
  flags: number;
  crc: number;
  size: number;
  offset: number;
}

/** The record writer of PyTorchStreamWriter, for one archive. */
export class TorchZipRecords {
  private position = 0;
  private readonly records: CentralRecord[] = [];
  private crcHash = 0n;
  private nameHash = 0n;

  constructor(
    private readonly fd: number,
    private readonly folder: string,
  ) {}

  private write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.position + done);
    this.position += bytes.length;
  }

  writeRecord(record: string, data: Uint8Array): void {
    const name = Buffer.from(`${this.folder}/${record}`, 'utf8');
    if (this.position + data.length + 1024 >= MAX32) throw new Error('torch zip writer: archives past 4 GiB (ZIP64 entries) are not modelled');
    // getPadding(): the data starts after the 30-byte header, the name and the FB field's 4 bytes.
    const start = this.position + 30 + name.length + 4;
    const padding = (ALIGNMENT - (start % ALIGNMENT)) % ALIGNMENT;
    const extra = Buffer.alloc(4 + padding, 'Z');
    extra.write('FB', 0, 'latin1');
    extra.writeUInt16LE(padding, 2);
    const flags = (data.length > 0 ? 0x0008 : 0) | 0x0800;
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(flags, 6);
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(extra.length, 28);
    const offset = this.position;
    const crc = crc32(data);
    this.write(header);
    this.write(name);
    this.write(extra);
    this.write(data);
    if (data.length > 0) {
      const descriptor = Buffer.alloc(16);
      descriptor.writeUInt32LE(0x08074b50, 0);
      descriptor.writeUInt32LE(crc, 4);
      descriptor.writeUInt32LE(data.length, 8);
      descriptor.writeUInt32LE(data.length, 12);
      this.write(descriptor);
      this.crcHash = hashCombine(this.crcHash, BigInt(crc));
    }
    // torch hashes record names with std::hash; crc32 stands in for it (readers never check the id).
    this.nameHash = hashCombine(this.nameHash, BigInt(crc32(record)));
    this.records.push({ name, flags, crc, size: data.length, offset });
  }

  /** writeEndOfFile(): version, serialization id, then miniz's central directory and end records. */
  finish(): void {
    this.writeRecord('version', Buffer.from('3\n'));
    const id = this.nameHash.toString().padStart(20, '0') + this.crcHash.toString().padStart(20, '0');
    this.writeRecord('.data/serialization_id', Buffer.from(id));
    const cdOffset = this.position;
    for (const r of this.records) {
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(r.flags, 8);
      h.writeUInt32LE(r.crc, 16);
      h.writeUInt32LE(r.size, 20);
      h.writeUInt32LE(r.size, 24);
      h.writeUInt16LE(r.name.length, 28);
      h.writeUInt32LE(r.offset, 42);
      this.write(h);
      this.write(r.name);
    }
    const cdSize = this.position - cdOffset;
    const end = Buffer.alloc(56 + 20 + 22);
    const zip64At = this.position;
    end.writeUInt32LE(0x06064b50, 0);
    end.writeBigUInt64LE(44n, 4);
    end.writeUInt16LE(0x031e, 12);
    end.writeUInt16LE(0x002d, 14);
    end.writeBigUInt64LE(BigInt(this.records.length), 24);
    end.writeBigUInt64LE(BigInt(this.records.length), 32);
    end.writeBigUInt64LE(BigInt(cdSize), 40);
    end.writeBigUInt64LE(BigInt(cdOffset), 48);
    end.writeUInt32LE(0x07064b50, 56);
    end.writeBigUInt64LE(BigInt(zip64At), 64);
    end.writeUInt32LE(1, 72);
    end.writeUInt32LE(0x06054b50, 76);
    end.writeUInt16LE(this.records.length, 84);
    end.writeUInt16LE(this.records.length, 86);
    end.writeUInt32LE(cdSize, 88);
    end.writeUInt32LE(cdOffset, 92);
    this.write(end);
  }
}

export interface TorchZipOptions extends StateDictOptions {
  /** The archive's folder; torch.save(obj, path) uses the file name without its extension. */
  folder?: string;
}

export function defaultFolder(path: string): string {
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** Writes an archive of the given records around a data.pkl, as torch.save's _save orders them. */
export function writeTorchArchive(path: string, folder: string, dataPkl: Uint8Array, storages: readonly { key: string; bytes: Uint8Array }[]): void {
  const fd = openSync(path, 'w');
  try {
    const zip = new TorchZipRecords(fd, folder);
    zip.writeRecord('data.pkl', dataPkl);
    zip.writeRecord('.format_version', Buffer.from('1'));
    zip.writeRecord('.storage_alignment', Buffer.from(String(ALIGNMENT)));
    zip.writeRecord('byteorder', Buffer.from('little'));
    for (const s of storages) zip.writeRecord(`data/${s.key}`, s.bytes);
    zip.finish();
  } finally {
    closeSync(fd);
  }
}

/** The data.pkl torch's _save pickles: storage keys '0', '1', ... by first use, each one str object. */
export function torchZipDataPkl(weights: TorchWeights, options: StateDictOptions = {}): { dataPkl: Uint8Array; storages: { key: string; bytes: Uint8Array }[] } {
  const keys = new Map<number, PyStr>();
  const { object, storages } = stateDictObject(weights, options, (record, index, common) => {
    // id_map.setdefault(storage._cdata, str(len(id_map))) hands back the same str for a storage seen again.
    let key = keys.get(index);
    if (key === undefined) keys.set(index, (key = new PyStr(String(index))));
    return new PyTuple([common.storage, common.type, key, common.location, record.numel]);
  });
  return { dataPkl: pickleProtocol2(object), storages: storages.map((s, i) => ({ key: String(i), bytes: s.bytes })) };
}

export function writeTorchZip(path: string, weights: TorchWeights, options: TorchZipOptions = {}): void {
  const { dataPkl, storages } = torchZipDataPkl(weights, options);
  writeTorchArchive(path, options.folder ?? defaultFolder(path), dataPkl, storages);
}
