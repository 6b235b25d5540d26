// Record ids: a string, a record number, or a JSON number id kept exactly as it was written, so
// that 12345678901234567890 and 1.50 come out as they went in (a JavaScript number would round
// the first and print the second as 1.5).

/** A JSON number exactly as written in the input. */
export class JsonNumber {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type RecordId = string | number | JsonNumber;

/** The id as text, for the .npz `ids` member. */
export function idText(id: RecordId): string {
  return typeof id === 'string' ? id : String(id);
}

/** The id as a JSON value, keeping its JSON type: strings quoted, numbers as written. */
export function idJson(id: RecordId): string {
  return typeof id === 'string' ? JSON.stringify(id) : String(id);
}
