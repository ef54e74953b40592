// sql.test.mjs — ingest and SQL over HTTP and the CLI: uploads (multipart and
// raw), formats, streaming, limits, timeouts, errors with positions, and every
// sandbox escape we know of, each refused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { json, run, s3Args, startServer, tempDir } from './harness.mjs';

async function sql(srv, body) {
  const res = await fetch(`${srv.url}/v1/sql`, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, body: text.startsWith('{') && !body.format ? JSON.parse(text) : null, headers: res.headers };
}

function rssKb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]);
}

describe('ingest and SQL over HTTP', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--set', 'ingest.max_upload_bytes=64KiB'] });
  });
  after(async () => {
    assert.equal((await srv.stop()).code, 0);
  });

  it('ingests a multipart upload and a raw body', async () => {
    const form = new FormData();
    form.append('dataset', 'workers');
    form.append('file', new Blob(['worker_id,name,city\n1,Ann Lee,Chicago\n2,Bo Li,Denver\n']), 'w1.csv');
    let res = await fetch(`${srv.url}/v1/ingest`, { method: 'POST', body: form, headers: { 'X-Lakehouse-Actor': 'ops' } });
    assert.equal(res.status, 201);
    let report = await json(res);
    assert.equal(report.version, 2);
    assert.equal(report.sources[0].rows, 2);
    res = await fetch(`${srv.url}/v1/ingest?dataset=workers&filename=w2.ndjson`, {
      method: 'POST',
      body: '{"worker_id":3,"name":"Cy Young","city":"Chicago","shift":"night"}\n',
    });
    assert.equal(res.status, 201);
    report = await json(res);
    assert.equal(report.version, 3);
    assert.deepEqual(report.schema_changes.map((c) => [c.column, c.change]), [['shift', 'added']]);
    // the same bytes again: 200, no version
    res = await fetch(`${srv.url}/v1/ingest?dataset=workers&filename=again.ndjson`, {
      method: 'POST',
      body: '{"worker_id":3,"name":"Cy Young","city":"Chicago","shift":"night"}\n',
    });
    assert.equal(res.status, 200);
    assert.equal((await json(res)).sources[0].status, 'already_ingested');
  });

  it('refuses bad ingests clearly and records them', async () => {
    let res = await fetch(`${srv.url}/v1/ingest?dataset=workers&filename=bad.json`, { method: 'POST', body: '[{"a":' });
    assert.equal(res.status, 400);
    assert.match((await json(res)).error.message, /bad\.json/);
    res = await fetch(`${srv.url}/v1/ingest?dataset=Bad-Name&filename=x.csv`, { method: 'POST', body: 'a\n1\n' });
    assert.equal(res.status, 400);
    res = await fetch(`${srv.url}/v1/ingest?filename=x.csv`, { method: 'POST', body: 'a\n1\n' });
    assert.equal(res.status, 400);
    res = await fetch(`${srv.url}/v1/ingest?dataset=big&filename=big.csv`, { method: 'POST', body: 'x'.repeat(100 * 1024) });
    assert.equal(res.status, 413);
    const errors = await json(await fetch(`${srv.url}/v1/errors`));
    assert.ok(errors.errors.some((e) => e.operation === 'ingest' && /bad\.json/.test(e.error)));
    const v = await json(await fetch(`${srv.url}/v1/catalog/datasets/workers`));
    assert.equal(v.version, 3);
    assert.equal(fs.readdirSync(path.join(srv.dir, '_tmp')).filter((f) => f !== '.live').length, 0, 'no temp file left (.live: the start-up sweep\'s lock)');
  });

  it('answers JSON with column names and types', async () => {
    const r = await sql(srv, { sql: 'SELECT city, count(*) AS n FROM workers GROUP BY 1 ORDER BY 1' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.columns, [{ name: 'city', type: 'VARCHAR' }, { name: 'n', type: 'BIGINT' }]);
    assert.deepEqual(r.body.rows, [['Chicago', 2], ['Denver', 1]]);
    assert.equal(r.body.truncated, false);
    assert.ok(r.body.elapsed_ms >= 0);
  });

  it('binds parameters and reads any version with lh_version', async () => {
    let r = await sql(srv, { sql: 'SELECT name FROM workers WHERE worker_id = $1', params: [3] });
    assert.deepEqual(r.body.rows, [['Cy Young']]);
    r = await sql(srv, { sql: "SELECT count(*) AS n, count(*) FILTER (WHERE shift IS NULL) AS old FROM workers" });
    assert.deepEqual(r.body.rows, [[3, 2]]);
    r = await sql(srv, { sql: "SELECT * FROM lh_version('workers', 2) ORDER BY worker_id" });
    assert.deepEqual(r.body.columns.map((c) => c.name), ['worker_id', 'name', 'city']); // the old schema
    assert.equal(r.body.row_count, 2);
    r = await sql(srv, { sql: "SELECT * FROM lh_version('workers', 9)" });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /workers has no version 9/);
    r = await sql(srv, { sql: 'SELECT 1', params: [1] });
    assert.equal(r.status, 400);
  });

  it('reads old versions with dataset_version(name, N), the same as the older spellings', async () => {
    const want = (await sql(srv, { sql: "SELECT * FROM lh_version('workers', 2) ORDER BY worker_id" })).body.rows;
    assert.equal(want.length, 2);
    for (const q of ["SELECT * FROM dataset_version('workers', 2) ORDER BY worker_id",
      'SELECT * FROM "workers@2" ORDER BY worker_id']) {
      const r = await sql(srv, { sql: q });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.rows, want, q);
    }
    const r = await sql(srv, { sql: "SELECT * FROM dataset_version('workers', 9)" });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /workers has no version 9/);
    const cli = run(['sql', '--format', 'csv', '--data', srv.dir, '--log-level', 'warn',
      "SELECT count(*) AS n FROM dataset_version('workers', 2)"]);
    assert.equal(cli.stdout, 'n\r\n2\r\n', cli.stderr);
  });

  it('refuses writes to datasets as read-only (403), even when the name is no DuckDB table', async () => {
    for (const stmt of ['DROP TABLE workers', "INSERT INTO workers VALUES (9, 'x', 'y', 'z')", 'DELETE FROM workers',
      "UPDATE workers SET name = 'x'", 'ALTER TABLE workers ADD COLUMN x INT', 'TRUNCATE workers',
      'EXPLAIN ANALYZE CREATE TABLE workers AS SELECT 1 AS evil']) {
      const r = await sql(srv, { sql: stmt });
      assert.equal(r.status, 403, `${stmt} -> ${r.status} ${r.text}`);
      assert.equal(r.body.error.code, 'forbidden');
      assert.match(r.body.error.message, /read-only/);
      assert.doesNotMatch(r.body.error.message, /does not exist/);
    }
    const r = await sql(srv, { sql: 'SELECT count(*) AS n FROM workers' });
    assert.deepEqual(r.body.columns.map((c) => c.name), ['n']);
    assert.ok(r.body.rows[0][0] >= 2, 'workers is still the dataset');
  });

  it('lists datasets in SHOW TABLES, DESCRIBE and information_schema, as they come and go', async () => {
    const tables = async () => (await sql(srv, { sql: 'SHOW TABLES' })).body.rows.map((x) => x[0]);
    assert.deepEqual(await tables(), ['workers']);
    let res = await fetch(`${srv.url}/v1/ingest?dataset=later&filename=later.csv`, { method: 'POST', body: 'k,v\n1,0.5\n' });
    assert.equal(res.status, 201);
    assert.deepEqual(await tables(), ['later', 'workers']);
    let r = await sql(srv, { sql: "SELECT table_name, table_type FROM information_schema.tables ORDER BY 1" });
    assert.deepEqual(r.body.rows, [['later', 'VIEW'], ['workers', 'VIEW']]);
    r = await sql(srv, { sql: "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'later' ORDER BY ordinal_position" });
    assert.deepEqual(r.body.rows, [['k', 'BIGINT'], ['v', 'DOUBLE']]);
    r = await sql(srv, { sql: 'DESCRIBE workers' });
    assert.deepEqual(r.body.rows.map((x) => x[0]), ['worker_id', 'name', 'city', 'shift']);
    // data and catalog in one statement: the data is the dataset's
    r = await sql(srv, { sql: "SELECT v, (SELECT count(*) FROM information_schema.tables) AS n FROM later" });
    assert.deepEqual(r.body.rows, [[0.5, 2]]);
    res = await fetch(`${srv.url}/v1/catalog/datasets/later?reason=test`, { method: 'DELETE' });
    assert.ok(res.status < 300, `delete: ${res.status}`);
    assert.deepEqual(await tables(), ['workers']);
    r = await sql(srv, { sql: 'SELECT * FROM later' });
    assert.equal(r.status, 404);
    assert.match(r.body.error.message, /dataset later is deleted \(its versions stay readable with dataset_version\)/);
  });

  it('explains that files come in through ingest', async () => {
    for (const stmt of ["SELECT * FROM 'people.csv'", "SELECT * FROM read_csv('people.csv')",
      `SELECT * FROM read_parquet('${srv.dir}/people.parquet')`]) {
      const r = await sql(srv, { sql: stmt });
      assert.equal(r.status, 403, `${stmt} -> ${r.status} ${r.text}`);
      assert.match(r.body.error.message, /lakehouse ingest/);
      assert.match(r.body.error.message, /POST \/v1\/ingest/);
    }
  });

  it('writes numbers in shortest round-trip form', async () => {
    const r = await sql(srv, { sql: 'SELECT 0.1::DOUBLE AS a, 0.1::DOUBLE + 0.2 AS b, 2::DOUBLE AS c, 1e-7::DOUBLE AS d' });
    assert.match(r.text, /"rows":\[\[0\.1,0\.30000000000000004,2\.0,1e-07\]\]/);
    // a body that jansson builds: the manifest echoes the commit's lineage
    const res = await fetch(`${srv.url}/v1/catalog/datasets/workers/commits`, {
      method: 'POST',
      body: JSON.stringify({ objects: [], lineage: { weight: 0.1, tiny: 1e-7 }, message: 'numbers' }),
    });
    const text = await res.text();
    assert.ok(res.status < 300, text);
    assert.match(text, /"weight":0\.1[,}]/);
    assert.match(text, /"tiny":1e-07[,}]/);
    assert.doesNotMatch(text, /0\.10000000000000001/);
  });

  it('hides tombstoned rows', async () => {
    const res = await fetch(`${srv.url}/v1/catalog/datasets/workers/tombstones`, {
      method: 'POST',
      body: JSON.stringify({ key_column: 'worker_id', values: ['1'], reason: 'erasure' }),
    });
    assert.equal(res.status, 201);
    const r = await sql(srv, { sql: 'SELECT worker_id FROM workers ORDER BY 1' });
    assert.deepEqual(r.body.rows, [[2], [3]]);
    const old = await sql(srv, { sql: "SELECT count(*) FROM lh_version('workers', 3)" });
    assert.deepEqual(old.body.rows, [[3]]);
  });

  it('streams ndjson and csv, and writes parquet', async () => {
    let r = await sql(srv, { sql: 'SELECT i FROM range(3) t(i)', format: 'ndjson' });
    assert.equal(r.headers.get('content-type'), 'application/x-ndjson');
    assert.deepEqual(r.text.trim().split('\n').map(JSON.parse), [{ i: 0 }, { i: 1 }, { i: 2 }]);
    r = await sql(srv, { sql: 'SELECT worker_id, name FROM workers ORDER BY 1', format: 'csv' });
    assert.equal(r.text, 'worker_id,name\r\n2,Bo Li\r\n3,Cy Young\r\n');
    const res = await fetch(`${srv.url}/v1/sql`, { method: 'POST', body: JSON.stringify({ sql: 'SELECT 42 AS answer', format: 'parquet' }) });
    assert.equal(res.status, 200);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(bytes.subarray(0, 4).toString(), 'PAR1');
    assert.equal(bytes.subarray(-4).toString(), 'PAR1');
  });

  it('streams 10 million rows without holding them in memory', async () => {
    const before = rssKb(srv.child.pid);
    const res = await fetch(`${srv.url}/v1/sql`, {
      method: 'POST',
      body: JSON.stringify({ sql: 'SELECT i, i * 2 AS j FROM range(10000000) t(i)', format: 'ndjson', timeout_ms: 120000 }),
    });
    let lines = 0;
    let peak = before;
    let tail = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      const text = tail + decoder.decode(chunk, { stream: true });
      const parts = text.split('\n');
      tail = parts.pop();
      lines += parts.length;
      if (lines % 500000 < 2000) peak = Math.max(peak, rssKb(srv.child.pid));
    }
    assert.equal(lines, 10000000);
    assert.ok(peak - before < 300 * 1024, `server grew by ${(peak - before) / 1024} MiB while streaming`);
  });

  it('caps JSON results at max_rows', async () => {
    const r = await sql(srv, { sql: 'SELECT * FROM range(100)', max_rows: 5 });
    assert.equal(r.body.row_count, 5);
    assert.equal(r.body.truncated, true);
  });

  it('returns 400 with DuckDB\'s message and position for bad SQL', async () => {
    const r = await sql(srv, { sql: 'SELECT nme FROM workers' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /Binder Error: Referenced column "nme" not found/);
    assert.match(r.body.error.message, /LINE 1: SELECT nme FROM workers\n\s+\^/);
    const p = await sql(srv, { sql: 'SELEKT 1' });
    assert.equal(p.status, 400);
    assert.match(p.body.error.message, /syntax error at or near "SELEKT"/);
    for (const bad of [{}, { sql: 42 }, { sql: 'SELECT 1', format: 'xml' }, { sql: 'SELECT 1', max_rows: 0 }, { sql: 'SELECT 1', timeout_ms: -5 }]) {
      const x = await sql(srv, bad);
      assert.equal(x.status, 400, JSON.stringify(bad));
    }
  });

  it('interrupts a query at its deadline with 408', async () => {
    const t0 = Date.now();
    const r = await sql(srv, { sql: 'SELECT count(*) FROM range(1000000000000)', timeout_ms: 300 });
    assert.equal(r.status, 408);
    assert.equal(r.body.error.code, 'timeout');
    assert.ok(Date.now() - t0 < 5000);
    // the server is fine afterwards
    assert.equal((await sql(srv, { sql: 'SELECT 1' })).status, 200);
  });

  it('refuses every sandbox escape', async () => {
    const outside = tempDir('lh-outside-');
    fs.writeFileSync(path.join(outside, 'secret.csv'), 'a\n1\n');
    const escapes = [
      ["SELECT * FROM read_csv('/etc/passwd')", 403],
      [`SELECT * FROM read_csv('${outside}/secret.csv')`, 403],
      [`SELECT * FROM read_csv('${srv.dir}/../${path.basename(outside)}/secret.csv')`, 403],
      [`SELECT * FROM glob('${outside}/*')`, 403],
      ["SELECT * FROM read_text('/etc/hostname')", 403],
      ["ATTACH '/tmp/evil.duckdb' AS evil", 403],
      ["INSTALL httpfs", 403],
      ["LOAD httpfs", 403],
      [`COPY (SELECT 1) TO '${srv.dir}/local/evil.csv'`, 403],
      [`COPY (SELECT 1) TO '/tmp/evil-${process.pid}.csv'`, 403],
      ['SET enable_external_access = true', 403],
      ["SET allowed_directories = ['/']", 403],
      ['SET lock_configuration = false', 403],
      ["PRAGMA enable_profiling", 403],
      ['CREATE TABLE t AS SELECT 1', 403],
      ['CREATE MACRO m() AS 1', 403],
      ['DROP MACRO lh_version', 403],
      ["SELECT * FROM query('CREATE TABLE t AS SELECT 1')", 403],
      ["SELECT * FROM query('COPY (SELECT 1) TO ''/tmp/x.csv''')", 403],
      ['SELECT 1; SELECT 2', 400],
      ["EXPORT DATABASE '/tmp/evil-export'", 403],
    ];
    for (const [stmt, status] of escapes) {
      const r = await sql(srv, { sql: stmt });
      assert.equal(r.status, status, `${stmt} -> ${r.status} ${r.text}`);
    }
    assert.ok(!fs.existsSync(path.join(srv.dir, 'local', 'evil.csv')));
    assert.ok(!fs.existsSync(`/tmp/evil-${process.pid}.csv`));
    assert.ok(!fs.existsSync('/tmp/evil.duckdb'));
    // and what is allowed still works afterwards
    assert.equal((await sql(srv, { sql: 'SELECT count(*) FROM workers' })).status, 200);
    assert.equal((await sql(srv, { sql: 'EXPLAIN SELECT * FROM workers' })).status, 200);
  });
});

