// A converted folder is opened the way extract opens it, and one forward pass is run, before it
// is moved into place: convert never leaves a folder behind that extract would then refuse.
import type { ModelSettings } from '../model/model.js';
import { loadModel } from '../model/model.js';
import { BatchEncoder } from '../pipeline/encoder.js';

export async function verifyModelFolder(folder: string, threads: number): Promise<void> {
  const settings: ModelSettings = {
    model: folder,
    dtype: 'fp32',
    device: 'cpu',
    threads,
    hub: { cacheDir: folder, offline: true, revision: 'main', endpoint: 'http://127.0.0.1:9' },
  };
  const model = await loadModel(settings, () => {});
  try {
    await new BatchEncoder(model, { batchSize: 1, maxBatchTokens: model.config.maxPositions }).probe(Math.min(model.config.maxPositions, model.tokenizer.modelMaxLength ?? Infinity));
  } finally {
    await model.session.release();
  }
}
