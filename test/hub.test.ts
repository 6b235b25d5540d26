// Hub ids against a real HTTP server on loopback that serves the fixture in the hub's URL layout
// (HF_ENDPOINT points the CLI at it): fetched once into the cache, then used offline.
import { readFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAlbertCheckpoint } from '../tools/checkpoint-writers/albert-checkpoint.js';
import { runMain, tempDir, TEXTS, TINY_EN } from './helpers.js';

const REPO = 'fixture-org/albert-tiny';
/** A checkpoint as albert/albert-base-v2 ships it: safetensors, spiece.model, no ONNX, no tokenizer.json. */
const CHECKPOINT_REPO = 'fixture-org/albert-checkpoint';
const en = join(TEXTS, 'en.txt');
let server: Server;
let endpoint: string;
const requests: string[] = [];
const checkpointDir = tempDir();
writeAlbertCheckpoint(checkpointDir, {
  format: 'safetensors',
  tokenizer: { kind: 'spiece' },
  architecture: { embedding_size: 16, hidden_size: 32, num_hidden_layers: 2, num_hidden_groups: 1, inner_group_num: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 64, type_vocab_size: 2, layer_norm_eps: 1e-12, initializer_range: 0.1 },
  hiddenAct: 'gelu_new',
  seed: 9,
  head: 'masked-lm',
});
const REPOS: Record<string, string> = { [REPO]: TINY_EN, [CHECKPOINT_REPO]: checkpointDir };

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    requests.push(url);
    const repo = Object.keys(REPOS).find((r) => url.startsWith(`/${r}/resolve/main/`));
    const file = repo ? join(REPOS[repo], url.slice(`/${repo}/resolve/main/`.length)) : '';
    if (file && !url.includes('..') && existsSync(file)) {
      const body = readFileSync(file);
      res.setHeader('content-length', body.length);
      res.end(req.method === 'HEAD' ? undefined : body);
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('hub ids', () => {
  it('downloads once into the cache, then runs offline from it', async () => {
    const cache = tempDir();
    const env = { HF_ENDPOINT: endpoint, ALBERT_EMBED_CACHE: cache };
    const first = await runMain(['extract', en, '-o', '-', '--model', REPO], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/downloading fixture-org\/albert-tiny onnx\/model\.onnx/);
    expect(existsSync(join(cache, REPO, 'onnx', 'model.onnx'))).toBe(true);
    expect(readFileSync(join(cache, REPO, 'tokenizer.json')).equals(readFileSync(join(TINY_EN, 'tokenizer.json')))).toBe(true);

    const local = await runMain(['extract', en, '-o', '-', '--model', TINY_EN, '-q']);
    expect(first.stdout).toBe(local.stdout);

    const seen = requests.length;
    const again = await runMain(['extract', en, '-o', '-', '--model', REPO, '-q'], { env });
    expect(again.stdout).toBe(local.stdout);
    expect(requests.length).toBe(seen); // fully cached: no request at all

    const offline = await runMain(['extract', en, '-o', '-', '--model', REPO, '-q'], { env: { ...env, HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_OFFLINE: '1' } });
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toBe(local.stdout);
  });

  it('names the dtypes the hub repository has when the asked one is missing', async () => {
    const r = await runMain(['extract', en, '-o', '-', '--model', REPO, '--dtype', 'q8'], { env: { HF_ENDPOINT: endpoint, ALBERT_EMBED_CACHE: tempDir() } });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/fixture-org\/albert-tiny has no onnx\/model_quantized\.onnx for --dtype q8 \(dtypes present: fp32\)/);
  });

  it('an unknown repository fails clearly', async () => {
    const r = await runMain(['info', '--model', 'nobody/nothing'], { env: { HF_ENDPOINT: endpoint, ALBERT_EMBED_CACHE: tempDir() } });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/nobody\/nothing has no config\.json at revision main on http:\/\/127\.0\.0\.1:\d+/);
  });

  it('without a network, says how to use a local folder', async () => {
    // A port that was just free: nothing listens there, so the connection is refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const r = await runMain(['extract', en, '-o', '-', '--model', REPO], { env: { HF_ENDPOINT: closed, ALBERT_EMBED_CACHE: tempDir() } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`cannot reach ${closed} to fetch fixture-org/albert-tiny`);
    expect(r.stderr).toMatch(/ECONNREFUSED/);
    expect(r.stderr).toMatch(/pass --model a local folder/);
  });

  it('a repository without ONNX files: its checkpoint is fetched and converted once, then used offline', async () => {
    const cache = tempDir();
    const env = { HF_ENDPOINT: endpoint, ALBERT_EMBED_CACHE: cache };
    const first = await runMain(['extract', en, '-o', '-', '--model', CHECKPOINT_REPO], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/downloading fixture-org\/albert-checkpoint model\.safetensors/);
    expect(first.stderr).toMatch(/downloading fixture-org\/albert-checkpoint spiece\.model/);
    expect(first.stderr).toMatch(/fixture-org\/albert-checkpoint has no ONNX graph: converting it once into/);
    expect(first.stderr).not.toMatch(/pytorch_model\.bin/);
    const seen = requests.length;
    const offline = await runMain(['extract', en, '-o', '-', '--model', CHECKPOINT_REPO, '-q'], { env: { ...env, HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_OFFLINE: '1' } });
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toBe(first.stdout);
    expect(requests.length).toBe(seen);

    const folder = join(tempDir(), 'converted');
    const converted = await runMain(['convert', CHECKPOINT_REPO, '-o', folder, '--offline'], { env });
    expect(converted.code, converted.stderr).toBe(0);
    const local = await runMain(['extract', en, '-o', '-', '--model', folder, '-q']);
    expect(local.stdout).toBe(first.stdout);
  });
});
