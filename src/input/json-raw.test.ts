import { describe, expect, it } from 'vitest';
import { rawMember } from './json-raw.js';

describe('rawMember', () => {
  it.each<[string, string, string | undefined]>([
    ['{"id": 12345678901234567890, "text": "a"}', 'id', '12345678901234567890'],
    ['{"text":"a","id":1.50}', 'id', '1.50'],
    ['{ "id" :  -1E+3 , "x": 1 }', 'id', '-1E+3'],
    ['{"a": {"id": 1, "b": [1, {"id": 2}]}, "id": 3}', 'id', '3'],
    ['{"s": "\\"id\\": 9, }", "id": 0.0}', 'id', '0.0'],
    ['{"id": 1, "id": 2}', 'id', '2'],
    ['{"text": "no id"}', 'id', undefined],
    ['{"\\u0069d": 7}', 'id', '7'],
    ['{"id":"str","n":[1,2]}', 'n', '[1,2]'],
    ['\t{"id":5}\r', 'id', '5'],
  ])('%s -> %s', (line, key, expected) => {
    expect(rawMember(line, key)).toBe(expected);
    // Whatever it returns parses to the value JSON.parse sees.
    if (expected !== undefined) expect(JSON.parse(expected)).toEqual((JSON.parse(line) as Record<string, unknown>)[key]);
  });
});
