// bench_ui.mjs — `make bench-ui`: how long the web UI takes to answer the
// pages of a 1,000,000-row dataset (issue 14's target: a preview page under
// 200 ms of server time). One client on loopback, so the time measured is the
// server's plus a fraction of a millisecond; each case runs REPS times after
// a warm-up, and its anchor is the same rows asked of POST /v1/sql:
//   ui-preview case=C rows=N p50_ms= p99_ms= anchor_p50_ms= ratio= target_ms=200 met=yes|no
// Cases: the dataset page (facts, schema, versions, first preview page), a
// preview page deep in the data (offset 999,950), a page filtered by a facet
// value, and the facets fragment (top values of the suggested columns).
// Env: LH_BIN, BENCH_ROWS (default 1000000), BENCH_REPS (default 30).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.LH_BIN || path.resolve('bin/lakehouse');
const ROWS = Number(process.env.BENCH_ROWS || 1000000);
const REPS = Number(process.env.BENCH_REPS || 30);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function lakehouse(args, encoding = 'utf8') {
  const r = spawnSync(BIN, args, { encoding, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`lakehouse ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function timed(fn) {
  await fn(); // warm-up
  await fn();
  const ms = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: pct(ms, 50), p99: pct(ms, 99) };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lh-bench-ui-'));
const data = path.join(dir, 'data');
const file = path.join(dir, 'big.parquet');
// a staffing-like table: a key, repeating cities and roles (facets), numbers, a sentence
fs.writeFileSync(file, lakehouse(['sql', '--data', data, '--format', 'parquet',
  `SELECT range AS id, ['Chicago','Denver','Memphis','Atlanta','Dallas','Boston','Phoenix','Seattle'][range % 8 + 1] AS city,
          ['picker','driver','welder','nurse','analyst'][range % 5 + 1] AS role, (range * 7919) % 100000 / 100.0 AS rate,
          DATE '2024-01-01' + (range % 700)::INTEGER AS since,
          'worker ' || range || ' has ' || (range % 30) || ' years of experience in ' || ['packing','welding','driving'][range % 3 + 1] AS profile
   FROM range(${ROWS})`], 'buffer'));
lakehouse(['ingest', file, '--dataset', 'big', '--data', data]);

const port = await freePort();
const log = fs.openSync(path.join(dir, 'server.log'), 'w');
const server = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data', data], { stdio: ['ignore', 'ignore', log] });
try {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/health`)).status === 200) break;
    } catch {}
    await sleep(50);
  }
  const cookie = (await fetch(`${base}/`)).headers.get('set-cookie').split(';')[0];
  const version = (await (await fetch(`${base}/v1/catalog/datasets/big`)).json()).version;
  const page = (url, marker) => async () => {
    const r = await fetch(`${base}${url}`, { headers: { cookie, 'HX-Request': 'true' } });
    const html = await r.text();
    if (r.status !== 200 || !html.includes(marker)) throw new Error(`${url}: ${r.status} ${html.slice(0, 300)}`);
  };
  const full = (url, marker) => async () => {
    const r = await fetch(`${base}${url}`, { headers: { cookie } });
    const html = await r.text();
    if (r.status !== 200 || !html.includes(marker)) throw new Error(`${url}: ${r.status} ${html.slice(0, 300)}`);
  };
  const sql = (q) => async () => {
    const r = await fetch(`${base}/v1/sql`, { method: 'POST', body: JSON.stringify({ sql: q }) });
    if (r.status !== 200) throw new Error(`${q}: ${r.status} ${await r.text()}`);
    await r.json();
  };
  const deep = ROWS - 50;
  const cases = [
    ['dataset-page', full('/ui/datasets/big', `of ${ROWS} (v${version})`), sql(`SELECT * FROM lh_version('big', ${version}) LIMIT 50`)],
    ['preview-deep', page(`/ui/datasets/big/preview?version=${version}&offset=${deep}`, `rows ${deep + 1}–${ROWS}`),
      sql(`SELECT * FROM lh_version('big', ${version}) LIMIT 50 OFFSET ${deep}`)],
    ['preview-facet', page(`/ui/datasets/big/preview?version=${version}&facet=city&value=Denver`, 'facet-value'),
      sql(`SELECT * FROM lh_version('big', ${version}) WHERE city = 'Denver' LIMIT 50`)],
    ['facets', page(`/ui/datasets/big/facets?version=${version}`, 'data-facet="city"'),
      sql(`SELECT city, count(*) FROM lh_version('big', ${version}) GROUP BY ALL ORDER BY 2 DESC LIMIT 10`)],
  ];
  for (const [name, ui, anchor] of cases) {
    const u = await timed(ui), a = await timed(anchor);
    console.log(`ui-preview case=${name} rows=${ROWS} p50_ms=${u.p50.toFixed(2)} p99_ms=${u.p99.toFixed(2)} ` +
      `anchor_p50_ms=${a.p50.toFixed(2)} ratio=${(u.p50 / a.p50).toFixed(2)} target_ms=200 met=${u.p99 < 200 ? 'yes' : 'no'}`);
  }
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
}
