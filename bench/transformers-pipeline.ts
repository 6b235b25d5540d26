// The baseline, as a Node user writes it with Transformers.js: a feature-extraction pipeline
// called on consecutive slices of 32 texts, mean pooling, fp32 model.onnx. Only the thread
// count is set (to match albert-embed's), through the session options Transformers.js passes on.
//
// Usage: node dist/bench/transformers-pipeline.js <model-dir> <texts-file> <threads> <out.f32>
// Writes the embeddings as raw float32 rows and prints {"loadSeconds", "embedSeconds"} as JSON.
import { env, pipeline } from '@huggingface/transformers';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';

const [modelDir, textsFile, threads, outFile] = process.argv.slice(2);
const texts = readFileSync(textsFile, 'utf8').split('\n');
if (texts[texts.length - 1] === '') texts.pop();

env.allowRemoteModels = false;
env.localModelPath = `${dirname(modelDir)}/`;

const started = performance.now();
const extractor = await pipeline('feature-extraction', basename(modelDir), {
  dtype: 'fp32',
  device: 'cpu',
  session_options: { intraOpNumThreads: Number(threads), interOpNumThreads: 1 },
});
const loaded = performance.now();
const chunks: Float32Array[] = [];
for (let start = 0; start < texts.length; start += 32) {
  const output = await extractor(texts.slice(start, start + 32), { pooling: 'mean', normalize: false });
  chunks.push(Float32Array.from(output.data as Float32Array));
}
const done = performance.now();
writeFileSync(outFile, Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
console.log(JSON.stringify({ loadSeconds: (loaded - started) / 1000, embedSeconds: (done - loaded) / 1000 }));
