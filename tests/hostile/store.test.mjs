// store.test.mjs — hostile input against the store and the catalog (issue 11,
// "Store and catalog"): each probe that once broke something, replayed against
// a real server, with the safe outcome asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { json, run, startServer, tempDir } from '../e2e/harness.mjs';

const post = (url, body, headers = {}) =>
  fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers });

async function ingest(srv, dataset, filename, body, query = '') {
  const r = await post(`${srv.url}/v1/ingest?dataset=${dataset}&filename=${filename}${query}`, body);
  return { status: r.status, body: await json(r) };
}

test('commits are validated: objects exist in the dataset\'s own prefix and bucket, sizes and hashes match', { timeout: 60000 }, async () => {
  const srv = await startServer();
  try {
    assert.equal((await ingest(srv, 'good', 'a.csv', 'id,name\n1,a\n2,b\n')).status, 201);
    const m = await json(await fetch(`${srv.url}/v1/catalog/datasets/good`));
    const real = (m.manifest ?? m).objects[0];
    assert.ok(real && real.key, JSON.stringify(m));
    const fake = '0'.repeat(64);
    const bad = [
      { ...real, bucket: 'elsewhere' },
      { ...real, key: '_catalog/datasets/good/v1.json' },
      { ...real, key: 'datasets/other/data/x.parquet' },
      { ...real, key: 'datasets/good/data/missing.parquet' },
      { ...real, size: real.size + 1 },
      { ...real, sha256: fake },
    ];
    for (const o of bad) {
      const r = await post(`${srv.url}/v1/catalog/datasets/good/commits`, { objects: [o] });
      const body = await json(r);
      assert.equal(r.status, 400, `${JSON.stringify(o)} → ${JSON.stringify(body)}`);
      assert.equal(body.error.code, 'bad_request');
    }
    // a true object commits, and the dataset stays readable throughout
    const ok = await post(`${srv.url}/v1/catalog/datasets/good/commits`, { objects: [real] });
    assert.equal(ok.status, 201, JSON.stringify(await json(ok)));
    const q = await post(`${srv.url}/v1/sql`, { sql: 'SELECT count(*) AS n FROM good' });
    assert.equal(q.status, 200);
  } finally {
    await srv.stop();
  }
});

test('an invalid commit body says what is wrong once, without garbling', { timeout: 30000 }, async () => {
  const srv = await startServer();
  try {
    await post(`${srv.url}/v1/catalog/datasets`, { name: 'c' });
    const r = await post(`${srv.url}/v1/catalog/datasets/c/commits`, { objects: [{ bucket: 'local', key: 'datasets/c/data/x.parquet' }] });
    const body = await json(r);
    assert.equal(r.status, 400);
    const msg = body.error.message;
    assert.equal(msg.split('refusing to write an invalid manifest').length - 1 <= 1, true, msg);
    assert.match(msg, /needs bucket, key, size, sha256 \(hex\) and rows/);
  } finally {
    await srv.stop();
  }
});

test('a failed CSV ingest leaves nothing behind for the next one', { timeout: 60000 }, async () => {
  const srv = await startServer();
  try {
    // ragged rows and a quote left open: the refusal that once left DuckDB's reject table behind
    const ragged = 'a,b,c\n1,2\n3,4,5,6\n"x\n';
    const r1 = await ingest(srv, 'ragged', 'ragged.csv', ragged);
    assert.equal(r1.status, 400, JSON.stringify(r1.body));
    for (let i = 0; i < 3; i++) {
      const r2 = await ingest(srv, `clean${i}`, 'clean.csv', 'x,y\n1,2\n3,4\n');
      assert.equal(r2.status, 201, JSON.stringify(r2.body));
      const r3 = await ingest(srv, `skip${i}`, 'clean.csv', 'x,y\n1,2\n3,4\n', '&skip_bad_rows=true');
      assert.equal(r3.status, 201, JSON.stringify(r3.body));
      assert.doesNotMatch(JSON.stringify(r3.body), /ragged/);
      const m = await json(await fetch(`${srv.url}/v1/catalog/datasets/skip${i}`));
      assert.doesNotMatch(JSON.stringify(m), /ragged/);
      await ingest(srv, 'ragged', 'ragged.csv', ragged);
    }
  } finally {
    await srv.stop();
  }
});

test('JSON nested 10,000 deep is a clear 400, for the CLI and the server', { timeout: 60000 }, async () => {
  const depth = 10000;
  const deep = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const arr = '['.repeat(depth) + ']'.repeat(depth);
  const dir = tempDir();
  const file = path.join(dir, 'deep.json');
  fs.writeFileSync(file, deep);
  const cli = run(['ingest', '--data', path.join(dir, 'data'), '--dataset', 'deep', file]);
  assert.equal(cli.signal, null, cli.stderr);
  assert.equal(cli.status, 2, cli.stderr);
  assert.match(cli.stderr, /nest/i);
  const srv = await startServer();
  try {
    for (const body of [deep, arr, `[${deep}]`]) {
      const r = await ingest(srv, 'deep', 'deep.json', body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error.message, /nest/i);
    }
    // request bodies parsed by the server
    const c = await post(`${srv.url}/v1/catalog/datasets`, deep);
    assert.equal(c.status, 400);
    const h = await fetch(`${srv.url}/health`);
    assert.equal(h.status, 200);
  } finally {
    await srv.stop();
  }
});

