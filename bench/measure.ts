// Runs a Node program as a child process and measures what a user would: wall-clock time from
// spawn to exit and the peak resident set size (through bench/rss-probe.cjs).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const PROBE = join(ROOT, 'bench', 'rss-probe.cjs');

export interface Measured {
  seconds: number;
  peakRssMiB: number;
  stdout: string;
  stderr: string;
}

export async function runMeasured(script: string, args: readonly string[], label: string): Promise<Measured> {
  const scratch = mkdtempSync(join(tmpdir(), 'albert-embed-bench-'));
  const rssFile = join(scratch, 'rss');
  try {
    const started = performance.now();
    const child = spawn(process.execPath, ['--require', PROBE, script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ALBERT_EMBED_BENCH_RSS: rssFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((done, fail) => {
      child.on('error', fail);
      child.on('close', done);
    });
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`${label} exited with ${code}:\n${stderr.slice(-2000)}`);
    return { seconds, peakRssMiB: Number(readFileSync(rssFile, 'utf8')) / 1024, stdout, stderr };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
