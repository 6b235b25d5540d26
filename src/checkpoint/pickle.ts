// An allow-list pickle interpreter for PyTorch state dicts. It understands the opcodes of
// protocols 1-5 that torch.save output uses and resolves only the globals a state dict needs;
// any other global (os.system, builtins.eval, ...) is refused the moment its opcode is read.
// Nothing is ever executed: REDUCE on an allowed global builds a plain JS value.
//
// Python values become: None -> null, bool -> boolean, int -> number (bigint beyond 2^53),
// float -> number, str -> string, bytes -> Uint8Array, list -> array, tuple -> frozen array,
// dict / OrderedDict -> Map.
import { ModelError } from '../errors.js';
import { type ByteReader, damaged } from './file-bytes.js';
import type { StoredDtype } from './stored-tensor.js';

/** A torch.<Type>Storage class named in a persistent id. */
export class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: StoredDtype,
  ) {}
}

/** torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
export class TensorRebuild {
  constructor(
    /** Whatever the persistent-id callback returned for the storage. */
    readonly storage: unknown,
    readonly storageOffset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

class AllowedCallable {
  constructor(
    readonly qualified: string,
    readonly call: (args: readonly unknown[], file: string) => unknown,
  ) {}
}

const STORAGE_DTYPES: Readonly<Record<string, StoredDtype>> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isTuple(v: unknown): v is readonly unknown[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

function rebuildTensor(args: readonly unknown[], file: string): TensorRebuild {
  const [storage, offset, size, stride, requiresGrad] = args;
  const ok =
    (args.length === 6 || args.length === 7) &&
    isCount(offset) &&
    isTuple(size) &&
    size.every(isCount) &&
    isTuple(stride) &&
    stride.length === size.length &&
    stride.every(isCount) &&
    (typeof requiresGrad === 'boolean' || requiresGrad === 0 || requiresGrad === 1);
  if (!ok) throw damaged(file, 'a tensor in the pickle has malformed _rebuild_tensor_v2 arguments');
  return new TensorRebuild(storage, offset as number, size as number[], stride as number[]);
}

function rebuildParameter(args: readonly unknown[], file: string): TensorRebuild {
  // _rebuild_parameter(data, requires_grad, backward_hooks) and
  // _rebuild_parameter_with_state(..., state): the parameter is its data tensor.
  if (!(args[0] instanceof TensorRebuild)) throw damaged(file, 'a parameter in the pickle does not wrap a tensor');
  return args[0];
}

function resolveGlobal(module: string, name: string): unknown {
  const qualified = `${module}.${name}`;
  if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) return new StorageType(name, STORAGE_DTYPES[name]);
  switch (qualified) {
    case 'collections.OrderedDict':
      return new AllowedCallable(qualified, (args, file) => {
        if (args.length !== 0) throw damaged(file, 'OrderedDict in the pickle is built from arguments, which torch.save never writes');
        return new Map();
      });
    case 'torch._utils._rebuild_tensor_v2':
      return new AllowedCallable(qualified, rebuildTensor);
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return new AllowedCallable(qualified, rebuildParameter);
    default:
      return undefined;
  }
}

function refuse(file: string, module: string, name: string): ModelError {
  return new ModelError(
    `weights file ${file} refers to the Python global ${module}.${name}, which no state dict needs; refusing to load it (nothing in it was run)`,
    'the file may be malicious; use weights from a trusted source, preferably model.safetensors',
  );
}

// Bounds on what a hostile stream can make us hold: far above any real state dict.
const MAX_STACK = 1 << 22;
const MAX_MEMO = 1 << 22;

const utf8 = new TextDecoder('utf-8');

function toInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Python's encode_long: little-endian two's complement. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return toInt(v);
}

export interface UnpickleOptions {
  /** Turns a persistent id (for torch: a tuple ('storage', StorageType, key, location, numel, ...)) into a value. */
  persistentLoad(pid: unknown): unknown;
}

