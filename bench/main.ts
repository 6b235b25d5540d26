// `npm run bench [-- <mode>...] [--lines N] [--threads N] [--json FILE]`
//   speed   ALBERT-base-shaped model, mixed corpus: Transformers.js pipeline vs albert-embed
//   memory  tiny model, 20k and 200k short lines: peak RSS of albert-embed at both sizes
//   engine  fusions onnxruntime applies, session start-up, session settings, batch budgets
//   graph   the graph writer's choices: fusions per activation, hidden_states outputs, value_info
//   convert conversion time and peak memory, ALBERT-base-shaped safetensors and legacy .bin
//           (--xxlarge adds an albert-xxlarge-v2-shaped checkpoint, ~890 MB)
//   jobs    the journal's cost (texts/s with and without --no-journal) and merge of 200,000 x 768
//   int8    the int8 graph's choices: ops and MatMuls quantized, precision mode, budgets, threads
// Default: speed and memory. Everything is generated under bench/out/ (not committed).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { ROOT } from './measure.js';
import { runEngine } from './engine.js';
import { runConvert } from './convert.js';
import { runGraph } from './graph.js';
import { runInt8 } from './int8.js';
import { runJobs } from './jobs.js';
import { runMemory } from './memory.js';
import { runSpeed } from './speed.js';

const MODES = ['speed', 'memory', 'engine', 'graph', 'convert', 'jobs', 'int8'] as const;
type Mode = (typeof MODES)[number];

const program = new Command('bench')
  .argument('[modes...]', `any of ${MODES.join(', ')}`, ['speed', 'memory'])
  .option('--lines <n>', 'lines in the mixed corpus (speed)', '2000')
  .addOption(new Option('--threads <n>', 'intra-op threads for every engine').default(String(availableParallelism())))
  .option('--json <file>', 'where the results go', join(ROOT, 'bench', 'out', 'results.json'))
  .option('--xxlarge', 'convert: also an albert-xxlarge-v2-shaped checkpoint')
  .option('--skip-baseline', 'speed: do not run the Transformers.js pipeline')
  .parse();

const modes = program.processedArgs[0] as string[];
for (const m of modes) if (!(MODES as readonly string[]).includes(m)) program.error(`unknown mode ${m}; use ${MODES.join(', ')}`);
const opts = program.opts<{ lines: string; threads: string; json: string; skipBaseline?: boolean; xxlarge?: boolean }>();
const threads = Number(opts.threads);
const work = join(ROOT, 'bench', 'out');
mkdirSync(work, { recursive: true });

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  logicalCpus: availableParallelism(),
  node: process.version,
  onnxruntime: JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version as string,
  transformers: JSON.parse(readFileSync(join(ROOT, 'node_modules', '@huggingface', 'transformers', 'package.json'), 'utf8')).version as string,
};
console.log(`machine: ${machine.cpu}, ${machine.logicalCpus} logical CPUs, Node ${machine.node}, onnxruntime-node ${machine.onnxruntime}, threads ${threads}`);

const results: Record<string, unknown> = { date: new Date().toISOString(), machine, threads };
for (const mode of modes as Mode[]) {
  console.log(`\n== ${mode}`);
  if (mode === 'speed') results.speed = await runSpeed({ work, threads, lines: Number(opts.lines), baseline: !opts.skipBaseline });
  if (mode === 'memory') results.memory = await runMemory({ work, threads });
  if (mode === 'engine') results.engine = await runEngine({ work, threads });
  if (mode === 'graph') results.graph = await runGraph({ work, threads });
  if (mode === 'jobs') results.jobs = await runJobs({ work, threads });
  if (mode === 'convert') results.convert = await runConvert({ work, threads, xxlarge: Boolean(opts.xxlarge) });
  if (mode === 'int8') results.int8 = await runInt8({ work, threads });
}
writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nresults: ${opts.json}`);
