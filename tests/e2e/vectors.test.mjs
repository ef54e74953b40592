// vectors.test.mjs — vector indexes end to end: built from an ingested
// dataset, searched, grown, shrunk, promoted and rolled back over HTTP; the
// live version survives a restart and is picked up by another process; a
// damaged index file is refused with a clear error and rebuilt from its
// embeddings Parquet; indexes in an S3 bucket are mapped from the local cache.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { json, run, s3Args, startServer, tempDir } from './harness.mjs';

const DIM = 8;

// Deterministic vectors: doc i's embedding.
function embedding(i) {
  const v = [];
  let s = (i + 1) * 2654435761;
  for (let d = 0; d < DIM; d++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    v.push(Math.round((s / 2147483648 - 0.5) * 1e6) / 1e6);
  }
  return v;
}

function writeDocs(dir, n, { idOf = (i) => i, file = 'docs.ndjson', vecOf = embedding } = {}) {
  const p = path.join(dir, file);
  const lines = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ doc: idOf(i), title: `doc ${i}`, embedding: vecOf(i) }));
  fs.writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await json(res) };
}

const ids = (r) => r.body.hits.map((h) => h.id);

describe('vector indexes over HTTP', () => {
  it('are built from a dataset, searched, grown, shrunk, swapped, rolled back and journaled', async () => {
    const dir = tempDir();
    let r = run(['ingest', writeDocs(dir, 500), '--dataset', 'docs', '--data', dir, '--log-level', 'warn']);
    assert.equal(r.status, 0, r.stderr);
    let srv = await startServer({ dataDir: dir });
    const base = `${srv.url}/v1/vectors/indexes`;
    try {
      let c = await post(base, { name: 'docs_idx', dataset: 'docs', id_column: 'doc', vector_column: 'embedding', metric: 'l2' });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      assert.equal(c.body.version, 1);
      assert.equal(c.body.count, 500);
      assert.equal(c.body.dim, DIM);
      assert.equal(c.body.id_type, 'integer');
      assert.equal(c.body.origin.dataset, 'docs');
      assert.match(c.body.file.key, /^_vectors\/docs_idx\/v00000001\/index-[0-9a-f]{16}\.hnsw$/);
      assert.match(c.body.objects[0].key, /^_vectors\/docs_idx\/v00000001\/embeddings-[0-9a-f]{16}\.parquet$/);
      assert.ok(fs.existsSync(path.join(dir, 'local', c.body.file.key)));
      assert.ok(fs.existsSync(path.join(dir, 'local', '_catalog', 'indexes', 'docs_idx', 'v00000001.json')));
      // the embeddings are Parquet in the store, which user SQL cannot read by path (issue 11)
      assert.ok(fs.statSync(path.join(dir, 'local', c.body.objects[0].key)).size > 0);
      r = run(['sql', '--data', dir, '--format', 'csv', '--log-level', 'warn',
        `SELECT count(*) AS n, min(len(vector)) AS d FROM read_parquet('${path.join(dir, 'local', c.body.objects[0].key)}')`]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /reads datasets, not files/);
      // a second create of the same name is refused
      assert.equal((await post(base, { name: 'docs_idx', dataset: 'docs', id_column: 'doc', vector_column: 'embedding' })).status, 409);

      // search: a stored vector finds itself first
      let s = await post(`${base}/docs_idx/search`, { vector: embedding(42), k: 5 });
      assert.equal(s.status, 200, JSON.stringify(s.body));
      assert.equal(s.body.version, 1);
      assert.equal(s.body.hits.length, 5);
      assert.equal(s.body.hits[0].id, 42);
      assert.equal(s.body.hits[0].distance, 0);
      // filtered: exactly k from the allow-list (unknown ids match nothing)
      s = await post(`${base}/docs_idx/search`, { vector: embedding(42), k: 3, filter_ids: [7, 8, 9, 10, 123456] });
      assert.equal(s.body.hits.length, 3);
      for (const id of ids(s)) assert.ok([7, 8, 9, 10].includes(id));
      s = await post(`${base}/docs_idx/search`, { vector: embedding(42), k: 3, filter_ids: [9] });
      assert.deepEqual(ids(s), [9]);
      // bad searches are 4xx with a reason
      for (const [body, status, re] of [
        [{ vector: [1, 2] }, 400, /8/],
        [{ vector: embedding(1), k: 0 }, 400, /"k"/],
        [{ vector: embedding(1), k: 1001 }, 400, /"k"/],
        [{ vector: 'x' }, 400, /vector/],
        [{ vector: embedding(1), filter_ids: ['a'] }, 400, /integers/],
        [{ vector: embedding(1), filter_ids: 5 }, 400, /filter_ids/],
      ]) {
        const b = await post(`${base}/docs_idx/search`, body);
        assert.equal(b.status, status, JSON.stringify(body));
        assert.match(b.body.error.message, re);
      }
      assert.equal((await post(`${base}/nope/search`, { vector: embedding(1) })).status, 404);
      const notJson = await fetch(`${base}/docs_idx/search`, { method: 'POST', body: '{"vector": [' });
      assert.equal(notJson.status, 400);

      // add: version 2, live at once
      const added = embedding(9999).map((x) => x + 3);
      let a = await post(`${base}/docs_idx/vectors`, { vectors: [{ id: 10000, vector: added }], message: 'one more' });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      assert.equal(a.body.version, 2);
      assert.equal(a.body.parent, 1);
      assert.equal(a.body.count, 501);
      assert.equal(a.body.objects.length, 2);
      s = await post(`${base}/docs_idx/search`, { vector: added, k: 1 });
      assert.deepEqual([s.body.version, ids(s)], [2, [10000]]);
      // ids stay unique; dimensions must match
      a = await post(`${base}/docs_idx/vectors`, { vectors: [{ id: 42, vector: added }] });
      assert.equal(a.status, 409);
      assert.match(a.body.error.message, /42 appears twice/);
      a = await post(`${base}/docs_idx/vectors`, { vectors: [{ id: 20000, vector: [1, 2, 3] }] });
      assert.equal(a.status, 400);
      a = await post(`${base}/docs_idx/vectors`, { vectors: [{ id: 20000, vector: added.map(() => 1e39) }] });
      assert.equal(a.status, 400);
      a = await post(`${base}/docs_idx/vectors`, { vectors: [] });
      assert.equal(a.status, 400);

      // delete: version 3 no longer returns it
      let d = await post(`${base}/docs_idx/vectors/delete`, { ids: [10000] });
      assert.equal(d.status, 201, JSON.stringify(d.body));
      assert.deepEqual([d.body.version, d.body.count, d.body.deleted], [3, 500, [10000]]);
      s = await post(`${base}/docs_idx/search`, { vector: added, k: 1 });
      assert.notDeepEqual(ids(s), [10000]);
      assert.equal((await post(`${base}/docs_idx/vectors/delete`, { ids: [777777] })).status, 404);

      // rollback (to the previously live version), then promote forward again
      let rb = await post(`${base}/docs_idx/rollback`);
      assert.equal(rb.status, 200, JSON.stringify(rb.body));
      assert.deepEqual([rb.body.action, rb.body.version, rb.body.previous], ['rollback', 2, 3]);
      s = await post(`${base}/docs_idx/search`, { vector: added, k: 1 });
      assert.deepEqual([s.body.version, ids(s)], [2, [10000]]);
      assert.equal((await post(`${base}/docs_idx/rollback`, { version: 2 })).status, 409); // already live
      assert.equal((await post(`${base}/docs_idx/promote`, { version: 9 })).status, 404);
      assert.equal((await post(`${base}/docs_idx/promote`, {})).status, 400);
      let p = await post(`${base}/docs_idx/promote`, { version: 3, message: 'forward again' });
      assert.equal(p.status, 200);
      assert.equal(p.body.seq, 5);
      const h = await json(await fetch(`${base}/docs_idx/history`));
      assert.equal(h.live, 3);
      assert.deepEqual(h.promotions.map((x) => [x.action, x.version]),
        [['promote', 1], ['promote', 2], ['promote', 3], ['rollback', 2], ['promote', 3]]);
      assert.deepEqual(h.versions.map((x) => x.operation), ['create', 'add', 'delete']);
      const list = await json(await fetch(base));
      assert.deepEqual(list.indexes, [{ name: 'docs_idx', live: 3, versions: 3, count: 500 }]);

      // every change is in the mutation journal
      await fetch(`${srv.url}/v1/journal/flush`, { method: 'POST' });
      const events = await json(await fetch(`${srv.url}/v1/journal/history/docs_idx?limit=50`));
      const actions = events.events.filter((e) => e.entity_type === 'vector_index').map((e) => e.action).reverse();
      assert.deepEqual(actions, ['create', 'promote', 'add', 'promote', 'delete', 'promote', 'rollback', 'promote']);
    } finally {
      await srv.stop();
    }

    // a restart serves the same live version, mapped from its file
    srv = await startServer({ dataDir: dir });
    try {
      let s = await post(`${srv.url}/v1/vectors/indexes/docs_idx/search`, { vector: embedding(42), k: 1 });
      assert.deepEqual([s.body.version, ids(s)], [3, [42]]);
      const info = await json(await fetch(`${srv.url}/v1/vectors/indexes/docs_idx`));
      assert.equal(info.live, 3);
      assert.equal(info.memory.mapped, true);
      // another process (a replica, here the CLI) rebuilds and promotes; this
      // server notices within its refresh interval
      const rb = run(['index', 'rebuild', 'docs_idx', '--quantization', 'sq8', '--json', '--data', dir, '--log-level', 'warn']);
      assert.equal(rb.status, 0, rb.stderr);
      const m = JSON.parse(rb.stdout);
      assert.deepEqual([m.version, m.operation, m.rebuilt_from, m.params.quantization, m.count], [4, 'rebuild', 3, 'sq8', 500]);
      let seen = 0;
      for (let i = 0; i < 50 && seen !== 4; i++) {
        await new Promise((res) => setTimeout(res, 100));
        s = await post(`${srv.url}/v1/vectors/indexes/docs_idx/search`, { vector: embedding(42), k: 1 });
        seen = s.body.version;
      }
      assert.equal(seen, 4);
      assert.deepEqual(ids(s), [42]);
    } finally {
      await srv.stop();
    }

    // a damaged index file is a clear error that names the way out
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'local', '_catalog', 'indexes', 'docs_idx', 'v00000004.json')));
    const file = path.join(dir, 'local', manifest.file.key);
    const bytes = fs.readFileSync(file);
    bytes[40] ^= 0xff;
    fs.writeFileSync(file, bytes);
    r = run(['index', 'search', 'docs_idx', '--data', dir, '--log-level', 'warn', '--', ...embedding(42).map(String)]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /not a usable index file: header checksum mismatch/);
    assert.match(r.stderr, /lakehouse index rebuild docs_idx --version 4/);
    r = run(['index', 'rebuild', 'docs_idx', '--version', '4', '--data', dir, '--log-level', 'warn']);
    assert.equal(r.status, 0, r.stderr);
    r = run(['index', 'search', 'docs_idx', '--k', '2', '--json', '--data', dir, '--log-level', 'warn', '--', ...embedding(42).map(String)]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.version, out.hits.length, out.hits[0].id], [5, 2, 42]);
    r = run(['index', 'history', 'docs_idx', '--json', '--data', dir, '--log-level', 'warn']);
    assert.deepEqual(JSON.parse(r.stdout).promotions.map((x) => x.version), [1, 2, 3, 2, 3, 4, 5]);
  });

  it('refuse datasets that cannot make an index, with the reason', async () => {
    const dir = tempDir();
    const good = writeDocs(dir, 20, { idOf: (i) => `d${i}` });
    const dup = writeDocs(dir, 20, { idOf: (i) => i % 10, file: 'dup.ndjson' });
    const ragged = writeDocs(dir, 20, { file: 'ragged.ndjson', vecOf: (i) => embedding(i).slice(0, i === 13 ? 5 : DIM) });
    for (const [f, d] of [[good, 'good'], [dup, 'dup'], [ragged, 'ragged']]) {
      const r = run(['ingest', f, '--dataset', d, '--data', dir, '--log-level', 'warn']);
      assert.equal(r.status, 0, r.stderr);
    }
    const srv = await startServer({ dataDir: dir });
    const base = `${srv.url}/v1/vectors/indexes`;
    try {
      const spec = (o) => ({ name: 'x', dataset: 'good', id_column: 'doc', vector_column: 'embedding', ...o });
      for (const [body, status, re] of [
        [{ name: 'x' }, 400, /required/],
        [spec({ name: 'Bad Name' }), 400, /index name/],
        [spec({ dataset: 'nope' }), 404, /nope/],
        [spec({ id_column: 'missing' }), 400, /no column "missing"/],
        [spec({ vector_column: 'title' }), 400, /not a list of numbers/],
        [spec({ metric: 'manhattan' }), 400, /metric/],
        [spec({ M: 1 }), 400, /"M"/],
        [spec({ quantization: 'pq' }), 400, /quantization/],
        [spec({ dataset: 'dup' }), 409, /row 11 \(id 0\).*0 appears twice/],
        [spec({ dataset: 'ragged' }), 400, /row 14 \(id 13\).*5 values where the others have 8/],
      ]) {
        const c = await post(base, body);
        assert.equal(c.status, status, `${JSON.stringify(body)} -> ${JSON.stringify(c.body)}`);
        assert.match(c.body.error.message, re);
      }
      // nothing was left behind by the failures; a good one works with string ids
      assert.deepEqual((await json(await fetch(base))).indexes, []);
      const c = await post(base, spec({ quantization: 'sq8', promote: false }));
      assert.equal(c.status, 201, JSON.stringify(c.body));
      assert.equal(c.body.id_type, 'string');
      // not promoted: no live version until it is
      let s = await post(`${base}/x/search`, { vector: embedding(3) });
      assert.equal(s.status, 404);
      assert.match(s.body.error.message, /no live version/);
      assert.equal((await post(`${base}/x/promote`, { version: 1 })).status, 200);
      s = await post(`${base}/x/search`, { vector: embedding(3), k: 2, filter_ids: ['d3', 'd4'] });
      assert.deepEqual(ids(s), ['d3', 'd4']);
    } finally {
      await srv.stop();
    }
  });
});

