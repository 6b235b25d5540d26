// Preloaded into measured processes (node --require): at exit, writes the process's peak
// resident set size (getrusage ru_maxrss, KiB) to the file named by ALBERT_EMBED_BENCH_RSS.
'use strict';
const { writeFileSync } = require('node:fs');
const target = process.env.ALBERT_EMBED_BENCH_RSS;
if (target) {
  process.on('exit', () => writeFileSync(target, String(process.resourceUsage().maxRSS)));
}
