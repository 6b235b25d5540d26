// The source text of one top-level member of a JSON object, for values that JSON.parse cannot
// return exactly (numbers beyond double precision, or written as 1.50 or 1e3). The line has
// already been parsed by JSON.parse, so it is valid JSON; like JSON.parse, the last occurrence
// of a repeated key wins.

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Index just past the JSON string starting at `at` (its opening quote). */
function skipString(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  throw new Error('unterminated string');
}

/** Index just past the JSON value starting at `at`. */
function skipValue(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c === 0x22) return skipString(text, at);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let i = at; i < text.length; i++) {
      const d = text.charCodeAt(i);
      if (d === 0x22) i = skipString(text, i) - 1;
      else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return i + 1;
      }
    }
    throw new Error('unterminated container');
  }
  let i = at;
  while (i < text.length && !WHITESPACE.has(text.charCodeAt(i)) && text[i] !== ',' && text[i] !== '}' && text[i] !== ']') i++;
  return i;
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && WHITESPACE.has(text.charCodeAt(at))) at++;
  return at;
}

/** The raw text of member `key` of the JSON object `text`, or undefined when it has none. */
export function rawMember(text: string, key: string): string | undefined {
  let at = skipSpace(text, 0);
  if (text[at] !== '{') return undefined;
  at = skipSpace(text, at + 1);
  let found: string | undefined;
  while (at < text.length && text[at] !== '}') {
    const keyEnd = skipString(text, at);
    const name = JSON.parse(text.slice(at, keyEnd)) as string;
    at = skipSpace(text, keyEnd) + 1; // past ':'
    const start = skipSpace(text, at);
    const end = skipValue(text, start);
    if (name === key) found = text.slice(start, end);
    at = skipSpace(text, end);
    if (text[at] === ',') at = skipSpace(text, at + 1);
  }
  return found;
}
