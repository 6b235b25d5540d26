// `merge`: the .npz parts of a sharded run back into the one file a single run writes. Record r
// of the input is row floor(r / N) of part r mod N, so the parts are read in lockstep, each
// through a small buffer, and the output is streamed: memory stays bounded whatever the rows.
// Every member a single run writes is rebuilt (the ids at the widest part's width, offsets of
// token vectors recounted), so the merged file is byte for byte the single run's.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { InputError, UsageError, errorMessage } from '../errors.js';
import { readExactly } from '../checkpoint/file-bytes.js';
import { ZipReader } from '../checkpoint/zip-reader.js';
import { AtomicFile } from '../output/atomic-file.js';
import { formatFromPath } from '../output/formats.js';
import { crc32 } from '../output/crc32.js';
import { decodeUnicode, npyHeader, parseNpyHeader, STREAMED_HEADER_SIZE, unicodeNpy, type NpyDescr } from '../output/npy.js';
import { ZipWriter } from '../output/zip.js';

export interface MergeResult {
  output: string;
  parts: number;
  rows: number;
  seconds: number;
}

interface Member {
  name: string;
  descr: string;
  shape: number[];
  /** File position of the first array byte. */
  offset: number;
  /** Bytes of array data. */
  bytes: number;
  /** CRC-32 of the .npy header, and of the whole entry as the archive records it. */
  headerCrc: number;
  crc: number;
}

interface Part {
  file: string;
  fd: number;
  meta: Record<string, unknown>;
  shard: { index: number; count: number };
  members: Map<string, Member>;
}

/**
 * Reads a member's array bytes in order, a buffer at a time, checking its CRC-32 on the way: a
 * damaged part is refused, not copied into a merged file with fresh, valid checksums.
 */
class Cursor {
  private buffer: Buffer;
  private start = 0;
  private end = 0;
  private position: number;
  private readonly limit: number;
  private crc: number;

  constructor(
    private readonly part: Part,
    private readonly member: Member,
    bufferBytes: number,
  ) {
    this.buffer = Buffer.allocUnsafe(bufferBytes);
    this.position = member.offset;
    this.limit = member.offset + member.bytes;
    this.crc = member.headerCrc;
  }

  /** After the last take(): every byte was used, and the checksum holds. */
  done(): void {
    const { part, member } = this;
    if (this.position !== this.limit || this.end !== this.start) {
      throw new InputError(`part ${part.file}: its ${member.name} member holds more than its rows and token counts account for (the file is damaged)`, 'embed that shard again');
    }
    if (this.crc !== member.crc) throw new InputError(`part ${part.file}: its ${member.name} member fails its CRC-32 check (the file is damaged)`, 'embed that shard again');
  }

  /** The next `n` bytes (valid until the next call). */
  take(n: number): Buffer {
    if (this.end - this.start < n) {
      this.buffer.copy(this.buffer, 0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      if (this.buffer.length < n) this.buffer = Buffer.concat([this.buffer.subarray(0, this.end), Buffer.allocUnsafe(n - this.end)]);
      while (this.end < n) {
        const want = Math.min(this.buffer.length - this.end, this.limit - this.position);
        if (want <= 0) throw new InputError(`part ${this.part.file}: its ${this.member.name} member holds fewer rows than its shard and token counts need (the file is damaged)`, 'embed that shard again');
        const got = readSync(this.part.fd, this.buffer, this.end, want, this.position);
        if (got === 0) throw new InputError(`part ${this.part.file} ends early`, 'embed that shard again');
        this.crc = crc32(this.buffer.subarray(this.end, this.end + got), this.crc);
        this.position += got;
        this.end += got;
      }
    }
    const out = this.buffer.subarray(this.start, this.start + n);
    this.start += n;
    return out;
  }
}

function openPart(file: string): Part {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new InputError(`part ${file} cannot be read: ${errorMessage(err)}`, 'check the path', { cause: err });
  }
  try {
    const zip = ZipReader.open(fd, file, fstatSync(fd).size);
    const members = new Map<string, Member>();
    for (const entry of zip.entries) {
      const name = entry.name.replace(/\.npy$/, '');
      const start = zip.dataOffset(entry);
      const head = readExactly(fd, file, start, Math.min(entry.size, 4096), `member ${entry.name}`);
      const header = parseNpyHeader(head);
      const headerCrc = crc32(head.subarray(0, header.headerLength));
      members.set(name, { name, descr: header.descr, shape: header.shape, offset: start + header.headerLength, bytes: entry.size - header.headerLength, headerCrc, crc: entry.crc32 });
    }
    const meta = members.get('meta');
    if (!meta) throw new Error('it has no meta member');
    const metaBytes = readExactly(fd, file, meta.offset, meta.bytes, 'the meta member');
    if (crc32(metaBytes, meta.headerCrc) !== meta.crc) throw new Error('its meta member fails its CRC-32 check');
    const metaText = decodeUnicode(metaBytes, Number(meta.descr.slice(2)))[0];
    const parsed = JSON.parse(metaText) as Record<string, unknown>;
    const shard = parsed.shard as Part['shard'] | undefined;
    if (!shard) throw new UsageError(`${file} is not the part of a sharded run (it was written without --shard)`, 'merge joins the .npz parts of extract --shard I/N runs');
    return { file, fd, meta: parsed, shard, members };
  } catch (err) {
    closeSync(fd);
    if (err instanceof UsageError || err instanceof InputError) throw err;
    throw new InputError(`part ${file} is not a complete .npz from albert-embed: ${errorMessage(err).replace(/^weights file .* is not usable: /, '')}`, 'embed that shard again', { cause: err });
  }
}