test('temp files of killed processes are swept at start-up, a live process\'s are not', { timeout: 60000 }, async () => {
  const dir = tempDir();
  let srv = await startServer({ dataDir: dir });
  await srv.stop('SIGKILL');
  // what a SIGKILL during an upload, a conversion and a bucket write leaves
  const deadPid = 4194000;
  const tmp = path.join(dir, '_tmp');
  const stale = [
    path.join(tmp, 'upload-c6a305f900000002-0'),
    path.join(tmp, `ingest-${deadPid}-3-0.parquet`),
    path.join(dir, 'local', '.lh-tmp', `${deadPid}-00000000deadbeef`),
  ];
  for (const f of stale) {
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, 'half');
  }
  srv = await startServer({ dataDir: dir });
  try {
    for (const f of stale) assert.equal(fs.existsSync(f), false, f);
    // a second process on the same folder leaves the live server's fresh files alone
    const live = path.join(tmp, 'upload-ffffffff00000001-0');
    fs.writeFileSync(live, 'in flight');
    const cli = run(['catalog', 'list', '--data', dir, '--log-level', 'warn']);
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(fs.existsSync(live), true);
    fs.writeFileSync(stale[1], 'half');
    run(['catalog', 'list', '--data', dir, '--log-level', 'warn']);
    assert.equal(fs.existsSync(stale[1]), false, 'a dead pid\'s file goes even while others run');
  } finally {
    await srv.stop();
  }
});

test('a corrupt Parquet file or manifest: 500 corrupt without server paths, older versions readable, /health degraded', { timeout: 60000 }, async () => {
  let srv = await startServer();
  const sql = async (s, q) => {
    const r = await post(`${s.url}/v1/sql`, { sql: q });
    return { status: r.status, body: await json(r) };
  };
  try {
    assert.equal((await ingest(srv, 'd', 'a.csv', 'id,n\n1,a\n')).status, 201);
    assert.equal((await ingest(srv, 'd', 'b.csv', 'id,n\n2,b\n')).status, 201);
    assert.equal((await ingest(srv, 'e', 'b.csv', 'id,n\n2,b\n')).status, 201);
    assert.equal((await json(await fetch(`${srv.url}/health`))).status, 'ok');
    const head = await json(await fetch(`${srv.url}/v1/catalog/datasets/d`));
    fs.writeFileSync(path.join(srv.dir, 'local', head.objects[1].key), 'PAR1garbage');
    const broken = await sql(srv, 'SELECT count(*) FROM d');
    assert.equal(broken.status, 500, JSON.stringify(broken.body));
    assert.equal(broken.body.error.code, 'corrupt');
    assert.ok(!broken.body.error.message.includes(srv.dir), broken.body.error.message);
    assert.match(broken.body.error.message, /local\/datasets\/d\/data\//);
    assert.deepEqual((await sql(srv, "SELECT count(*) FROM lh_version('d', 2)")).body.rows, [[1]]);
    // streamed: the failure may come after the first rows, as a last line; scrubbed all the same
    for (const format of ['ndjson', 'csv', 'json']) {
      const r = await post(`${srv.url}/v1/sql`, { sql: 'SELECT * FROM d ORDER BY id', format });
      const text = await r.text().catch((e) => String(e));
      assert.ok(r.status === 500 || /corrupt|"error"/.test(text) || format === 'csv', `${format}: ${r.status} ${text}`);
      assert.ok(!text.includes(srv.dir), `${format}: ${text}`);
    }
    const health = await json(await fetch(`${srv.url}/health`));
    assert.equal(health.status, 'degraded');
    assert.equal(health.modules.catalog.corrupt[0].dataset, 'd');
  } finally {
    await srv.stop();
  }
  // a torn newest manifest, found at the next start
  const vdir = path.join(srv.dir, 'local', '_catalog', 'datasets', 'e');
  fs.writeFileSync(path.join(vdir, 'v00000002.json'), '{"format":1,"data');
  srv = await startServer({ dataDir: srv.dir });
  try {
    const r = await fetch(`${srv.url}/v1/catalog/datasets/e`);
    const body = await json(r);
    assert.equal(r.status, 500);
    assert.equal(body.error.code, 'corrupt');
    assert.ok(!body.error.message.includes(srv.dir));
    assert.equal((await fetch(`${srv.url}/v1/catalog/datasets/e/versions/1`)).status, 200);
    assert.equal((await fetch(`${srv.url}/v1/catalog/datasets/e/versions`)).status, 200);
    assert.deepEqual((await sql(srv, "SELECT count(*) FROM lh_version('e', 1)")).body.rows, [[0]]);
    const health = await json(await fetch(`${srv.url}/health`));
    assert.equal(health.status, 'degraded');
    assert.match(JSON.stringify(health.modules.catalog.corrupt), /v00000002\.json/);
  } finally {
    await srv.stop();
  }
});

test('an error journal that cannot flush neither records its own failure nor grows a write-ahead file per attempt', { timeout: 60000 }, async () => {
  const dir = tempDir();
  // a file where the error journal's folder should be (what a raw PUT of "_errors" once did)
  fs.mkdirSync(path.join(dir, 'local'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'local', '_errors'), 'x');
  const srv = await startServer({ dataDir: dir, args: ['--set', 'journal.flush_ms=50'] });
  try {
    // a failure to record: a refused ingest
    const bad = await ingest(srv, 'bad', 'bad.json', '{"a":');
    assert.equal(bad.status, 400);
    await new Promise((r) => setTimeout(r, 3000));
    const wals = fs.readdirSync(path.join(dir, '_wal')).filter((f) => f.startsWith('errors-'));
    assert.ok(wals.length <= 2, `error journal write-ahead files: ${wals.join(' ')}`);
    const errors = await json(await fetch(`${srv.url}/v1/errors?limit=100`));
    assert.ok(errors.errors.length <= 2, JSON.stringify(errors.errors.map((e) => e.error)));
    assert.ok(!errors.errors.some((e) => /_errors\//.test(e.key ?? '')), 'recorded its own failure');
  } finally {
    await srv.stop();
  }
});
