// Reads a SentencePiece `.model` file (ModelProto of google/sentencepiece's
// src/sentencepiece_model.proto) with the project's protobuf walker: the pieces with their scores
// and types, and the trainer and normalizer settings that decide how text is segmented.
import { readFileSync } from 'node:fs';
import { ModelError, errorMessage } from '../errors.js';
import { ProtoError, proto, readFields, type ProtoField } from '../protobuf.js';

/** SentencePiece.Type values. */
export const PIECE_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;
export type PieceType = (typeof PIECE_TYPE)[keyof typeof PIECE_TYPE];

/** TrainerSpec.ModelType values. */
export const MODEL_TYPE = { unigram: 1, bpe: 2, word: 3, char: 4 } as const;
const MODEL_TYPE_NAMES: Record<number, string> = { 1: 'UNIGRAM', 2: 'BPE', 3: 'WORD', 4: 'CHAR' };

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface TrainerSpec {
  modelType: number;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
}

export interface NormalizerSpec {
  name: string;
  /** Empty when the model normalizes nothing (name "identity"). */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SentencePieceModel {
  /** Index = token id. */
  pieces: SentencePiece[];
  trainer: TrainerSpec;
  normalizer: NormalizerSpec;
}

// Field numbers from sentencepiece_model.proto.
const MODEL = { pieces: 1, trainerSpec: 2, normalizerSpec: 3 };
const PIECE = { piece: 1, score: 2, type: 3 };
const TRAINER = { modelType: 3, treatWhitespaceAsSuffix: 24, byteFallback: 35, unkId: 40, bosId: 41, eosId: 42, padId: 43 };
const NORMALIZER = { name: 1, precompiledCharsmap: 2, addDummyPrefix: 3, removeExtraWhitespaces: 4, escapeWhitespaces: 5 };

const HINT = 'the checkpoint folder looks damaged; fetch spiece.model again';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A field of the expected wire type, else a message naming what was found. */
function expectWire(f: ProtoField, wire: ProtoField['wire'], where: string): ProtoField {
  if (f.wire !== wire) throw new ProtoError(`${where} field ${f.field} has wire type ${f.wire}, expected ${wire}`);
  return f;
}

function readPiece(buf: Uint8Array, index: number): SentencePiece {
  let piece: string | undefined;
  let score = 0;
  let type = PIECE_TYPE.normal as number;
  const where = `piece ${index}`;
  for (const f of readFields(buf)) {
    if (f.field === PIECE.piece) {
      try {
        piece = strictUtf8.decode(expectWire(f, 2, where).bytes);
      } catch (err) {
        if (err instanceof ProtoError) throw err;
        throw new ProtoError(`${where} is not valid UTF-8`);
      }
    } else if (f.field === PIECE.score) score = proto.float(buf, expectWire(f, 5, where));
    else if (f.field === PIECE.type) type = proto.int(expectWire(f, 0, where));
  }
  if (!piece) throw new ProtoError(`${where} has no text (sentencepiece refuses empty pieces)`);
  if (type < PIECE_TYPE.normal || type > PIECE_TYPE.byte) throw new ProtoError(`${where} (${JSON.stringify(piece)}) has unknown type ${type}`);
  return { piece, score, type: type as PieceType };
}

function readTrainer(buf: Uint8Array): TrainerSpec {
  // proto2 defaults for fields the file leaves out.
  const spec: TrainerSpec = { modelType: MODEL_TYPE.unigram, unkId: 0, bosId: 1, eosId: 2, padId: -1, byteFallback: false, treatWhitespaceAsSuffix: false };
  for (const f of readFields(buf)) {
    const where = 'trainer_spec';
    if (f.field === TRAINER.modelType) spec.modelType = proto.int(expectWire(f, 0, where));
    else if (f.field === TRAINER.unkId) spec.unkId = proto.int(expectWire(f, 0, where));
    else if (f.field === TRAINER.bosId) spec.bosId = proto.int(expectWire(f, 0, where));
    else if (f.field === TRAINER.eosId) spec.eosId = proto.int(expectWire(f, 0, where));
    else if (f.field === TRAINER.padId) spec.padId = proto.int(expectWire(f, 0, where));
    else if (f.field === TRAINER.byteFallback) spec.byteFallback = proto.bool(expectWire(f, 0, where));
    else if (f.field === TRAINER.treatWhitespaceAsSuffix) spec.treatWhitespaceAsSuffix = proto.bool(expectWire(f, 0, where));
  }
  return spec;
}

function readNormalizer(buf: Uint8Array): NormalizerSpec {
  const spec: NormalizerSpec = { name: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
  for (const f of readFields(buf)) {
    const where = 'normalizer_spec';
    if (f.field === NORMALIZER.name) spec.name = proto.string(expectWire(f, 2, where));
    else if (f.field === NORMALIZER.precompiledCharsmap) spec.precompiledCharsmap = expectWire(f, 2, where).bytes;
    else if (f.field === NORMALIZER.addDummyPrefix) spec.addDummyPrefix = proto.bool(expectWire(f, 0, where));
    else if (f.field === NORMALIZER.removeExtraWhitespaces) spec.removeExtraWhitespaces = proto.bool(expectWire(f, 0, where));
    else if (f.field === NORMALIZER.escapeWhitespaces) spec.escapeWhitespaces = proto.bool(expectWire(f, 0, where));
  }
  return spec;
}

/**
 * Parses a `.model` file's bytes. Only Unigram models are accepted (ALBERT's kind); `file` names
 * the source in errors.
 */
export function parseSentencePieceModel(bytes: Uint8Array, file: string): SentencePieceModel {
  const pieces: SentencePiece[] = [];
  let trainer: TrainerSpec | undefined;
  let normalizer: NormalizerSpec | undefined;
  try {
    for (const f of readFields(bytes)) {
      if (f.field === MODEL.pieces) pieces.push(readPiece(expectWire(f, 2, 'model').bytes, pieces.length));
      else if (f.field === MODEL.trainerSpec) trainer = readTrainer(expectWire(f, 2, 'model').bytes);
      else if (f.field === MODEL.normalizerSpec) normalizer = readNormalizer(expectWire(f, 2, 'model').bytes);
    }
  } catch (err) {
    if (!(err instanceof ProtoError)) throw err;
    throw new ModelError(`SentencePiece model ${file} is not a valid ModelProto: ${err.message}`, HINT, { cause: err });
  }
  trainer ??= readTrainer(new Uint8Array(0));
  normalizer ??= readNormalizer(new Uint8Array(0));
  if (trainer.modelType !== MODEL_TYPE.unigram) {
    const name = MODEL_TYPE_NAMES[trainer.modelType] ?? `type ${trainer.modelType}`;
    throw new ModelError(`SentencePiece model ${file} is a ${name} model; only UNIGRAM models (ALBERT's) can be converted`, 'convert an ALBERT checkpoint, whose spiece.model is a Unigram model');
  }
  if (pieces.length === 0) throw new ModelError(`SentencePiece model ${file} has no pieces`, HINT);
  const seen = new Map<string, number>();
  pieces.forEach((p, id) => {
    const before = seen.get(p.piece);
    if (before !== undefined) throw new ModelError(`SentencePiece model ${file} defines piece ${JSON.stringify(p.piece)} twice (ids ${before} and ${id})`, HINT);
    seen.set(p.piece, id);
  });
  const unk = pieces[trainer.unkId];
  if (!unk || unk.type !== PIECE_TYPE.unknown) {
    throw new ModelError(`SentencePiece model ${file}: trainer_spec.unk_id ${trainer.unkId} is not its UNKNOWN piece`, HINT);
  }
  if (trainer.treatWhitespaceAsSuffix || !normalizer.escapeWhitespaces) {
    const setting = trainer.treatWhitespaceAsSuffix ? 'treat_whitespace_as_suffix' : 'escape_whitespaces false';
    throw new ModelError(`SentencePiece model ${file} uses ${setting}, which no ALBERT tokenizer does and tokenizer.json cannot express`, 'convert an ALBERT checkpoint trained with the default whitespace handling');
  }
  return { pieces, trainer, normalizer };
}

export function readSentencePieceModel(path: string): SentencePieceModel {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ModelError(`SentencePiece model ${path} cannot be read: ${errorMessage(err)}`, 'check the path and its permissions', { cause: err });
  }
  return parseSentencePieceModel(bytes, path);
}
