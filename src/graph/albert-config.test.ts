import { describe, expect, it } from 'vitest';
import { ModelError } from '../errors.js';
import { groupForLayer, parseAlbertConfig } from './albert-config.js';

// albert/albert-base-v2's config.json as published (2019), extra fields and all.
const ALBERT_BASE_V2 = {
  architectures: ['AlbertForMaskedLM'],
  attention_probs_dropout_prob: 0,
  bos_token_id: 2,
  classifier_dropout_prob: 0.1,
  down_scale_factor: 1,
  embedding_size: 128,
  eos_token_id: 3,
  gap_size: 0,
  hidden_act: 'gelu_new',
  hidden_dropout_prob: 0,
  hidden_size: 768,
  initializer_range: 0.02,
  inner_group_num: 1,
  intermediate_size: 3072,
  layer_norm_eps: 1e-12,
  max_position_embeddings: 512,
  model_type: 'albert',
  net_structure_type: 0,
  num_attention_heads: 12,
  num_hidden_groups: 1,
  num_hidden_layers: 12,
  num_memory_blocks: 0,
  pad_token_id: 0,
  type_vocab_size: 2,
  vocab_size: 30000,
};

describe('parseAlbertConfig', () => {
  it('reads a published config', () => {
    expect(parseAlbertConfig(ALBERT_BASE_V2, 'config.json')).toEqual({
      vocab_size: 30000,
      embedding_size: 128,
      hidden_size: 768,
      num_hidden_layers: 12,
      num_hidden_groups: 1,
      inner_group_num: 1,
      num_attention_heads: 12,
      intermediate_size: 3072,
      hidden_act: 'gelu_new',
      max_position_embeddings: 512,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
    });
  });

  it("fills missing fields with transformers' AlbertConfig defaults (the xxlarge shape)", () => {
    expect(parseAlbertConfig({ hidden_act: 'relu', vocab_size: 21128 }, 'c.json')).toEqual({
      vocab_size: 21128,
      embedding_size: 128,
      hidden_size: 4096,
      num_hidden_layers: 12,
      num_hidden_groups: 1,
      inner_group_num: 1,
      num_attention_heads: 64,
      intermediate_size: 16384,
      hidden_act: 'relu',
      max_position_embeddings: 512,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
    });
  });

  it.each([
    [[], /c.json: is not a JSON object/],
    [{ hidden_act: 'quick_gelu' }, /hidden_act "quick_gelu" is not supported/],
    [{ position_embedding_type: 'relative_key' }, /position_embedding_type "relative_key" is not supported/],
    [{ hidden_size: 770, num_attention_heads: 12 }, /hidden_size 770 is not a multiple of num_attention_heads 12/],
    [{ num_hidden_layers: 0 }, /num_hidden_layers is 0, not a positive integer/],
    [{ embedding_size: '128' }, /embedding_size is "128", not a positive integer/],
    [{ layer_norm_eps: -1 }, /layer_norm_eps is -1/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseAlbertConfig(raw, 'c.json')).toThrow(ModelError);
    expect(() => parseAlbertConfig(raw, 'c.json')).toThrow(message);
  });
});

describe('groupForLayer', () => {
  // transformers: group_idx = int(i / (num_hidden_layers / num_hidden_groups)), a float division;
  // for 12 layers in 5 groups that is not floor(i / int(12 / 5)).
  it.each([
    [12, 1, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    [6, 3, [0, 0, 1, 1, 2, 2]],
    [12, 5, [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4]],
    [3, 3, [0, 1, 2]],
  ])('%i layers in %i groups', (layers, groups, expected) => {
    const config = { ...parseAlbertConfig({}, 'c.json'), num_hidden_layers: layers, num_hidden_groups: groups };
    expect(expected.map((_, i) => groupForLayer(config, i))).toEqual(expected);
  });
});
