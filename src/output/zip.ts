// A streaming ZIP writer for .npz files (stored entries, no compression, as numpy.savez writes).
// Each entry is a fixed-size head, patched when the entry ends, plus a streamed body; the local
// header is rewritten in place with the final CRC and sizes, so no data descriptors are needed.
// Sizes or offsets past 4 GiB switch the entry and the archive to ZIP64 (APPNOTE 4.5).
import type { PositionalFile } from './atomic-file.js';
import { crc32, crc32Combine } from './crc32.js';

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const MAX32 = 0xffffffff;
const VERSION_ZIP64 = 45;
const VERSION_PLAIN = 20;
// DOS date 1980-01-01 00:00: a fixed stamp keeps output byte-identical across runs.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

interface EntryRecord {
  name: Buffer;
  offset: number;
  size: number;
  crc: number;
}

export interface OpenEntry {
  /** Appends body bytes after the head. */
  write(chunk: Uint8Array): Promise<void>;
  /** Writes the final head bytes (exactly headSize long) and seals the entry. */
  finish(head: Uint8Array): Promise<void>;
  /** Where the entry stands: what a journal records to reopen it after a crash. */
  state(): EntryState;
}

/** An open entry's position and the CRC and size of its body so far. */
export interface EntryState {
  name: string;
  offset: number;
  headSize: number;
  bodyCrc: number;
  bodySize: number;
}

/** Every local header here is 30 bytes, the name, and a 20-byte ZIP64 extra. */
function localHeaderSize(name: string): number {
  return 30 + Buffer.byteLength(name, 'utf8') + 20;
}

/** Where the archive ends while `entry` is its last, still open entry. */
export function entryEnd(entry: EntryState): number {
  return entry.offset + localHeaderSize(entry.name) + entry.headSize + entry.bodySize;
}

export class ZipWriter {
  private position = 0;
  private readonly entries: EntryRecord[] = [];

  /** forceZip64 writes ZIP64 records even for small archives, so that path can be tested. */
  constructor(
    private readonly file: PositionalFile,
    private readonly forceZip64 = false,
  ) {}

  private async append(bytes: Uint8Array): Promise<void> {
    await this.file.writeAt(bytes, this.position);
    this.position += bytes.length;
  }

  private localHeader(name: Buffer, crc: number, size: number): Buffer {
    // Every entry carries a ZIP64 extra in its local header: sizes are unknown when it is written.
    const header = Buffer.alloc(30 + name.length + 20);
    header.writeUInt32LE(LOCAL_SIG, 0);
    header.writeUInt16LE(VERSION_ZIP64, 4);
    header.writeUInt16LE(0, 6);
    header.writeUInt16LE(0, 8);
    header.writeUInt16LE(DOS_TIME, 10);
    header.writeUInt16LE(DOS_DATE, 12);
    header.writeUInt32LE(crc, 14);
    header.writeUInt32LE(MAX32, 18);
    header.writeUInt32LE(MAX32, 22);
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(20, 28);
    name.copy(header, 30);
    const extra = 30 + name.length;
    header.writeUInt16LE(0x0001, extra);
    header.writeUInt16LE(16, extra + 2);
    header.writeBigUInt64LE(BigInt(size), extra + 4);
    header.writeBigUInt64LE(BigInt(size), extra + 12);
    return header;
  }

  async begin(entryName: string, headSize: number): Promise<OpenEntry> {
    const offset = this.position;
    await this.append(this.localHeader(Buffer.from(entryName, 'utf8'), 0, 0));
    await this.append(Buffer.alloc(headSize));
    return this.open({ name: entryName, offset, headSize, bodyCrc: 0, bodySize: 0 });
  }

  /**
   * The first entry of an archive an interrupted run left, open again where its journal says it
   * stood (only the first entry streams while rows are computed, so nothing precedes it).
   */
  static resume(file: PositionalFile, entry: EntryState, forceZip64 = false): { zip: ZipWriter; entry: OpenEntry } {
    const zip = new ZipWriter(file, forceZip64);
    const open = zip.open(entry);
    zip.position = entryEnd(entry);
    return { zip, entry: open };
  }

