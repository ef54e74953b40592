// server.test.mjs — the HTTP surface of `lakehouse serve`: health, version,
// error bodies for bad routes and methods, body limits, request ids, access log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { json, rawRequest, startServer } from './harness.mjs';

function assertErrorBody(body, code) {
  assert.equal(typeof body.error, 'object', JSON.stringify(body));
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
  assert.match(body.error.request_id, /^[0-9a-f]{16}$|^[\w.-]+$/);
}

describe('lakehouse serve', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      args: ['--set', 'server.max_body_bytes=2048', '--set', 'server.idle_timeout_s=2'],
    });
  });
  after(async () => {
    const { code } = await srv.stop();
    assert.equal(code, 0);
  });

  it('reports health with per-module readiness', async () => {
    const res = await fetch(`${srv.url}/health`);
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.status, 'ok');
    assert.equal(body.ready, true);
    assert.equal(body.modules.http.status, 'ok');
    assert.equal(body.modules.query.status, 'ok');
    assert.equal(body.modules.query.duckdb_version, 'v1.4.4');
    assert.equal(body.modules.storage.status, 'ok');
    // anonymous callers see no server paths (issue 11)
    assert.equal(body.modules.storage.data_dir, undefined);
    assert.ok(!JSON.stringify(body).includes(srv.dir));
  });

  it('names DuckDB 1.4.4 in /v1/version', async () => {
    const body = await json(await fetch(`${srv.url}/v1/version`));
    assert.equal(body.name, 'lakehouse');
    assert.match(body.version, /^\d+\.\d+\.\d+$/);
    assert.equal(body.duckdb_version, 'v1.4.4');
    assert.ok(body.git_commit.length > 0);
  });

  it('answers an unknown route with a 404 JSON error', async () => {
    const res = await fetch(`${srv.url}/v1/no/such/thing`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type'), /application\/json/);
    const body = await json(res);
    assertErrorBody(body, 'not_found');
    assert.equal(body.error.request_id, res.headers.get('x-request-id'));
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const res = await fetch(`${srv.url}/health`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
    assertErrorBody(await json(res), 'method_not_allowed');
  });

  it('rejects an oversized body with 413, declared or streamed', async () => {
    const big = 'x'.repeat(10000);
    const res = await fetch(`${srv.url}/health`, { method: 'POST', body: big });
    assert.equal(res.status, 413);
    assertErrorBody(await json(res), 'payload_too_large');
    // chunked: no Content-Length, the limit is found while reading
    const raw = await rawRequest(srv.port, [
      'POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      `${(5000).toString(16)}\r\n${'y'.repeat(5000)}\r\n0\r\n\r\n`,
    ]);
    assert.match(raw, /^HTTP\/1\.1 413 /);
    assert.match(raw, /"code":"payload_too_large"/);
  });

  it('echoes a sane client request id and replaces a hostile one', async () => {
    let res = await fetch(`${srv.url}/v1/version`, { headers: { 'X-Request-Id': 'trace-42' } });
    assert.equal(res.headers.get('x-request-id'), 'trace-42');
    res = await fetch(`${srv.url}/v1/version`, { headers: { 'X-Request-Id': 'a'.repeat(200) } });
    assert.match(res.headers.get('x-request-id'), /^[0-9a-f]{16}$/);
    await new Promise((r) => setTimeout(r, 50));
    assert.match(srv.logs(), /event=http\.access request_id=trace-42 method=GET path=\/v1\/version status=200/);
  });

  it('survives malformed and hostile requests', async () => {
    const garbage = await rawRequest(srv.port, ['\x00\x01\x02 not http at all\r\n\r\n']);
    assert.match(garbage, /^HTTP\/1\.1 400 |^$/);
    const unknownVerb = await rawRequest(srv.port, ['BREW /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    assert.match(unknownVerb, /^HTTP\/1\.1 405 /);
    const badEscape = await fetch(`${srv.url}/v1/catalog/%zz`);
    assert.ok([400, 404].includes(badEscape.status));
    const longPath = await fetch(`${srv.url}/${'a/'.repeat(2000)}`);
    assert.ok([404, 414, 431].includes(longPath.status), `status ${longPath.status}`);
    const res = await fetch(`${srv.url}/health`);
    assert.equal(res.status, 200);
  });

  it('closes idle and slow connections after server.idle_timeout_s', async () => {
    const t0 = Date.now();
    // a slowloris: half a request line, then silence
    const reply = await rawRequest(srv.port, ['GET /hea']);
    const elapsed = Date.now() - t0;
    assert.equal(reply, '');
    assert.ok(elapsed >= 1500 && elapsed < 6000, `closed after ${elapsed} ms`);
  });

  it('serves HEAD and concurrent requests', async () => {
    const head = await fetch(`${srv.url}/health`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    // clients learn when an idle connection closes, so they do not reuse one the server closed
    assert.equal(head.headers.get('keep-alive'), 'timeout=2');
    const all = await Promise.all(Array.from({ length: 40 }, () => fetch(`${srv.url}/v1/version`)));
    for (const r of all) assert.equal(r.status, 200);
  });
});

describe('the API describes itself and refuses what it does not know', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv.stop();
  });

  it('serves an index at /v1 (the web UI at /) and OpenAPI 3.1 with every route', async () => {
    const index = await json(await fetch(`${srv.url}/v1`));
    assert.equal(index.openapi, '/v1/openapi.json');
    assert.equal(index.ui, '/');
    const home = await fetch(`${srv.url}/`);
    assert.equal(home.status, 200);
    assert.match(home.headers.get('content-type'), /^text\/html/);
    assert.ok(index.links['/v1/catalog/datasets']);
    const doc = await json(await fetch(`${srv.url}/v1/openapi.json`));
    assert.equal(doc.openapi, '3.1.0');
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p));
    const ids = ops.map((o) => o.operationId).filter(Boolean);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    for (const o of ops) assert.ok(o.responses.default || o.responses['400'], JSON.stringify(o));
    assert.deepEqual(doc.paths['/v1/catalog/datasets/{name}'].get.parameters.map((p) => [p.name, p.in]), [['name', 'path'], ['version', 'query']]);
    assert.equal(doc.components.schemas.Error.properties.error.required.join(), 'code,message');
  });

  it('answers 400 naming an unknown query parameter or body field', async () => {
    let r = await fetch(`${srv.url}/v1/storage/buckets/local/objects?limt=2`);
    assert.equal(r.status, 400);
    assert.match((await json(r)).error.message, /unknown field "limt"/);
    r = await fetch(`${srv.url}/v1/catalog/datasets`, { method: 'POST', body: JSON.stringify({ name: 'x', descripton: 'typo' }) });
    assert.equal(r.status, 400);
    assert.match((await json(r)).error.message, /unknown field "descripton"/);
    // the prefix is not cut at %00: the argument is refused
    r = await fetch(`${srv.url}/v1/storage/buckets/local/objects?prefix=work%00ers`);
    assert.equal(r.status, 400);
    // invalid UTF-8 in a path parameter is a 400 with a request id, not a 500
    r = await fetch(`${srv.url}/v1/catalog/datasets/%FF%FE`);
    assert.equal(r.status, 400);
    assertErrorBody(await json(r), 'bad_request');
  });

  it('pages lists with limit and an opaque next cursor', async () => {
    for (const name of ['pa', 'pb', 'pc']) await fetch(`${srv.url}/v1/catalog/datasets`, { method: 'POST', body: JSON.stringify({ name }) });
    const seen = [];
    let url = `${srv.url}/v1/catalog/datasets?limit=2`;
    for (let i = 0; i < 5 && url; i++) {
      const page = await json(await fetch(url));
      assert.ok(page.datasets.length <= 2);
      seen.push(...page.datasets.map((d) => d.name));
      url = page.next ? `${srv.url}/v1/catalog/datasets?limit=2&cursor=${encodeURIComponent(page.next)}` : null;
    }
    assert.deepEqual(seen, ['pa', 'pb', 'pc']);
    const objs = await json(await fetch(`${srv.url}/v1/storage/buckets/local/objects?prefix=_catalog/names/&limit=2`));
    assert.deepEqual(objs.objects.map((o) => o.key), ['_catalog/names/pa', '_catalog/names/pb']);
    const rest = await json(await fetch(`${srv.url}/v1/storage/buckets/local/objects?prefix=_catalog/names/&limit=2&cursor=${objs.next}`));
    assert.deepEqual(rest.objects.map((o) => o.key), ['_catalog/names/pc']);
    assert.equal(rest.next, undefined);
  });
});
