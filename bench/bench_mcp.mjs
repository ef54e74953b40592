// bench_mcp.mjs — `make bench-mcp`: what MCP's streamable HTTP transport adds
// to a query. The same `SELECT 1` as POST /v1/sql and as an MCP tools/call
// of query_sql on POST /mcp, against one server, alternating, with wrk:
//   mcp-latency conns=N round=R sql_p50_ms= mcp_p50_ms= added_p50_ms= sql_p99_ms= mcp_p99_ms= sql_rps= mcp_rps=
// The MCP call does more by design (a journal record per call, the result as
// structuredContent and as text); the target is added_p50_ms <= 1.
// Env: LH_BIN, BENCH_SECONDS (per measurement, default 5).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { wrk as wrkRun } from './wrk.mjs';

const BIN = process.env.LH_BIN || path.resolve('bin/lakehouse');
const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const wrk = (url, conns, script) => wrkRun(url, { threads: 1, conns, seconds: SECONDS, script });

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const lua = (body) => `wrk.method = "POST"\nwrk.body = '${body}'\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Accept"] = "application/json, text/event-stream"\nwrk.headers["Host"] = "localhost"\n`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lh-bench-mcp-'));
const port = await freePort();
const log = fs.openSync(path.join(dir, 'server.log'), 'w');
const server = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data', path.join(dir, 'data')], { stdio: ['ignore', 'ignore', log] });
try {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/health`)).status === 200) break;
    } catch {}
    await sleep(50);
  }
  const sqlScript = path.join(dir, 'sql.lua'), mcpScript = path.join(dir, 'mcp.lua');
  fs.writeFileSync(sqlScript, lua('{"sql":"SELECT 1"}'));
  fs.writeFileSync(mcpScript, lua('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"query_sql","arguments":{"sql":"SELECT 1"}}}'));
  // the MCP answer is a real tool result
  const check = await (await fetch(`${base}/mcp`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: fs.readFileSync(mcpScript, 'utf8').match(/'(.*)'/)[1] })).json();
  if (check.result?.structuredContent?.rows?.[0]?.[0] !== 1) throw new Error(`unexpected MCP answer: ${JSON.stringify(check)}`);
  wrk(`${base}/v1/sql`, 4, sqlScript); // warm-up
  for (const conns of [1, 16]) {
    for (let round = 1; round <= 3; round++) {
      const sql = wrk(`${base}/v1/sql`, conns, sqlScript);
      const mcp = wrk(`${base}/mcp`, conns, mcpScript);
      console.log(`mcp-latency conns=${conns} round=${round} sql_p50_ms=${sql.p50.toFixed(3)} mcp_p50_ms=${mcp.p50.toFixed(3)} added_p50_ms=${(mcp.p50 - sql.p50).toFixed(3)} sql_p99_ms=${sql.p99.toFixed(2)} mcp_p99_ms=${mcp.p99.toFixed(2)} sql_rps=${sql.rps.toFixed(0)} mcp_rps=${mcp.rps.toFixed(0)} non2xx=${sql.non2xx + mcp.non2xx}`);
    }
  }
} finally {
  server.kill('SIGTERM');
  await sleep(500);
  fs.rmSync(dir, { recursive: true, force: true });
}
