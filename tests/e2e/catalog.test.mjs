// catalog.test.mjs — datasets over HTTP and the CLI: create, commit, versions,
// rollback, tombstones, delete, purge, rebuild from storage, the journal, and
// hostile names that must be refused without touching the disk.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { json, rawRequest, run, startServer } from './harness.mjs';

const sha = (c) => c.repeat(64);
// Commits point only at real objects (their size and sha256 are checked):
// place one in the fs bucket of the server at dir and describe it.
function object(dir, key, rows, c = 'a') {
  const data = Buffer.from(c.repeat(100));
  fs.mkdirSync(path.dirname(path.join(dir, 'local', key)), { recursive: true });
  fs.writeFileSync(path.join(dir, 'local', key), data);
  return { bucket: 'local', key, size: data.length, sha256: crypto.createHash('sha256').update(data).digest('hex'), rows };
}

async function call(srv, method, url, body, headers = {}) {
  const res = await fetch(`${srv.url}${url}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await json(res), headers: res.headers };
}

function listTree(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...listTree(p));
  }
  return out.sort();
}

describe('catalog over HTTP', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--set', 'journal.flush_ms=50'] });
  });
  after(async () => {
    assert.equal((await srv.stop()).code, 0);
  });

  it('creates a dataset at version 1 and refuses a second with the same name', async () => {
    let r = await call(srv, 'POST', '/v1/catalog/datasets', { name: 'workers', description: 'staff' }, { 'X-Lakehouse-Actor': 'alice' });
    assert.equal(r.status, 201);
    assert.equal(r.body.version, 1);
    assert.equal(r.body.author, 'alice');
    assert.equal(r.body.source, 'http');
    assert.deepEqual(r.body.objects, []);
    r = await call(srv, 'POST', '/v1/catalog/datasets', { name: 'workers' });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'already_exists');
  });

  it('commits in append and replace mode, with schema, lineage and row counts', async () => {
    let r = await call(srv, 'POST', '/v1/catalog/datasets/workers/commits', {
      objects: [object(srv.dir, 'datasets/workers/data/a.parquet', 10)],
      schema: [{ name: 'id', type: 'BIGINT' }, { name: 'city', type: 'VARCHAR' }],
      lineage: { source: 'workers.csv', content_hash: sha('b') },
      message: 'first load',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.version, 2);
    assert.equal(r.body.parent, 1);
    assert.equal(r.body.row_count, 10);
    assert.equal(r.body.schema.fields.length, 2);
    assert.match(r.body.schema.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(r.body.lineage.source, 'workers.csv');
    r = await call(srv, 'POST', '/v1/catalog/datasets/workers/commits', { objects: [object(srv.dir, 'datasets/workers/data/b.parquet', 5, 'c')] });
    assert.equal(r.body.version, 3);
    assert.equal(r.body.row_count, 15);
    assert.equal(r.body.objects.length, 2);
    assert.equal(r.body.schema.fields.length, 2, 'schema carried over');
    r = await call(srv, 'POST', '/v1/catalog/datasets/workers/commits', { mode: 'replace', objects: [object(srv.dir, 'datasets/workers/data/c.parquet', 7, 'd')] });
    assert.equal(r.body.version, 4);
    assert.equal(r.body.row_count, 7);
    assert.equal(r.body.objects.length, 1);
    // optimistic concurrency: a commit that expects an old parent is refused
    r = await call(srv, 'POST', '/v1/catalog/datasets/workers/commits', { expected_parent: 2, objects: [] });
    assert.equal(r.status, 409);
    assert.match(r.body.error.message, /at version 4, not 2/);
  });

  it('rejects malformed commits with 400 and writes nothing', async () => {
    for (const bad of [
      { objects: 'nope' },
      { objects: [{ bucket: 'local', key: '../x', size: 1, sha256: sha('a'), rows: 1 }] },
      { objects: [{ bucket: 'local', key: 'k', size: -1, sha256: sha('a'), rows: 1 }] },
      { objects: [{ bucket: 'local', key: 'k', size: 1, sha256: 'xyz', rows: 1 }] },
      { objects: [], schema: 'id BIGINT' },
      { objects: [], mode: 'upsert' },
    ]) {
      const r = await call(srv, 'POST', '/v1/catalog/datasets/workers/commits', bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
    }
    const head = await call(srv, 'GET', '/v1/catalog/datasets/workers');
    assert.equal(head.body.version, 4);
  });

  it('lists versions and reads any of them', async () => {
    const v = await call(srv, 'GET', '/v1/catalog/datasets/workers/versions');
    assert.deepEqual(v.body.versions.map((x) => x.version), [1, 2, 3, 4]);
    assert.deepEqual(v.body.versions.map((x) => x.operation), ['create', 'commit', 'commit', 'commit']);
    assert.equal(v.body.next, undefined);
    // a page at a time (only the page's versions are read), to the end
    const seen = [];
    let cursor = null;
    do {
      const page = await call(srv, 'GET', `/v1/catalog/datasets/workers/versions?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      seen.push(...page.body.versions);
      cursor = page.body.next;
    } while (cursor);
    assert.deepEqual(seen, v.body.versions);
    // a cursor past the end, or past any number, is an empty page
    for (const at of ['4', '99', '18446744073709551615', '9223372036854775807']) {
      const c = Buffer.from(`offset:${at}`).toString('base64url');
      const page = await call(srv, 'GET', `/v1/catalog/datasets/workers/versions?cursor=${c}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.deepEqual(page.body.versions, [], at);
    }
    const v2 = await call(srv, 'GET', '/v1/catalog/datasets/workers/versions/2');
    assert.equal(v2.body.row_count, 10);
    assert.equal((await call(srv, 'GET', '/v1/catalog/datasets/workers/versions/99')).status, 404);
    assert.equal((await call(srv, 'GET', '/v1/catalog/datasets/workers/versions/zero')).status, 400);
  });

  it('rolls back by writing a new version with the old state', async () => {
    const r = await call(srv, 'POST', '/v1/catalog/datasets/workers/rollback', { version: 3 });
    assert.equal(r.status, 201);
    assert.equal(r.body.version, 5);
    assert.equal(r.body.rollback_of, 3);
    assert.equal(r.body.row_count, 15);
    assert.equal(r.body.objects.length, 2);
    const missing = await call(srv, 'POST', '/v1/catalog/datasets/workers/rollback', { version: 42 });
    assert.equal(missing.status, 404);
  });

  it('tombstones rows by key without touching the files', async () => {
    let r = await call(srv, 'POST', '/v1/catalog/datasets/workers/tombstones', { key_column: 'id', values: ['17', 18], reason: 'erasure request' }, { 'X-Lakehouse-Actor': 'dpo' });
    assert.equal(r.status, 201);
    assert.equal(r.body.version, 6);
    assert.equal(r.body.tombstones.length, 2);
    assert.equal(r.body.tombstones[1].key_value, '18');
    assert.equal(r.body.tombstones[0].actor, 'dpo');
    assert.equal(r.body.objects.length, 2);
    r = await call(srv, 'POST', '/v1/catalog/datasets/workers/tombstones', { key_column: 'nope', values: ['1'] });
    assert.equal(r.status, 400);
    r = await call(srv, 'GET', '/v1/catalog/datasets/workers/tombstones');
    assert.equal(r.body.tombstones.length, 2);
  });

  it('deletes by tombstoning the dataset; a rollback restores it', async () => {
    let r = await call(srv, 'DELETE', '/v1/catalog/datasets/workers?reason=retired');
    assert.equal(r.status, 200);
    assert.equal(r.body.deleted, true);
    let list = await call(srv, 'GET', '/v1/catalog/datasets');
    assert.equal(list.body.datasets.find((d) => d.name === 'workers'), undefined);
    list = await call(srv, 'GET', '/v1/catalog/datasets?include_deleted=1');
    assert.equal(list.body.datasets.find((d) => d.name === 'workers').deleted, true);
    r = await call(srv, 'POST', '/v1/catalog/datasets/workers/commits', { objects: [] });
    assert.equal(r.status, 404);
    assert.match(r.body.error.message, /deleted/);
    r = await call(srv, 'POST', '/v1/catalog/datasets/workers/rollback', { version: 6 });
    assert.equal(r.status, 201);
    assert.equal(r.body.deleted, false);
    assert.equal(r.body.tombstones.length, 2);
  });

  it('journals every mutation with actor and source', async () => {
    await call(srv, 'POST', '/v1/journal/flush');
    const h = await call(srv, 'GET', '/v1/journal/history/workers');
    const actions = h.body.events.map((e) => e.action).reverse();
    assert.deepEqual(actions, ['create', 'commit', 'commit', 'commit', 'rollback', 'tombstone', 'delete', 'rollback']);
    const first = h.body.events.at(-1);
    assert.equal(first.actor, 'alice');
    assert.equal(first.source, 'http');
    assert.equal(first.entity_type, 'dataset');
    assert.ok(first.request_id);
    const tomb = h.body.events.find((e) => e.action === 'tombstone');
    assert.deepEqual([tomb.old.version, tomb.new.version], [5, 6]);
    const recent = await call(srv, 'GET', '/v1/journal/recent?limit=2');
    assert.equal(recent.body.events.length, 2);
    assert.equal(recent.body.events[0].action, 'rollback');
    const stats = await call(srv, 'GET', '/v1/journal/stats');
    assert.ok(stats.body.events >= 8);
    assert.equal(stats.body.by_action.commit, 3);
    assert.equal((await call(srv, 'GET', '/v1/journal/recent?limit=0')).status, 400);
  });

  it('refuses hostile dataset names with 400 and writes nothing outside the data folder', async () => {
    const parent = path.dirname(srv.dir);
    const before = fs.readdirSync(parent).sort();
    const names = ['../etc', 'a/b', '..', 'UPPER', '9lives', 'x'.repeat(10000), 'nul\u0000byte', 'caf\u00e9', 'ｗｏｒｋｅｒｓ', 'bidi\u202etxt', '', 'with space', 'dash-ed'];
    for (const name of names) {
      const r = await call(srv, 'POST', '/v1/catalog/datasets', { name });
      assert.equal(r.status, 400, `${JSON.stringify(name).slice(0, 40)} -> ${r.status}`);
      assert.equal(r.body.error.code, 'bad_request');
    }
    for (const p of ['..%2F..%2Fetc', '%2e%2e', 'a%00b', 'caf%C3%A9', 'x'.repeat(5000)]) {
      // raw: fetch() would normalise %2e%2e away before sending
      const raw = await rawRequest(srv.port, [`GET /v1/catalog/datasets/${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
      assert.match(raw, /^HTTP\/1\.1 400 /, p.slice(0, 40));
    }
    for (const key of ['../../escape', '/etc/passwd', 'a/../../b', '_catalog/names/evil', 'ok\u202egnp.exe']) {
      const r = await fetch(`${srv.url}/v1/storage/buckets/local/object?key=${encodeURIComponent(key)}`, { method: 'PUT', body: 'x' });
      assert.ok([400, 403].includes(r.status), `${key} -> ${r.status}`);
    }
    assert.deepEqual(fs.readdirSync(parent).sort(), before);
    assert.ok(!listTree(srv.dir).some((p) => /escape|evil|passwd/.test(p)));
  });

  it('purges only unreferenced, old data files, and reports first on a dry run', async () => {
    const dataDir = path.join(srv.dir, 'local', 'datasets', 'workers', 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    const orphan = path.join(dataDir, 'orphan.parquet');
    const young = path.join(dataDir, 'young.parquet');
    const kept = path.join(dataDir, 'a.parquet'); // referenced by version 2
    for (const f of [orphan, young, kept]) fs.writeFileSync(f, 'x'.repeat(10));
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    fs.utimesSync(orphan, old, old);
    fs.utimesSync(kept, old, old);
    let r = await call(srv, 'POST', '/v1/catalog/purge', { dry_run: true });
    assert.deepEqual(r.body.removed.map((x) => x.key), ['datasets/workers/data/orphan.parquet']);
    assert.ok(fs.existsSync(orphan));
    r = await call(srv, 'POST', '/v1/catalog/purge', {});
    assert.equal(r.body.dry_run, false);
    assert.ok(!fs.existsSync(orphan));
    assert.ok(fs.existsSync(young) && fs.existsSync(kept));
  });

  it('rebuilds the same catalog from storage alone', async () => {
    const before = await call(srv, 'GET', '/v1/catalog/datasets/workers/versions');
    const r = await call(srv, 'POST', '/v1/catalog/rebuild');
    assert.equal(r.status, 200);
    assert.equal(r.body.skipped.length, 0);
    const afterwards = await call(srv, 'GET', '/v1/catalog/datasets/workers/versions');
    assert.deepEqual(afterwards.body, before.body);
  });
});

