// The launcher: SIGINT, SIGTERM and SIGHUP end a run with exit 130 and remove every temporary
// and scratch file, promptly even while a long step is running.
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, tempDir, TINY_EN } from './helpers.js';

async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts extract on stdin that never ends (or on `file`), waits for its files to exist, then
 * signals it.
 */
async function interrupt(signal: NodeJS.Signals, line: string, file?: string) {
  const dir = tempDir();
  const out = join(dir, 'out.npz');
  const child = spawn(process.execPath, [BIN, 'extract', ...(file ? [file] : []), '-o', out, '--model', TINY_EN], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.on('error', () => {});
  // Keep feeding records, so the run is certainly still going when the signal lands.
  const feed = setInterval(() => child.stdin.write(line.repeat(50)), 5);
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await until(() => readdirSync(dir).some((f) => f.endsWith('.scratch')), 'the temp and scratch files');
    expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(true);
    // Let it get into its tokenizing and encoding.
    await new Promise((r) => setTimeout(r, 300));
    const sent = performance.now();
    child.kill(signal);
    const code = await closed;
    return { code, stderr, dir, ms: performance.now() - sent };
  } finally {
    clearInterval(feed);
  }
}

describe('interrupted', () => {
  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)('%s: exit 130, no output, temp or scratch file', async (signal) => {
    const { code, stderr, dir } = await interrupt(signal, 'one line of text\n');
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(new RegExp(`interrupted by ${signal}; no output file was written`));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('promptly while tokenizing texts that take long each', async () => {
    // Words of characters the English vocabulary lacks become one fused <unk> each, so a line of
    // 500-character words yields few tokens and is read up to its whole budget (128 tokens x 128
    // characters) in doubling prefixes: about 200 ms a line here. A 1 MiB read of the file holds
    // ~20 such lines, seconds of tokenization with no I/O in between: only the yields to the
    // event loop between records let the signal through within a second.
    const slow = `${`${'我'.repeat(500)} `.repeat(33)}\n`;
    const file = join(tempDir(), 'slow.txt');
    writeFileSync(file, slow.repeat(300));
    const { code, ms, dir } = await interrupt('SIGTERM', '', file);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(1000);
    expect(readdirSync(dir)).toEqual([]);
  });
});