  private open(start: EntryState): OpenEntry {
    const name = Buffer.from(start.name, 'utf8');
    const { offset, headSize } = start;
    const headOffset = offset + localHeaderSize(start.name);
    let bodyCrc = start.bodyCrc;
    let bodySize = start.bodySize;
    const entryName = start.name;
    return {
      state: () => ({ name: entryName, offset, headSize, bodyCrc, bodySize }),
      write: async (chunk) => {
        bodyCrc = crc32(chunk, bodyCrc);
        bodySize += chunk.length;
        await this.append(chunk);
      },
      finish: async (head) => {
        if (head.length !== headSize) throw new Error(`zip entry ${entryName}: head is ${head.length} bytes, reserved ${headSize}`);
        await this.file.writeAt(head, headOffset);
        const size = headSize + bodySize;
        const crc = crc32Combine(crc32(head), bodyCrc, bodySize);
        const header = this.localHeader(name, crc, size);
        await this.file.writeAt(header, offset);
        this.entries.push({ name, offset, size, crc });
      },
    };
  }

  async add(entryName: string, data: Uint8Array): Promise<void> {
    const entry = await this.begin(entryName, data.length);
    await entry.finish(data);
  }

  /** Writes the central directory and end records. The file handle stays open. */
  async close(): Promise<void> {
    const cdOffset = this.position;
    for (const e of this.entries) {
      const big = this.forceZip64 || e.size >= MAX32 || e.offset >= MAX32;
      const extraLength = big ? 4 + 24 : 0;
      const h = Buffer.alloc(46 + e.name.length + extraLength);
      h.writeUInt32LE(CENTRAL_SIG, 0);
      h.writeUInt16LE(VERSION_ZIP64, 4);
      h.writeUInt16LE(big ? VERSION_ZIP64 : VERSION_PLAIN, 6);
      h.writeUInt16LE(0, 8);
      h.writeUInt16LE(0, 10);
      h.writeUInt16LE(DOS_TIME, 12);
      h.writeUInt16LE(DOS_DATE, 14);
      h.writeUInt32LE(e.crc, 16);
      h.writeUInt32LE(big ? MAX32 : e.size, 20);
      h.writeUInt32LE(big ? MAX32 : e.size, 24);
      h.writeUInt16LE(e.name.length, 28);
      h.writeUInt16LE(extraLength, 30);
      h.writeUInt16LE(0, 32);
      h.writeUInt16LE(0, 34);
      h.writeUInt16LE(0, 36);
      h.writeUInt32LE(0o100644 * 0x10000, 38);
      h.writeUInt32LE(big ? MAX32 : e.offset, 42);
      e.name.copy(h, 46);
      if (big) {
        const x = 46 + e.name.length;
        h.writeUInt16LE(0x0001, x);
        h.writeUInt16LE(24, x + 2);
        h.writeBigUInt64LE(BigInt(e.size), x + 4);
        h.writeBigUInt64LE(BigInt(e.size), x + 12);
        h.writeBigUInt64LE(BigInt(e.offset), x + 20);
      }
      await this.append(h);
    }
    const cdSize = this.position - cdOffset;
    const count = this.entries.length;
    const zip64 = this.forceZip64 || cdOffset >= MAX32 || cdSize >= MAX32 || count >= 0xffff;
    if (zip64) {
      const record = Buffer.alloc(56 + 20);
      const at = this.position;
      record.writeUInt32LE(ZIP64_EOCD_SIG, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE(VERSION_ZIP64, 12);
      record.writeUInt16LE(VERSION_ZIP64, 14);
      record.writeUInt32LE(0, 16);
      record.writeUInt32LE(0, 20);
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(cdSize), 40);
      record.writeBigUInt64LE(BigInt(cdOffset), 48);
      record.writeUInt32LE(ZIP64_LOCATOR_SIG, 56);
      record.writeUInt32LE(0, 60);
      record.writeBigUInt64LE(BigInt(at), 64);
      record.writeUInt32LE(1, 72);
      await this.append(record);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(EOCD_SIG, 0);
    end.writeUInt16LE(zip64 ? 0xffff : count, 8);
    end.writeUInt16LE(zip64 ? 0xffff : count, 10);
    end.writeUInt32LE(zip64 ? MAX32 : cdSize, 12);
    end.writeUInt32LE(zip64 ? MAX32 : cdOffset, 16);
    await this.append(end);
  }
}
