import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { main } from '../src/cli/main.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'albert-embed.js');
export const TINY_EN = join(ROOT, 'fixtures', 'albert-tiny');
export const TINY_ZH = join(ROOT, 'fixtures', 'albert-tiny-zh');
export const TEXTS = join(ROOT, 'fixtures', 'texts');

/** A fresh folder inside the run's scratch root (test/global-setup.ts removes it at the end). */
export function tempDir(prefix = 'albert-embed-test-'): string {
  return mkdtempSync(join(inject('scratchRoot'), prefix));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface MainOptions {
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  /** Where stdout goes instead of being collected (a file stream, to test its failures). */
  stdout?: Writable;
}

/**
 * Runs the CLI in this process through main(argv, io), with real streams: what a spawned run
 * does, minus the launcher (signals, the Node version check) and a second or so of start-up.
 */
export async function runMain(args: string[], options: MainOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ALBERT_EMBED_CACHE: join(inject('scratchRoot'), 'cache-unused'), ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  let stdout = '';
  let stderr = '';
  const out = options.stdout ?? new PassThrough().on('data', (d) => (stdout += d));
  const err = new PassThrough().on('data', (d) => (stderr += d));
  const code = await main(args, { stdin: Readable.from(options.input === undefined ? [] : [Buffer.from(options.input)]), stdout: out, stderr: err, env });
  return { code, stdout, stderr };
}

/** Runs the built CLI as a real child process. */
export function runCli(args: string[], options: { input?: string | Buffer; env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, ALBERT_EMBED_CACHE: join(inject('scratchRoot'), 'cache-unused'), HF_HUB_OFFLINE: undefined, ...options.env };
    for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Runs Python with numpy, the real consumer of our files, and returns what the script prints as
 * JSON. There is no skip: where numpy is missing this throws, and the test fails. CI points
 * ALBERT_EMBED_TEST_PYTHON at Debian's python3 with python3-numpy.
 */
export const PYTHON = process.env.ALBERT_EMBED_TEST_PYTHON || 'python3';

export function numpy(script: string, ...args: string[]): any {
  const result = spawnSync(PYTHON, ['-c', `import json, sys, numpy\n${script}`, ...args], { encoding: 'utf8' });
  if (result.error) throw new Error(`python3 could not run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`python3 failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
