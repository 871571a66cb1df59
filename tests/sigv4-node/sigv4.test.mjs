// The emulator's SigV4 check against the AWS SDK for JavaScript's signer (@smithy/signature-v4,
// what @aws-sdk/client-bedrock-runtime signs with): signatures neither the Rust SDK nor the
// emulator's own aws-sigv4 made. Accepted as signed; rejected with InvalidSignatureException
// when a signed header, the body or the region is wrong.
//
// Runs the emulator named by BEDROCK_EMULATOR_BIN (tests/run.sh sets it) on 127.0.0.1:0 and
// stops exactly that process.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";
import { Hash } from "@smithy/hash-node";

const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const REGION = "us-east-1";
const TITAN = "amazon.titan-embed-text-v2:0";

let emulator;
let port;

before(async () => {
  const bin = process.env.BEDROCK_EMULATOR_BIN;
  assert.ok(bin, "BEDROCK_EMULATOR_BIN is not set (tests/run.sh sets it)");
  assert.ok(existsSync(bin), `${bin} is not built: run cargo build --workspace --bins`);
  // --region: the credential scope must name us-east-1, so a wrong region is refused.
  emulator = spawn(bin, ["--listen", "127.0.0.1:0", "--region", REGION], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("emulator did not start in 30 s")), 30_000);
    let out = "";
    emulator.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    emulator.on("exit", (code) => reject(new Error(`emulator exited with ${code}`)));
  });
});

after(() => {
  if (emulator && emulator.exitCode === null) emulator.kill("SIGTERM");
});

function signer(region = REGION) {
  return new SignatureV4({
    credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
    region,
    service: "bedrock",
    sha256: Hash.bind(null, "sha256"),
  });
}

// A signed InvokeModel request for `modelId`, as the JavaScript SDK builds it: the id
// percent-encoded in the path (':' as %3A, '/' as %2F), the signer encoding it again.
async function signed(modelId, body, { region } = {}) {
  const payload = JSON.stringify(body);
  return signer(region).sign({
    method: "POST",
    protocol: "http:",
    hostname: "127.0.0.1",
    port,
    path: `/model/${encodeURIComponent(modelId)}/invoke`,
    headers: {
      host: `127.0.0.1:${port}`,
      "content-type": "application/json",
      accept: "application/json",
    },
    body: payload,
  });
}

function send(req) {
  return new Promise((resolve, reject) => {
    const r = request(
      { host: "127.0.0.1", port, method: req.method, path: req.path, headers: req.headers },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () =>
          resolve({ status: res.statusCode, errorType: res.headers["x-amzn-errortype"], body: JSON.parse(text) }),
        );
      },
    );
    r.on("error", reject);
    r.end(req.body);
  });
}

function assertRejected(res, message) {
  assert.equal(res.status, 403, JSON.stringify(res.body));
  assert.match(res.errorType ?? "", /^InvalidSignatureException:/);
  assert.match(res.body.message, message);
}

test("a %3A model id signed by the JavaScript signer is accepted", async () => {
  const req = await signed(TITAN, { inputText: "signed in node", dimensions: 256 });
  assert.match(req.path, /%3A0/);
  const res = await send(req);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.embedding.length, 256);
});

test("an inference-profile ARN (':' and '/' in the id) is accepted", async () => {
  const arn = `arn:aws:bedrock:${REGION}:123456789012:inference-profile/us.${TITAN}`;
  const res = await send(await signed(arn, { inputText: "arn" }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.embedding.length, 1024);
});

test("a signed header changed after signing is refused", async () => {
  const req = await signed(TITAN, { inputText: "x" });
  assert.match(req.headers.authorization, /SignedHeaders=[^,]*accept/);
  const res = await send({ ...req, headers: { ...req.headers, accept: "*/*" } });
  assertRejected(res, /signature we calculated does not match/);
});

test("a body changed after signing is refused", async () => {
  const req = await signed(TITAN, { inputText: "x" });
  const res = await send({ ...req, body: JSON.stringify({ inputText: "y" }) });
  assertRejected(res, /signature we calculated does not match/);
});

test("a signature for another region is refused", async () => {
  const res = await send(await signed(TITAN, { inputText: "x" }, { region: "eu-west-1" }));
  assertRejected(res, /scoped to a valid region, not 'eu-west-1'/);
});
