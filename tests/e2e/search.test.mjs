// search.test.mjs — text indexes end to end: a dataset's rows embedded by the
// real local sidecar (Universal Sentence Encoder Lite), searched by meaning,
// keywords and both, filtered by SQL, joined from SQL, refreshed with only
// the new rows (by hand and on append), and asked with citations. Provider
// failures use a small HTTP server in this file that speaks the Ollama wire
// protocol (a PROTOCOL FIXTURE: it stands in for a remote Ollama, which
// cannot run here); so does the chat answer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { json, run, startServer, tempDir } from './harness.mjs';

const PEOPLE = [
  ['Ana Ruiz', 'Leeds', 'forklift operator, night shifts, warehouse loading and pallet stacking'],
  ['Ben Okafor', 'Leeds', 'registered nurse, intensive care, patient monitoring'],
  ['Chen Wei', 'York', 'pastry chef, bakery, desserts and bread'],
  ['Dana Smith', 'York', 'software developer, databases, backend services in C'],
  ['Eli Novak', 'Hull', 'truck driver, HGV licence, long-haul deliveries'],
  ['Fay Brown', 'Hull', 'accountant, payroll, tax returns and audits'],
  ['Gus Lee', 'Leeds', 'electrician, wiring, industrial maintenance'],
  ['Hana Ito', 'York', 'primary school teacher, mathematics and reading'],
];

function writePeople(dir, rows, file = 'people.ndjson', first = 1) {
  const p = path.join(dir, file);
  fs.writeFileSync(p, rows.map(([name, city, profile], i) => JSON.stringify({ worker_id: first + i, name, city, profile })).join('\n') + '\n');
  return p;
}

async function call(url, method, body) {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await json(res) };
}

async function ingest(srv, dataset, file) {
  const res = await fetch(`${srv.url}/v1/ingest?dataset=${dataset}&filename=${path.basename(file)}`, {
    method: 'POST', body: fs.readFileSync(file),
  });
  assert.equal(res.status, 201, await res.text());
}

async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// PROTOCOL FIXTURE: an Ollama-compatible server (/api/embed with the hash of
// each text as a tiny vector, /api/chat echoing what it was given), whose
// behaviour the test switches: ok | fail500 | malformed | slow.
function ollamaFixture() {
  const state = { mode: 'ok', embedCalls: 0, chats: [] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const send = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(typeof obj === 'string' ? obj : JSON.stringify(obj));
      };
      if (req.url === '/api/embed') {
        state.embedCalls++;
        if (state.mode === 'fail500') return send(500, { error: 'model crashed' });
        if (state.mode === 'malformed') return send(200, '{"embeddings": [[0.1, ');
        if (state.mode === 'slow') return setTimeout(() => send(200, { embeddings: [] }), 3000);
        const input = JSON.parse(body).input;
        const texts = Array.isArray(input) ? input : [input];
        const embeddings = texts.map((t) => {
          const v = [0, 0, 0, 0];
          for (let i = 0; i < t.length; i++) v[i % 4] += t.charCodeAt(i) % 7;
          return v.map((x) => x + 1);
        });
        return send(200, { model: 'fixture', embeddings });
      }
      if (req.url === '/api/chat') {
        const msg = JSON.parse(body);
        state.chats.push(msg);
        const ids = [...msg.messages[0].content.matchAll(/^\[(\w+)\]/gm)].map((m) => m[1]);
        return send(200, { model: 'fixture', message: { role: 'assistant', content: `From the passages: see [${ids[0]}].` }, done: true });
      }
      send(404, { error: 'not found' });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, state, url: `http://127.0.0.1:${server.address().port}` })));
}

