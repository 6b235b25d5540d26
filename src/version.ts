import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Read from package.json so the version has one source of truth. The module runs from src/
// (tests) and from dist/src/ (the CLI), so look upwards for it.
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')).version;
  }
  return 'unknown';
}

export const VERSION: string = packageVersion();
