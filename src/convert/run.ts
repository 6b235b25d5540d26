// The convert job: a checkpoint folder or hub id in, a model folder out; and the quantize job:
// an fp32 model folder in, its int8 graph added.
import { isLocalSpec } from '../model/model.js';
import { resolveConvertSettings, resolveQuantizeSettings, type ConvertOptions, type ConvertSettings, type QuantizeOptions, type QuantizeSettings } from '../options.js';
import { convertFolder, type ConvertResult } from './convert.js';
import { fetchCheckpoint } from './hub-checkpoint.js';
import { quantizeFolder, type QuantizeResult } from './quantize-folder.js';
import { verifyModelFolder } from './verify.js';

export async function runConvert(settings: ConvertSettings, notice: (message: string) => void): Promise<ConvertResult> {
  const folder = isLocalSpec(settings.checkpoint) ? settings.checkpoint : await fetchCheckpoint(settings.checkpoint, settings.hub, notice);
  return convertFolder(
    folder,
    settings.output,
    { force: settings.force, verify: (dir) => verifyModelFolder(dir, settings.threads), ...(settings.quantize ? { quantize: { threads: settings.threads } } : {}) },
    notice,
  );
}

/** Library entry point: `await convert({ checkpoint: 'albert/albert-base-v2', output: './albert-onnx' })`. */
export async function convert(options: ConvertOptions, notice: (message: string) => void = () => {}): Promise<ConvertResult> {
  return runConvert(resolveConvertSettings(options), notice);
}

export async function runQuantize(settings: QuantizeSettings, notice: (message: string) => void): Promise<QuantizeResult> {
  return quantizeFolder(settings.folder, { force: settings.force, threads: settings.threads }, notice);
}

/** Library entry point: `await quantize({ folder: './albert-onnx' })` adds onnx/model_quantized.onnx. */
export async function quantize(options: QuantizeOptions, notice: (message: string) => void = () => {}): Promise<QuantizeResult> {
  return runQuantize(resolveQuantizeSettings(options), notice);
}
