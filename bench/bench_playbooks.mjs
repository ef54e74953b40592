// bench_playbooks.mjs — playbook memory on the staffing sample (`make
// bench-playbooks`; a benchmark, not a test): success@10 of fill tasks with
// the playbook boost and without, side by side, first-time and repeated.
//
// Data: `lakehouse sample --rows ROWS --ingest` and a text index `people`
// over workers.profile (provider PROVIDER, default hash: deterministic, no model).
//
// A fill task is "fill: <role> x<N> in <City>, <ST>"; its query is
// that text, its context "<City>, <ST>". Which workers are right for it is
// decided by a rule over the data, never by a ranking — what the client
// accepts: a worker is right when workers.city is the city, the profile
// names the role ("a <adjective> <role> with"), the worker has at least
// MIN_YEARS (5) years of experience (workers.years_experience), and none of
// the worker's placements ended early (the placements table, which the
// index never reads). The task text says nothing of the last two: that is
// what a recruiter learns by filling, and what a playbook remembers. Tasks
// are drawn by a seed among the (role, city) pairs with at least 3 right
// workers, and N is how many there are (at most 8): the client wants every
// worker who qualifies, so a first page that misses one fails the fill.
//
// success@10: the first page (10 hits) holds at least N right workers — the
// fill could be done from it. precision@10 (the share of right workers in
// the first page) is printed too.
//
// Rounds, in order:
//   first    every task once. For each, search plain and with the boost
//            (playbooks=true, context=its city) and score both; then the
//            recruiter fills it: goes down the plain search's first DEPTH
//            (50) hits and places the first N right workers it meets; the
//            playbook records the workers placed, outcome success when N
//            were found, else failure (nothing when none). Later first-time
//            tasks see the playbooks of earlier ones (same city, other
//            roles): this is where the boost must not hurt.
//   repeat   every task again, with the same text: plain vs boost.
//   reworded every task again in other words ("need N <role>s — <City>,
//            <ST>"): the boost sees similar, not identical, tasks.
//
// Output, machine-readable lines:
//   playbooks round=<r> tasks=<n> plain_success10=<x> boost_success10=<y> plain_p10=<a> boost_p10=<b> hurt=<tasks worse with the boost> helped=<tasks better>
//   playbooks-latency plain_p50_ms=<x> boost_p50_ms=<y>
// Options (environment): ROWS (2000), TASKS (40), DEPTH (50), SEED (7), MIN_YEARS (5), PROVIDER (hash:
// local is the bundled model), DEBUG (print each search's candidates), LH_BIN.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer as startTestServer } from '../tests/e2e/harness.mjs';

const BIN = process.env.LH_BIN || path.resolve('bin/lakehouse');
const ROWS = Number(process.env.ROWS || 2000);
const TASKS = Number(process.env.TASKS || 40);
const DEPTH = Number(process.env.DEPTH || 50);
const SEED = Number(process.env.SEED || 7);
const MIN_YEARS = Number(process.env.MIN_YEARS || 5);
const PROVIDER = process.env.PROVIDER || 'hash';
const ROLES = ['warehouse associate', 'forklift operator', 'machine operator', 'welder', 'java developer', 'data analyst',
  'truck driver', 'maintenance technician', 'customer service representative', 'assembler', 'line cook',
  'administrative assistant', 'electrician', 'quality inspector'];

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296);
}

const env = { ...process.env, LAKEHOUSE_AI_PROVIDER: PROVIDER };