describe('vector indexes in an S3 bucket', () => {
  it('are stored next to their embeddings and mapped from the local cache', () => {
    const endpoint = process.env.LH_TEST_S3_ENDPOINT;
    assert.ok(endpoint, 'run under scripts/with-s3rver');
    const dir = tempDir();
    const s3 = [
      ...s3Args('remote', endpoint, `vec-${process.pid}-${Date.now()}/`),
      '--data', dir, '--log-level', 'warn',
    ];
    let r = run(['ingest', writeDocs(dir, 300), '--dataset', 'docs', ...s3]);
    assert.equal(r.status, 0, r.stderr);
    r = run(['index', 'create', 'docs_idx', '--dataset', 'docs', '--id', 'doc', '--vector', 'embedding', '--metric', 'l2', '--json', ...s3]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).file.bucket, 'remote');
    assert.ok(!fs.existsSync(path.join(dir, 'local')), 'nothing lives in a local bucket');
    const search = ['index', 'search', 'docs_idx', '--k', '1', '--json', ...s3, '--', ...embedding(77).map(String)];
    r = run(search);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).hits[0].id, 77);
    fs.rmSync(path.join(dir, '_cache'), { recursive: true });
    r = run(search);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).hits[0].id, 77); // refilled from the bucket
    r = run(['index', 'list', ...s3]);
    assert.match(r.stdout, /docs_idx\s+1\s+1\s+300/);
  });
});