describe('the staffing sample', () => {
  it('loads with one command and answers the reference question', () => {
    const dir = tempDir();
    let r = run(['sample', '--rows', '300', '--ingest', '--data', dir, '--log-level', 'warn']);
    assert.equal(r.status, 0, r.stderr);
    for (const t of ['workers', 'clients', 'job_orders', 'placements', 'calls', 'permits']) assert.match(r.stdout, new RegExp(`${t}\\s+version 2`));
    r = run(['sql', '--format', 'csv', '--data', dir, '--log-level', 'warn', 'SELECT city, count(*) AS n FROM workers GROUP BY 1 ORDER BY 1 LIMIT 2']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^city,n\r\n\w+,\d+\r\n\w+,\d+\r\n$/);
    r = run(['sql', '--format', 'json', '--data', dir, '--log-level', 'warn',
      `SELECT count(*) AS expired FROM placements p JOIN permits m USING (worker_id)
        WHERE p.status = 'active' AND m.expires_on < DATE '2026-01-01'`]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).rows[0][0] >= 0);
    // the CLI ingest reports PII and refuses a file that is not there
    r = run(['ingest', path.join(dir, '_sample', 'workers.csv'), '-d', 'workers2', '--data', dir, '--log-level', 'warn']);
    assert.match(r.stdout, /pii columns: first_name last_name email phone/);
    r = run(['ingest', '/no/such.csv', '-d', 'x', '--data', dir, '--log-level', 'warn']);
    assert.equal(r.status, 3);
  });
});

