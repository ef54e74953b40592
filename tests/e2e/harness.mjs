// harness.mjs — runs the real `lakehouse` binary for end-to-end tests.
//
// startServer() launches `lakehouse serve` on a free port (--listen 127.0.0.1:0;
// the port is read from the server.listening log line) with a temporary data
// folder, waits for GET /health, and returns helpers to talk to it and stop it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BIN = process.env.LH_BIN || path.resolve('bin/lakehouse');

// The environment of the test runner minus any LAKEHOUSE_* settings, plus extra.
// Embeddings default to the dependency-free hash provider, so that only the
// tests about the local sidecar start one (each loads a model).
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LAKEHOUSE_')) env[k] = v;
  return { ...env, LAKEHOUSE_AI_PROVIDER: 'hash', ...extra };
}

// --set flags declaring bucket `name` on the S3 test server (scripts/with-s3rver)
// under a key prefix of its own.
export function s3Args(name, endpoint, prefix) {
  return [
    '--set', `bucket.${name}.backend=s3`,
    '--set', `bucket.${name}.endpoint=${endpoint}`,
    '--set', `bucket.${name}.path_style=true`,
    '--set', `bucket.${name}.bucket=${process.env.LH_TEST_S3_BUCKET}`,
    '--set', `bucket.${name}.prefix=${prefix}`,
  ];
}

export function tempDir(prefix = 'lh-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Runs `lakehouse ...args` to completion: {status, stdout, stderr}.
export function run(args, { env = {}, input, cwd, encoding = 'utf8' } = {}) {
  const r = spawnSync(BIN, args, { env: cleanEnv(env), input, cwd, encoding, timeout: 60000, maxBuffer: 1 << 26 });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// Options: args (more flags), env, dataDir, bin (another lakehouse binary), cwd,
// ready (wait, up to 5 minutes, until /health says ready: the model is loaded;
// the benchmarks use it too).
export async function startServer({ args = [], env = {}, dataDir, bin = BIN, cwd, ready = false } = {}) {
  const dir = dataDir ?? tempDir();
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', dir, ...args], {
    cwd,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${logs}`));
    }, 30000);
    child.stderr.setEncoding('utf8');
    let listening = false;
    child.stderr.on('data', (chunk) => {
      logs += chunk;
      if (listening) return; // matching the whole log on every chunk made a busy server's log cost O(n^2)
      // text (event=server.listening … port=N) or JSON ("event":"server.listening",…,"port":N) logs
      const m = logs.match(/server\.listening\b.*?\bport"?[=:](\d+)/);
      if (m) {
        listening = true;
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${logs}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < (ready ? 6000 : 100); i++) {
    try {
      const r = await fetch(`${url}/health`);
      if (r.status === 200 && (!ready || (await r.json()).ready)) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    dir,
    child,
    logs: () => logs,
    exited,
    // Sends a signal and waits for the exit: {code, signal}. Under a
    // sanitizer build a report in the server's log (a leak at exit, an
    // error that aborted it) fails the caller.
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const end = await exited;
      const report = logs.match(/ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)[^\n]*|runtime error:[^\n]*/);
      if (report) throw new Error(`the server's sanitizer reported: ${report[0]}\n${logs.slice(logs.indexOf(report[0]), logs.indexOf(report[0]) + 4000)}`);
      return end;
    },
  };
}

// A raw HTTP/1.1 exchange over TCP, for cases fetch() cannot express
// (half-sent bodies, malformed requests). Resolves with everything the server sent.
export function rawRequest(port, chunks, { delayMs = 0, onConnected } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => (data += d));
    sock.on('error', reject);
    sock.on('close', () => resolve(data));
    sock.on('connect', async () => {
      for (let i = 0; i < chunks.length; i++) {
        sock.write(chunks[i]);
        if (i === 0 && onConnected) await onConnected();
        if (delayMs && i + 1 < chunks.length) await new Promise((r) => setTimeout(r, delayMs));
      }
    });
  });
}

export async function json(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (status ${res.status}): ${text}`);
  }
}
