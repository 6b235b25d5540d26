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
    checkOnly: true,
    hub: { cacheDir: folder, offline: true, revision: 'main', endpoint: 'http://127.0.0.1:9' },
  };
  const model = await loadModel(settings, () => {});
  try {
    // A short sequence: the graph was built from the config and weights just checked, so the
    // probe only needs to prove that onnxruntime loads and runs it, at the config's width.
    await new BatchEncoder(model, { batchSize: 1, maxBatchTokens: model.config.maxPositions }).probe(Math.min(16, model.config.maxPositions));
  } finally {
    await model.session.release();
  }
}