// The bundled model, in process (local) and in the Node sidecar (local-node): the same vectors, the same answers.
for (const provider of ['local', 'local-node']) describe(`text indexes with the bundled model (${provider})`, () => {
  let srv;
  let dir;
  before(async () => {
    dir = tempDir();
    assert.equal(run(['ingest', writePeople(dir, PEOPLE), '--dataset', 'workers', '--data', dir, '--log-level', 'warn']).status, 0);
    srv = await startServer({ dataDir: dir, env: { LAKEHOUSE_AI_PROVIDER: provider } });
    if (provider === 'local-node')
      await until('the sidecar', async () => {
        const h = await call(`${srv.url}/health`, 'GET');
        return h.body.modules.ai.sidecar?.state === 'running';
      });
  });
  after(async () => {
    await srv?.stop();
  });

  it('embeds a dataset, and finds rows by meaning, keywords and both', async () => {
    const c = await call(`${srv.url}/v1/vectors/indexes`, 'POST', {
      name: 'workers_idx', dataset: 'workers', id_column: 'worker_id', text_columns: ['name', 'profile'], refresh: 'on_append',
    });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    assert.equal(c.body.count, PEOPLE.length);
    assert.equal(c.body.dim, 512);
    assert.equal(c.body.metric, 'cosine');
    assert.equal(c.body.text.provider, provider);
    assert.equal(c.body.text.model, 'use-lite');
    assert.equal(c.body.embedding.embedded, PEOPLE.length);
    assert.ok(c.body.origin.version >= 1);

    const q = (body) => call(`${srv.url}/v1/search`, 'POST', { index: 'workers_idx', k: 3, ...body });
    // by meaning: no word in common with the profile
    let s = await q({ query: 'someone to drive a lift truck in a depot after dark', mode: 'vector' });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.equal(s.body.hits[0].id, 1, JSON.stringify(s.body.hits));
    // by keywords
    s = await q({ query: 'payroll audits', mode: 'text' });
    assert.equal(s.body.hits[0].id, 6);
    assert.ok(s.body.hits.every((h) => h.bm25 > 0));
    // both; each hit carries its source row and where it ranked in each list
    s = await q({ query: 'forklift operator with night shift experience' });
    assert.equal(s.body.mode, 'hybrid');
    assert.equal(s.body.hits[0].id, 1);
    assert.equal(s.body.hits[0].row.name, 'Ana Ruiz');
    assert.equal(s.body.hits[0].vector_rank, 1);
    assert.equal(s.body.hits[0].text_rank, 1);
    // an SQL filter over the dataset: only Leeds rows, exactly k of them
    s = await q({ query: 'forklift', filter: "city = 'Leeds'", k: 3 });
    assert.equal(s.body.hits.length, 3);
    assert.ok(s.body.hits.every((h) => h.row.city === 'Leeds'));
    // bad requests are clear
    for (const [body, status, re] of [
      [{ query: '' }, 400, /query/],
      [{ query: 'x', mode: 'psychic' }, 400, /mode/],
      [{ query: 'x', filter: 'no_such_column = 1' }, 400, /no_such_column/],
      [{ query: 'x', filter: '1=1; DROP TABLE workers' }, 400, /./],
      [{ query: 'x', index: 'nope' }, 404, /nope/],
    ]) {
      const r = await q(body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.match(r.body.error.message, re);
    }
  });

  it('joins search results in SQL', async () => {
    const r = await call(`${srv.url}/v1/sql`, 'POST', {
      sql: "SELECT w.name, s.score FROM vector_search('workers_idx', 'forklift operator with night shift experience', 3) s JOIN workers w USING (worker_id) ORDER BY s.rank",
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.rows.length, 3);
    assert.equal(r.body.rows[0][0], 'Ana Ruiz');
  });

  it('embeds only the new rows on append, by itself for on_append indexes and by hand for the others', async () => {
    const m = await call(`${srv.url}/v1/vectors/indexes`, 'POST', {
      name: 'workers_manual', dataset: 'workers', id_column: 'worker_id', template: '{name} ({city}): {profile}',
    });
    assert.equal(m.status, 201, JSON.stringify(m.body));
    assert.equal(m.body.text.refresh, 'manual');
    await ingest(srv, 'workers', writePeople(dir, [
      ['Ivo Petrov', 'Leeds', 'scaffolder, construction sites, working at height'],
      ['Jo Hart', 'Hull', 'barista, coffee shop, early mornings'],
    ], 'more.ndjson', 100));
    // on_append: refreshed in the background
    await until('the on_append refresh', async () => {
      const st = await call(`${srv.url}/v1/vectors/stale`, 'GET');
      return !st.body.refreshing && !st.body.stale.some((x) => x.index === 'workers_idx');
    });
    let g = await call(`${srv.url}/v1/vectors/indexes/workers_idx`, 'GET');
    assert.equal(g.body.manifest.operation, 'refresh');
    assert.equal(g.body.manifest.embedding.embedded, 2);
    assert.equal(g.body.manifest.count, PEOPLE.length + 2);
    assert.equal(g.body.manifest.origin.version, m.body.origin.version + 1);
    // BM25 sees the new rows at once
    let s = await call(`${srv.url}/v1/search`, 'POST', { index: 'workers_idx', query: 'scaffolder', mode: 'text', k: 1 });
    assert.equal(s.body.hits[0].id, 100);
    // manual: stale until refreshed
    const st = await call(`${srv.url}/v1/vectors/stale`, 'GET');
    const mine = st.body.stale.find((x) => x.index === 'workers_manual');
    assert.ok(mine, JSON.stringify(st.body));
    assert.equal(mine.embedded_version, m.body.origin.version);
    assert.equal(mine.dataset_version, m.body.origin.version + 1);
    assert.ok(mine.stale_since);
    const r = await call(`${srv.url}/v1/vectors/refresh/workers`, 'POST');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const rep = r.body.indexes.find((x) => x.index === 'workers_manual');
    assert.equal(rep.status, 'refreshed');
    assert.equal(rep.embedded, 2);
    assert.equal(r.body.indexes.find((x) => x.index === 'workers_idx').status, 'up_to_date');
    assert.deepEqual((await call(`${srv.url}/v1/vectors/stale`, 'GET')).body.stale, []);
    assert.equal((await call(`${srv.url}/v1/vectors/refresh/nope`, 'POST')).status, 404);
  });

  it('carries the rows of the dataset version it embedded: a replaced row shows after the refresh, never before', async () => {
    const put = (rows) => fetch(`${srv.url}/v1/ingest?dataset=crew&filename=crew.ndjson&mode=replace`, {
      method: 'POST', body: rows.map((r) => JSON.stringify(r)).join('\n'),
    });
    assert.equal((await put([{ id: 1, name: 'Old Name', role: 'crane operator on night shifts' }])).status, 201);
    const c = await call(`${srv.url}/v1/vectors/indexes`, 'POST', { name: 'crew_idx', dataset: 'crew', id_column: 'id', text_columns: ['role'] });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const top = async () => (await call(`${srv.url}/v1/search`, 'POST', { index: 'crew_idx', query: 'crane operator', k: 1 })).body.hits[0].row.name;
    assert.equal(await top(), 'Old Name');
    assert.equal(await top(), 'Old Name'); // a second time: the row from memory, the same
    assert.equal((await put([{ id: 1, name: 'New Name', role: 'crane operator on night shifts' }])).status, 201);
    assert.equal(await top(), 'Old Name', 'the index still answers from the version it embedded');
    assert.equal((await call(`${srv.url}/v1/vectors/refresh/crew`, 'POST')).status, 200);
    assert.equal(await top(), 'New Name');
  });

  it('answers with citations, extractive without a chat provider, and journals what it used', async () => {
    const a = await call(`${srv.url}/v1/ask`, 'POST', { question: 'Who can bake bread?', index: 'workers_idx', k: 3 });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.mode, 'extractive');
    assert.equal(a.body.citations[0].id, 3);
    assert.match(a.body.answer, /pastry chef/);
    // every cited passage is quoted (whole sentences), best first
    let at = -1;
    for (const c of a.body.citations) {
      const here = a.body.answer.indexOf(`[${c.id}]`);
      assert.ok(here > at, `citation ${c.id} quoted in order: ${a.body.answer}`);
      at = here;
    }
    assert.equal(a.body.provenance[0].index, 'workers_idx');
    await call(`${srv.url}/v1/journal/flush`, 'POST');
    const h = await call(`${srv.url}/v1/journal/history/workers_idx`, 'GET');
    const ask = h.body.events.find((e) => e.entity_type === 'ask');
    assert.ok(ask, JSON.stringify(h.body));
    assert.equal(ask.new.cited[0].id, 3);
    assert.equal(ask.new.provenance[0].version, a.body.provenance[0].version);
  });

  if (provider === 'local-node') it('survives the sidecar dying mid-refresh: a clear error, no half-built version, and a retry completes', async () => {
    const long = [];
    for (let i = 0; i < 150; i++) long.push([`Worker ${i}`, 'York', `general operative number ${i}, `.repeat(40)]);
    const file = writePeople(dir, long, 'long.ndjson', 1000);
    const before = (await call(`${srv.url}/v1/vectors/indexes/workers_manual`, 'GET')).body.live;
    await ingest(srv, 'workers', file);
    const pending = call(`${srv.url}/v1/vectors/refresh/workers`, 'POST');
    const pid = (await call(`${srv.url}/health`, 'GET')).body.modules.ai.sidecar.pid;
    await new Promise((r) => setTimeout(r, 500));
    process.kill(pid, 'SIGKILL');
    const r = await pending;
    if (r.status === 200) {
      // the refresh won the race (the sidecar came back within the retries): nothing to assert but success
      assert.ok(r.body.indexes.length >= 1);
      return;
    }
    assert.ok([502, 503].includes(r.status), JSON.stringify(r.body)); // an unusable answer, or no sidecar to ask
    assert.match(r.body.error.message, /embedding/);
    assert.equal((await call(`${srv.url}/v1/vectors/indexes/workers_manual`, 'GET')).body.live, before);
    await call(`${srv.url}/v1/errors/flush`, 'POST');
    const errs = await call(`${srv.url}/v1/errors`, 'GET');
    assert.ok(JSON.stringify(errs.body).includes('ai.embed'), JSON.stringify(errs.body).slice(0, 500));
    await until('the sidecar back', async () => (await call(`${srv.url}/health`, 'GET')).body.modules.ai.sidecar.state === 'running');
    const again = await call(`${srv.url}/v1/vectors/refresh/workers`, 'POST');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.indexes.find((x) => x.index === 'workers_manual').embedded, 150);
  });
});

