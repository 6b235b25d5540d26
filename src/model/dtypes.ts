// The ONNX weight files Transformers.js checkpoints ship, by dtype name
// (the file-name suffixes of Transformers.js' DEFAULT_DTYPE_SUFFIX_MAPPING).
export const DTYPE_SUFFIX = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  bnb4: '_bnb4',
  q4f16: '_q4f16',
} as const;

export type Dtype = keyof typeof DTYPE_SUFFIX;
export const DTYPES = Object.keys(DTYPE_SUFFIX) as Dtype[];

export function isDtype(value: string): value is Dtype {
  return Object.hasOwn(DTYPE_SUFFIX, value);
}

/** Where a dtype's graph may live in a model folder, in the order they are tried. */
export function onnxCandidates(dtype: Dtype): string[] {
  const file = `model${DTYPE_SUFFIX[dtype]}.onnx`;
  return [`onnx/${file}`, file];
}