describe('catalog from the CLI', () => {
  it('sees what the server wrote, after every local cache is gone', async () => {
    const srv = await startServer();
    await call(srv, 'POST', '/v1/catalog/datasets', { name: 'clients' });
    await call(srv, 'POST', '/v1/catalog/datasets/clients/commits', { objects: [object(srv.dir, 'datasets/clients/data/x', 3, 'e')] });
    await srv.stop();
    fs.rmSync(path.join(srv.dir, '_wal'), { recursive: true, force: true });
    const list = run(['catalog', 'list', '--json', '--data', srv.dir, '--log-level', 'warn']);
    assert.equal(list.status, 0, list.stderr);
    const { datasets } = JSON.parse(list.stdout);
    assert.deepEqual(datasets.map((d) => [d.name, d.version, d.row_count]), [['clients', 2, 3]]);
    const rb = run(['catalog', 'rollback', 'clients', '1', '--actor', 'bob', '--json', '--data', srv.dir, '--log-level', 'warn']);
    assert.equal(rb.status, 0, rb.stderr);
    assert.equal(JSON.parse(rb.stdout).author, 'bob');
    const bad = run(['catalog', 'create', '../x', '--data', srv.dir]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /dataset name/);
    const missing = run(['catalog', 'show', 'nope', '--data', srv.dir, '--log-level', 'warn']);
    assert.equal(missing.status, 3);
    const hist = run(['journal', 'history', 'clients', '--json', '--data', srv.dir, '--log-level', 'warn']);
    assert.deepEqual(JSON.parse(hist.stdout).events.map((e) => e.action), ['rollback', 'commit', 'create']);
    // on a terminal or not, the default is a table
    const table = run(['catalog', 'list', '--data', srv.dir, '--log-level', 'warn']);
    assert.match(table.stdout, /^NAME\s+BUCKET\s+VERSION\s+ROW_COUNT/);
    assert.match(table.stdout, /\nclients\s+local\s+3\s+0/);
  });
});
