// `npm run fixtures`: regenerates fixtures/albert-tiny and fixtures/albert-tiny-zh.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { TINY_EN, TINY_ZH, buildModelFolder } from './fixture-builder/build.js';

const root = process.argv[2] ?? 'fixtures';
for (const [name, spec] of [['albert-tiny', TINY_EN], ['albert-tiny-zh', TINY_ZH]] as const) {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  buildModelFolder(dir, spec);
  console.log(`wrote ${dir}`);
}
