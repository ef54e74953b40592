// isolation.test.mjs — profiles and keys over the real server: for each
// profile kind and each route, a caller without the right gets 401 or 403 and
// no byte of an unbound dataset, including through SQL tricks (old versions,
// joins, subqueries, vector_search, information_schema, duckdb_*()), search
// filters, ask, journal history, the error journal and storage. Also: the
// policy (no key once a key exists, refusing to listen beyond loopback with
// no key), and keys on the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { run, startServer, tempDir } from './harness.mjs';

const MARK = 'classified'; // every row of the unbound dataset holds it

function cli(args, env = {}) {
  const r = run(args, { env });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function makeKey(dir, id, kind, scopes, datasets = [], indexes = []) {
  const args = ['profile', 'create', id, '--kind', kind, '--scopes', scopes.join(','), '--data', dir];
  if (datasets.length) args.push('--datasets', datasets.join(','));
  if (indexes.length) args.push('--indexes', indexes.join(','));
  cli(args);
  return JSON.parse(cli(['profile', 'key-create', id, '--json', '--data', dir])).key;
}

// [method, path, body?, expectation]; expectation: a status, or 'clean' (any
// status, no byte of the secret dataset in the answer).
const probes = [
  ['GET', '/v1/catalog/datasets', null, 'clean'],
  ['GET', '/v1/catalog/datasets?include_deleted=true', null, 'clean'],
  ['GET', '/v1/catalog/datasets/secret', null, 403],
  ['GET', '/v1/catalog/datasets/secret/versions', null, 403],
  ['GET', '/v1/catalog/datasets/secret/versions/1', null, 403],
  ['GET', '/v1/catalog/datasets/secret/tombstones', null, 403],
  ['DELETE', '/v1/catalog/datasets/secret', null, 403],
  ['POST', '/v1/catalog/datasets/secret/rollback', { version: 1 }, 403],
  ['POST', '/v1/catalog/datasets', { name: 'newone' }, 403],
  ['GET', '/v1/journal/history/secret', null, 403],
  ['GET', '/v1/journal/history/secret_idx', null, 403],
  ['GET', '/v1/journal/recent', null, 'clean'],
  ['GET', '/v1/journal/stats', null, 403],
  ['GET', '/v1/errors?since=0', null, 'clean'],
  ['GET', '/v1/storage/buckets', null, 403],
  ['GET', '/v1/storage/buckets/local/objects?prefix=datasets/', null, 403],
  ['GET', '/v1/storage/buckets/local/object?key=_catalog/datasets/secret/v00000001.json', null, 403],
  ['GET', '/v1/vectors/indexes', null, 'clean'],
  ['GET', '/v1/vectors/indexes/secret_idx', null, 403],
  ['GET', '/v1/vectors/indexes/secret_idx/history', null, 403],
  ['GET', '/v1/vectors/stale', null, 'clean'],
  ['POST', '/v1/vectors/indexes/secret_idx/promote', { version: 1 }, 403],
  ['POST', '/v1/search', { index: 'secret_idx', query: 'one' }, 403],
  ['POST', '/v1/search', { index: 'open_idx', query: 'row', filter: "id IN (SELECT id FROM secret)" }, 'clean'],
  ['POST', '/v1/search', { index: 'open_idx', query: 'row', filter: "EXISTS (SELECT 1 FROM dataset_version('secret', 1))" }, 'clean'],
  ['POST', '/v1/ask', { question: 'one', indexes: ['secret_idx'] }, 403],
  ['POST', '/v1/ask', { question: 'one' }, 403],
  ['POST', '/v1/ingest?dataset=secret&filename=a.csv', 'id,v\n9,x\n', 403],
  ['GET', '/v1/catalog/datasets/secret/diff?from=1', null, 403],
  ['POST', '/v1/drafts', { dataset: 'secret', data: 'id,v\n9,x\n', format: 'csv' }, 403],
  ['GET', '/v1/drafts', null, 'clean'],
  ['GET', '/v1/drafts?include_closed=true', null, 'clean'],
  ['POST', '/v1/embed', { texts: ['one'] }, 'clean'],
  ['GET', '/v1/profiles', null, 403],
  ['POST', '/v1/profiles/x/keys', {}, 403],
  ['POST', '/v1/sql', { sql: 'SELECT * FROM secret', format: 'parquet' }, 400],
  ['POST', '/v1/sql', { sql: "SELECT * FROM dataset_version('secret', 1)", format: 'parquet' }, 400],
  ...[
    'SELECT * FROM secret',
    'SELECT * FROM "secret"',
    'SELECT * FROM "secret@1"',
    "SELECT * FROM dataset_version('secret', 1)",
    "SELECT * FROM lh_version('secret', 1)",
    "SELECT * FROM query_table('secret')",
    'SELECT * FROM open JOIN secret USING (id)',
    'SELECT v FROM open UNION ALL SELECT v FROM secret',
    'WITH s AS (SELECT * FROM secret) SELECT * FROM s',
    'SELECT (SELECT string_agg(v, \',\') FROM secret)',
    "SELECT * FROM vector_search('secret_idx', 'one', 5)",
    'SELECT * FROM information_schema.tables',
    'SELECT * FROM information_schema.columns',
    'SELECT * FROM duckdb_tables()',
    'SELECT * FROM duckdb_views()',
    'SELECT * FROM duckdb_columns()',
    'SHOW TABLES',
    'DESCRIBE secret',
    'SUMMARIZE secret',
  ].flatMap((sql) => [
    ['POST', '/v1/sql', { sql }, 'clean'],
    ['POST', '/v1/sql', { sql, format: 'ndjson' }, 'clean'],
    ['POST', '/v1/sql', { sql, format: 'csv' }, 'clean'],
  ]),
];

test('each profile kind sees no byte of an unbound dataset, on any route', { timeout: 300000 }, async () => {
  const dir = tempDir();
  const work = tempDir();
  const csv = (name, rows) => {
    const p = path.join(work, `${name}.csv`);
    fs.writeFileSync(p, rows);
    return p;
  };
  cli(['ingest', csv('open', 'id,v\n1,row one\n2,row two\n'), '--dataset', 'open', '--data', dir]);
  cli(['ingest', csv('secret', `id,v\n1,${MARK} one\n2,${MARK} two\n`), '--dataset', 'secret', '--data', dir]);
  cli(['index', 'create', 'open_idx', '--dataset', 'open', '--id', 'id', '--text', 'v', '--data', dir]);
  cli(['index', 'create', 'secret_idx', '--dataset', 'secret', '--id', 'id', '--text', 'v', '--data', dir]);
  const keys = {
    agent: makeKey(dir, 'agent1', 'agent', ['read'], ['open'], ['open_idx']),
    model: makeKey(dir, 'model1', 'model', ['read'], ['open'], ['open_idx']),
    person: makeKey(dir, 'person1', 'person', ['read', 'ingest', 'manage'], ['open'], ['open_idx']),
  };
  const admin = makeKey(dir, 'root', 'person', ['admin']);
  const victim = makeKey(dir, 'victim', 'agent', ['read'], ['open']); // only ever guessed at
  const srv = await startServer({ dataDir: dir });
  const call = async (key, [method, p, body]) => {
    const init = { method, headers: {} };
    if (key) init.headers.Authorization = `Bearer ${key}`;
    if (typeof body === 'string') init.body = body;
    else if (body) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const r = await fetch(srv.url + p, init);
    return { status: r.status, text: await r.text() };
  };
  try {
    // the admin reads the secret: the marker is really there to find
    const seen = await call(admin, ['POST', '/v1/sql', { sql: 'SELECT v FROM secret' }]);
    assert.equal(seen.status, 200);
    assert.ok(seen.text.includes(MARK));
    // an admin's draft of the secret dataset: no one else may see, validate, publish or discard it
    const made = await call(admin, ['POST', '/v1/drafts', { dataset: 'secret', data: `id,v\n3,${MARK} three\n`, format: 'csv' }]);
    assert.equal(made.status, 201, made.text);
    const draftId = JSON.parse(made.text).draft;
    probes.push(['GET', `/v1/drafts/${draftId}`, null, 'denied'], ['POST', `/v1/drafts/${draftId}/publish`, null, 'denied'],
      ['DELETE', `/v1/drafts/${draftId}`, null, 'denied']);
    const failures = [];
    for (const [kind, key] of [['no key', null], ['wrong key', victim.slice(0, -1) + (victim.endsWith('0') ? '1' : '0')], ...Object.entries(keys)]) {
      for (const probe of probes) {
        const r = await call(key, probe);
        const what = `${kind} ${probe[0]} ${probe[1]} ${probe[2] ? JSON.stringify(probe[2]) : ''}`;
        if (r.text.includes(MARK)) failures.push(`${what}: leaked ${r.text.slice(0, 200)}`);
        const want = key === null || kind === 'wrong key' ? 401 : probe[3];
        if (want === 'denied' && r.status !== 403 && r.status !== 404) failures.push(`${what}: status ${r.status}, want 403 or 404`);
        if (want !== 'clean' && want !== 'denied' && r.status !== want) failures.push(`${what}: status ${r.status}, want ${want}: ${r.text.slice(0, 200)}`);
        if (want === 'clean' && /^GET .*(datasets|indexes|recent|stale)/.test(`${probe[0]} ${probe[1]}`) && /secret/.test(r.text))
          failures.push(`${what}: lists the unbound: ${r.text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(failures, []);
    // the draft stayed open and unseen by SQL: the admin reads two committed rows
    const still = await call(admin, ['GET', `/v1/drafts/${draftId}`]);
    assert.equal(JSON.parse(still.text).status, 'open');
    const committed = await call(admin, ['POST', '/v1/sql', { sql: 'SELECT count(*) AS n FROM secret' }]);
    assert.deepEqual(JSON.parse(committed.text).rows, [[2]]);
    // what a profile may do, it does
    const ok = await call(keys.agent, ['POST', '/v1/sql', { sql: 'SELECT count(*) AS n FROM open' }]);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(JSON.parse(ok.text).rows, [[2]]);
    const hits = await call(keys.model, ['POST', '/v1/search', { index: 'open_idx', query: 'row', k: 2 }]);
    assert.equal(hits.status, 200, hits.text);
    const forbidden = JSON.parse((await call(keys.agent, ['GET', '/v1/catalog/datasets/secret'])).text);
    assert.equal(forbidden.error.code, 'forbidden');
    assert.match(forbidden.error.message, /bound datasets: open/);
    const scope = JSON.parse((await call(keys.agent, ['POST', '/v1/catalog/datasets', { name: 'open' }])).text);
    assert.match(scope.error.message, /lacks scope "manage"/);
    const ingest = await call(keys.person, ['POST', '/v1/ingest?dataset=open&filename=b.csv', 'id,v\n3,row three\n']);
    assert.equal(ingest.status, 201, ingest.text);
    // a revoked key stops at once
    const keyId = keys.model.slice(3, 19);
    const revoked = await call(admin, ['DELETE', `/v1/profiles/model1/keys/${keyId}`]);
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal((await call(keys.model, ['GET', '/v1/profiles/me'])).status, 401);
    // refusals and failures are journaled, without key material
    const events = JSON.parse((await call(admin, ['GET', '/v1/journal/recent?limit=10000'])).text).events;
    const auth = events.filter((e) => e.entity_type === 'auth');
    assert.ok(auth.some((e) => e.action === 'refuse'));
    assert.ok(auth.some((e) => e.action === 'fail'));
    const all = JSON.stringify(events);
    for (const k of [...Object.values(keys), admin]) assert.ok(!all.includes(k.slice(20)), 'a secret in the journal');
  } finally {
    await srv.stop();
  }
});

test('keys on the CLI confine it like HTTP', () => {
  const dir = tempDir();
  const work = tempDir();
  const p = path.join(work, 's.csv');
  fs.writeFileSync(p, `id,v\n1,${MARK}\n`);
  cli(['ingest', p, '--dataset', 'secret', '--data', dir]);
  cli(['catalog', 'create', 'open', '--data', dir]);
  const key = makeKey(dir, 'agent1', 'agent', ['read'], ['open']);
  const env = { LAKEHOUSE_API_KEY: key };
  const sql = run(['sql', 'SELECT * FROM secret', '--data', dir], { env });
  assert.notEqual(sql.status, 0);
  assert.ok(!sql.stdout.includes(MARK) && !sql.stderr.includes(MARK));
  const show = run(['catalog', 'show', 'secret', '--data', dir], { env });
  assert.equal(show.status, 6, show.stderr);
  assert.match(show.stderr, /may not use dataset "secret"/);
  const list = JSON.parse(cli(['catalog', 'list', '--json', '--data', dir], env));
  assert.deepEqual(list.datasets.map((d) => d.name), ['open']);
  const bad = run(['catalog', 'list', '--api-key', 'lh_nope', '--data', dir]);
  assert.equal(bad.status, 6);
  assert.match(bad.stderr, /not a Lakehouse API key/);
  // without a key the CLI is the local operator
  assert.ok(cli(['sql', 'SELECT v FROM secret', '--data', dir]).includes(MARK));
});

test('serve refuses to listen beyond loopback without a key, and starts with one', { timeout: 60000 }, async () => {
  const dir = tempDir();
  await assert.rejects(startServer({ dataDir: dir, args: ['--listen', '0.0.0.0:0'] }), /refusing to listen on 0\.0\.0\.0 with no API key/);
  const key = makeKey(dir, 'root', 'person', ['admin']);
  const srv = await startServer({ dataDir: dir, args: ['--listen', '0.0.0.0:0'] });
  try {
    assert.equal((await fetch(`${srv.url}/v1/catalog/datasets`)).status, 401);
    const r = await fetch(`${srv.url}/v1/catalog/datasets`, { headers: { Authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200);
  } finally {
    await srv.stop();
  }
});

test('auth.required needs a key on loopback too; without keys, loopback is the local operator', { timeout: 60000 }, async () => {
  const open = await startServer();
  try {
    const me = await (await fetch(`${open.url}/v1/profiles/me`)).json();
    assert.equal(me.local, true);
    assert.deepEqual(me.scopes, ['admin']);
    // a key made by another process (the CLI here) closes the server within LH_PROFILES_RECHECK_MS
    makeKey(open.dir, 'late', 'agent', ['read']);
    let status = 200;
    for (let i = 0; i < 40 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await fetch(`${open.url}/v1/catalog/datasets`)).status;
    }
    assert.equal(status, 401);
  } finally {
    await open.stop();
  }
  const closed = await startServer({ args: ['--set', 'auth.required=true'] });
  try {
    const r = await fetch(`${closed.url}/v1/version`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="lakehouse"');
    assert.equal((await fetch(`${closed.url}/health`)).status, 200);
    // an upload without a key is refused from its headers: asked to continue (Expect: 100-continue), the
    // server answers 401 instead of taking the 64 MB body
    const answer = await new Promise((resolve, reject) => {
      const sock = net.connect(new URL(closed.url).port, '127.0.0.1', () => sock.write(
        'POST /v1/ingest?dataset=x&filename=x.csv HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\nExpect: 100-continue\r\n\r\n'));
      let got = '';
      sock.on('data', (d) => { got += d; if (got.includes('\r\n\r\n')) { sock.destroy(); resolve(got); } });
      sock.on('error', reject);
      setTimeout(() => { sock.destroy(); resolve(got); }, 5000);
    });
    assert.match(answer, /^HTTP\/1\.1 401 /, answer.slice(0, 200));
  } finally {
    await closed.stop();
  }
});

test('a profile bound to a view reads its redacted rows only, over HTTP', { timeout: 120000 }, async () => {
  const dir = tempDir();
  cli(['sample', '--rows', '50', '--ingest', '--data', dir]); // ships workers_safe and profile "agent"
  const raw = JSON.parse(cli(['sql', 'SELECT first_name, last_name, email, phone FROM workers', '--json', '--data', dir]));
  const key = JSON.parse(cli(['profile', 'key-create', 'agent', '--json', '--data', dir])).key;
  const srv = await startServer({ dataDir: dir });
  const sql = async (q) => {
    const r = await fetch(`${srv.url}/v1/sql`, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ sql: q }) });
    return { status: r.status, text: await r.text() };
  };
  try {
    const seen = await sql('SELECT * FROM workers_safe');
    assert.equal(seen.status, 200, seen.text);
    assert.equal(JSON.parse(seen.text).rows.length, 50);
    // no raw name, email or phone comes back, for any query shape
    const shapes = [
      'SELECT * FROM workers_safe',
      'SELECT first_name || last_name || email || phone FROM workers_safe',
      "SELECT * FROM workers_safe WHERE first_name LIKE '%a%'",
      'SELECT DISTINCT email FROM workers_safe',
      'SELECT * FROM workers',
      "SELECT * FROM dataset_version('workers', 1)",
    ];
    for (const q of shapes) {
      const r = await sql(q);
      for (const [first, last, email, phone] of raw.rows) {
        for (const value of [email, phone, `"${first}"`, `"${last}"`]) assert.ok(!r.text.includes(value), `${q} leaked ${value}`);
      }
    }
    const tables = await sql('SELECT table_name FROM information_schema.tables ORDER BY 1');
    assert.deepEqual(JSON.parse(tables.text).rows, [['workers_safe']]);
    const views = await (await fetch(`${srv.url}/v1/views`, { headers: { Authorization: `Bearer ${key}` } })).json();
    assert.deepEqual(views.views.map((v) => v.name), ['workers_safe']);
  } finally {
    await srv.stop();
  }
});

test('an agent bound to workers_safe cannot reach workers through any MCP tool', { timeout: 120000 }, async () => {
  const dir = tempDir();
  cli(['sample', '--rows', '30', '--ingest', '--data', dir]); // ships workers_safe and profile "agent"
  cli(['index', 'create', 'people', '--dataset', 'workers', '--id-column', 'worker_id', '--text-columns', 'profile', '--provider', 'hash', '--data', dir]);
  const raw = JSON.parse(cli(['sql', 'SELECT first_name, last_name, email, phone FROM workers', '--json', '--data', dir]));
  const key = JSON.parse(cli(['profile', 'key-create', 'agent', '--json', '--data', dir])).key;
  const srv = await startServer({ dataDir: dir });
  let id = 0;
  const rpc = async (method, params) => {
    const r = await fetch(`${srv.url}/mcp`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    return r.text();
  };
  const leaks = (text, what) => {
    for (const [first, last, email, phone] of raw.rows)
      for (const value of [email, phone, `"${first}"`, `"${last}"`]) assert.ok(!text.includes(value), `${what} leaked ${value}`);
  };
  try {
    const tool = (name, args) => rpc('tools/call', { name, arguments: args });
    const sqls = [
      'SELECT * FROM workers', "SELECT * FROM lh_version('workers', 1)", "SELECT * FROM dataset_version('workers', 2)",
      'SELECT * FROM workers_safe w JOIN workers x USING (worker_id)', 'SELECT (SELECT max(email) FROM workers)',
      "SELECT * FROM read_parquet('datasets/workers/**/*.parquet')", "SELECT * FROM read_csv('*.csv')",
      'SELECT * FROM information_schema.columns', 'SELECT * FROM duckdb_tables()', 'SELECT * FROM workers_safe',
    ];
    for (const sql of sqls) leaks(await tool('query_sql', { sql }), sql);
    const probes = [
      ['list_datasets', {}], ['describe_dataset', { name: 'workers' }], ['dataset_versions', { name: 'workers' }],
      ['diff_versions', { name: 'workers', from: 1 }], ['search', { index: 'people', query: 'forklift' }],
      ['ask', { question: 'who drives forklifts?', index: 'people' }], ['journal_history', { entity_id: 'workers' }],
      ['recent_errors', {}], ['list_indexes', {}], ['list_drafts', {}],
      ['ingest_draft', { dataset: 'workers', data: 'worker_id\n1\n', format: 'csv' }],
    ];
    for (const [name, args] of probes) leaks(await tool(name, args), name);
    const refused = JSON.parse(await tool('describe_dataset', { name: 'workers' })).result;
    assert.equal(refused.isError, true);
    assert.match(refused.content[0].text, /^forbidden: profile agent may not use dataset "workers"/);
    assert.equal(JSON.parse(await tool('ingest_draft', { dataset: 'workers_safe', data: 'a\n1\n', format: 'csv' })).result.isError, true);
    for (const uri of ['lakehouse://datasets/workers', 'lakehouse://datasets/workers@1', 'lakehouse://system/status'])
      leaks(await rpc('resources/read', { uri }), uri);
    const resources = await rpc('resources/list', {});
    assert.ok(!resources.includes('lakehouse://datasets/workers"'), resources);
    leaks(await rpc('completion/complete', { ref: { type: 'ref/prompt', name: 'explain_dataset' }, argument: { name: 'dataset', value: '' } }), 'complete');
    // what it may see, it sees (redacted)
    const safe = JSON.parse(await tool('query_sql', { sql: 'SELECT count(*) FROM workers_safe' }));
    assert.deepEqual(safe.result.structuredContent.rows, [[30]]);
  } finally {
    await srv.stop();
  }
});
