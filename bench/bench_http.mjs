// bench_http.mjs — `make bench-http`: Lakehouse's HTTP server side by side
// with a bare libmicrohttpd server (bench/http_anchor.c, epoll + 2-thread
// pool, built in the same run), all on loopback, with wrk:
//   http-ratio route=R ours_rps= anchor_rps= ratio=   (/health, /v1/version)
//   sql-latency conns=16 p50_ms= p99_ms= rps=         (POST /v1/sql SELECT 1)
//   http-rss round=N rss_mb=                          (three rounds: flat?)
//   slowloris conns=300 health_rps= health_errors= non2xx= (/health during the attack)
// Numbers are indicative on a shared machine. Env: LH_BIN, ANCHOR_BIN,
// BENCH_SECONDS (per measurement, default 5), BENCH_CONNS (64).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { postScript, wrk as wrkRun } from './wrk.mjs';

const BIN = process.env.LH_BIN || path.resolve('bin/lakehouse');
const ANCHOR = process.env.ANCHOR_BIN || path.resolve('build/bench/http_anchor');
const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const CONNS = Number(process.env.BENCH_CONNS || 64);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function firstLine(child) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no port from ${child.spawnfile}: ${out}`)), 30000);
    const onData = (d) => {
      out += d;
      const m = out.match(/^(\d+)\n/m);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
}

const wrk = (url, { conns = CONNS, seconds = SECONDS, script } = {}) => wrkRun(url, { threads: 2, conns, seconds, script });

function rssMb(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

// One trickling connection: request headers, one byte per second, until stopped.
function trickle(port, localAddress, stop) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    let timer;
    sock.on('error', () => {});
    sock.on('close', () => {
      clearInterval(timer);
      resolve();
    });
    sock.on('connect', () => {
      sock.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      timer = setInterval(() => (stop.now ? sock.destroy() : sock.write('X')), 1000);
    });
  });
}

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lh-bench-http-'));
const port = await freePort();
// as deployed: info level, one access-log line per request (to a file)
const log = fs.openSync(path.join(dir, 'server.log'), 'w');
// the anchor has no per-address limit: lift ours above wrk's connections
const ours = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data', path.join(dir, 'data'), '--set', 'server.max_connections_per_ip=1024'],
  { stdio: ['ignore', 'ignore', log], env: { ...process.env, LAKEHOUSE_AI_PROVIDER: 'hash' } });
const anchor = spawn(ANCHOR, [], { stdio: ['ignore', 'pipe', 'pipe'] });
try {
  const aport = await firstLine(anchor);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/health`)).status === 200) break;
    } catch {}
    await sleep(50);
  }
  const sqlScript = path.join(dir, 'sql.lua');
  fs.writeFileSync(sqlScript, postScript([{ sql: 'SELECT 1' }]));

  // warm-up: both routes, so that round 1 measures a steady server as rounds 2 and 3 do
  wrk(`${base}/health`, { seconds: 1 });
  wrk(`${base}/v1/sql`, { conns: 16, seconds: 1, script: sqlScript });
  const rss = [];
  for (let round = 1; round <= 3; round++) {
    const anchorRun = wrk(`http://127.0.0.1:${aport}/`);
    for (const route of ['/health', '/v1/version']) {
      const r = wrk(`${base}${route}`);
      if (round === 1 || round === 3)
        console.log(`http-ratio route=${route} round=${round} ours_rps=${r.rps.toFixed(0)} anchor_rps=${anchorRun.rps.toFixed(0)} ratio=${(r.rps / anchorRun.rps).toFixed(2)} errors=${r.errors} non2xx=${r.non2xx}`);
    }
    const sql = wrk(`${base}/v1/sql`, { conns: 16, script: sqlScript });
    console.log(`sql-latency conns=16 round=${round} p50_ms=${sql.p50.toFixed(2)} p99_ms=${sql.p99.toFixed(2)} rps=${sql.rps.toFixed(0)} non2xx=${sql.non2xx}`);
    rss.push(rssMb(ours.pid));
    console.log(`http-rss round=${round} rss_mb=${rss.at(-1).toFixed(1)}`);
  }
  console.log(`http-rss-growth first_mb=${rss[0].toFixed(1)} last_mb=${rss[2].toFixed(1)} growth_pct=${(((rss[2] - rss[0]) / rss[0]) * 100).toFixed(1)}`);

  // slowloris: 300 connections from 5 addresses (60 each, under the
  // per-address limit) trickling headers, while wrk polls /health
  const stop = { now: false };
  const attackers = [];
  for (let a = 2; a <= 6; a++) for (let k = 0; k < 60; k++) attackers.push(trickle(port, `127.0.0.${a}`, stop));
  await sleep(1000);
  const during = wrk(`${base}/health`, { conns: 16, seconds: Math.max(SECONDS, 5) });
  stop.now = true;
  await Promise.all(attackers);
  console.log(`slowloris conns=300 health_rps=${during.rps.toFixed(0)} health_p99_ms=${during.p99.toFixed(2)} errors=${during.errors} non2xx=${during.non2xx}`);
} finally {
  ours.kill('SIGTERM');
  anchor.kill('SIGTERM');
  await sleep(500);
  fs.rmSync(dir, { recursive: true, force: true });
}