/** Interprets one pickle (up to and including STOP) from the reader's position. */
export function unpickle(input: ByteReader, options: UnpickleOptions): unknown {
  const file = input.file;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const bad = (what: string) => damaged(file, `${what} (pickle byte ${input.position})`);

  const push = (v: unknown) => {
    if (stack.length >= MAX_STACK) throw bad('pickle stack grows past any state dict');
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw bad('pickle pops an empty stack');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw bad('pickle reads an empty stack');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const previous = marks.pop();
    if (previous === undefined) throw bad('pickle closes a MARK it never opened');
    stack = previous;
    return items;
  };
  const remember = (index: number, value: unknown) => {
    if (!memo.has(index) && memo.size >= MAX_MEMO) throw bad('pickle memo grows past any state dict');
    memo.set(index, value);
  };
  const recall = (index: number): unknown => {
    if (!memo.has(index)) throw bad(`pickle fetches memo entry ${index}, which was never stored`);
    return memo.get(index);
  };
  const u32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  const length64 = (b: Uint8Array): number => {
    const n = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (n > BigInt(input.remaining)) throw bad(`pickle declares ${n} bytes with ${input.remaining} left`);
    return Number(n);
  };
  const text = (b: Uint8Array) => utf8.decode(b);
  const textInt = (line: string): number | bigint => {
    const s = line.trim().replace(/L$/, '');
    if (!/^[+-]?\d+$/.test(s)) throw bad(`pickle integer ${JSON.stringify(s)} is not a number`);
    return toInt(BigInt(s));
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) throw bad('pickle sets items on something that is not a dict');
    if (items.length % 2 !== 0) throw bad('pickle sets a dict key without a value');
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target) || Object.isFrozen(target)) throw bad('pickle appends to something that is not a list');
    for (const item of items) target.push(item);
  };
  const global = (module: string, name: string) => {
    const resolved = resolveGlobal(module, name);
    if (resolved === undefined) throw refuse(file, module, name);
    push(resolved);
  };
  const tuple = (items: unknown[]) => push(Object.freeze(items));

  for (;;) {
    const at = input.position;
    const op = input.byte();
    switch (op) {
      case 0x80: {
        // PROTO
        const version = input.byte();
        if (version > 5) throw bad(`pickle protocol ${version} is newer than any this reader knows (5)`);
        break;
      }
      case 0x95: // FRAME: an 8-byte length that only helps buffering readers
        input.bytes(8);
        break;
      case 0x2e: // STOP
        if (marks.length !== 0) throw bad('pickle stops inside an open MARK');
        return pop();
      case 0x28: // MARK
        if (marks.length >= MAX_STACK) throw bad('pickle nests MARKs past any state dict');
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4b: // BININT1
        push(input.byte());
        break;
      case 0x4d: {
        // BININT2
        const b = input.bytes(2);
        push(b[0] | (b[1] << 8));
        break;
      }
      case 0x4a: {
        // BININT
        const b = input.bytes(4);
        push(new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true));
        break;
      }
      case 0x8a: // LONG1
        push(decodeLong(input.bytes(input.byte())));
        break;
      case 0x8b: {
        // LONG4
        const n = new DataView(input.bytes(4).slice().buffer).getInt32(0, true);
        if (n < 0 || n > input.remaining) throw bad(`pickle LONG4 of ${n} bytes does not fit`);
        push(decodeLong(input.bytes(n)));
        break;
      }
      case 0x49: {
        // INT (protocol 0/1 text; "00"/"01" are False/True)
        const line = text(input.line());
        if (line === '00' || line === '01') push(line === '01');
        else push(textInt(line));
        break;
      }
      case 0x4c: // LONG (text)
        push(textInt(text(input.line())));
        break;
      case 0x46: {
        // FLOAT (text)
        const v = Number(text(input.line()));
        if (Number.isNaN(v)) throw bad('pickle FLOAT is not a number');
        push(v);
        break;
      }
      case 0x47: {
        // BINFLOAT: big-endian double
        const b = input.bytes(8);
        push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false));
        break;
      }
      case 0x58: // BINUNICODE
        push(text(input.bytes(u32(input.bytes(4)))));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text(input.bytes(input.byte())));
        break;
      case 0x8d: // BINUNICODE8
        push(text(input.bytes(length64(input.bytes(8)))));
        break;
      case 0x54: // BINSTRING (Python 2 str): torch.load decodes these as UTF-8
        push(text(input.bytes(u32(input.bytes(4)))));
        break;
      case 0x55: // SHORT_BINSTRING
        push(text(input.bytes(input.byte())));
        break;
      case 0x42: // BINBYTES
        push(input.bytes(u32(input.bytes(4))).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        push(input.bytes(input.byte()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        push(input.bytes(length64(input.bytes(8))).slice());
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x61: {
        // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x64: {
        // DICT
        const map = new Map();
        setItems(map, popMark());
        push(map);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        tuple([]);
        break;
      case 0x74: // TUPLE
        tuple(popMark());
        break;
      case 0x85: // TUPLE1
        tuple([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        tuple([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        tuple([pop(), b, c]);
        break;
      }
      case 0x71: // BINPUT
        remember(input.byte(), top());
        break;
      case 0x72: // LONG_BINPUT
        remember(u32(input.bytes(4)), top());
        break;
      case 0x70: // PUT (text)
        remember(Number(textInt(text(input.line()))), top());
        break;
      case 0x94: // MEMOIZE
        remember(memo.size, top());
        break;
      case 0x68: // BINGET
        push(recall(input.byte()));
        break;
      case 0x6a: // LONG_BINGET
        push(recall(u32(input.bytes(4))));
        break;
      case 0x67: // GET (text)
        push(recall(Number(textInt(text(input.line())))));
        break;
      case 0x63: // GLOBAL "module\nname\n"
      case 0x69: {
        // INST "module\nname\n": same check first, so a hostile INST names its global too
        const module = text(input.line());
        const name = text(input.line());
        global(module, name);
        if (op === 0x69) throw bad('pickle uses INST, which torch.save never writes');
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw bad('pickle STACK_GLOBAL names are not strings');
        global(module, name);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        if (!(callable instanceof AllowedCallable)) throw bad('pickle calls something that is not an allowed function');
        if (!isTuple(args)) throw bad(`pickle calls ${callable.qualified} without an argument tuple`);
        push(callable.call(args, file));
        break;
      }
      case 0x62: {
        // BUILD: only the instance dict of an OrderedDict (torch's `_metadata`), which carries no weights
        pop();
        if (!(top() instanceof Map)) throw bad('pickle sets the state of an object that is not an OrderedDict');
        break;
      }
      case 0x51: // BINPERSID
        push(options.persistentLoad(pop()));
        break;
      case 0x50: // PERSID (text)
        push(options.persistentLoad(text(input.line())));
        break;
      default:
        throw damaged(file, `pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at} is not one a state dict uses`);
    }
  }
}