/** Refuses parts that are not the complete set of shards of one job. */
function checkParts(parts: Part[]): number {
  const first = parts[0];
  const count = first.shard.count;
  const byIndex = new Map<number, Part>();
  for (const part of parts) {
    for (const key of ['input_sha256', 'settings_sha256'] as const) {
      if (part.meta[key] !== first.meta[key]) {
        const what = key === 'input_sha256' ? 'different inputs' : 'different settings or models';
        throw new UsageError(`parts ${first.file} and ${part.file} come from ${what} (${key} ${String(first.meta[key]).slice(0, 12)}… vs ${String(part.meta[key]).slice(0, 12)}…)`, 'merge the parts of one job only');
      }
    }
    if (part.shard.count !== count) throw new UsageError(`parts ${first.file} and ${part.file} split the input into ${count} and ${part.shard.count} shards`, 'merge the parts of one job only');
    const twice = byIndex.get(part.shard.index);
    if (twice) throw new UsageError(`shard ${part.shard.index} of ${count} is given twice: ${twice.file} and ${part.file}`, 'pass each part once');
    byIndex.set(part.shard.index, part);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw new UsageError(`shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} ${missing.length > 1 ? 'are' : 'is'} missing (given: ${[...byIndex.keys()].sort((a, b) => a - b).join(', ')})`, 'embed the missing shards, or pass every part');
  }
  parts.sort((a, b) => a.shard.index - b.shard.index);
  const total = Number(first.meta.records_total);
  for (const part of parts) {
    const rows = Math.ceil((total - part.shard.index) / count);
    if (Number(part.meta.rows) !== rows) throw new InputError(`part ${part.file} has ${String(part.meta.rows)} rows; shard ${part.shard.index} of ${count} over ${total} records has ${rows}`, 'embed that shard again');
    // Row k of shard i is record i + k * N: the split merge undoes.
    const numbers = part.members.get('record_numbers');
    if (!numbers) throw new InputError(`part ${part.file} has no record_numbers member`, 'embed that shard again');
    const cursor = new Cursor(part, numbers, 1 << 16);
    for (let k = 0; k < rows; k++) {
      const r = Number(cursor.take(8).readBigInt64LE(0));
      if (r !== part.shard.index + k * count) throw new InputError(`part ${part.file}: row ${k} is record ${r}, not ${part.shard.index + k * count} as shard ${part.shard.index} of ${count} has it`, 'embed that shard again');
    }
    cursor.done();
  }
  return total;
}

/** The output replaces its file only at the end, yet a part it replaced would be lost for a rerun. */
function refuseOverwritingAPart(parts: Part[], output: string): void {
  let target;
  try {
    target = statSync(output);
  } catch {
    return;
  }
  for (const part of parts) {
    const s = fstatSync(part.fd);
    if (s.dev === target.dev && s.ino === target.ino) throw new UsageError(`-o ${output} is the part ${part.file}`, 'write the merged file under another name');
  }
}

/** Element bytes of a numpy dtype string. */
function itemSize(descr: string): number {
  const unicode = /^<U(\d+)$/.exec(descr);
  if (unicode) return 4 * Number(unicode[1]);
  const size = Number(descr.slice(2));
  if (!Number.isInteger(size) || size <= 0) throw new Error(`unsupported dtype ${descr}`);
  return size;
}

