import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { TINY_EN } from '../../tools/fixture-builder/build.js';
import { countingWeightSource, generateWeights, weightSource } from '../../tools/fixture-builder/weights.js';
import { ModelError } from '../errors.js';
import type { AlbertActivation, AlbertConfig } from './albert-config.js';
import { buildAlbertGraph, type WeightSource } from './albert.js';
import { encodeOnnxModel, writeOnnxModel } from './onnx.js';

const config = (hidden_act: AlbertActivation = 'gelu_new') => ({ ...TINY_EN.architecture, vocab_size: 50, hidden_act }) satisfies AlbertConfig;
const weights = generateWeights(config(), 1);

const counting = () => countingWeightSource(weights);

describe('buildAlbertGraph', () => {
  it('reads no weight while building and each one once while writing, shared layers included', () => {
    const { source, reads } = counting();
    const model = buildAlbertGraph(config(), source, { tokenTypeInput: true, poolerOutput: true });
    expect(reads.size).toBe(0);
    writeOnnxModel(join(tempDir(), 'model.onnx'), model);
    // 4 layers in 2 groups of 2 inner layers: 4 distinct layers' weights, each read once.
    expect([...reads.keys()].sort()).toEqual([...weights.keys()].sort());
    expect([...reads.values()].every((n) => n === 1)).toBe(true);
  });

  it('names a missing or misshapen weight', () => {
    const inner = weightSource(weights);
    const missing: WeightSource = { ...inner, shape: (name) => (name.endsWith('ffn.bias') ? undefined : inner.shape(name)) };
    expect(() => buildAlbertGraph(config(), missing, { tokenTypeInput: true })).toThrow(ModelError);
    expect(() => buildAlbertGraph(config(), missing, { tokenTypeInput: true })).toThrow(/no weight encoder.albert_layer_groups.0.albert_layers.0.ffn.bias/);
    const wrongVocab = { ...config(), vocab_size: 51 };
    expect(() => buildAlbertGraph(wrongVocab, inner, { tokenTypeInput: true })).toThrow(/embeddings.word_embeddings.weight has shape \[50, 32\]; config.json implies \[51, 32\]/);
  });

  it('writes gelu_fast and gelu_pytorch_tanh as gelu_new, the one tanh spelling onnxruntime fuses', () => {
    const bytes = (act: AlbertActivation) => encodeOnnxModel(buildAlbertGraph(config(act), weightSource(weights), { tokenTypeInput: true }));
    const geluNew = Buffer.from(bytes('gelu_new'));
    expect(geluNew.equals(Buffer.from(bytes('gelu_fast')))).toBe(true);
    expect(geluNew.equals(Buffer.from(bytes('gelu_pytorch_tanh')))).toBe(true);
    expect(geluNew.equals(Buffer.from(bytes('gelu')))).toBe(false);
  });

  it('spells gelu as torch.onnx exports F.gelu: Div by sqrt 2, Erf, Add 1, Mul x, Mul 0.5', () => {
    const { graph } = buildAlbertGraph(config('gelu'), weightSource(weights), { tokenTypeInput: true });
    const div = graph.nodes.find((n) => n.op === 'Div' && n.inputs[1] === 'gelu.sqrt_two')!;
    const chain = [div];
    for (let i = 0; i < 4; i++) chain.push(graph.nodes.find((n) => n.inputs.includes(chain.at(-1)!.outputs[0]))!);
    expect(chain.map((n) => n.op)).toEqual(['Div', 'Erf', 'Add', 'Mul', 'Mul']);
    const x = div.inputs[0];
    expect(chain[2].inputs).toEqual([chain[1].outputs[0], 'gelu.one']);
    expect(chain[3].inputs).toEqual([x, chain[2].outputs[0]]);
    expect(chain[4].inputs).toEqual([chain[3].outputs[0], 'gelu.half']);
    const values = Object.fromEntries(graph.initializers.filter((t) => t.name.startsWith('gelu.')).map((t) => [t.name, new Float32Array(t.produce().slice().buffer)[0]]));
    expect(values).toEqual({ 'gelu.sqrt_two': Math.fround(Math.SQRT2), 'gelu.one': 1, 'gelu.half': 0.5 });
  });

  it('names hidden states where they are computed: outputs added, nodes unchanged', () => {
    const plain = buildAlbertGraph(config(), weightSource(weights), { tokenTypeInput: true });
    const withStates = buildAlbertGraph(config(), weightSource(weights), { tokenTypeInput: true, hiddenStates: true });
    expect(withStates.graph.outputs.map((o) => o.name)).toEqual(['last_hidden_state', ...[0, 1, 2, 3, 4].map((k) => `hidden_states.${k}`)]);
    expect(withStates.graph.nodes.map((n) => n.op)).toEqual(plain.graph.nodes.map((n) => n.op));
    const producer = (name: string) => withStates.graph.nodes.find((n) => n.outputs.includes(name))!;
    expect(producer('hidden_states.0').op).toBe('Add');
    for (const k of [1, 2, 3, 4]) expect(producer(`hidden_states.${k}`).op).toBe('LayerNormalization');
    expect(producer('last_hidden_state').inputs).toEqual(['hidden_states.4']);
    // The sequence length stays undeclared on hidden states, so that onnxruntime optimizes the graph as without them.
    expect(withStates.graph.outputs.map((o) => o.shape)).toEqual([['batch_size', 'sequence_length', 64], ...new Array(5).fill(['batch_size', null, 64])]);
  });
});
