import { describe, expect, it } from 'vitest';
import { ModelError } from '../errors.js';
import { ByteReader } from './file-bytes.js';
import { StorageType, TensorRebuild, unpickle } from './pickle.js';
import { python } from '../../test/python.js';

const FILE = '/ckpt/pytorch_model.bin';

function load(bytes: Uint8Array, persistentLoad: (pid: unknown) => unknown = (pid) => ({ pid })): unknown {
  return unpickle(ByteReader.fromBytes(bytes, FILE), { persistentLoad });
}

function fromBase64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function refusal(bytes: Uint8Array): ModelError {
  try {
    load(bytes);
  } catch (err) {
    if (err instanceof ModelError) return err;
    throw err;
  }
  throw new Error('the pickle was accepted');
}

describe('unpickle on what CPython writes', () => {
  // Plain data in every protocol CPython has: text opcodes (protocol 1 writes bools as INT 01/00
  // and big ints as LONG text), BININT*/LONG1, memo PUT/BINPUT/MEMOIZE, FRAME, SHORT_BINUNICODE.
  const pickles: Record<string, string> = python(`
import base64, pickle
obj = {'small': 200, 'short': 60000, 'neg': -5, 'int32': -2**31, 'big': 2**40, 'huge': 2**70, 'neghuge': -2**70,
       'float': 1.5, 'str': 'h\\u00e9llo \\u2603', 'list': [1, 'a', [2]], 'tuple': (True, False, None), 'nested': {'k': ()}}
out = {str(p): base64.b64encode(pickle.dumps(obj, protocol=p)).decode() for p in (1, 2, 3, 4, 5)}
out['bytes'] = base64.b64encode(pickle.dumps({'b': b'\\x00\\xff', 'e': b''}, protocol=3)).decode()
print(json.dumps(out))
`);

  for (const protocol of ['1', '2', '3', '4', '5']) {
    it(`reads plain values pickled with protocol ${protocol}`, () => {
      const value = load(fromBase64(pickles[protocol])) as Map<string, unknown>;
      expect(value).toBeInstanceOf(Map);
      expect(Object.fromEntries(value)).toEqual({
        small: 200,
        short: 60000,
        neg: -5,
        int32: -(2 ** 31),
        big: 2 ** 40,
        huge: 2n ** 70n,
        neghuge: -(2n ** 70n),
        float: 1.5,
        str: 'h\u00e9llo \u2603',
        list: [1, 'a', [2]],
        tuple: [true, false, null],
        nested: new Map([['k', []]]),
      });
      expect(Object.isFrozen(value.get('tuple'))).toBe(true);
      expect(Object.isFrozen(value.get('list'))).toBe(false);
    });
  }

  it('reads bytes (protocol 3 BINBYTES / SHORT_BINBYTES)', () => {
    const value = load(fromBase64(pickles.bytes)) as Map<string, unknown>;
    expect(value.get('b')).toEqual(new Uint8Array([0, 255]));
    expect(value.get('e')).toEqual(new Uint8Array(0));
  });

  it('reads a state dict pickled by CPython in protocols 2-5, with more than 256 memo entries and 1000 dict items', () => {
    // 1100 tensors: > 256 memo entries (LONG_BINPUT / LONG_BINGET) and two SETITEMS batches;
    // protocol 4+ names globals with STACK_GLOBAL and memoizes with MEMOIZE inside FRAMEs.
    const out: Record<string, string> = python(`
import base64, collections, fake_torch
sd = collections.OrderedDict()
shared = fake_torch.UntypedStorage('float32', bytes(4 * 6))
for i in range(1100):
    sd[f'layer.{i}.weight'] = fake_torch.Tensor(shared, i % 3, [2, 3] if i % 2 else [3, 2], [3, 1] if i % 2 else [1, 3])
sd._metadata = collections.OrderedDict([('', dict(version=1)), ('layer', dict(version=1))])
print(json.dumps({str(p): base64.b64encode(fake_torch.zip_pickle(sd, protocol=p)[0]).decode() for p in (2, 3, 4, 5)}))
`);
    for (const [protocol, pkl] of Object.entries(out)) {
      const pids: unknown[] = [];
      const state = load(fromBase64(pkl), (pid) => {
        pids.push(pid);
        return 'the storage';
      }) as Map<string, TensorRebuild>;
      expect([protocol, state.size]).toEqual([protocol, 1100]);
      const t = state.get('layer.1001.weight')!;
      expect(t).toBeInstanceOf(TensorRebuild);
      expect([t.storage, t.storageOffset, t.size, t.stride]).toEqual(['the storage', 1001 % 3, [2, 3], [3, 1]]);
      expect(state.get('layer.4.weight')!.stride).toEqual([1, 3]);
      // Every reference to the one storage hands over the same persistent id.
      expect(pids).toHaveLength(1100);
      const [tag, type, key, location, numel] = pids[1099] as unknown[];
      expect([tag, key, location, numel]).toEqual(['storage', '0', 'cpu', 6]);
      expect(type).toEqual(new StorageType('FloatStorage', 'float32'));
    }
  });
});

