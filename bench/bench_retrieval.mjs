// bench_retrieval.mjs — retrieval quality and search latency on the staffing
// sample (`make bench-retrieval`; a benchmark, not a test).
//
// The labelled set: for a seeded sample of workers, a paraphrase of the
// worker's profile (role, skills and shift in other words; the city and the
// years as they are) whose answer is that worker. Each method ranks all
// workers for each query; we report recall@10 (the worker is in the top 10)
// and MRR (mean of 1 / rank, 0 past the top 100):
//   hash    vector search over the dependency-free lexical hash embedder
//   local   vector search over USE-Lite (the bundled model, in process)
//   bm25    full-text search over the same chunks
//   hybrid  the index's default fusion of local and bm25
// then embedding throughput (chunks/s) of the model while building, and
// /v1/search latency (hybrid) under concurrent load on loopback.
//
// Options (environment): ROWS (2000 workers), QUERIES (300), CLIENTS (4),
// SECONDS (10), LH_BIN (the binary).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { postScript, wrkAsync } from './wrk.mjs';
import { startServer as startTestServer } from '../tests/e2e/harness.mjs';

const BIN = process.env.LH_BIN || path.resolve('bin/lakehouse');
const ROWS = Number(process.env.ROWS || 2000);
const QUERIES = Number(process.env.QUERIES || 300);
const CLIENTS = Number(process.env.CLIENTS || 4);
const SECONDS = Number(process.env.SECONDS || 10);

const ROLE = {
  'warehouse associate': 'stockroom worker', 'forklift operator': 'lift truck driver',
  'machine operator': 'production equipment operator', welder: 'metal fabricator who joins steel',
  'java developer': 'backend programmer', 'data analyst': 'analytics specialist building reports',
  'truck driver': 'commercial vehicle driver', 'maintenance technician': 'repair tech who fixes equipment',
  'customer service representative': 'support agent answering customer calls', assembler: 'production line builder',
  'line cook': 'kitchen cook', 'administrative assistant': 'office admin', electrician: 'licensed wiring tradesperson',
  'quality inspector': 'QA checker',
};
const SKILL = {
  forklift: 'lift trucks', 'pallet jack': 'pallet movers', inventory: 'stock counts', picking: 'order picking',
  packing: 'boxing orders', shipping: 'outbound dispatch', receiving: 'inbound deliveries', welding: 'metal joining',
  'cnc machining': 'computer-controlled milling', assembly: 'putting products together',
  'quality control': 'checking quality', java: 'JVM programming', python: 'scripting', sql: 'database queries',
  'customer service': 'helping customers', 'data entry': 'typing records', bookkeeping: 'keeping accounts',
  'cdl driving': 'commercial licence driving', hvac: 'heating and air conditioning', electrical: 'electrical work',
  plumbing: 'pipe fitting', carpentry: 'woodwork', cleaning: 'janitorial work', 'food handling': 'safe food prep',
  'first aid': 'emergency care',
};
const SHIFT = { day: 'daytime', night: 'overnight', swing: 'evening', weekend: 'Saturday and Sunday' };

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296);
}

function sh(args, opts = {}) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.status !== 0) throw new Error(`lakehouse ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function call(url, method, body) {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 300)}`);
  return parsed;
}

// This shell's LAKEHOUSE_* settings (LAKEHOUSE_MODEL_KERNEL, ...), which the harness does not pass on by itself.
function lakehouseEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('LAKEHOUSE_')));
}

// The server, until its /health says ready (the harness the e2e tests use).
function startServer(dir) {
  return startTestServer({ dataDir: dir, args: ['--log-level', 'info'], env: { ...lakehouseEnv(), LAKEHOUSE_AI_PROVIDER: 'local' }, bin: BIN, ready: true });
}

function rankOf(hits, id) {
  const i = hits.findIndex((h) => h.id === id);
  return i < 0 ? 0 : i + 1;
}

async function evaluate(url, index, mode, queries, extra = {}) {
  let hit10 = 0;
  let rr = 0;
  for (const q of queries) {
    const r = await call(`${url}/v1/search`, 'POST', { index, query: q.text, k: 100, mode, rows: false, ...extra });
    const rank = rankOf(r.hits, q.id);
    if (rank && rank <= 10) hit10++;
    if (rank) rr += 1 / rank;
  }
  return { recall10: hit10 / queries.length, mrr: rr / queries.length };
}

