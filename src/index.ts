// Public API of albert-embed.
export { createEmbedder, openEmbedder } from './embedder.js';
export type { Embedder, EmbedResult, ModelDescription } from './embedder.js';
export { extract } from './extract.js';
export type { ExtractStats, ExtractSummary, ExtractIo } from './extract.js';
export { describeModel } from './info.js';
export type { CheckpointInfo, ModelInfo } from './info.js';
export { convert, quantize } from './convert/run.js';
export { mergeParts as merge } from './jobs/merge.js';
export type { MergeResult } from './jobs/merge.js';
export type { ConvertResult } from './convert/convert.js';
export type { QuantizeResult } from './convert/quantize-folder.js';
export type { Drift } from './convert/drift.js';
export type { QuantizeReport } from './graph/quantize.js';
export { resolveConvertSettings, resolveEmbedderSettings, resolveExtractSettings, resolveQuantizeSettings, DEFAULT_MODEL, OPTIONS } from './options.js';
export type {
  ConvertOptions,
  ConvertSettings,
  EmbedderOptions,
  EmbedderSettings,
  ExtractOptions,
  ExtractSettings,
  PoolSettings,
  QuantizeOptions,
  QuantizeSettings,
} from './options.js';
export { POOLINGS } from './pipeline/pooling.js';
export type { Pooling } from './pipeline/pooling.js';
export { DTYPES } from './model/dtypes.js';
export type { Dtype } from './model/dtypes.js';
export { DEVICES } from './model/devices.js';
export type { DeviceChoice } from './model/devices.js';
export { INPUT_FORMATS } from './input/formats.js';
export type { InputFormat } from './input/formats.js';
export { OUTPUT_FORMATS } from './output/formats.js';
export type { OutputFormat } from './output/formats.js';
export { JsonNumber } from './input/record-id.js';
export type { RecordId } from './input/record-id.js';
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
