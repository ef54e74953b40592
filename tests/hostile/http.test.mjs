// http.test.mjs — hostile HTTP clients (issue 11, HTTP part): slowloris in
// headers and body, ambiguous framing, and a /health that stays cheap and
// discreet. Raw sockets against a real server; every probe is bounded in time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { json, startServer } from '../e2e/harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A connection that sends `head` and then one byte of `trickle` per interval;
// resolves with what the server answered and whether (and when) it closed.
function trickler(port, head, trickle, { intervalMs = 1000, localAddress, maxMs = 20000 } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    let data = '';
    let timer;
    let i = 0;
    const done = (closed) => {
      clearInterval(timer);
      clearTimeout(cap);
      sock.destroy();
      resolve({ closed, ms: Date.now() - t0, data });
    };
    const cap = setTimeout(() => done(false), maxMs);
    sock.setEncoding('utf8');
    sock.on('data', (d) => (data += d));
    sock.on('error', () => {});
    sock.on('close', () => done(true));
    sock.on('connect', () => {
      sock.write(head);
      timer = setInterval(() => {
        if (!sock.destroyed) sock.write(trickle[i++ % trickle.length]);
      }, intervalMs);
    });
  });
}

// Sends chunks back to back and collects the answer until the server closes
// (a reset after the answer still counts as an answer).
function exchange(port, chunks, { maxMs = 10000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const cap = setTimeout(() => sock.destroy(), maxMs);
    sock.setEncoding('utf8');
    sock.on('data', (d) => (data += d));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(cap);
      resolve(data);
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (sock.destroyed) break;
        if (!sock.write(c)) await new Promise((r) => sock.once('drain', r).once('close', r));
      }
    });
  });
}

const statusLines = (raw) => raw.match(/^HTTP\/1\.[01] \d{3}/gm) ?? [];