// CLIENTS connections POSTing the queries in turn for `seconds`, from wrk (a
// Node client would take a core of the two itself).
async function load(url, index, queries, dir, seconds = SECONDS) {
  const script = path.join(dir, 'load.lua');
  fs.writeFileSync(script, postScript(queries.map((q) => ({ index, query: q.text, k: 10 }))));
  const r = await wrkAsync(`${url}/v1/search`, { threads: 1, conns: CLIENTS, seconds, script });
  if (r.errors || r.non2xx || !r.requests) throw new Error(`search load: ${r.errors} socket errors, ${r.non2xx} non-2xx\n${r.out}`);
  return r;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lh-bench-retrieval-'));
  console.log(`staffing sample: ${ROWS} workers in ${dir}`);
  sh(['sample', '--rows', String(ROWS), '--ingest', '--data', dir, '--log-level', 'warn'], { env: { ...process.env, LAKEHOUSE_AI_PROVIDER: 'hash' } });
  const csv = JSON.parse(sh(['sql', '--data', dir, '--log-level', 'warn', '--format', 'json',
    'SELECT worker_id, city, state, skills, years_experience, shift, profile FROM workers ORDER BY worker_id'],
  { env: { ...process.env, LAKEHOUSE_AI_PROVIDER: 'hash' } }));
  const workers = csv.rows.map(([id, city, state, skills, years, shift, profile]) => ({ id, city, state, skills: skills.split(';'), years, shift, profile }));
  const roleOf = (p) => Object.keys(ROLE).find((r) => p.includes(` ${r} with `));
  const rand = rng(42);
  const queries = [];
  const used = new Set();
  while (queries.length < Math.min(QUERIES, workers.length)) {
    const w = workers[Math.floor(rand() * workers.length)];
    if (used.has(w.id)) continue;
    used.add(w.id);
    const role = roleOf(w.profile);
    const text = `${ROLE[role] ?? role} in ${w.city} with ${w.years} years, good at ${SKILL[w.skills[0]]} and ${SKILL[w.skills[1]]}, wants ${SHIFT[w.shift]} work`;
    queries.push({ id: w.id, text });
  }
  console.log(`labelled queries: ${queries.length}, e.g. "${queries[0].text}" -> worker ${queries[0].id}`);

  const srv = await startServer(dir);
  try {
    const spec = { dataset: 'workers', id_column: 'worker_id', text_columns: ['profile'] };
    let t0 = performance.now();
    await call(`${srv.url}/v1/vectors/indexes`, 'POST', { ...spec, name: 'w_hash', provider: 'hash' });
    const hashS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const local = await call(`${srv.url}/v1/vectors/indexes`, 'POST', { ...spec, name: 'w_local', provider: 'local' });
    const localS = (performance.now() - t0) / 1000;
    console.log(`index build: hash ${hashS.toFixed(1)} s, local ${localS.toFixed(1)} s (${local.embedding.embedded} chunks embedded)`);
    const results = {
      hash: await evaluate(srv.url, 'w_hash', 'vector', queries),
      local: await evaluate(srv.url, 'w_local', 'vector', queries),
      bm25: await evaluate(srv.url, 'w_local', 'text', queries),
      hybrid: await evaluate(srv.url, 'w_local', 'hybrid', queries),
    };
    console.log(`\nmethod   recall@10      MRR   (hybrid: the index default, ${local.text.fusion} w=${local.text.weight})`);
    for (const [m, r] of Object.entries(results)) console.log(`${m.padEnd(8)} ${r.recall10.toFixed(3).padStart(9)} ${r.mrr.toFixed(3).padStart(8)}`);
    console.log('\nfusion sweep (w = weight of the vector list):');
    for (const fusion of ['rrf', 'weighted']) {
      for (const weight of [0.7, 0.5, 0.3, 0.2, 0.1]) {
        const r = await evaluate(srv.url, 'w_local', 'hybrid', queries, { fusion, weight });
        console.log(`  ${fusion.padEnd(8)} w=${weight.toFixed(1)}  recall@10 ${r.recall10.toFixed(3)}  MRR ${r.mrr.toFixed(3)}`);
      }
    }
    // the load: six paraphrases of every worker (12,000 texts), so that no query repeats in the window
    // (a repeat would skip the embedding); a warm-up of 3 s with other texts fills the source-row cache first
    const paraphrase = (w, s, form) => form
      ? `${ROLE[roleOf(w.profile)] ?? 'worker'} in ${w.city}, ${SKILL[w.skills[s]]}, ${w.years} years, ${SHIFT[w.shift]}`
      : `${SHIFT[w.shift]} ${ROLE[roleOf(w.profile)] ?? 'worker'} near ${w.city} who knows ${SKILL[w.skills[s]]}`;
    const loadQueries = [];
    for (const form of [1, 0]) for (let s = 0; s < 3; s++) for (const w of workers) loadQueries.push({ id: w.id, text: paraphrase(w, s, form) });
    await load(srv.url, 'w_local', workers.map((w) => ({ id: w.id, text: `${w.city} ${w.years} years` })), dir, 3);
    const lat = await load(srv.url, 'w_local', loadQueries, dir);
    const texts = new Set(loadQueries.map((q) => q.text)).size;
    if (lat.requests > texts) console.log(`note: ${lat.requests} requests over ${texts} distinct texts: some repeated`);
    console.log(`\n/v1/search hybrid (distinct queries, after a 3 s warm-up), ${CLIENTS} clients for ${SECONDS} s: p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, ${lat.rps.toFixed(0)} requests/s`);
    console.log('');
    for (const [m, r] of Object.entries(results)) console.log(`retrieval method=${m} recall10=${r.recall10.toFixed(3)} mrr=${r.mrr.toFixed(3)}`);
    console.log(`embed-throughput provider=local chunks_per_s=${(local.embedding.embedded / localS).toFixed(1)}`);
    console.log(`search-latency p50_ms=${lat.p50.toFixed(1)} p99_ms=${lat.p99.toFixed(1)} rps=${lat.rps.toFixed(0)}`);
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
