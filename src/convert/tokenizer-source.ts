// The tokenizer files of a converted folder: the checkpoint's own tokenizer.json when it has one
// (with its tokenizer_config.json and special_tokens_map.json), else one converted from
// spiece.model (AlbertConverter semantics) or vocab.txt (BertConverter semantics).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { albertTokenizerFiles } from '../checkpoint/albert-tokenizer.js';
import { bertTokenizerFiles } from '../checkpoint/bert-tokenizer.js';
import { readSentencePieceModel } from '../checkpoint/sentencepiece.js';
import type { TokenizerFiles } from '../checkpoint/tokenizer-files.js';
import { readJson } from '../model/folder.js';
import type { CheckpointFolder } from './checkpoint-folder.js';

export function tokenizerFiles(checkpoint: CheckpointFolder): TokenizerFiles {
  const { dir } = checkpoint;
  const optional = (name: string) => (existsSync(join(dir, name)) ? readJson(join(dir, name), 'tokenizer file') : undefined);
  const tokenizerConfig = optional('tokenizer_config.json');
  const context = {
    source: join(dir, checkpoint.tokenizerSource),
    configSource: join(dir, 'tokenizer_config.json'),
    maxPositionEmbeddings: checkpoint.config.max_position_embeddings,
  };
  switch (checkpoint.tokenizerSource) {
    case 'tokenizer.json':
      return {
        tokenizer: readJson(join(dir, 'tokenizer.json'), 'tokenizer'),
        // A tokenizer.json without its config still loads: the generic class and its defaults.
        tokenizerConfig: tokenizerConfig ?? { model_max_length: checkpoint.config.max_position_embeddings },
        specialTokensMap: optional('special_tokens_map.json') ?? {},
      };
    case 'spiece.model':
      return albertTokenizerFiles(readSentencePieceModel(join(dir, 'spiece.model')), tokenizerConfig, context);
    case 'vocab.txt':
      return bertTokenizerFiles(readFileSync(join(dir, 'vocab.txt')), tokenizerConfig, context);
    default: {
      const never: never = checkpoint.tokenizerSource;
      throw new Error(`unhandled tokenizer source ${never}`);
    }
  }
}