test('slowloris: trickled headers and bodies are cut at their deadline', async () => {
  const srv = await startServer({ env: { LAKEHOUSE_SERVER_HEADER_TIMEOUT_S: '2', LAKEHOUSE_SERVER_MIN_BODY_RATE: '1024' } });
  try {
    const headers = Array.from({ length: 5 }, () =>
      trickler(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n', 'X-a: b\r\n', { maxMs: 12000 }));
    const bodies = Array.from({ length: 5 }, () =>
      trickler(srv.port, 'POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{', ' ', { maxMs: 12000 }));
    for (const r of await Promise.all([...headers, ...bodies])) {
      assert.ok(r.closed, 'a trickling connection stayed open 12 s');
      assert.ok(r.ms < 6000, `closed only after ${r.ms} ms`);
    }
    // an honest slow-ish body (well above the minimum rate) is still served
    const ok = await exchange(srv.port, ['POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nConnection: close\r\n\r\n', '{"sql":"SELECT 42"}', ' ']);
    assert.match(ok, /^HTTP\/1\.1 200/);
    assert.match(srv.logs(), /http\.slow_client/);
  } finally {
    await srv.stop();
  }
});

test('slowloris: 5 addresses x 64 trickling connections do not take /health down', async () => {
  const srv = await startServer();
  try {
    const attackers = [];
    for (let a = 2; a <= 6; a++)
      for (let k = 0; k < 64; k++)
        attackers.push(trickler(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n', 'X-a: b\r\n', { localAddress: `127.0.0.${a}`, maxMs: 6000 }));
    await sleep(1500); // all 320 connected and trickling
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      const r = await fetch(`${srv.url}/health`, { signal: AbortSignal.timeout(2000) });
      assert.equal(r.status, 200);
      await r.text();
      assert.ok(Date.now() - t0 < 1000, `/health took ${Date.now() - t0} ms under attack`);
      await sleep(300);
    }
    const sql = await fetch(`${srv.url}/v1/sql`, { method: 'POST', body: '{"sql":"SELECT 1 AS x"}', signal: AbortSignal.timeout(3000) });
    assert.equal(sql.status, 200);
    await Promise.all(attackers);
  } finally {
    await srv.stop();
  }
});

test('framing: conflicting Content-Length is a 400, oversized a single 413, never two header blocks', async () => {
  const srv = await startServer({ env: { LAKEHOUSE_SERVER_MAX_BODY_BYTES: '1024' } });
  try {
    const dup = await exchange(srv.port, ['POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 20\r\n\r\n{}']);
    assert.deepEqual(statusLines(dup), ['HTTP/1.1 400'], dup);
    assert.match(dup, /"code":"bad_request".*more than one Content-Length/);
    const both = await exchange(srv.port, ['POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n']);
    assert.equal(statusLines(both).length, 1, both);
    assert.match(both, /^HTTP\/1\.1 400/);
    const big = await exchange(srv.port, ['POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n{}']);
    assert.deepEqual(statusLines(big), ['HTTP/1.1 413'], big);
    assert.match(big, /"code":"payload_too_large"/);
    // the server still answers
    assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('framing: a negative or 30-digit Content-Length is answered once', { todo: 'libmicrohttpd 0.9.75 answers these itself, before any handler, and writes its header block twice (its transmit_error_response); needs 0.9.76+' }, async () => {
  const srv = await startServer();
  try {
    for (const cl of ['-1', '999999999999999999999999999999']) {
      const out = await exchange(srv.port, [`POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Length: ${cl}\r\n\r\n{}`]);
      assert.equal(statusLines(out).length, 1, out);
    }
  } finally {
    await srv.stop();
  }
});

test('framing: a chunked body streamed past the limit gets its 413 JSON body', async () => {
  const srv = await startServer({ env: { LAKEHOUSE_SERVER_MAX_BODY_BYTES: '1024' } });
  try {
    const chunk = `${(64 * 1024).toString(16)}\r\n${'x'.repeat(64 * 1024)}\r\n`;
    // 8 MiB: far past the limit and past what the server drains
    const chunks = ['POST /v1/sql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', ...Array(128).fill(chunk), '0\r\n\r\n'];
    const out = await exchange(srv.port, chunks);
    assert.deepEqual(statusLines(out), ['HTTP/1.1 413'], out.slice(0, 300));
    const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
    assert.equal(body.error.code, 'payload_too_large');
    assert.match(body.error.request_id, /^[0-9a-f]{16}$/);
    // a small one past the limit ends normally with the same answer
    const small = await exchange(srv.port, ['POST /v1/sql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', chunk, '0\r\n\r\n']);
    assert.deepEqual(statusLines(small), ['HTTP/1.1 413'], small.slice(0, 300));
    assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('/health: cached probe, no server path, rounded latency, 200 under a burst', async () => {
  const srv = await startServer();
  try {
    const first = await fetch(`${srv.url}/health`);
    assert.equal(first.status, 200);
    const text = await first.text();
    assert.ok(!text.includes('data_dir'), text);
    assert.ok(!text.includes(srv.dir), text);
    const h = JSON.parse(text);
    const latency = h.modules.storage.buckets[0].latency_ms;
    assert.ok(Number.isFinite(latency));
    assert.match(String(latency), /^\d+(\.\d{1,2})?$/, `latency_ms ${latency} is not rounded`);
    // a burst: answered from the cache (the same probe), all 200, quickly
    const t0 = Date.now();
    const burst = [];
    for (let round = 0; round < 8; round++) // 25 at once: a keep-alive client may open more sockets than requests, and 64 is the per-address limit
      burst.push(...(await Promise.all(Array.from({ length: 25 }, () => fetch(`${srv.url}/health`).then(async (r) => [r.status, await json(r)])))));
    assert.ok(Date.now() - t0 < 3000, `200 health checks took ${Date.now() - t0} ms`);
    for (const [status] of burst) assert.equal(status, 200);
    const probes = new Set(burst.map(([, b]) => b.modules.storage.buckets[0].latency_ms));
    assert.ok(probes.size <= 4, `${probes.size} distinct probes for 200 calls within ${Date.now() - t0} ms`);
  } finally {
    await srv.stop();
  }
});

test('bodies that are not UTF-8: a parse error quoting them is still a JSON 400, not a 500', async () => {
  const srv = await startServer();
  try {
    // jansson's message quotes the text near the error: here a lone 0xE7 after a backslash
    const bad = Buffer.concat([Buffer.from('{"js\\'), Buffer.from([0xe7, 0xa3, 0x84, 0xdd]), Buffer.from('js"')]);
    for (const route of ['/v1/sql', '/v1/search']) {
      const res = await fetch(`${srv.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bad });
      const raw = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 400, raw.toString());
      const text = new TextDecoder('utf-8', { fatal: true }).decode(raw); // throws if the reply is not UTF-8
      const body = JSON.parse(text);
      assert.equal(body.error.code, 'bad_request');
      assert.match(body.error.message, /invalid JSON body at line 1, column \d+/);
    }
    // an upload whose file name is Latin-1, not UTF-8: ingested, and named in UTF-8
    const boundary = 'lhboundary';
    const upload = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="r`),
      Buffer.from([0xe9]), Buffer.from(`s.csv"\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\n\r\n--${boundary}--\r\n`)]);
    const up = await fetch(`${srv.url}/v1/ingest?dataset=latin_name`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: upload });
    const report = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(await up.arrayBuffer())));
    assert.equal(up.status, 201, JSON.stringify(report));
    assert.equal(report.sources[0].name, 'r\u00e9s.csv');
    const mcp = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: bad });
    const reply = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(await mcp.arrayBuffer())));
    assert.equal(reply.error.code, -32700);
  } finally {
    await srv.stop();
  }
});