describe('text indexes with remote providers', () => {
  let fx;
  before(async () => {
    fx = await ollamaFixture();
  });
  after(() => fx.server.close());

  it('report provider failures clearly, journal them, build nothing, and succeed on retry', async () => {
    const dir = tempDir();
    assert.equal(run(['ingest', writePeople(dir, PEOPLE), '--dataset', 'workers', '--data', dir, '--log-level', 'warn']).status, 0);
    const srv = await startServer({
      dataDir: dir,
      env: { LAKEHOUSE_AI_PROVIDER: 'ollama', LAKEHOUSE_AI_URL: fx.url, LAKEHOUSE_AI_MODEL: 'fixture',
        LAKEHOUSE_AI_RETRIES: '1', LAKEHOUSE_AI_TIMEOUT_MS: '1000' },
    });
    try {
      const create = () => call(`${srv.url}/v1/vectors/indexes`, 'POST', { name: 'w', dataset: 'workers', id_column: 'worker_id', text_columns: ['profile'] });
      for (const [mode, re] of [['fail500', /HTTP 500/], ['malformed', /./], ['slow', /time/i]]) {
        fx.state.mode = mode;
        const r = await create();
        assert.equal(r.status >= 500 || r.status === 408, true, `${mode}: ${r.status} ${JSON.stringify(r.body)}`);
        assert.match(r.body.error.message, re, mode);
        assert.equal((await call(`${srv.url}/v1/vectors/indexes/w`, 'GET')).status, 404, mode);
      }
      await call(`${srv.url}/v1/errors/flush`, 'POST');
      const errs = JSON.stringify((await call(`${srv.url}/v1/errors`, 'GET')).body);
      assert.ok(errs.includes('ai.embed') && errs.includes('500'), errs.slice(0, 800));
      fx.state.mode = 'ok';
      const r = await create();
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.text.provider, 'ollama');
      assert.equal(r.body.dim, 4);
      // a repeated query is embedded once
      const calls = fx.state.embedCalls;
      for (const mode of ['vector', 'hybrid', 'vector']) {
        const q = await call(`${srv.url}/v1/search`, 'POST', { index: 'w', query: 'who does payroll', mode, k: 2 });
        assert.equal(q.status, 200, JSON.stringify(q.body));
      }
      assert.equal(fx.state.embedCalls, calls + 1);
    } finally {
      await srv.stop();
    }
  });

  it('generates answers through a chat provider, citing the passages it was given', async () => {
    const dir = tempDir();
    assert.equal(run(['ingest', writePeople(dir, PEOPLE), '--dataset', 'workers', '--data', dir, '--log-level', 'warn']).status, 0);
    const srv = await startServer({
      dataDir: dir,
      env: { LAKEHOUSE_AI_PROVIDER: 'hash', LAKEHOUSE_AI_CHAT_PROVIDER: 'ollama', LAKEHOUSE_AI_CHAT_URL: fx.url, LAKEHOUSE_AI_CHAT_MODEL: 'fixture-chat' },
    });
    try {
      fx.state.mode = 'ok';
      const c = await call(`${srv.url}/v1/vectors/indexes`, 'POST', { name: 'w', dataset: 'workers', id_column: 'worker_id', text_columns: ['profile'] });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      const a = await call(`${srv.url}/v1/ask`, 'POST', { question: 'Who works with payroll?', index: 'w', k: 2 });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(a.body.mode, 'generated');
      const chat = fx.state.chats.at(-1);
      assert.equal(chat.model, 'fixture-chat');
      assert.match(chat.messages[0].content, /payroll/);
      assert.equal(chat.messages[1].content, 'Who works with payroll?');
      assert.match(a.body.answer, new RegExp(`\\[${a.body.citations[0].id}\\]`));
    } finally {
      await srv.stop();
    }
  });

  it('filter at 0.1% selectivity still returns exactly k (hash embedder, 10,000 rows)', async () => {
    const dir = tempDir();
    const rows = [];
    for (let i = 0; i < 10000; i++) rows.push(JSON.stringify({ id: i, grp: i % 1000, body: `item ${i} colour ${['red', 'green', 'blue'][i % 3]} size ${i % 17}` }));
    fs.writeFileSync(path.join(dir, 'items.ndjson'), rows.join('\n') + '\n');
    assert.equal(run(['ingest', path.join(dir, 'items.ndjson'), '--dataset', 'items', '--data', dir, '--log-level', 'warn']).status, 0);
    const srv = await startServer({ dataDir: dir, env: { LAKEHOUSE_AI_PROVIDER: 'hash' } });
    try {
      const c = await call(`${srv.url}/v1/vectors/indexes`, 'POST', { name: 'items_idx', dataset: 'items', id_column: 'id', text_columns: ['body'] });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      assert.equal(c.body.text.model, 'hash-256');
      // bad settings are refused with the reason, and build nothing
      for (const [body, re] of [
        [{ template: '{body' }, /unclosed/],
        [{ template: 'x {nope} y' }, /no column "nope"/],
        [{ text_columns: [] }, /columns/],
        [{ text_columns: ['body'], refresh: 'sometimes' }, /refresh/],
        [{ text_columns: ['body'], provider: 'magic' }, /provider/],
        [{ text_columns: ['body'], fusion: 'average' }, /fusion/],
      ]) {
        const r = await call(`${srv.url}/v1/vectors/indexes`, 'POST', { name: 'bad_idx', dataset: 'items', id_column: 'id', ...body });
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.match(r.body.error.message, re);
      }
      assert.equal((await call(`${srv.url}/v1/vectors/indexes/bad_idx`, 'GET')).status, 404);
      for (const mode of ['vector', 'text', 'hybrid']) {
        const s = await call(`${srv.url}/v1/search`, 'POST', { index: 'items_idx', query: 'colour red size 3', k: 10, mode, filter: 'grp = 7' });
        assert.equal(s.status, 200, JSON.stringify(s.body));
        assert.equal(s.body.hits.length, 10, mode);
        assert.ok(s.body.hits.every((h) => h.row.grp === 7), mode);
      }
      // the same from the command line, in another process over the same data
      const cli = run(['search', 'items_idx', 'colour', 'red', '--k', '3', '--filter', 'grp = 7', '--data', dir, '--log-level', 'warn']);
      assert.equal(cli.status, 0, cli.stderr);
      assert.equal(cli.stdout.trim().split('\n').length, 3);
      for (const line of cli.stdout.trim().split('\n')) assert.equal(Number(line.trim().split(/\s+/)[1]) % 1000, 7, line);
      const ask = run(['ask', 'which item is red?', '--index', 'items_idx', '--json', '--data', dir, '--log-level', 'warn']);
      assert.equal(ask.status, 0, ask.stderr);
      assert.equal(JSON.parse(ask.stdout).mode, 'extractive');
      assert.equal(run(['search', 'nope', 'x', '--data', dir, '--log-level', 'warn']).status, 3);
    } finally {
      await srv.stop();
    }
  });
});
