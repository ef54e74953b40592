// mcp.test.mjs — hostile input at /mcp and on `lakehouse mcp`'s stdin:
// malformed JSON-RPC, batches, oversized messages, unknown methods, wrong
// protocol versions, foreign Origin and Host headers. Each gets a clear
// JSON-RPC error (or the HTTP status the transport requires), and the server
// keeps answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { json, rawRequest, run, startServer, tempDir } from '../e2e/harness.mjs';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'h', version: '1' } } };

function post(srv, body, headers = {}) {
  return fetch(`${srv.url}/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

test('malformed JSON-RPC over HTTP: clear errors, no crash', { timeout: 60000 }, async () => {
  const srv = await startServer();
  try {
    const cases = [
      ['{"jsonrpc":"2.0","id":1,"method":', 400, -32700],
      ['[]', 400, -32600],
      [JSON.stringify([INIT, INIT]), 400, -32600, /batches are not supported/],
      ['"hello"', 400, -32600],
      ['{"jsonrpc":"1.0","id":1,"method":"ping"}', 400, -32600, /"jsonrpc" must be "2.0"/],
      ['{"jsonrpc":"2.0","id":null,"method":"ping"}', 400, -32600, /"id" must be a string or an integer/],
      ['{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', 400, -32600],
      ['{"jsonrpc":"2.0","id":1}', 400, -32600, /"method"/],
      ['{"jsonrpc":"2.0","id":1,"method":"ping","method":"ping"}', 400, -32700, /duplicate/],
      ['{"jsonrpc":"2.0","id":1,"method":"no/such"}', 200, -32601, /method not found/],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1]}', 200, -32602],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"query_sql","arguments":"SELECT 1"}}', 200, -32602],
      ['{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}', 200, -32602, /protocolVersion/],
      ['{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"lakehouse://datasets/../../etc"}}', 200, -32602, /dataset name/],
      ['{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"loud"}}', 200, -32602],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"not-a-cursor"}}', 200, -32602, /cursor/],
      ['[' .repeat(100000), 400, -32700],
      ['{"jsonrpc":"2.0","id":1,"method":"ping\\u0000"}', 400, -32700],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await post(srv, body);
      assert.equal(r.status, status, body.slice(0, 80));
      const reply = await json(r);
      assert.equal(reply.jsonrpc, '2.0');
      assert.equal(reply.error.code, code, `${body.slice(0, 80)}: ${JSON.stringify(reply)}`);
      if (message) assert.match(reply.error.message, message);
    }
    // 10 MB of params: refused by size, before parsing
    const huge = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'query_sql', arguments: { sql: `SELECT '${'x'.repeat(10 << 20)}'` } } });
    const big = await post(srv, huge);
    assert.equal(big.status, 400);
    const bigReply = await json(big);
    assert.equal(bigReply.error.code, -32600);
    assert.match(bigReply.error.message, /mcp\.max_message_bytes/);
    // notifications and responses are accepted with no body
    const note = await post(srv, { jsonrpc: '2.0', method: 'notifications/initialized' });
    assert.equal(note.status, 202);
    assert.equal(await note.text(), '');
    const resp = await post(srv, { jsonrpc: '2.0', id: 9, result: {} });
    assert.equal(resp.status, 202);
    // still serving
    const ping = await json(await post(srv, { jsonrpc: '2.0', id: 'p', method: 'ping' }));
    assert.deepEqual(ping, { jsonrpc: '2.0', id: 'p', result: {} });
    assert.equal((await json(await fetch(`${srv.url}/health`))).status, 'ok');
  } finally {
    await srv.stop();
  }
});

test('transport rules: protocol version, Origin, Host, content type, methods', { timeout: 60000 }, async () => {
  const srv = await startServer();
  try {
    const version = await post(srv, INIT, { 'MCP-Protocol-Version': '1999-01-01' });
    assert.equal(version.status, 400);
    assert.match((await json(version)).error.message, /MCP-Protocol-Version/);
    for (const v of ['2025-11-25', '2025-06-18', '2025-03-26']) assert.equal((await post(srv, INIT, { 'MCP-Protocol-Version': v })).status, 200, v);
    // an unknown version asked in initialize is answered with ours
    const asked = await json(await post(srv, { ...INIT, params: { ...INIT.params, protocolVersion: '2099-01-01' } }));
    assert.equal(asked.result.protocolVersion, '2025-11-25');

    const evil = await post(srv, INIT, { Origin: 'http://evil.example.com' });
    assert.equal(evil.status, 403);
    assert.equal((await json(evil)).error.code, -32600);
    for (const o of ['null', 'http://localhost.evil.com', 'http://127.0.0.1.evil.com:80', 'http://localhost:99999999'])
      assert.equal((await post(srv, INIT, { Origin: o })).status, 403, o);
    for (const o of ['http://localhost:3000', 'http://127.0.0.1', 'https://[::1]:8443'])
      assert.equal((await post(srv, INIT, { Origin: o })).status, 200, o);
    // DNS rebinding: a loopback server that needs no key answers only loopback Host names
    const rebound = await rawRequest(srv.port, [
      `POST /mcp HTTP/1.1\r\nHost: evil.example.com\r\nContent-Type: application/json\r\nContent-Length: ${JSON.stringify(INIT).length}\r\nConnection: close\r\n\r\n${JSON.stringify(INIT)}`,
    ]);
    assert.match(rebound, /^HTTP\/1\.1 403 /);

    assert.equal((await post(srv, INIT, { 'Content-Type': 'text/plain' })).status, 415);
    assert.equal((await post(srv, INIT, { Accept: 'image/png' })).status, 406);
    const sse = await post(srv, INIT, { Accept: 'text/event-stream' });
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get('content-type'), /^text\/event-stream/);
    assert.match(await sse.text(), /^event: message\ndata: \{"jsonrpc":"2.0","id":1,"result":/);
    // no server stream, no sessions
    const get = await fetch(`${srv.url}/mcp`, { headers: { Accept: 'text/event-stream' } });
    assert.equal(get.status, 405);
    assert.match(get.headers.get('allow'), /POST/);
    assert.equal((await fetch(`${srv.url}/mcp`, { method: 'DELETE' })).status, 405);
  } finally {
    await srv.stop();
  }
});

test('with keys required, /mcp needs one: 401 with WWW-Authenticate', { timeout: 60000 }, async () => {
  const dir = tempDir();
  const made = run(['profile', 'create', 'bot', '--kind', 'agent', '--scopes', 'read', '--data', dir]);
  assert.equal(made.status, 0, made.stderr);
  const key = JSON.parse(run(['profile', 'key-create', 'bot', '--json', '--data', dir]).stdout).key;
  const srv = await startServer({ dataDir: dir });
  try {
    const none = await post(srv, INIT);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'), /^Bearer/);
    const wrong = await post(srv, INIT, { Authorization: 'Bearer lh_0000000000000000_000000000000000000000000000000000000000000000000' });
    assert.equal(wrong.status, 401);
    const ok = await post(srv, INIT, { Authorization: `Bearer ${key}` });
    assert.equal(ok.status, 200);
  } finally {
    await srv.stop();
  }
});

test('stdio: garbage lines, oversized lines and batches get JSON-RPC errors; the server keeps reading', { timeout: 60000 }, () => {
  const dir = tempDir();
  const lines = [
    'not json',
    JSON.stringify([INIT]),
    'x'.repeat(5 << 20), // over mcp.max_message_bytes (4 MiB)
    '',
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' }),
  ];
  const r = run(['mcp', '--data', dir], { input: lines.join('\n') + '\n' });
  assert.equal(r.status, 0, r.stderr);
  const replies = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(replies.map((x) => x.error?.code ?? 'ok'), [-32700, -32600, -32600, 'ok']);
  assert.match(replies[2].error.message, /mcp\.max_message_bytes/);
  assert.deepEqual(replies[3], { jsonrpc: '2.0', id: 7, result: {} });
});
