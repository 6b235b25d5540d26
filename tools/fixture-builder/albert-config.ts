/** The fields of a Hugging Face AlbertConfig that the architecture depends on. */
export interface AlbertConfig {
  model_type: 'albert';
  vocab_size: number;
  embedding_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_hidden_groups: number;
  inner_group_num: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: 'gelu_new';
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  initializer_range: number;
  position_embedding_type: 'absolute';
  pad_token_id: number;
}

/** Which shared layer group runs at depth `layer`, exactly as transformers' AlbertTransformer picks it. */
export function groupForLayer(config: AlbertConfig, layer: number): number {
  const layersPerGroup = config.num_hidden_layers / config.num_hidden_groups;
  return Math.floor(layer / layersPerGroup);
}

export function layerPrefix(group: number, inner: number): string {
  return `encoder.albert_layer_groups.${group}.albert_layers.${inner}`;
}