function sh(args) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', maxBuffer: 1 << 28, env });
  if (r.status !== 0) throw new Error(`lakehouse ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function call(url, method, body) {
  const res = await fetch(url, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

// This shell's LAKEHOUSE_* settings (LAKEHOUSE_MODEL_KERNEL, ...), which the harness does not pass on by itself.
function lakehouseEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('LAKEHOUSE_')));
}

// The server, until its /health says ready (the harness the e2e tests use).
function startServer(dir) {
  return startTestServer({ dataDir: dir, args: ['--log-level', 'info'], env: { ...lakehouseEnv(), LAKEHOUSE_AI_PROVIDER: PROVIDER }, bin: BIN, ready: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lh-bench-playbooks-'));
  console.log(`staffing sample: ${ROWS} workers in ${dir}, provider ${PROVIDER}`);
  sh(['sample', '--rows', String(ROWS), '--ingest', '--data', dir, '--log-level', 'warn']);
  sh(['index', 'create', 'people', '--dataset', 'workers', '--id-column', 'worker_id', '--text-columns', 'profile',
    '--provider', PROVIDER, '--data', dir, '--log-level', 'warn']);
  // the rule: city, role named in the profile, MIN_YEARS of experience, no placement ended early
  const q = JSON.parse(sh(['sql', '--data', dir, '--log-level', 'warn', '--format', 'json',
    `SELECT w.worker_id, w.city, w.state, w.profile, w.years_experience < ${MIN_YEARS} OR EXISTS (SELECT 1 FROM placements p WHERE p.worker_id = w.worker_id AND p.status = 'ended early') AS unreliable FROM workers w ORDER BY w.worker_id`]));
  const roleOf = (p) => ROLES.find((r) => new RegExp(`^\\S+ is an? \\S+ ${r} with `).test(p));
  const right = new Map(); // "role|city, ST" -> Set of worker ids
  for (const [id, city, state, profile, unreliable] of q.rows) {
    const role = roleOf(profile);
    if (!role || unreliable) continue;
    const key = `${role}|${city}, ${state}`;
    if (!right.has(key)) right.set(key, new Set());
    right.get(key).add(id);
  }
  const rand = rng(SEED);
  const pairs = [...right.keys()].filter((k) => right.get(k).size >= 3).sort();
  const tasks = [];
  while (tasks.length < TASKS && pairs.length) {
    const key = pairs.splice(Math.floor(rand() * pairs.length), 1)[0];
    const [role, context] = key.split('|');
    const n = Math.min(right.get(key).size, 8);
    tasks.push({ role, context, n, good: right.get(key), text: `fill: ${role} x${n} in ${context}`,
      reworded: `need ${n} ${role}s, ${context}` });
  }
  const srv = await startServer(dir);
  const lat = { plain: [], boost: [] };
  const search = async (query, context, boost, k = 10) => {
    const t0 = performance.now();
    const r = await call(`${srv.url}/v1/search`, 'POST', { index: 'people', query, k, rows: false, ...(boost ? { playbooks: true, context } : {}) });
    (boost ? lat.boost : lat.plain).push(performance.now() - t0);
    if (process.env.DEBUG && boost) console.log(query, JSON.stringify(r.playbooks.candidates.map((c) => c.cos.toFixed(2))), 'boosted', JSON.stringify(r.playbooks.boosted), 'injected', JSON.stringify(r.playbooks.injected));
    return r.hits.map((h) => h.id);
  };
  const score = (task, ids) => {
    const found = ids.slice(0, 10).filter((id) => task.good.has(id)).length;
    return { success: found >= task.n ? 1 : 0, p10: found / 10 };
  };
  const report = (round, rows) => {
    const mean = (f) => (rows.reduce((s, r) => s + f(r), 0) / rows.length).toFixed(3);
    const hurt = rows.filter((r) => r.boost.success < r.plain.success || r.boost.p10 < r.plain.p10).length;
    const helped = rows.filter((r) => r.boost.success > r.plain.success || r.boost.p10 > r.plain.p10).length;
    console.log(`playbooks round=${round} tasks=${rows.length} plain_success10=${mean((r) => r.plain.success)} boost_success10=${mean((r) => r.boost.success)} plain_p10=${mean((r) => r.plain.p10)} boost_p10=${mean((r) => r.boost.p10)} hurt=${hurt} helped=${helped}`);
  };
  try {
    const first = [];
    for (const t of tasks) {
      const plain = score(t, await search(t.text, t.context, false));
      const boost = score(t, await search(t.text, t.context, true));
      first.push({ plain, boost });
      if (process.env.DEBUG) console.log(t.text, 'plain', plain, 'boost', boost);
      // the recruiter fills it from the plain search, deeper than one page
      const placed = (await search(t.text, t.context, false, DEPTH)).filter((id) => t.good.has(id)).slice(0, t.n);
      if (placed.length)
        await call(`${srv.url}/v1/playbooks`, 'POST', { index: 'people', task: t.text, context: t.context,
          workers: placed.map(String), outcome: placed.length >= t.n ? 'success' : 'failure' });
    }
    report('first', first);
    for (const round of ['repeat', 'reworded']) {
      const rows = [];
      for (const t of tasks) {
        const text = round === 'repeat' ? t.text : t.reworded;
        rows.push({ plain: score(t, await search(text, t.context, false)), boost: score(t, await search(text, t.context, true)) });
      }
      report(round, rows);
    }
    console.log(`playbooks-latency plain_p50_ms=${median(lat.plain).toFixed(1)} boost_p50_ms=${median(lat.boost).toFixed(1)}`);
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