describe('datasets in an S3 bucket', () => {
  it('are queried through a local cache that can be deleted', async () => {
    const endpoint = process.env.LH_TEST_S3_ENDPOINT;
    assert.ok(endpoint, 'run under scripts/with-s3rver');
    const dir = tempDir();
    const s3 = [
      ...s3Args('remote', endpoint, `sql-${process.pid}-${Date.now()}/`),
      '--data', dir, '--log-level', 'warn',
    ];
    const csv = path.join(dir, 'people.csv');
    fs.writeFileSync(csv, 'id,city\n1,Chicago\n2,Denver\n3,Chicago\n');
    let r = run(['ingest', csv, '--dataset', 'people', ...s3]);
    assert.equal(r.status, 0, r.stderr);
    const q = ['sql', '--format', 'csv', ...s3, "SELECT count(*) AS n FROM people WHERE city = 'Chicago'"];
    r = run(q);
    assert.equal(r.stdout, 'n\r\n2\r\n', r.stderr);
    const cache = path.join(dir, '_cache', 'remote');
    assert.ok(fs.existsSync(cache), 'the object was cached');
    assert.ok(!fs.existsSync(path.join(dir, 'remote')), 'nothing of the dataset lives in a local bucket');
    fs.rmSync(path.join(dir, '_cache'), { recursive: true });
    r = run(q);
    assert.equal(r.stdout, 'n\r\n2\r\n', r.stderr); // refilled from the bucket
  });
});
