// `npm run fixtures` is deterministic: rebuilding gives the committed files byte for byte, so the
// committed models are exactly what the builder (and the reference test's weights) describe.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildModelFolder, TINY_EN, TINY_ZH } from '../tools/fixture-builder/build.js';
import { ROOT, tempDir } from './helpers.js';

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

describe.each([
  ['albert-tiny', TINY_EN],
  ['albert-tiny-zh', TINY_ZH],
] as const)('fixtures/%s', (name, spec) => {
  const committed = join(ROOT, 'fixtures', name);
  const rebuilt = tempDir();
  buildModelFolder(rebuilt, spec);

  it('is reproduced byte for byte by the builder', () => {
    expect(files(rebuilt)).toEqual(files(committed));
    for (const f of files(committed)) expect(readFileSync(join(rebuilt, f)).equals(readFileSync(join(committed, f))), f).toBe(true);
  });

  it('stays under 2 MB', () => {
    const total = files(committed).reduce((sum, f) => sum + statSync(join(committed, f)).size, 0);
    expect(total, relative(ROOT, committed)).toBeLessThan(2 * 1024 * 1024);
  });
});
