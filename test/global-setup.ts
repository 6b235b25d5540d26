// One scratch folder for the whole test run, removed when it ends, so that test files need not
// clean up after themselves and runs leave nothing in the system temp folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    scratchRoot: string;
  }
}

export default function setup(project: TestProject) {
  const root = mkdtempSync(join(tmpdir(), 'albert-embed-tests-'));
  project.provide('scratchRoot', root);
  return () => rmSync(root, { recursive: true, force: true });
}
