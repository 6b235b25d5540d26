// --text-column and --id-column: a column by its header name, or by its 0-based index when no
// header has that name.
import { InputError } from '../errors.js';

export interface ColumnChoice {
  text: string;
  id?: string;
}

/** The index of column `ref` among `names`; `flag` and `source` word the error. */
export function columnIndex(names: readonly string[], ref: string, flag: string, source: string): number {
  const byName = names.indexOf(ref);
  if (byName !== -1) return byName;
  if (/^\d+$/.test(ref) && Number(ref) < names.length) return Number(ref);
  throw new InputError(`${source}: no column ${JSON.stringify(ref)} (columns: ${names.map((n) => JSON.stringify(n)).join(', ') || 'none'})`, `name the column with ${flag}, by its header or its 0-based index`);
}
