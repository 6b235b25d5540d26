// Graph rewrites that exist only to be measured against albert-embed's int8 graph
// (`npm run bench -- int8`): the forms onnxruntime's own quantizer writes, quantizing the
// attention MatMuls whose operands are both activations, and 8-bit MatMulNBits.
import { DataType, type Initializer, lazyTensor, type Node, type OnnxModel } from '../src/graph/onnx.js';
import { floatsOf, MS_DOMAIN } from '../src/graph/quantize.js';

function rewrite(model: OnnxModel, replace: (node: Node, fresh: (base: string) => string) => Node[] | undefined): OnnxModel {
  let counter = 0;
  const fresh = (base: string) => `${base}__int8_${counter++}`;
  const nodes = model.graph.nodes.flatMap((n) => replace(n, fresh) ?? [n]);
  return { ...model, graph: { ...model.graph, nodes } };
}

/** A -> (uint8 A, scale, zero point) and the int32 product of two such, as float: the standard ONNX ops. */
function integerProduct(a: string, b: string, bScale: string, bZeroPoint: string | undefined, output: string, fresh: (base: string) => string, quantizeB?: boolean): Node[] {
  const [aq, as, azp] = [fresh('a_q'), fresh('a_scale'), fresh('a_zp')];
  const nodes: Node[] = [{ op: 'DynamicQuantizeLinear', inputs: [a], outputs: [aq, as, azp] }];
  let [bq, bs, bzp] = [b, bScale, bZeroPoint ?? ''];
  if (quantizeB) {
    [bq, bs, bzp] = [fresh('b_q'), fresh('b_scale'), fresh('b_zp')];
    nodes.push({ op: 'DynamicQuantizeLinear', inputs: [b], outputs: [bq, bs, bzp] });
  }
  const product = fresh('product');
  const asFloat = fresh('product_float');
  const scale = fresh('scale');
  nodes.push(
    { op: 'MatMulInteger', inputs: [aq, bq, azp, ...(bzp ? [bzp] : [])], outputs: [product] },
    { op: 'Cast', inputs: [product], outputs: [asFloat], attrs: { to: DataType.FLOAT } },
    { op: 'Mul', inputs: [as, bs], outputs: [scale] },
    { op: 'Mul', inputs: [asFloat, scale], outputs: [output] },
  );
  return nodes;
}

/**
 * Every DynamicQuantizeMatMul spelled as onnxruntime's quantize_dynamic writes MatMuls
 * (DynamicQuantizeLinear, MatMulInteger, Cast, Mul, then Add for a bias), which its optimizer
 * fuses back into contrib ops where its patterns match.
 */
export function asMatMulInteger(model: OnnxModel): OnnxModel {
  return rewrite(model, (node, fresh) => {
    if (node.op !== 'DynamicQuantizeMatMul' || node.domain !== MS_DOMAIN) return undefined;
    const [a, b, scale, zeroPoint, bias] = node.inputs;
    const out = node.outputs[0];
    if (!bias) return integerProduct(a, b, scale, zeroPoint || undefined, out, fresh);
    const unbiased = fresh('unbiased');
    return [...integerProduct(a, b, scale, zeroPoint || undefined, unbiased, fresh), { op: 'Add', inputs: [unbiased, bias], outputs: [out] }];
  });
}

/** Every MatMul left in float whose operands are both computed (attention scores and context) quantized at run time, both sides. */
export function quantizeActivationMatMuls(model: OnnxModel): OnnxModel {
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  return rewrite(model, (node, fresh) => {
    if (node.op !== 'MatMul' || node.domain || node.inputs.some((i) => initializers.has(i))) return undefined;
    return integerProduct(node.inputs[0], node.inputs[1], '', undefined, node.outputs[0], fresh, true);
  });
}

/**
 * Every DynamicQuantizeMatMul as com.microsoft MatMulNBits with 8-bit weights in blocks of
 * `blockSize` along K (one scale per block and column, zero point 128) and accuracy_level 4
 * (activations quantized to int8 per block at run time); biases stay separate Adds.
 */
export function asMatMulNBits(model: OnnxModel, blockSize = 128): OnnxModel {
  const initializers = new Map(model.graph.initializers.map((t) => [t.name, t]));
  const added = new Map<string, Initializer[]>();
  const rewritten = rewrite(model, (node, fresh) => {
    if (node.op !== 'MatMul' || node.domain) return undefined;
    const weight = initializers.get(node.inputs[1]);
    if (!weight || weight.dataType !== DataType.FLOAT || weight.dims.length !== 2) return undefined;
    const [k, n] = weight.dims;
    const blocks = Math.ceil(k / blockSize);
    if (!added.has(weight.name)) {
      let scales: Float32Array | undefined;
      const values = (): Uint8Array => {
        const w = floatsOf(weight);
        const q = new Uint8Array(n * blocks * blockSize).fill(128);
        scales = new Float32Array(n * blocks);
        for (let c = 0; c < n; c++) {
          for (let b = 0; b < blocks; b++) {
            const end = Math.min(k, (b + 1) * blockSize);
            let max = 0;
            for (let r = b * blockSize; r < end; r++) max = Math.max(max, Math.abs(w[r * n + c]));
            const scale = max / 127 || 1;
            scales[c * blocks + b] = scale;
            for (let r = b * blockSize; r < end; r++) q[(c * blocks + b) * blockSize + r - b * blockSize] = Math.round(w[r * n + c] / scale) + 128;
          }
        }
        return q;
      };
      added.set(weight.name, [
        lazyTensor(`${weight.name}_nbits`, DataType.UINT8, [n, blocks, blockSize], values),
        lazyTensor(`${weight.name}_nbits_scale`, DataType.FLOAT, [n * blocks], () => new Uint8Array((scales ?? (values(), scales!)).buffer)),
      ]);
    }
    const [values, scales] = added.get(weight.name)!;
    return [{ op: 'MatMulNBits', domain: MS_DOMAIN, name: fresh('MatMulNBits'), inputs: [node.inputs[0], values.name, scales.name], outputs: node.outputs, attrs: { K: k, N: n, bits: 8, block_size: blockSize, accuracy_level: 4 } }];
  });
  const used = new Set(rewritten.graph.nodes.flatMap((n) => n.inputs));
  const opsetImports = rewritten.opsetImports.some((o) => o.domain === MS_DOMAIN) ? rewritten.opsetImports : [...rewritten.opsetImports, { domain: MS_DOMAIN, version: 1 }];
  return { ...rewritten, opsetImports, graph: { ...rewritten.graph, initializers: [...rewritten.graph.initializers.filter((t) => used.has(t.name)), ...[...added.values()].flat()] } };
}