export async function mergeParts(files: readonly string[], output: string): Promise<MergeResult> {
  const started = performance.now();
  if (!Array.isArray(files) || files.some((f) => typeof f !== 'string' || f === '')) throw new UsageError('merge takes an array of part paths', "merge(['part-0.npz', 'part-1.npz'], 'all.npz')");
  if (typeof output !== 'string' || formatFromPath(output) !== 'npz') throw new UsageError(`merge writes an .npz file, got output ${JSON.stringify(output)}`, 'name the output X.npz');
  if (files.length === 0) throw new UsageError('merge needs the parts to join', 'albert-embed merge part-*.npz -o all.npz');
  const parts: Part[] = [];
  try {
    for (const f of files) parts.push(openPart(f));
    const total = checkParts(parts);
    refuseOverwritingAPart(parts, output);
    const N = parts.length;
    const bufferBytes = Math.max(1 << 16, Math.floor((64 << 20) / N));
    const tokens = parts[0].members.has('tokens');
    const valuesName = tokens ? 'tokens' : 'embeddings';
    const member = (part: Part, name: string) => {
      const m = part.members.get(name);
      if (!m) throw new InputError(`part ${part.file} has no ${name} member`, 'embed that shard again');
      return m;
    };
    const values0 = member(parts[0], valuesName);
    const rowBytes = itemSize(values0.descr) * (values0.shape[1] ?? 1);

    const file = await AtomicFile.create(output);
    try {
      const zip = new ZipWriter(file);
      const cursors = (name: string) => parts.map((p) => new Cursor(p, member(p, name), bufferBytes));
      /** Writes one member: `fill` puts record r's bytes (r in input order) through `put`. */
      const entry = async (name: string, header: (length: number) => Buffer, headSize: number | undefined, fill: (put: (bytes: Uint8Array) => Promise<void>) => Promise<number>) => {
        const open = await zip.begin(`${name}.npy`, headSize ?? header(0).length);
        const out = Buffer.allocUnsafe(4 << 20);
        let filled = 0;
        const put = async (bytes: Uint8Array) => {
          if (filled + bytes.length > out.length) {
            await open.write(out.subarray(0, filled));
            filled = 0;
          }
          if (bytes.length > out.length) await open.write(bytes);
          else {
            out.set(bytes, filled);
            filled += bytes.length;
          }
        };
        const length = await fill(put);
        if (filled > 0) await open.write(out.subarray(0, filled));
        await open.finish(header(length));
      };
      const finished = (cs: Cursor[]) => cs.forEach((c) => c.done());
      /** Each record's token count: how many token vectors (and ids) it has. */
      const tokenCounts = () => {
        const c = cursors('token_counts');
        return { of: (r: number) => c[r % N].take(4).readInt32LE(0), done: () => finished(c) };
      };

      let valueRows = 0;
      await entry(valuesName, (rows) => npyHeader(values0.descr as NpyDescr, [rows, ...values0.shape.slice(1)], STREAMED_HEADER_SIZE), STREAMED_HEADER_SIZE, async (put) => {
        const values = cursors(valuesName);
        const counts = tokens ? tokenCounts() : undefined;
        for (let r = 0; r < total; r++) {
          const n = counts ? counts.of(r) : 1;
          await put(values[r % N].take(n * rowBytes));
          valueRows += n;
        }
        finished(values);
        counts?.done();
        return valueRows;
      });
      if (tokens) {
        // offsets: a leading 0, then each record's end, recounted in the merged order.
        await entry('offsets', () => npyHeader('<i8', [total + 1]), undefined, async (put) => {
          const counts = tokenCounts();
          const eight = Buffer.alloc(8);
          let end = 0n;
          await put(eight);
          for (let r = 0; r < total; r++) {
            end += BigInt(counts.of(r));
            eight.writeBigInt64LE(end, 0);
            await put(eight);
          }
          counts.done();
          return total + 1;
        });
        await entry('token_ids', () => npyHeader('<i4', [valueRows]), undefined, async (put) => {
          const counts = tokenCounts();
          const ids = cursors('token_ids');
          for (let r = 0; r < total; r++) await put(ids[r % N].take(4 * counts.of(r)));
          counts.done();
          finished(ids);
          return valueRows;
        });
      }
      /** A column of one fixed-size element a record, interleaved; ids are padded to the widest part's width. */
      const column = (name: string, descr: NpyDescr, outWidth: number) =>
        entry(name, () => npyHeader(descr, [total]), undefined, async (put) => {
          const c = cursors(name);
          const widths = parts.map((p) => itemSize(member(p, name).descr));
          const padded = Buffer.alloc(outWidth);
          for (let r = 0; r < total; r++) {
            const bytes = c[r % N].take(widths[r % N]);
            if (bytes.length === outWidth) await put(bytes);
            else {
              padded.fill(0);
              bytes.copy(padded);
              await put(padded);
            }
          }
          finished(c);
          return total;
        });
      const idWidth = Math.max(...parts.map((p) => itemSize(member(p, 'ids').descr) / 4));
      await column('ids', `<U${idWidth}`, idWidth * 4);
      await column('token_counts', '<i4', 4);
      await column('truncated', '|b1', 1);
      if (parts[0].members.has('chunks')) await column('chunks', '<i4', 4);

      // A single run's meta: the parts' own, with the rows of all and without the shard.
      const { shard: _shard, ...meta } = parts[0].meta;
      meta.rows = total;
      meta.truncated_rows = parts.reduce((n, p) => n + Number(p.meta.truncated_rows), 0);
      await zip.add('meta.npy', unicodeNpy([JSON.stringify(meta)], []));
      await zip.close();
      await file.commit();
    } catch (err) {
      await file.discard();
      throw err;
    }
    return { output, parts: N, rows: total, seconds: (performance.now() - started) / 1000 };
  } finally {
    for (const p of parts) closeSync(p.fd);
  }
}
