// Public API of albert-embed.
export { createEmbedder, openEmbedder } from './embedder.js';
export type { Embedder, EmbedResult, ModelDescription } from './embedder.js';
export { extract } from './extract.js';
export type { ExtractOptions, ExtractStats, ExtractSummary, ExtractIo } from './extract.js';
export { describeModel } from './info.js';
export type { ModelInfo } from './info.js';
export { resolveEmbedderSettings, DEFAULT_MODEL } from './options.js';
export type { EmbedderOptions, EmbedderSettings } from './options.js';
export { POOLINGS } from './pipeline/pooling.js';
export type { Pooling } from './pipeline/pooling.js';
export { DTYPES } from './model/dtypes.js';
export type { Dtype } from './model/dtypes.js';
export type { DeviceChoice } from './model/session.js';
export {
  AlbertEmbedError,
  UsageError,
  InputError,
  ModelError,
  DeviceError,
  OutputError,
  InferenceError,
  ExitCode,
} from './errors.js';
export { main } from './cli/main.js';
