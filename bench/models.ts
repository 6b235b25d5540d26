// The benchmark checkpoint: ALBERT-base's shape (embedding 128, hidden 768, 12 layers sharing one
// group, 12 heads, FFN 3072, 512 positions) with seeded weights, built by the fixture builder.
// Only the vocabulary is the fixture's small one; the embedding lookup is a negligible cost.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { TINY_EN, buildModelFolder, type BuiltModel, type ModelSpec } from '../tools/fixture-builder/build.js';

export const BASE_SHAPED: ModelSpec = {
  ...TINY_EN,
  seed: 1,
  architecture: {
    embedding_size: 128,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_hidden_groups: 1,
    inner_group_num: 1,
    num_attention_heads: 12,
    intermediate_size: 3072,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    initializer_range: 0.02,
  },
};

export function buildBaseShaped(work: string): { dir: string; built: BuiltModel } {
  const dir = join(work, 'albert-base-shaped');
  rmSync(dir, { recursive: true, force: true });
  return { dir, built: buildModelFolder(dir, BASE_SHAPED) };
}
