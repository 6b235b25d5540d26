// The package as a Node program imports it: by name, from the built dist/, with its types.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, TINY_EN } from './helpers.js';

describe("import { createEmbedder } from 'albert-embed'", () => {
  it('embeds texts in order with counts and truncation flags', () => {
    const program = `
      import { createEmbedder, ModelError } from 'albert-embed';
      const embedder = await createEmbedder({ model: ${JSON.stringify(TINY_EN)}, maxLength: 8, normalize: true });
      const { embeddings, tokenCounts, truncated } = await embedder.embed(['hello world', '', 'the quick brown fox jumps over the lazy dog']);
      const norms = embeddings.map((e) => Math.hypot(...e));
      let error;
      try { await createEmbedder({ model: '/nonexistent/model' }); } catch (err) { error = { isModelError: err instanceof ModelError, exitCode: err.exitCode }; }
      console.log(JSON.stringify({ rows: embeddings.length, dim: embeddings[0].length, isFloat32: embeddings[0] instanceof Float32Array, tokenCounts, truncated, norms, error, maxLength: embedder.maxLength }));
      await embedder.close();
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rows: 3, dim: 64, isFloat32: true, tokenCounts: [4, 2, 8], truncated: [false, false, true], error: { isModelError: true, exitCode: 4 }, maxLength: 8 });
    for (const n of out.norms) expect(Math.abs(n - 1)).toBeLessThan(1e-6);
  });

  it('ships type declarations a TypeScript program compiles against', () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'test', 'types', 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
