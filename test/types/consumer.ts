// Compiled by test/library.test.ts against the built declarations, as a TypeScript user would.
import { createEmbedder, type EmbedResult, type EmbedderOptions, type Pooling, UsageError } from 'albert-embed';

const options: EmbedderOptions = { model: './albert-base-v2', dtype: 'q8', device: 'auto', pooling: 'max', maxLength: 128 };
const pooling: Pooling = 'cls';

export async function run(): Promise<number> {
  const embedder = await createEmbedder(options);
  const result: EmbedResult = await embedder.embed(['a', 'b'], { pooling, normalize: true });
  const first: Float32Array = result.embeddings[0];
  const count: number = result.tokenCounts[0];
  const cut: boolean = result.truncated[0];
  await embedder.close();
  const err = new UsageError('x', 'hint');
  return first.length + count + Number(cut) + err.exitCode;
}
