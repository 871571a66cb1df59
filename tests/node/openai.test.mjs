// @ai-sdk/openai against `bedrock-embed run --offline` (its in-process emulator): the host's
// OpenAI-compatible /v1/embeddings as the Vercel AI SDK calls it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAI } from '@ai-sdk/openai';
import { embed, embedMany } from 'ai';
import { binary, cosine, getJson, startListening } from './helpers.mjs';

const SPICEPOD = `version: v1
kind: Spicepod
name: node-clients
embeddings:
  - from: bedrock:amazon.titan-embed-text-v2:0
    name: titan
  - from: bedrock:cohere.embed-english-v3
    name: cohere
`;

let host;
let dir;
let openai;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'node-clients-'));
  const pod = path.join(dir, 'spicepod.yaml');
  writeFileSync(pod, SPICEPOD);
  host = await startListening(
    [binary('BEDROCK_EMBED_BIN', 'bedrock-embed'), 'run', '--offline', '--spicepod', pod, '--http', '127.0.0.1:0'],
    { env: { AWS_EC2_METADATA_DISABLED: 'true' } },
  );
  openai = createOpenAI({ baseURL: `${host.url}/v1`, apiKey: 'unused' });
});

after(async () => {
  if (host) assert.equal(await host.stop(), 0, host.stderr());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// The host's answer for texts, asked with plain fetch.
async function hostVectors(model, input, extra = {}) {
  const body = await getJson(`${host.url}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, input, encoding_format: 'float', ...extra }),
  });
  return body.data.map((d) => d.embedding);
}

test('embedMany and embed give the host vectors, in order, with usage', async () => {
  const values = ['the cat sat on the mat', 'a cat sat on a mat', 'quarterly revenue grew nine percent'];
  const { embeddings, usage } = await embedMany({ model: openai.embedding('titan'), values, maxRetries: 0 });
  assert.deepEqual(embeddings, await hostVectors('titan', values));
  assert.ok(usage.tokens > 0);
  assert.ok(cosine(embeddings[0], embeddings[1]) > cosine(embeddings[0], embeddings[2]) + 0.3);

  const { embedding } = await embed({ model: openai.embedding('cohere'), value: 'one text', maxRetries: 0 });
  assert.deepEqual(embedding, (await hostVectors('cohere', ['one text']))[0]);
});

test('dimensions through providerOptions', async () => {
  const { embedding } = await embed({
    model: openai.embedding('titan'),
    value: 'shorter vectors',
    providerOptions: { openai: { dimensions: 256 } },
    maxRetries: 0,
  });
  assert.equal(embedding.length, 256);
  assert.deepEqual(embedding, (await hostVectors('titan', ['shorter vectors'], { dimensions: 256 }))[0]);
});

test('an unknown model is an error the SDK reports with the host message', async () => {
  await assert.rejects(
    embed({ model: openai.embedding('text-embedding-3-small'), value: 'x', maxRetries: 0 }),
    (err) => {
      assert.equal(err.statusCode, 404);
      assert.match(String(err.message), /text-embedding-3-small/);
      return true;
    },
  );
});
