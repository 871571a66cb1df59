// Start the project's binaries on 127.0.0.1 for the node tests, and stop exactly those PIDs.
//
// Binary paths come from BEDROCK_EMULATOR_BIN / BEDROCK_EMBED_BIN (default target/debug/…).
// A missing binary is an error, never a skip.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// The credentials the emulator accepts by default (the AWS documentation example keys).
export const ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
export const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

export function binary(envName, name) {
  const p = process.env[envName] ?? path.join(repoRoot, 'target', 'debug', name);
  if (!existsSync(p)) {
    throw new Error(`${p} is missing: run cargo build --workspace --bins (or set ${envName})`);
  }
  return p;
}

// Runs argv and waits (bounded) for its `listening on http://…` stdout line.
export async function startListening(argv, { env = {}, timeoutMs = 120_000 } = {}) {
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-50_000);
  });
  // Keep reading stdout after the line so the child never blocks on a full pipe.
  const lines = readline.createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv[0]} printed no listening line in ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv[0]} exited with ${code} before listening; stderr:\n${stderr}`));
    });
  });
  return {
    url,
    stderr: () => stderr,
    // SIGTERM this PID only; its exit code (the binaries exit 0 on SIGTERM).
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      return child.exitCode;
    },
  };
}

export async function getJson(url, init = {}) {
  const resp = await fetch(url, init);
  const text = await resp.text();
  if (!resp.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${resp.status} ${text}`);
  return JSON.parse(text);
}

export function cosine(a, b) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}
