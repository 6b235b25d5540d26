import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Combine } from './crc32.js';

describe('crc32Combine', () => {
  it.each([0, 1, 7, 64, 1000, 65_537])('equals the CRC of the concatenation (second part %i bytes)', (n) => {
    const a = randomBytes(37);
    const b = randomBytes(n);
    expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
  });
});
