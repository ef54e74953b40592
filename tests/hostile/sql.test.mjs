// sql.test.mjs — hostile SQL (issue 11): statements that once took the
// machine, ran past their deadline or reached outside the data folder,
// replayed against a real server with the safe outcome asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { json, startServer, tempDir } from '../e2e/harness.mjs';

async function sql(srv, body, headers = {}) {
  const t0 = Date.now();
  const r = await fetch(`${srv.url}/v1/sql`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await r.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: r.status, body: parsed, text, ms: Date.now() - t0, headers: r.headers };
}

// The server's peak resident set, in bytes.
function peakRss(srv) {
  const m = fs.readFileSync(`/proc/${srv.child.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return Number(m[1]) * 1024;
}

const GiB = 1024 ** 3;

test('strings one call would make are refused at once; memory stays under its limit', async () => {
  const srv = await startServer({ args: ['--set', 'query.memory_limit=1GB'] });
  try {
    for (const q of ["SELECT repeat('x', 2000000000)", "SELECT length(repeat('x', 2000000000))",
                     "SELECT lpad('a', 2000000000, 'b')"]) {
      const r = await sql(srv, { sql: q, timeout_ms: 2000 });
      assert.equal(r.status, 400, q);
      assert.match(r.body.error.message, /query\.max_string_length \(65536\)/, q);
      assert.ok(r.ms < 2000, `${q}: ${r.ms} ms`);
    }
    for (const q of ["SELECT length(printf('%1000000000d', 1))", "SELECT printf('%*d', 2000000000, 1)",
                     "SELECT length(format('{:>1000000000}', 'x'))", "SELECT format('{:{}}', 'x', 2000000000)"]) {
      const r = await sql(srv, { sql: q, timeout_ms: 2000 });
      assert.equal(r.status, 400, `${q}: ${r.text.slice(0, 200)}`);
      assert.match(r.body.error.message, /widths of 100000 or more/, q);
      assert.ok(r.ms < 2000, `${q}: ${r.ms} ms`);
    }
    const fmt = await sql(srv, { sql: "SELECT printf('%5d|%s|%.2f', 42, 'a', 3.14159) AS p, format('{:>4}-{}', 'x', 1) AS f" });
    assert.deepEqual(fmt.body.rows, [['   42|a|3.14', '   x-1']]);
    const ok = await sql(srv, { sql: "SELECT repeat('ab', 3) AS r" });
    assert.deepEqual(ok.body.rows, [['ababab']]);
    // an aggregate growing one value: DuckDB's memory_limit stops it (413 naming the setting)
    const agg = await sql(srv, { sql: "SELECT length(string_agg(repeat('y', 1000), ',')) FROM range(3000000)", timeout_ms: 20000 });
    assert.equal(agg.status, 413, agg.text.slice(0, 300));
    assert.match(agg.body.error.message, /query\.memory_limit/);
    const peak = peakRss(srv);
    assert.ok(peak < 1.5 * GiB, `peak RSS ${(peak / GiB).toFixed(2)} GiB`);
  } finally {
    await srv.stop();
  }
});

test('a result over query.max_result_bytes is a 413 naming the setting', async () => {
  const srv = await startServer({ args: ['--set', 'query.max_result_bytes=100000'] });
  try {
    const r = await sql(srv, { sql: 'SELECT range AS n FROM range(1000000)' });
    assert.equal(r.status, 413, r.text.slice(0, 200));
    assert.equal(r.body.error.code, 'payload_too_large');
    assert.match(r.body.error.message, /query\.max_result_bytes \(100000 bytes\)/);
    // streamed formats are not held in memory: they stream any size
    const s = await sql(srv, { sql: 'SELECT range AS n FROM range(1000000)', format: 'csv' });
    assert.equal(s.status, 200);
    assert.equal(s.text.split('\r\n').length, 1000002);
  } finally {
    await srv.stop();
  }
});

test('timeout_ms has a server-side maximum: larger values are capped', async () => {
  const srv = await startServer({ args: ['--set', 'query.max_timeout_ms=1500'] });
  try {
    const t0 = Date.now();
    const res = await fetch(`${srv.url}/v1/sql`, {
      method: 'POST',
      body: '{"sql":"SELECT count(*) FROM range(1000000000000)","timeout_ms":86400000000}',
    });
    const r = { status: res.status, text: await res.text(), ms: Date.now() - t0 };
    assert.equal(r.status, 408, r.text.slice(0, 200));
    assert.ok(r.ms >= 1400 && r.ms < 5000, `${r.ms} ms`);
  } finally {
    await srv.stop();
  }
});

test('extensions are neither installed nor loaded; nothing lands under ~/.duckdb', async () => {
  const home = tempDir('lh-home-');
  const srv = await startServer({ env: { HOME: home } });
  try {
    // refused before binding (not a table function SQL here may call) ...
    const r = await sql(srv, { sql: "SELECT * FROM read_xlsx('x.xlsx')" });
    assert.equal(r.status, 403, r.text.slice(0, 200));
    assert.match(r.body.error.message, /read_xlsx/);
    // ... and, bound, DuckDB does not go looking for the extension
    const f = await sql(srv, { sql: "SELECT to_json(1), st_point(1, 2)" });
    assert.equal(f.status, 400, f.text.slice(0, 200));
    assert.match(f.body.error.message, /st_point/);
    const s = await sql(srv, { sql: "SELECT current_setting('autoinstall_known_extensions') AS i, current_setting('autoload_known_extensions') AS l" });
    assert.deepEqual(s.body.rows, [[false, false]]);
    assert.equal(fs.existsSync(path.join(home, '.duckdb')), false);
  } finally {
    await srv.stop();
  }
});

test('spill files stay in the data folder; nothing planted there or in ./.tmp is readable', async () => {
  const dataDir = tempDir();
  const cwd = tempDir('lh-cwd-');
  // spill folders are per process (_spill/sql-<pid>); a folder no live process owns is swept at start
  const planted = path.join(dataDir, '_spill', 'sql-4194303', 'planted');
  fs.mkdirSync(path.dirname(planted), { recursive: true });
  fs.symlinkSync('/etc/hostname', planted);
  fs.mkdirSync(path.join(cwd, '.tmp'));
  fs.symlinkSync('/etc/hostname', path.join(cwd, '.tmp', 'x'));
  const srv = await startServer({ dataDir, cwd, args: ['--set', 'query.max_temp_size=64MiB'] });
  try {
    const s = await sql(srv, { sql: "SELECT current_setting('temp_directory') AS d, current_setting('max_temp_directory_size') AS m" });
    assert.equal(s.body.rows[0][0], path.join(dataDir, '_spill', `sql-${srv.child.pid}`));
    assert.equal(s.body.rows[0][1], '64.0 MiB');
    for (const p of ['.tmp/x', planted]) {
      const r = await sql(srv, { sql: `SELECT content FROM read_text('${p}')` });
      // refused (403), or, in DuckDB's own spill folder which it always allows, gone (emptied at start)
      assert.ok(r.status !== 200 || r.body.rows.length === 0, `${p} was read: ${r.text.slice(0, 200)}`);
    }
    assert.equal(fs.existsSync(planted), false);
  } finally {
    await srv.stop();
  }
});

test('long queries cannot make a short one wait: per-client cap, a connection kept for short statements', async () => {
  const srv = await startServer({ args: ['--set', 'query.connections=4', '--set', 'query.short_timeout_ms=1000'] });
  try {
    // 8 long queries of one client, 2 of another (the probe had 15 s deadlines; 4 s keep this test short)
    const long = { sql: 'SELECT count(*) FROM range(1000000000000)', timeout_ms: 4000 };
    const hogs = Array.from({ length: 8 }, () => sql(srv, long, { 'X-Lakehouse-Actor': 'hog' }));
    const other = Array.from({ length: 2 }, () => sql(srv, long, { 'X-Lakehouse-Actor': 'other' }));
    await new Promise((r) => setTimeout(r, 500));
    // a short statement, from anyone (the hog itself included), runs at once
    for (const actor of ['probe', 'hog', 'other']) {
      const r = await sql(srv, { sql: 'SELECT 1 AS one', timeout_ms: 1000 }, { 'X-Lakehouse-Actor': actor });
      assert.equal(r.status, 200, `${actor}: ${r.text}`);
      assert.ok(r.ms < 500, `${actor}: SELECT 1 waited ${r.ms} ms`);
    }
    // a long statement of the hog waits within its deadline, then 503 with Retry-After and the reason
    const r = await sql(srv, { sql: 'SELECT 1', timeout_ms: 1500 }, { 'X-Lakehouse-Actor': 'hog' });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(r.body.error.message, /hog already runs 2 queries.*query\.max_per_client/);
    assert.ok(r.ms >= 1400 && r.ms < 2500, `${r.ms} ms`);
    // every long one ends by its deadline: run (408) or not admitted in time (503)
    for (const h of await Promise.all([...hogs, ...other])) {
      assert.ok(h.status === 408 || h.status === 503, `${h.status} ${h.text.slice(0, 200)}`);
      assert.ok(h.ms < 5500, `${h.ms} ms for a 4000 ms deadline`);
    }
  } finally {
    await srv.stop();
  }
});

function filesUnder(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

test('SQL reads the store only through the catalog: no raw path, every dataset feature intact', async () => {
  const srv = await startServer();
  try {
    const ingest = (name, body) => fetch(`${srv.url}/v1/ingest?dataset=${name}&filename=${name}.csv`, { method: 'POST', body });
    assert.equal((await ingest('people', 'id,name\n1,Ann\n2,Bo\n3,Cy\n')).status, 201);
    assert.equal((await ingest('gone', 'id,secret\n1,deleted-secret\n')).status, 201);
    let res = await fetch(`${srv.url}/v1/catalog/datasets/people/tombstones`, {
      method: 'POST', body: JSON.stringify({ key_column: 'id', values: ['2'], reason: 'erasure' }),
    });
    assert.equal(res.status, 201);
    res = await fetch(`${srv.url}/v1/catalog/datasets/gone`, { method: 'DELETE' });
    assert.ok(res.status < 300);
    // the features: names, versions, tombstones hidden, introspection
    assert.deepEqual((await sql(srv, { sql: 'SELECT id FROM people ORDER BY 1' })).body.rows, [[1], [3]]);
    assert.deepEqual((await sql(srv, { sql: "SELECT count(*) FROM dataset_version('people', 2)" })).body.rows, [[3]]);
    assert.deepEqual((await sql(srv, { sql: 'SELECT count(*) FROM "people@2"' })).body.rows, [[3]]);
    assert.deepEqual((await sql(srv, { sql: "SELECT secret FROM dataset_version('gone', 2)" })).body.rows, [['deleted-secret']]);
    assert.deepEqual((await sql(srv, { sql: 'SHOW TABLES' })).body.rows, [['people']]);
    assert.equal((await sql(srv, { sql: 'DESCRIBE people' })).status, 200);
    assert.equal((await sql(srv, { sql: 'SUMMARIZE people' })).status, 200);
    assert.equal((await sql(srv, { sql: 'EXPLAIN SELECT * FROM people' })).status, 200);
    assert.equal((await sql(srv, { sql: "SELECT count(*) FROM information_schema.tables WHERE table_name = 'people'" })).status, 200);
    assert.equal((await sql(srv, { sql: 'SELECT * FROM range(3), generate_series(1, 2), unnest([1, 2])' })).status, 200);
    // the raw files: data (with the tombstoned row), deleted data, manifests, the journal
    const files = filesUnder(path.join(srv.dir, 'local')).filter((f) => !f.includes('/_tmp/'));
    const parquet = files.filter((f) => f.endsWith('.parquet'));
    const json = files.filter((f) => f.endsWith('.json') || f.includes('_journal'));
    assert.ok(parquet.length >= 2 && json.length >= 1, files.join('\n'));
    const q = (p) => p.replace(/'/g, "''");
    const probes = [
      ...parquet.map((f) => `SELECT * FROM read_parquet('${q(f)}')`),
      ...parquet.map((f) => `SELECT * FROM '${q(f)}'`),
      ...parquet.map((f) => `SELECT * FROM parquet_metadata('${q(f)}')`),
      ...json.map((f) => `SELECT * FROM read_text('${q(f)}')`),
      ...json.map((f) => `SELECT * FROM read_json_auto('${q(f)}')`),
      `SELECT * FROM glob('${q(srv.dir)}/**')`,
      `SELECT * FROM query_table('${q(parquet[0])}')`,
      `SELECT * FROM query('SELECT * FROM read_parquet(''${q(parquet[0])}'')')`,
      `SELECT * FROM system.main.read_parquet('${q(parquet[0])}')`,
      `SELECT (SELECT count(*) FROM read_blob('${q(parquet[0])}'))`,
      `WITH x AS (SELECT * FROM read_csv('${q(json[0])}')) SELECT * FROM x`,
      `EXPLAIN ANALYZE SELECT * FROM read_parquet('${q(parquet[0])}')`,
      `DESCRIBE SELECT * FROM read_parquet('${q(parquet[0])}')`,
      `SUMMARIZE SELECT * FROM read_parquet('${q(parquet[0])}')`,
      `SELECT * FROM "${parquet[0]}"`,
    ];
    for (const stmt of probes) {
      const r = await sql(srv, { sql: stmt });
      assert.equal(r.status, 403, `${stmt} -> ${r.status} ${r.text.slice(0, 300)}`);
      assert.match(r.body.error.message, /reads datasets, not files/);
      assert.doesNotMatch(r.text, /deleted-secret|Bo/);
    }
    // dataset_version cannot be bent into a path
    for (const stmt of [`SELECT * FROM dataset_version('${q(parquet[0])}', 1)`, "SELECT * FROM dataset_version('people', '1/../../x.parquet')"]) {
      const r = await sql(srv, { sql: stmt });
      assert.ok(r.status >= 400 && r.status < 500, `${stmt} -> ${r.status}`);
      assert.doesNotMatch(r.text, /deleted-secret/);
    }
  } finally {
    await srv.stop();
  }
});

test('a dataset nested 300 deep is refused at once, not run a minute past its deadline', async () => {
  const srv = await startServer();
  try {
    const depth = 300;
    const body = `{"id":1,"a":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}\n`;
    const res = await fetch(`${srv.url}/v1/ingest?dataset=deep&filename=deep.ndjson`, { method: 'POST', body });
    if (res.status !== 201) return; // refused at ingest (the store's own nesting limit): nothing to query
    for (const q of ['SELECT count(*) FROM deep', 'SELECT typeof(a) FROM deep', "SELECT id FROM dataset_version('deep', 2)"]) {
      const r = await sql(srv, { sql: q, timeout_ms: 2000 });
      assert.equal(r.status, 400, `${q}: ${r.text.slice(0, 200)}`);
      assert.match(r.body.error.message, /nested \d+ levels deep; SQL reads at most 128/);
      assert.ok(r.ms < 2500, `${q}: ${r.ms} ms`);
    }
    const show = await sql(srv, { sql: 'SHOW TABLES', timeout_ms: 2000 });
    assert.equal(show.status, 200);
    assert.ok(show.ms < 2500, `SHOW TABLES: ${show.ms} ms`);
  } finally {
    await srv.stop();
  }
});
