// A minimal ZIP reader over a file descriptor, for torch.save archives (APPNOTE 6.3: end of
// central directory, ZIP64 end record and locator, ZIP64 extra fields). Only the central
// directory is read up front; entry data is located by offset and read by the caller. Entries
// must be stored (method 0): torch writes them so, which is what lets tensors be read in place.
import { damaged, readExactly } from './file-bytes.js';

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const MAX16 = 0xffff;
const MAX32 = 0xffffffff;
// A state dict of a hundred thousand tensors needs ~10 MB of central directory.
const MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024;

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated, ... */
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

function u64(view: DataView, at: number, file: string, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw damaged(file, `${what} ${v} is past any real file size`);
  return Number(v);
}

export class ZipReader {
  private readonly byName: ReadonlyMap<string, ZipEntry>;

  private constructor(
    private readonly fd: number,
    readonly file: string,
    readonly fileSize: number,
    /** In central directory order. */
    readonly entries: readonly ZipEntry[],
  ) {
    this.byName = new Map(entries.map((e) => [e.name, e]));
  }

  static open(fd: number, file: string, fileSize: number): ZipReader {
    const { count, cdOffset, cdSize } = ZipReader.findCentralDirectory(fd, file, fileSize);
    if (cdSize > MAX_CENTRAL_DIRECTORY) throw damaged(file, `zip central directory of ${cdSize} bytes is implausibly large`);
    if (cdOffset + cdSize > fileSize) throw damaged(file, `zip central directory (bytes ${cdOffset}-${cdOffset + cdSize}) lies past the end of the file (${fileSize} bytes)`);
    const cd = readExactly(fd, file, cdOffset, cdSize, 'zip central directory');
    return new ZipReader(fd, file, fileSize, ZipReader.parseCentralDirectory(cd, count, file));
  }

