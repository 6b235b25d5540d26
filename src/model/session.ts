// The only module that imports onnxruntime-node. One InferenceSession per process: several
// sessions in worker threads have crashed onnxruntime-node (onnxruntime#24486), and session.run
// already spreads each batch over the intra-op thread pool.
import * as ort from 'onnxruntime-node';
import { DeviceError, InferenceError, ModelError, errorMessage } from '../errors.js';
import { float16BitsToFloat32 } from './float16.js';

import type { Device, DeviceChoice } from './devices.js';

export type { DeviceChoice } from './devices.js';

export interface SessionSettings {
  device: DeviceChoice;
  threads: number;
  /**
   * A session opened only to check that a model loads and runs (convert's load check): weights
   * are not repacked for faster MatMuls, which for albert-xxlarge saves 13 s and 800 MiB.
   */
  checkOnly?: boolean;
}

export interface TensorInfo {
  name: string;
  type: string;
  /** Numbers are fixed sizes; strings are symbolic (dynamic) dimensions. */
  shape: Array<number | string>;
}

/** A token-aligned input ([batch, sequence]) in the element type the graph declares. */
export interface TokenFeed {
  data: BigInt64Array | Int32Array | Float32Array;
  dims: number[];
}

export interface FloatOutput {
  data: Float32Array;
  dims: number[];
}

export interface EncoderSession {
  readonly device: Device;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Fetches `outputs` (and computes only what they need), in that order. */
  run(feeds: Record<string, TokenFeed>, outputs: readonly string[]): Promise<FloatOutput[]>;
  release(): Promise<void>;
}

export const ORT_VERSION: string = ort.env.versions?.node ?? 'unknown';

// onnxruntime's own logger writes to stderr from native code (a failed CUDA load or a failed
// kernel prints an ANSI-coloured block before our one-line message). Its failures reach us as
// exceptions, which say the same in the form every other error takes; so only fatal lines get
// through: at the environment (set again before each session, as Transformers.js also sets it),
// the session and each run.
const QUIET = 'fatal';

export const CUDA_HINT =
  'install the CUDA provider with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install` ' +
  '(onnxruntime-node 1.30 needs an NVIDIA driver, the CUDA 13 runtime and cuDNN 9 on the library path), or use --device cpu';

function describe(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return metadata.map((m) =>
    m.isTensor ? { name: m.name, type: String(m.type), shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

function firstLine(err: unknown): string {
  // onnxruntime prefixes the useful part with source paths and ANSI colour codes.
  const text = errorMessage(err).replace(/\x1b\[[0-9;]*m/g, '');
  const match = text.match(/Failed to load library [^\n]*?with error: ([^\n]*)/);
  return (match ? match[1] : text.split('\n')[0]).trim();
}

async function create(path: string, device: Device, settings: SessionSettings): Promise<ort.InferenceSession> {
  const { threads } = settings;
  ort.env.logLevel = QUIET;
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: device === 'cuda' ? ['cuda'] : ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4,
    // Idle pool threads sleep instead of spinning: `npm run bench -- engine` measures no loss
    // (batches are hundreds of milliseconds of work), and spinning threads would take CPU from
    // tokenization and from the other processes of a shell pipeline. (See BENCHMARKS.md.)
    extra: { session: { intra_op: { allow_spinning: '0' }, ...(settings.checkOnly ? { disable_prepacking: '1' } : {}) } },
  };
  return ort.InferenceSession.create(path, options);
}

function wrap(session: ort.InferenceSession, device: Device): EncoderSession {
  return {
    device,
    inputs: describe(session.inputMetadata),
    outputs: describe(session.outputMetadata),
    async run(feeds, outputs) {
      const tensors: Record<string, ort.Tensor> = {};
      for (const [name, feed] of Object.entries(feeds)) tensors[name] = new ort.Tensor(feed.data, feed.dims);
      let result: ort.InferenceSession.ReturnType;
      try {
        result = await session.run(tensors, [...outputs], { logSeverityLevel: 4 });
      } catch (err) {
        const reason = firstLine(err);
        // Only an allocation failure is helped by smaller batches; anything else is the graph's or the runtime's.
        const hint = /alloc|out of memory|bad_alloc|memory/i.test(reason)
          ? 'onnxruntime ran out of memory: use a smaller --max-batch-tokens (and --batch-size)'
          : 'run with --verbose for the onnxruntime details; the graph may not fit this onnxruntime';
        throw new InferenceError(`onnxruntime failed on a batch of shape [${Object.values(feeds)[0]?.dims.join(', ')}]: ${reason}`, hint, { cause: err });
      }
      return outputs.map((output) => {
        const tensor = result[output];
        const dims = [...tensor.dims];
        if (tensor.type === 'float32') return { data: tensor.data as Float32Array, dims };
        if (tensor.type === 'float16') {
          const data = tensor.data as unknown as ArrayBufferView;
          return { data: float16BitsToFloat32(new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)), dims };
        }
        throw new ModelError(`graph output ${output} is ${tensor.type}; albert-embed reads float32 or float16 hidden states`);
      });
    },
    release: () => session.release(),
  };
}

/**
 * Opens the graph on the chosen device. `auto` tries CUDA and falls back to CPU, reporting the
 * reason through `notice`; `cuda` fails with a DeviceError that says what to install.
 */
export async function openSession(path: string, settings: SessionSettings, notice: (message: string) => void): Promise<EncoderSession> {
  if (settings.device !== 'cpu') {
    try {
      return wrap(await create(path, 'cuda', settings), 'cuda');
    } catch (err) {
      const reason = firstLine(err);
      if (!/cuda|provider|libcu/i.test(errorMessage(err))) {
        throw new ModelError(`onnxruntime cannot load ${path}: ${reason}`, 'the file is not a valid ONNX graph for this onnxruntime; export it again', { cause: err });
      }
      if (settings.device === 'cuda') {
        throw new DeviceError(`--device cuda: the CUDA execution provider cannot be loaded: ${reason}`, CUDA_HINT, { cause: err });
      }
      notice(`--device auto: CUDA unavailable (${reason}); running on CPU`);
    }
  }
  try {
    return wrap(await create(path, 'cpu', settings), 'cpu');
  } catch (err) {
    throw new ModelError(`onnxruntime cannot load ${path}: ${firstLine(err)}`, 'the file is not a valid ONNX graph for this onnxruntime; export it again', { cause: err });
  }
}
