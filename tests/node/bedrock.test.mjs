// The Vercel AI SDK's Bedrock provider (@ai-sdk/amazon-bedrock, SigV4 via aws4fetch) against
// the emulator: Titan, Cohere and Nova embeddings.
//
// Each vector is compared with what the emulator answers for the very body the SDK sent (read
// back from its request log and sent again with a Bedrock API key), so the test checks the SDK's
// request and response handling end to end.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import { embed, embedMany } from 'ai';
import { ACCESS_KEY_ID, SECRET_ACCESS_KEY, binary, cosine, getJson, startListening } from './helpers.mjs';

const API_KEY = 'node-clients-replay-key';
let emu;
let bedrock;

before(async () => {
  emu = await startListening([
    binary('BEDROCK_EMULATOR_BIN', 'bedrock-emulator'),
    '--listen',
    '127.0.0.1:0',
    '--api-key',
    API_KEY,
  ]);
  bedrock = createAmazonBedrock({
    region: 'us-east-1',
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    baseURL: emu.url,
  });
});

after(async () => {
  if (emu) assert.equal(await emu.stop(), 0, emu.stderr());
});

async function requestsSince(seen) {
  const all = await getJson(`${emu.url}/_emulator/requests`);
  return all.filter((r) => r.status === 200 && r.seq > seen).sort((a, b) => a.seq - b.seq);
}

// The highest call number logged so far (parallel calls are logged as they finish, not in order).
async function lastSeq() {
  const all = await getJson(`${emu.url}/_emulator/requests`);
  return all.reduce((max, r) => Math.max(max, r.seq), -1);
}

// The emulator's answer to a logged request, sent again with plain fetch and the API key.
async function replay(record) {
  return getJson(`${emu.url}/model/${encodeURIComponent(record.model_id)}/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(record.body),
  });
}

test('Titan v2: dimensions, usage and the vector the emulator gives', async () => {
  const seen = await lastSeq();
  const model = bedrock.embedding('amazon.titan-embed-text-v2:0');
  const { embedding, usage } = await embed({
    model,
    value: 'the cat sat on the mat',
    providerOptions: { bedrock: { dimensions: 256 } },
    maxRetries: 0,
  });
  const [record] = await requestsSince(seen);
  assert.deepEqual(record.body, { inputText: 'the cat sat on the mat', dimensions: 256 });
  const want = await replay(record);
  assert.deepEqual(embedding, want.embedding);
  assert.equal(embedding.length, 256);
  assert.equal(usage.tokens, want.inputTextTokenCount);

  const { embeddings } = await embedMany({
    model,
    values: ['a cat sat on a mat', 'quarterly revenue grew nine percent'],
    providerOptions: { bedrock: { dimensions: 256 } },
    maxRetries: 0,
  });
  assert.ok(cosine(embedding, embeddings[0]) > cosine(embedding, embeddings[1]) + 0.3);
});

test('Titan v1: the plain inputText body', async () => {
  const seen = await lastSeq();
  const { embedding } = await embed({
    model: bedrock.embedding('amazon.titan-embed-text-v1'),
    value: 'titan v1 from node',
    maxRetries: 0,
  });
  const [record] = await requestsSince(seen);
  assert.deepEqual(record.body, { inputText: 'titan v1 from node' });
  assert.deepEqual(embedding, (await replay(record)).embedding);
  assert.equal(embedding.length, 1536);
});

for (const modelId of ['cohere.embed-english-v3', 'cohere.embed-v4:0']) {
  test(`Cohere ${modelId}: one call for the batch, input_type reaches the vector`, async () => {
    const model = bedrock.embedding(modelId);
    const values = ['how do I reset my password', 'the office is closed on friday', 'reset password help'];
    const seen = await lastSeq();
    const { embeddings } = await embedMany({ model, values, maxRetries: 0 });
    const records = await requestsSince(seen);
    assert.equal(records.length, 1, 'Cohere takes the batch in one call');
    assert.equal(records[0].body.input_type, 'search_query'); // the SDK's default
    const want = await replay(records[0]);
    const wantVectors = Array.isArray(want.embeddings) ? want.embeddings : want.embeddings.float;
    assert.deepEqual(embeddings, wantVectors);

    const asDocument = await embed({
      model,
      value: values[0],
      providerOptions: { bedrock: { inputType: 'search_document' } },
      maxRetries: 0,
    });
    assert.notDeepEqual(asDocument.embedding, embeddings[0]);
    assert.ok(cosine(asDocument.embedding, embeddings[0]) > cosine(asDocument.embedding, embeddings[1]) + 0.3);
  });
}

test('Nova 2 multimodal: the body without schemaVersion is accepted', async () => {
  const seen = await lastSeq();
  const { embedding } = await embed({
    model: bedrock.embedding('amazon.nova-2-multimodal-embeddings-v1:0'),
    value: 'nova from the AI SDK',
    maxRetries: 0,
  });
  const [record] = await requestsSince(seen);
  assert.equal(record.body.schemaVersion, undefined);
  assert.equal(record.body.taskType, 'SINGLE_EMBEDDING');
  const want = await replay(record);
  assert.deepEqual(embedding, want.embeddings[0].embedding);
  assert.equal(embedding.length, 1024);
});

test('an unknown model id is a ValidationException the SDK reports', async () => {
  await assert.rejects(
    embed({ model: bedrock.embedding('amazon.titan-embed-text-v9'), value: 'x', maxRetries: 0 }),
    (err) => {
      assert.match(String(err.message), /The provided model identifier is invalid\./);
      assert.equal(err.statusCode, 400);
      return true;
    },
  );
});
