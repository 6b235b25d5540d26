// A protocol-2 pickler that emits, opcode for opcode, what CPython's pickle module emits for the
// same object graph, memo included (Lib/pickle.py: save, save_reduce, save_tuple,
// _batch_setitems, _batch_appends, save_long, save_str, memoize). CPython memoizes by object
// identity, so identity is part of the model: a PyStr, PyGlobal, PyTuple, PyList, PyDict or
// PyReduce instance pickled twice is fetched from the memo the second time, while a plain JS
// string stands for a fresh str object each time it appears.
const PROTO = 0x80;
const STOP = 0x2e;
const MARK = 0x28;
const NONE = 0x4e;
const NEWTRUE = 0x88;
const NEWFALSE = 0x89;
const BININT1 = 0x4b;
const BININT2 = 0x4d;
const BININT = 0x4a;
const LONG1 = 0x8a;
const LONG4 = 0x8b;
const BINUNICODE = 0x58;
const GLOBAL = 0x63;
const EMPTY_TUPLE = 0x29;
const TUPLE = 0x74;
const TUPLE_N = [0, 0x85, 0x86, 0x87];
const EMPTY_LIST = 0x5d;
const APPEND = 0x61;
const APPENDS = 0x65;
const EMPTY_DICT = 0x7d;
const SETITEM = 0x73;
const SETITEMS = 0x75;
const REDUCE = 0x52;
const BUILD = 0x62;
const BINPERSID = 0x51;
const BINPUT = 0x71;
const LONG_BINPUT = 0x72;
const BINGET = 0x68;
const LONG_BINGET = 0x6a;
const BATCHSIZE = 1000;

/** A str object with identity: every use after the first is a memo fetch. */
export class PyStr {
  constructor(readonly value: string) {}
}

/** A module-level name (class or function), pickled with GLOBAL. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyList {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyDict {
  constructor(readonly entries: readonly (readonly [PyValue, PyValue])[]) {}
}

/** An object whose __reduce__ gives (func, args[, state, None, dictitems]), as save_reduce writes it. */
export class PyReduce {
  constructor(
    readonly func: PyGlobal,
    readonly args: PyTuple,
    readonly options: { state?: PyValue; dictItems?: readonly (readonly [PyValue, PyValue])[] } = {},
  ) {}
}

/** An object the pickler's persistent_id maps to `pid` (written as pid + BINPERSID, never memoized). */
export class PyPersistent {
  constructor(readonly pid: PyValue) {}
}

/** Ints are JS numbers (integers only) or bigints; None is null. */
export type PyValue = null | boolean | number | bigint | string | PyStr | PyGlobal | PyTuple | PyList | PyDict | PyReduce | PyPersistent;

