// Preloaded into measured processes (node --require): at exit, writes the process's peak
// resident set size in KiB to the file named by ALBERT_EMBED_BENCH_RSS.
//
// Linux's VmHWM belongs to the address space the process exec'd into. getrusage's ru_maxrss
// does not do: it starts from the RSS of the forked parent (exec folds the old address space's
// peak into it), so every child of a large bench process would report at least the bench's size.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const target = process.env.ALBERT_EMBED_BENCH_RSS;

function peakKiB() {
  try {
    const match = readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    if (match) return Number(match[1]);
  } catch {}
  return process.resourceUsage().maxRSS;
}

if (target) process.on('exit', () => writeFileSync(target, String(peakKiB())));