  private static findCentralDirectory(fd: number, file: string, fileSize: number): { count: number; cdOffset: number; cdSize: number } {
    if (fileSize < EOCD_SIZE) throw damaged(file, `${fileSize} bytes is too short for a zip archive`);
    // The end record sits in the last 22 bytes plus at most a 64 KiB comment: search backwards.
    const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
    const tailStart = fileSize - tailLength;
    const tail = readExactly(fd, file, tailStart, tailLength, 'zip end record');
    const view = new DataView(tail.buffer);
    let at = -1;
    for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
      if (view.getUint32(i, true) === EOCD_SIG && i + EOCD_SIZE + view.getUint16(i + 20, true) <= tailLength) {
        at = i;
        break;
      }
    }
    if (at < 0) throw damaged(file, 'no zip end-of-central-directory record (the archive is cut short or not a zip)');
    let count = view.getUint16(at + 10, true);
    let cdSize = view.getUint32(at + 12, true);
    let cdOffset = view.getUint32(at + 16, true);
    const hasLocator = at >= 20 && view.getUint32(at - 20, true) === ZIP64_LOCATOR_SIG;
    if (hasLocator) {
      const recordOffset = u64(view, at - 20 + 8, file, 'ZIP64 end record offset');
      if (recordOffset + 56 > fileSize) throw damaged(file, `ZIP64 end record offset ${recordOffset} lies past the end of the file`);
      const record = new DataView(readExactly(fd, file, recordOffset, 56, 'ZIP64 end record').buffer);
      if (record.getUint32(0, true) !== ZIP64_EOCD_SIG) throw damaged(file, `no ZIP64 end record at byte ${recordOffset}, where the locator points`);
      count = u64(record, 32, file, 'ZIP64 entry count');
      cdSize = u64(record, 40, file, 'ZIP64 central directory size');
      cdOffset = u64(record, 48, file, 'ZIP64 central directory offset');
    } else if (count === MAX16 || cdSize === MAX32 || cdOffset === MAX32) {
      throw damaged(file, 'zip end record defers to a ZIP64 record that is missing');
    }
    return { count, cdOffset, cdSize };
  }

  private static parseCentralDirectory(cd: Uint8Array, count: number, file: string): ZipEntry[] {
    const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
    const entries: ZipEntry[] = [];
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (at + 46 > cd.length || view.getUint32(at, true) !== CENTRAL_SIG) throw damaged(file, `zip central directory entry ${i} of ${count} is missing or broken`);
      const flags = view.getUint16(at + 8, true);
      const method = view.getUint16(at + 10, true);
      const crc32 = view.getUint32(at + 16, true);
      let compressedSize = view.getUint32(at + 20, true);
      let size = view.getUint32(at + 24, true);
      const nameLength = view.getUint16(at + 28, true);
      const extraLength = view.getUint16(at + 30, true);
      const commentLength = view.getUint16(at + 32, true);
      let localHeaderOffset = view.getUint32(at + 42, true);
      const end = at + 46 + nameLength + extraLength + commentLength;
      if (end > cd.length) throw damaged(file, `zip central directory entry ${i} runs past the directory`);
      const name = Buffer.from(cd.buffer, cd.byteOffset + at + 46, nameLength).toString('utf8');
      // ZIP64 extra (id 1): 64-bit values for exactly the fields saturated at 0xFFFFFFFF, in order.
      let x = at + 46 + nameLength;
      const extraEnd = x + extraLength;
      while (x + 4 <= extraEnd) {
        const id = view.getUint16(x, true);
        const length = view.getUint16(x + 2, true);
        if (x + 4 + length > extraEnd) throw damaged(file, `zip entry ${name} has a broken extra field`);
        if (id === 0x0001) {
          let y = x + 4;
          const next = (what: string): number => {
            if (y + 8 > x + 4 + length) throw damaged(file, `zip entry ${name}: ZIP64 extra field lacks its ${what}`);
            const v = u64(view, y, file, `zip entry ${name} ${what}`);
            y += 8;
            return v;
          };
          if (size === MAX32) size = next('size');
          if (compressedSize === MAX32) compressedSize = next('compressed size');
          if (localHeaderOffset === MAX32) localHeaderOffset = next('header offset');
        }
        x += 4 + length;
      }
      entries.push({ name, method, flags, compressedSize, size, crc32, localHeaderOffset });
      at = end;
    }
    return entries;
  }

  find(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * The file position of a stored entry's first data byte, checked to lie inside the file.
   * Compressed or encrypted entries are refused: they cannot be read in place.
   */
  dataOffset(entry: ZipEntry): number {
    const { file } = this;
    if (entry.flags & 0x1) throw damaged(file, `zip entry ${entry.name} is encrypted`);
    if (entry.method !== 0) throw damaged(file, `zip entry ${entry.name} is compressed (method ${entry.method}); only stored entries can be read, as torch.save writes them`);
    if (entry.compressedSize !== entry.size) throw damaged(file, `stored zip entry ${entry.name} claims ${entry.compressedSize} bytes on disk for ${entry.size} bytes of data`);
    if (entry.localHeaderOffset + 30 > this.fileSize) throw damaged(file, `zip entry ${entry.name} starts past the end of the file`);
    const header = readExactly(this.fd, file, entry.localHeaderOffset, 30, `zip entry ${entry.name} header`);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, true) !== LOCAL_SIG) throw damaged(file, `zip entry ${entry.name} has no local header at byte ${entry.localHeaderOffset}`);
    const nameLength = view.getUint16(26, true);
    const extraLength = view.getUint16(28, true);
    const localName = Buffer.from(readExactly(this.fd, file, entry.localHeaderOffset + 30, nameLength, `zip entry ${entry.name} name`)).toString('utf8');
    if (localName !== entry.name) throw damaged(file, `zip local header at byte ${entry.localHeaderOffset} names ${localName}, the directory says ${entry.name}`);
    const start = entry.localHeaderOffset + 30 + nameLength + extraLength;
    if (start + entry.size > this.fileSize) {
      throw damaged(file, `zip entry ${entry.name} (bytes ${start}-${start + entry.size}) runs past the end of the file (${this.fileSize} bytes)`);
    }
    return start;
  }

  /** A whole (small) stored entry. */
  read(entry: ZipEntry): Uint8Array {
    return readExactly(this.fd, this.file, this.dataOffset(entry), entry.size, `zip entry ${entry.name}`);
  }
}