class Output {
  private chunks: number[] = [];
  byte(...bytes: number[]) {
    for (const b of bytes) this.chunks.push(b);
  }
  bytes(b: Uint8Array) {
    for (const x of b) this.chunks.push(x);
  }
  u32(n: number) {
    this.byte(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** Python's encode_long: minimal little-endian two's complement. */
function encodeLong(x: bigint): Uint8Array {
  if (x === 0n) return new Uint8Array(0);
  const bitLength = (x < 0n ? -x - 1n : x).toString(2).length;
  let nbytes = (bitLength >> 3) + 1;
  const bytes: number[] = [];
  let v = BigInt.asUintN(nbytes * 8, x);
  for (let i = 0; i < nbytes; i++, v >>= 8n) bytes.push(Number(v & 0xffn));
  if (x < 0n && nbytes > 1 && bytes[nbytes - 1] === 0xff && (bytes[nbytes - 2] & 0x80) !== 0) {
    bytes.pop();
    nbytes--;
  }
  return Uint8Array.from(bytes);
}

/** pickle.dumps(value, protocol=2) for the object graph `value` describes. */
export function pickleProtocol2(value: PyValue): Uint8Array {
  const out = new Output();
  const memo = new Map<object, number>();
  let memoSize = 0;

  const put = (obj: object | null) => {
    const index = memoSize++;
    if (obj !== null) memo.set(obj, index);
    if (index < 256) out.byte(BINPUT, index);
    else {
      out.byte(LONG_BINPUT);
      out.u32(index);
    }
  };
  const get = (index: number) => {
    if (index < 256) out.byte(BINGET, index);
    else {
      out.byte(LONG_BINGET);
      out.u32(index);
    }
  };
  const str = (s: string, identity: object | null) => {
    const encoded = Buffer.from(s, 'utf8');
    out.byte(BINUNICODE);
    out.u32(encoded.length);
    out.bytes(encoded);
    put(identity);
  };
  const int = (n: number | bigint) => {
    const x = BigInt(n);
    if (x >= 0n && x <= 0xffn) out.byte(BININT1, Number(x));
    else if (x >= 0n && x <= 0xffffn) out.byte(BININT2, Number(x) & 0xff, Number(x) >> 8);
    else if (x >= -0x80000000n && x <= 0x7fffffffn) {
      out.byte(BININT);
      out.u32(Number(BigInt.asUintN(32, x)));
    } else {
      const encoded = encodeLong(x);
      if (encoded.length < 256) out.byte(LONG1, encoded.length);
      else {
        out.byte(LONG4);
        out.u32(encoded.length);
      }
      out.bytes(encoded);
    }
  };
  const setItems = (entries: readonly (readonly [PyValue, PyValue])[]) => {
    for (let i = 0; i < entries.length; i += BATCHSIZE) {
      const batch = entries.slice(i, i + BATCHSIZE);
      if (batch.length > 1) out.byte(MARK);
      for (const [k, v] of batch) {
        save(k);
        save(v);
      }
      out.byte(batch.length > 1 ? SETITEMS : SETITEM);
    }
  };
  const appends = (items: readonly PyValue[]) => {
    for (let i = 0; i < items.length; i += BATCHSIZE) {
      const batch = items.slice(i, i + BATCHSIZE);
      if (batch.length > 1) out.byte(MARK);
      for (const item of batch) save(item);
      out.byte(batch.length > 1 ? APPENDS : APPEND);
    }
  };

  function save(v: PyValue): void {
    if (v instanceof PyPersistent) {
      save(v.pid);
      out.byte(BINPERSID);
      return;
    }
    if (v === null) return out.byte(NONE);
    if (typeof v === 'boolean') return out.byte(v ? NEWTRUE : NEWFALSE);
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new Error(`pickler: ${v} is not an int (floats are not modelled)`);
      return int(v);
    }
    if (typeof v === 'bigint') return int(v);
    if (typeof v === 'string') return str(v, null);
    const seen = memo.get(v);
    if (seen !== undefined) return get(seen);
    if (v instanceof PyStr) return str(v.value, v);
    if (v instanceof PyGlobal) {
      out.byte(GLOBAL);
      out.bytes(Buffer.from(`${v.module}\n${v.name}\n`, 'utf8'));
      return put(v);
    }
    if (v instanceof PyTuple) {
      const n = v.items.length;
      if (n === 0) return out.byte(EMPTY_TUPLE);
      if (n > 3) out.byte(MARK);
      for (const item of v.items) save(item);
      out.byte(n <= 3 ? TUPLE_N[n] : TUPLE);
      return put(v);
    }
    if (v instanceof PyList) {
      out.byte(EMPTY_LIST);
      put(v);
      return appends(v.items);
    }
    if (v instanceof PyDict) {
      out.byte(EMPTY_DICT);
      put(v);
      return setItems(v.entries);
    }
    save(v.func);
    save(v.args);
    out.byte(REDUCE);
    put(v);
    if (v.options.dictItems) setItems(v.options.dictItems);
    if (v.options.state !== undefined) {
      save(v.options.state);
      out.byte(BUILD);
    }
  }

  out.byte(PROTO, 2);
  save(value);
  out.byte(STOP);
  return out.done();
}
