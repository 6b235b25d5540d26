// The stderr status line while extracting (TTY only) and the summary line at the end.
import type { Writable } from 'node:stream';
import type { ConvertResult } from '../convert/convert.js';
import type { QuantizeResult } from '../convert/quantize-folder.js';
import type { ExtractStats, ExtractSummary } from '../extract.js';

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** Rates of this run's own work: what a resumed run found done is not counted as done now. */
function rates(stats: ExtractStats) {
  const seconds = Math.max(stats.seconds, 1e-9);
  const before = stats.resumed ?? { rows: 0, tokens: 0, paddedTokens: 0 };
  const tokens = stats.tokens - before.tokens;
  const padded = stats.paddedTokens - before.paddedTokens;
  const padding = padded > 0 ? 1 - tokens / padded : 0;
  return { rowsPerSecond: (stats.rows - before.rows) / seconds, tokensPerSecond: tokens / seconds, padding };
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(h ? 2 : 1, '0')}:${String(s % 60).padStart(2, '0')}`;
  return h ? `${h}:${mmss}` : mmss;
}

export function statusLine(stats: ExtractStats): string {
  const r = rates(stats);
  const eta = stats.fraction && stats.fraction > 0 ? `  ETA ${clock((stats.seconds * (1 - stats.fraction)) / stats.fraction)}` : '';
  const done = stats.fraction !== undefined ? ` (${(stats.fraction * 100).toFixed(0)}%)` : '';
  return `${count(stats.rows)} rows${done}  ${count(r.rowsPerSecond)} rows/s  ${count(r.tokensPerSecond)} tok/s  padding ${(r.padding * 100).toFixed(0)}%${eta}`;
}

export function summaryLine(summary: ExtractSummary): string {
  const r = rates(summary);
  const truncated = summary.truncated > 0 ? `, ${count(summary.truncated)} truncated to ${summary.maxLength} tokens` : ', none truncated';
  const target = summary.output === '-' ? 'stdout' : summary.output;
  const resumed = summary.resumed ? ` (${count(summary.resumed.rows)} of them done before, resumed)` : '';
  return (
    `albert-embed: ${count(summary.rows)} rows${resumed}, ${count(summary.tokens)} tokens${truncated}, ` +
    `${summary.seconds.toFixed(2)} s, ${r.rowsPerSecond.toFixed(1)} rows/s, ${count(r.tokensPerSecond)} tokens/s, ` +
    `padding ${(r.padding * 100).toFixed(1)}%, ${summary.dim}-d on ${summary.device} -> ${target}`
  );
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The int8 graph's size, what went into it and its drift: "onnx/model_quantized.onnx 11.2 MiB (73 MatMuls, ...)". */
function quantizedPart(q: Omit<QuantizeResult, 'seconds'>): string {
  const data = q.externalDataBytes === undefined ? '' : ` + ${q.output}_data ${mib(q.externalDataBytes)}`;
  const shared = q.report.weights < q.report.matmuls ? `, ${q.report.weights} distinct weights` : '';
  const attention = q.report.attentionBlocks > 0 ? `, ${q.report.attentionBlocks} attention blocks as QAttention` : '';
  return (
    `${q.output} ${mib(q.graphBytes)}${data} (${q.report.matmuls} MatMuls int8${shared}${attention}); ` +
    `cosine to fp32 on ${q.drift.sample} texts: min ${q.drift.minCosine.toFixed(4)}, mean ${q.drift.meanCosine.toFixed(4)}`
  );
}

export function convertSummary(r: ConvertResult): string {
  const data = r.externalDataBytes === undefined ? '' : ` + onnx/model.onnx_data ${mib(r.externalDataBytes)}`;
  const quantized = r.quantized ? `, ${quantizedPart(r.quantized)}` : '';
  return (
    `albert-embed: converted ${r.source} (${r.weightsFormat} weights, tokenizer from ${r.tokenizerSource}${r.pooler ? ', with pooler' : ''}) ` +
    `into ${r.output}: onnx/model.onnx ${mib(r.graphBytes)}${data}${quantized}, ${r.seconds.toFixed(2)} s`
  );
}

export function quantizeSummary(r: QuantizeResult): string {
  return `albert-embed: quantized ${r.folder}: ${quantizedPart(r)}, ${r.seconds.toFixed(2)} s`;
}

/** Redraws one status line at most every 200 ms; erases it before anything else is printed. */
export class ProgressLine {
  private last = 0;
  private shown = false;
  constructor(private readonly stream: Writable & { columns?: number }) {}

  update(stats: ExtractStats): void {
    const now = performance.now();
    if (now - this.last < 200) return;
    this.last = now;
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    this.stream.write(`\r\x1b[K${statusLine(stats).slice(0, width)}`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
