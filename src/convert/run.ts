// The convert job: a checkpoint folder or hub id in, a model folder out.
import { isLocalSpec } from '../model/model.js';
import { resolveConvertSettings, type ConvertOptions, type ConvertSettings } from '../options.js';
import { convertFolder, type ConvertResult } from './convert.js';
import { fetchCheckpoint } from './hub-checkpoint.js';
import { verifyModelFolder } from './verify.js';

export async function runConvert(settings: ConvertSettings, notice: (message: string) => void): Promise<ConvertResult> {
  const folder = isLocalSpec(settings.checkpoint) ? settings.checkpoint : await fetchCheckpoint(settings.checkpoint, settings.hub, notice);
  return convertFolder(folder, settings.output, { force: settings.force, verify: (dir) => verifyModelFolder(dir, settings.threads) }, notice);
}

/** Library entry point: `await convert({ checkpoint: 'albert/albert-base-v2', output: './albert-onnx' })`. */
export async function convert(options: ConvertOptions, notice: (message: string) => void = () => {}): Promise<ConvertResult> {
  return runConvert(resolveConvertSettings(options), notice);
}
