// A malicious "checkpoint" for tests: the pickle CPython writes for an object whose __reduce__
// returns (os.system, ('touch <marker>',)). Unpickling it under Python runs the command
// (os.system is posix.system on Linux); a safe reader must refuse it without running anything.
import { PyGlobal, PyReduce, PyTuple, pickleProtocol2 } from './pickler.js';
import { legacyHeader } from './torch-legacy.js';
import { defaultFolder, writeTorchArchive } from './torch-zip.js';
import { writeParts } from './write-parts.js';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function hostilePickle(markerPath: string): Uint8Array {
  return pickleProtocol2(new PyReduce(new PyGlobal('posix', 'system'), new PyTuple([`touch ${shellQuote(markerPath)}`])));
}

/** A torch zip whose data.pkl is the hostile pickle. */
export function writeHostileTorchZip(path: string, markerPath: string, folder = defaultFolder(path)): void {
  writeTorchArchive(path, folder, hostilePickle(markerPath), []);
}

/** A legacy file whose state-dict pickle is the hostile one, after a genuine header. */
export function writeHostileTorchLegacy(path: string, markerPath: string): void {
  writeParts(path, [...legacyHeader(), hostilePickle(markerPath)]);
}
