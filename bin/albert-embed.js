#!/usr/bin/env node
// Thin launcher: checks the Node version, wires the real process streams into main(), and turns
// SIGINT, SIGTERM and SIGHUP into exit 130 after removing any half-written output file.
const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  process.stderr.write(`albert-embed: needs Node.js 20 or newer, this is ${process.version}\n`);
  process.exit(1);
}

// Installed before anything else is loaded, so that a signal at any moment gets the same exit.
let interrupted = () => '';
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    process.stderr.write(`\nalbert-embed: interrupted by ${signal}${interrupted()}\n`);
    process.exit(130);
  });
}

// Write errors on stdout reach the code that wrote (a closed pipe ends the run quietly, anything
// else is exit 6); without a listener the same error would also crash the process as an event.
// A stderr that cannot be written has nowhere to report to: the exit code still tells.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

const { discardOpenOutputsSync } = await import('../dist/src/output/atomic-file.js');
interrupted = discardOpenOutputsSync;
const { main } = await import('../dist/src/cli/main.js');

process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