it('reads parameters (_rebuild_parameter, _rebuild_parameter_with_state) as their data tensors', () => {
  const pkl: string = python(`
import base64, fake_torch
t = fake_torch.Tensor(fake_torch.UntypedStorage('float32', bytes(8)), 1, [1], [1])
obj = {'p': fake_torch.Parameter(t), 'q': fake_torch.Parameter(t, state={'tag': 1})}
print(json.dumps(base64.b64encode(fake_torch.zip_pickle(obj)[0]).decode()))
`);
  const state = load(fromBase64(pkl)) as Map<string, TensorRebuild>;
  for (const name of ['p', 'q']) {
    expect(state.get(name)).toBeInstanceOf(TensorRebuild);
    expect(state.get(name)!.storageOffset).toBe(1);
  }
});

describe('unpickle refuses globals a state dict does not need', () => {
  const payloads: Record<string, string> = python(`
import base64, os, pickle, subprocess, builtins
class Sys:
    def __reduce__(self): return (os.system, ('touch /nonexistent/marker',))
class Eval:
    def __reduce__(self): return (builtins.eval, ('1+1',))
class Popen:
    def __reduce__(self): return (subprocess.Popen, (['true'],))
print(json.dumps({
    'posix.system': base64.b64encode(pickle.dumps(Sys(), protocol=2)).decode(),
    'posix.system/4': base64.b64encode(pickle.dumps(Sys(), protocol=4)).decode(),
    'builtins.eval': base64.b64encode(pickle.dumps(Eval(), protocol=3)).decode(),
    'subprocess.Popen': base64.b64encode(pickle.dumps(Popen(), protocol=3)).decode(),
    # Below protocol 3, fix_imports writes Python 2 names: subprocess.Popen goes out as commands.Popen.
    'commands.Popen': base64.b64encode(pickle.dumps(Popen(), protocol=2)).decode(),
    '_codecs.encode': base64.b64encode(pickle.dumps(b'bytes in protocol 2', protocol=2)).decode(),
}))
`);

  for (const [label, pkl] of Object.entries(payloads)) {
    const global = label.split('/')[0];
    it(`refuses ${global} (${label.includes('/4') ? 'STACK_GLOBAL' : 'GLOBAL'}) with a ModelError naming it and the file`, () => {
      const err = refusal(fromBase64(pkl));
      expect(err.exitCode).toBe(4);
      expect(err.message).toContain(global);
      expect(err.message).toContain(FILE);
      expect(err.message).not.toContain('\n');
    });
  }

  it('refuses the global of an INST opcode before refusing the opcode', () => {
    // MARK, INST 'os system' (protocol 0's way of building an instance), STOP.
    const err = refusal(Buffer.from('(ios\nsystem\n.', 'latin1'));
    expect(err.message).toContain('os.system');
  });

  it('refuses a REDUCE whose callable is not an allowed global', () => {
    // PROTO 2, the string 'x', an empty tuple, REDUCE.
    const err = refusal(Buffer.from([0x80, 0x02, 0x58, 1, 0, 0, 0, 0x78, 0x29, 0x52, 0x2e]));
    expect(err.message).toMatch(/not an allowed function/);
  });
});

describe('unpickle on hostile or broken input', () => {
  const valid: Uint8Array = fromBase64(
    python(`
import base64, collections, fake_torch
sd = collections.OrderedDict()
sd['w'] = fake_torch.Tensor(fake_torch.UntypedStorage('float16', bytes(8)), 1, [3], [1])
print(json.dumps(base64.b64encode(fake_torch.zip_pickle(sd)[0]).decode()))
`),
  );

  it('turns every truncation of a valid pickle into a ModelError', () => {
    expect(load(valid)).toBeInstanceOf(Map);
    for (let cut = 0; cut < valid.length; cut++) {
      expect(() => load(valid.subarray(0, cut)), `cut at ${cut}`).toThrow(ModelError);
    }
  });

  it.each([
    ['an unknown opcode', [0x80, 0x02, 0xff], /opcode 0xff/],
    ['a newer protocol', [0x80, 0x06, 0x4e, 0x2e], /protocol 6/],
    ['a memo fetch of nothing', [0x80, 0x02, 0x68, 0x07, 0x2e], /memo entry 7/],
    ['a pop from an empty stack', [0x80, 0x02, 0x85, 0x2e], /empty stack/],
    ['a string longer than the stream', [0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61, 0x2e], /ends early/],
    ['a BINBYTES8 length past 2^53', [0x80, 0x04, 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2e], /declares/],
    ['SETITEM on a list', [0x80, 0x02, 0x5d, 0x4b, 1, 0x4b, 2, 0x73, 0x2e], /not a dict/],
    ['APPEND to a tuple', [0x80, 0x02, 0x29, 0x4b, 1, 0x61, 0x2e], /not a list/],
    ['BUILD on a list', [0x80, 0x02, 0x5d, 0x7d, 0x62, 0x2e], /not an OrderedDict/],
    ['NEWOBJ', [0x80, 0x02, 0x4e, 0x29, 0x81, 0x2e], /opcode 0x81/],
    ['STOP inside a MARK', [0x80, 0x02, 0x28, 0x4e, 0x2e], /inside an open MARK/],
  ])('refuses %s', (_label, bytes, message) => {
    expect(() => load(Uint8Array.from(bytes))).toThrow(message);
    expect(() => load(Uint8Array.from(bytes))).toThrow(ModelError);
  });

  it('bounds the stack a stream can build', () => {
    // 5 million NONEs: more than the interpreter holds for any state dict.
    const bomb = new Uint8Array(2 + 5_000_000 + 1).fill(0x4e);
    bomb.set([0x80, 0x02]);
    bomb[bomb.length - 1] = 0x2e;
    expect(() => load(bomb)).toThrow(/stack grows/);
  });
});
