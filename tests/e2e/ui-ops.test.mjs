// ui-ops.test.mjs — the web UI's Ingest and Indexes pages (issue 14) in a
// real browser (Debian's chromium, headless, playwright-core; helpers in
// ui-harness.mjs). Every test fails on a console error, a page error, a
// failed request, an unexpected 4xx/5xx or a dialog, and saves a screenshot
// under build/test-output/ui/.
//
// Upload a CSV and watch the progress bar move over server-sent events,
// schema changes and rejected rows after later uploads (one dropped on the
// zone), the search playground's three modes, an index refresh with its
// progress, an index rollback, a restricted profile that sees no upload or
// rollback action and is refused (403) when it posts anyway, CSRF on the
// upload, and hostile file and dataset names escaped.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, tempDir } from './harness.mjs';
import { IMG, SCRIPT, assertEscaped, cli, launch, open, session } from './ui-harness.mjs';

// A CSV big enough (about 33 MB) that DuckDB reports its scan's progress
// several times while it reads it.
function bigCsv(dir) {
  const file = path.join(dir, 'big.csv');
  const out = fs.openSync(file, 'w');
  fs.writeSync(out, 'id,name,score\n');
  const chunk = [];
  for (let i = 0; i < 1500000; i++) {
    chunk.push(`${i},name${i},${(i * 7919) % 1000}`);
    if (chunk.length === 100000) {
      fs.writeSync(out, chunk.join('\n') + '\n');
      chunk.length = 0;
    }
  }
  fs.closeSync(out);
  return file;
}

// Puts a file named `name` holding `text` in the drop zone, as a drag and drop does.
async function dropFile(page, name, text) {
  const dt = await page.evaluateHandle(({ name, text }) => {
    const t = new DataTransfer();
    t.items.add(new File([text], name, { type: 'text/csv' }));
    return t;
  }, { name, text });
  await page.dispatchEvent('.dropzone', 'dragover', { dataTransfer: dt });
  await page.dispatchEvent('.dropzone', 'drop', { dataTransfer: dt });
}

// A multipart POST of the upload form, as a browser without JavaScript sends it.
function postIngest(url, { cookie, csrf, dataset, name = 'f.csv', text = 'id\n1\n', skip }) {
  const form = new FormData();
  if (csrf) form.set('csrf', csrf);
  form.set('dataset', dataset);
  if (skip) form.set('skip_bad_rows', 'true');
  form.set('file', new Blob([text], { type: 'text/csv' }), name);
  return fetch(`${url}/ui/ingest`, { method: 'POST', headers: { cookie }, body: form, redirect: 'manual' });
}

const HOSTILE_FILE = `<img src=x onerror=alert(1)>${SCRIPT}.csv`;
const api = async (srv, p) => (await fetch(`${srv.url}${p}`)).json();

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

describe('the Ingest and Indexes pages, local operator', { timeout: 300000 }, () => {
  let srv, files;
  before(async () => {
    const dir = tempDir('lh-ui-ops-');
    files = tempDir('lh-ui-ops-files-');
    cli(['sample', '--rows', '50', '--ingest', '--data', dir]);
    cli(['index', 'create', 'people', '--dataset', 'workers', '--id-column', 'worker_id', '--text-columns', 'profile',
      '--provider', 'hash', '--data', dir]);
    // a dataset with its own text index, to append to and refresh
    const notes = path.join(files, 'notes.csv');
    fs.writeFileSync(notes, 'id,body\n' + Array.from({ length: 40 }, (_, i) => `${i},note number ${i} about forklifts`).join('\n') + '\n');
    cli(['ingest', notes, '--dataset', 'notes', '--data', dir]);
    cli(['index', 'create', 'notes_idx', '--dataset', 'notes', '--id-column', 'id', '--text-columns', 'body',
      '--provider', 'hash', '--data', dir]);
    // one conversion thread: the progress bar is sampled every 50 ms, and a many-core
    // machine can convert the upload between two samples
    srv = await startServer({ dataDir: dir, env: { LAKEHOUSE_QUERY_THREADS: '1' } });
  });
  after(async () => {
    await srv?.stop();
  });

  it('uploads a CSV and watches the progress bar move over SSE, then shows the new version', async () => {
    const big = bigCsv(files);
    const t = await open(browser, 'ingest-progress');
    const { page } = t;
    const streams = [];
    page.on('request', (r) => { if (r.url().includes('/ui/jobs/')) streams.push(r.url()); });
    await page.goto(`${srv.url}/ui/ingest`);
    assert.equal(await page.getAttribute('#ingest-form', 'data-max-bytes'), String(256 * 1024 * 1024));
    await page.fill('#dataset', 'big');
    await page.setInputFiles('#file', big);
    assert.match(await page.textContent('.dropzone .file-name'), /^big\.csv \(3\d\.\d MiB\)$/);
    await page.click('#ingest-form button[type=submit]');
    await page.waitForSelector('#ingest-progress[data-state=done]', { timeout: 120000 });
    await page.waitForSelector('#ingest-result .ingest-result');
    const v = await api(srv, '/v1/catalog/datasets/big');
    assert.equal(v.row_count, 1500000);
    assert.equal(await page.getAttribute('#ingest-result .ingest-result', 'data-version'), String(v.version));
    assert.ok(Number(await page.getAttribute('#ingest-progress', 'data-intermediate')) >= 1,
      'at least one progress event between 0 and 100%');
    assert.equal(await page.getAttribute('#ingest-progress progress', 'value'), '100');
    assert.match(await page.textContent('#ingest-progress .job-status'), new RegExp(`^done: v${v.version}$`));
    assert.equal(await page.textContent('#ingest-result [data-fact=row_count]'), '1500000');
    // the events came as server-sent events; another session may not listen to them
    assert.equal(streams.length, 1);
    assert.match(streams[0], /\/ui\/jobs\/[0-9a-f]{32}\/events$/);
    const other = await fetch(streams[0]);
    assert.equal(other.status, 404);
    const mine = await page.evaluate(async (u) => {
      const r = await fetch(u);
      return { type: r.headers.get('content-type'), body: await r.text() };
    }, streams[0]);
    assert.equal(mine.type, 'text/event-stream; charset=utf-8');
    assert.match(mine.body, /^id: 0\nevent: progress\ndata: \{"done":0(\.0)?,/);
    assert.match(mine.body, /\nid: (\d+)\nevent: done\ndata: \{"state":"done","version":\d+/);
    // a reconnection goes on after the last event the browser got
    const ids = [...mine.body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(ids, ids.map((_, i) => i));
    const rest = await page.evaluate(async (u) => (await fetch(u, { headers: { 'Last-Event-ID': '2' } })).text(), streams[0]);
    assert.deepEqual([...rest.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])), ids.slice(3));
    // the System page lists the job, done, with its version
    await page.goto(`${srv.url}/ui/system`);
    const job = page.locator('#jobs tbody tr').first();
    assert.match(await job.textContent(), new RegExp(`ingest.*big.*done.*${v.version}`));
    assert.ok(['idle', 'running'].includes(await page.textContent('#jobs [data-refreshing]')));
    await t.done();
  });

  it('shows the schema changes of a second upload (dropped on the zone) and the rejected rows', async () => {
    const t = await open(browser, 'ingest-schema');
    const { page } = t;
    await page.goto(`${srv.url}/ui/ingest`);
    await page.fill('#dataset', 'grow');
    await dropFile(page, 'first.csv', 'id,name\n1,a\n2,b\n');
    assert.match(await page.textContent('.dropzone .file-name'), /^first\.csv/);
    await page.click('#ingest-form button[type=submit]');
    await page.waitForSelector('#ingest-result .ingest-result[data-version="2"]');
    await page.waitForSelector('#ingest-progress[data-state=done]');
    // the same dataset again, with a new column
    await dropFile(page, 'second.csv', 'id,name,bonus\n3,c,1.5\n4,d,2.5\n');
    await page.click('#ingest-form button[type=submit]');
    await page.waitForSelector('#ingest-result .ingest-result[data-version="3"]');
    const row = page.locator('#ingest-result table.schema-changes tr.added');
    assert.equal(await row.count(), 1);
    assert.match(await row.textContent(), /added\s*bonus\s*DOUBLE/);
    assert.equal(await page.textContent('#ingest-result [data-diff=rows_added]'), '+2 rows');
    const diff = await api(srv, '/v1/catalog/datasets/grow/diff?from=2&to=3');
    assert.deepEqual(diff.schema.added.map((c) => c.name), ['bonus']);
    // skip bad rows: the good ones in, the bad ones listed
    await page.check('input[name=skip_bad_rows]');
    await dropFile(page, 'third.csv', 'id,name,bonus\n5,e,1\n6,f,2,3,4\n7,g,3\n');
    await page.click('#ingest-form button[type=submit]');
    await page.waitForSelector('#ingest-result .ingest-result[data-version="4"]');
    const rejects = await page.textContent('#ingest-result .rejects');
    assert.match(rejects, /third\.csv/);
    assert.match(rejects, /TOO MANY COLUMNS/);
    assert.equal((await api(srv, '/v1/catalog/datasets/grow')).row_count, 6);
    await t.done();
  });

  it('ingests without JavaScript: the plain form posts and the page shows the result', async () => {
    const { cookie, csrf } = await session(`${srv.url}/ui/ingest`);
    const r = await postIngest(srv.url, { cookie, csrf, dataset: 'plain', name: 'plain.csv', text: 'a,b\n1,2\n' });
    assert.equal(r.status, 201);
    const html = await r.text();
    assert.match(html, /<!doctype html>/);
    assert.match(html, /<section class="ingest-result" data-version="2">/);
    assert.equal((await api(srv, '/v1/catalog/datasets/plain')).version, 2);
  });

  it('refuses an upload without the CSRF token, and a dataset name the library refuses', async () => {
    const { cookie, csrf } = await session(`${srv.url}/ui/ingest`);
    let r = await postIngest(srv.url, { cookie, dataset: 'nocsrf' });
    assert.equal(r.status, 403);
    r = await postIngest(srv.url, { cookie, csrf: 'f'.repeat(64), dataset: 'nocsrf' });
    assert.equal(r.status, 403);
    assert.equal((await fetch(`${srv.url}/v1/catalog/datasets/nocsrf`)).status, 404);
    r = await postIngest(srv.url, { cookie, csrf, dataset: 'Bad-Name' });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /class="error"/);
  });

  it('escapes hostile file and dataset names (XSS)', async () => {
    const { cookie, csrf } = await session(`${srv.url}/ui/ingest`);
    let r = await postIngest(srv.url, { cookie, csrf, dataset: `${SCRIPT}${IMG}` });
    assert.equal(r.status, 400);
    let html = await r.text();
    assertEscaped(html, 'a hostile dataset name');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the name is shown, escaped');
    // (a browser sends a '"' in a file name as %22, so the name carries no quote)
    r = await postIngest(srv.url, { cookie, csrf, dataset: 'hostile_files', name: HOSTILE_FILE });
    assert.equal(r.status, 201);
    html = await r.text();
    assertEscaped(html, 'a hostile file name');
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(1)&lt;/script&gt;.csv'),
      'the file name is shown, escaped');
    for (const p of ['/ui/indexes', '/ui/indexes/people', `/ui/indexes/${encodeURIComponent(SCRIPT)}`,
      `/ui/indexes/people?query=${encodeURIComponent(SCRIPT + IMG)}`])
      assertEscaped(await (await fetch(`${srv.url}${p}`)).text(), p);

    const t = await open(browser, 'ops-xss', { allow: [{ status: 400, path: '/ui/ingest' }, { status: 400, path: '/ui/indexes/%3Cscript' }] });
    const { page } = t;
    await page.goto(`${srv.url}/ui/ingest`);
    await page.fill('#dataset', `${SCRIPT}${IMG}`);
    await dropFile(page, 'x.csv', 'id\n1\n');
    await page.click('#ingest-form button[type=submit]');
    await page.waitForSelector('#ingest-result .error');
    assert.ok((await page.textContent('#ingest-result .error')).includes(SCRIPT));
    await page.fill('#dataset', 'hostile_files2');
    await dropFile(page, HOSTILE_FILE, 'id\n2\n');
    assert.ok((await page.textContent('.dropzone .file-name')).startsWith(HOSTILE_FILE));
    await page.click('#ingest-form button[type=submit]');
    await page.waitForSelector('#ingest-result .ingest-result');
    assert.ok((await page.textContent('#ingest-result table')).includes(HOSTILE_FILE));
    await page.goto(`${srv.url}/ui/indexes/${encodeURIComponent(SCRIPT)}`);
    await page.goto(`${srv.url}/ui/indexes/people?query=${encodeURIComponent(SCRIPT + IMG)}`);
    await t.done();
  });

  it('plots an index\'s trials, recall against latency with the frontier, as trials.list reports them', async () => {
    cli(['trial', 'run', 'people', '--queries', '20', '--ef-search', '8', '--data', srv.dir]);
    cli(['index', 'autotune', 'people', '--queries', '20', '--ef', '16,64', '--data', srv.dir]);
    const t = await open(browser, 'trials');
    const { page } = t;
    await page.goto(`${srv.url}/ui/indexes/people`);
    await page.waitForSelector('#trials figure.chart[data-drawn=scatter]');
    const listed = (await api(srv, '/v1/trials?index=people')).trials;
    assert.equal(listed.length, 3);
    assert.equal(await page.getAttribute('#trials figure.chart', 'data-trials'), '3');
    assert.equal(await page.locator('#trials tbody tr').count(), 3);
    const shown = await page.locator('#trials tbody tr td:nth-child(7)').allTextContents();
    assert.deepEqual(shown.map(Number), listed.map((x) => x.recall_at_10));
    await t.done();
  });

  it('runs one query in the search playground: hybrid, vector and text side by side with scores', async () => {
    const t = await open(browser, 'playground');
    const { page } = t;
    await page.goto(`${srv.url}/ui/indexes`);
    assert.equal(await page.getAttribute('tr[data-index=people] [data-stale]', 'data-stale'), 'false');
    await page.click('tr[data-index=people] a:text-is("people")');
    await page.waitForURL(/\/ui\/indexes\/people$/);
    await page.fill('#query', 'forklift operator');
    await page.click('.playground-form button');
    await page.waitForSelector('#playground section.mode[data-mode=text] .hits li');
    const modes = await page.$$eval('#playground section.mode', (s) => s.map((e) => e.getAttribute('data-mode')));
    assert.deepEqual(modes, ['hybrid', 'vector', 'text']);
    for (const mode of modes) {
      const scores = await page.$$eval(`#playground section[data-mode=${mode}] .score`, (s) => s.map((e) => Number(e.textContent)));
      assert.ok(scores.length >= 1, mode);
      assert.ok(scores.every((s) => Number.isFinite(s)), mode);
      assert.deepEqual(scores, [...scores].sort((a, b) => b - a), `${mode}: best first`);
      // what the page shows first is what POST /v1/search answers
      const hits = (await (await fetch(`${srv.url}/v1/search`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ index: 'people', query: 'forklift operator', mode, k: 5, rows: false }),
      })).json()).hits;
      assert.equal(await page.textContent(`#playground section[data-mode=${mode}] .hits li:first-child .id`), String(hits[0].id));
      assert.equal(scores[0].toFixed(4), hits[0].score.toFixed(4));
    }
    await t.done();
    // without JavaScript the form asks for the index's page with ?query=
    const html = await (await fetch(`${srv.url}/ui/indexes/people?query=forklift+operator`)).text();
    assert.equal([...html.matchAll(/<section class="mode" data-mode="(\w+)">/g)].map((m) => m[1]).join(), 'hybrid,vector,text');
    assert.ok((html.match(/class="score"/g) || []).length >= 3);
  });

  it('refreshes a stale index with live progress, then rolls it back', async () => {
    // 400 new rows make notes_idx stale; the refresh embeds them in batches
    const more = 'id,body\n' + Array.from({ length: 400 }, (_, i) => `${100 + i},a later note ${i} on pallets`).join('\n') + '\n';
    const form = new FormData();
    form.set('file', new Blob([more]), 'more.csv');
    const ingested = await fetch(`${srv.url}/v1/ingest?dataset=notes`, { method: 'POST', body: form });
    assert.equal(ingested.status, 201, await ingested.text());
    const before = await api(srv, '/v1/vectors/indexes/notes_idx');
    const t = await open(browser, 'refresh');
    const { page } = t;
    await page.goto(`${srv.url}/ui/indexes`);
    assert.equal(await page.getAttribute('tr[data-index=notes_idx] [data-stale]', 'data-stale'), 'true');
    await page.goto(`${srv.url}/ui/indexes/notes_idx`);
    assert.match(await page.textContent('.tag.stale'), /behind: v\d+ of v\d+/);
    await page.click('#refresh-form button');
    await page.waitForSelector('#refresh-progress[data-state=done]');
    await page.waitForSelector('#refresh-result .refresh-result');
    const now = await api(srv, '/v1/vectors/indexes/notes_idx');
    assert.equal(now.live, before.live + 1);
    assert.equal(await page.getAttribute('#refresh-result .refresh-result', 'data-version'), String(now.live));
    assert.equal(await page.getAttribute('#refresh-result .refresh-result', 'data-status'), 'refreshed');
    assert.ok(Number(await page.getAttribute('#refresh-progress', 'data-intermediate')) >= 1, 'progress between 0 and 100%');
    assert.match(await page.textContent('#refresh-progress .job-status'), new RegExp(`^done: v${now.live}$`));
    // the index's page: current again, the new version live
    await page.goto(`${srv.url}/ui/indexes/notes_idx`);
    assert.equal(await page.textContent('[data-fact=live]'), String(now.live));
    assert.equal(await page.locator('.tag.current').count(), 1);
    assert.equal(await page.textContent('.index-versions li:has(.tag.live) strong'), `v${now.live}`);
    // roll back to the version before
    await page.click(`button:text("Make v${before.live} live")`);
    await page.waitForURL(/\/ui\/indexes\/notes_idx$/);
    assert.equal(await page.textContent('[data-fact=live]'), String(before.live));
    assert.equal((await api(srv, '/v1/vectors/indexes/notes_idx')).live, before.live);
    assert.equal(await page.textContent('.index-versions li:has(.tag.live) strong'), `v${before.live}`);
    assert.ok((await page.textContent('.promotions table')).includes('rollback'));
    await t.done();
  });
});

describe('the Ingest page, the upload limit', { timeout: 120000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ dataDir: tempDir('lh-ui-ops-limit-'), args: ['--set', 'ingest.max_upload_bytes=2048'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('refuses a file over ingest.max_upload_bytes before sending it, and shows the server\'s 413 in the error box', async () => {
    const t = await open(browser, 'ingest-limit', { allow: [{ status: 413, path: '/ui/ingest' }] });
    const { page } = t;
    let posts = 0;
    page.on('request', (r) => { if (r.method() === 'POST') posts++; });
    await page.goto(`${srv.url}/ui/ingest`);
    assert.match(await page.textContent('.dropzone small'), /up to 2 KiB/);
    await page.fill('#dataset', 'toobig');
    const text = 'id\n' + '1\n'.repeat(3000);
    await dropFile(page, 'big.csv', text);
    assert.match(await page.evaluate(() => document.querySelector('#file').validationMessage), /larger than the upload limit \(2\.0 KiB\)/);
    await page.click('#ingest-form button[type=submit]');
    assert.equal(posts, 0, 'the form is not sent');
    // past the page's check (a stale page, another client), the server refuses it
    await page.evaluate(() => document.querySelector('#ingest-form').removeAttribute('data-max-bytes'));
    await dropFile(page, 'big.csv', text);
    await page.click('#ingest-form button[type=submit]');
    await page.waitForSelector('#ingest-result .error');
    assert.match(await page.textContent('#ingest-result .error'), /exceeds the limit of 2048 bytes/);
    await page.waitForSelector('#ingest-progress[data-state=refused]');
    assert.equal(posts, 1);
    assert.equal((await fetch(`${srv.url}/v1/catalog/datasets/toobig`)).status, 404);
    await t.done();
  });
});

describe('the Ingest and Indexes pages, a restricted profile', { timeout: 180000 }, () => {
  let srv, key, adminKey;
  before(async () => {
    const dir = tempDir('lh-ui-ops-auth-');
    cli(['sample', '--rows', '50', '--ingest', '--data', dir]);
    cli(['index', 'create', 'people', '--dataset', 'workers', '--id-column', 'worker_id', '--text-columns', 'profile',
      '--provider', 'hash', '--data', dir]);
    cli(['index', 'rebuild', 'people', '--data', dir]); // a second version, so there is one to roll back to
    cli(['profile', 'create', 'viewer', '--kind', 'person', '--scopes', 'read', '--datasets', 'workers', '--indexes', 'people', '--data', dir]);
    key = JSON.parse(cli(['profile', 'key-create', 'viewer', '--json', '--data', dir])).key;
    cli(['profile', 'create', 'operator', '--kind', 'person', '--scopes', 'admin', '--data', dir]);
    adminKey = JSON.parse(cli(['profile', 'key-create', 'operator', '--json', '--data', dir])).key;
    srv = await startServer({ dataDir: dir, args: ['--set', 'auth.required=true'] });
  });
  after(async () => {
    await srv?.stop();
  });

  // A signed-in session's cookie and its CSRF token.
  async function signIn(k) {
    const anon = await session(`${srv.url}/ui/signin`);
    const r = await fetch(`${srv.url}/ui/signin`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: anon.cookie },
      body: new URLSearchParams({ csrf: anon.csrf, key: k }),
    });
    assert.equal(r.status, 303);
    const cookie = r.headers.get('set-cookie').split(';')[0];
    return session(`${srv.url}/ui/ingest`, { cookie });
  }

  it('shows a reader no upload or rollback action, and refuses its POSTs (403)', async () => {
    const t = await open(browser, 'restricted', { allow: [{ status: 403, path: '/ui/indexes/people/rollback' }] });
    const { page } = t;
    await page.goto(`${srv.url}/ui/signin`);
    await page.fill('#key', key);
    await page.click('form.signin button');
    await page.waitForURL(`${srv.url}/`);
    await page.goto(`${srv.url}/ui/ingest`);
    assert.equal(await page.locator('#ingest-form').count(), 0, 'no upload form');
    assert.match(await page.textContent('main .note'), /viewer may not ingest/);
    await page.goto(`${srv.url}/ui/indexes/people`);
    assert.equal(await page.locator('.index-versions li').count(), 2);
    assert.equal(await page.locator('.index-versions form, .index-versions button').count(), 0, 'no rollback action');
    assert.equal(await page.locator('#refresh-form').count(), 0, 'no refresh action');
    // the search playground is reading: it works
    await page.fill('#query', 'forklift');
    await page.click('.playground-form button');
    await page.waitForSelector('#playground section.mode[data-mode=hybrid] .score');
    await t.done();

    const viewer = await signIn(key);
    let r = await postIngest(srv.url, { cookie: viewer.cookie, csrf: viewer.csrf, dataset: 'workers' });
    assert.equal(r.status, 403);
    assert.match(await r.text(), /lacks scope/);
    r = await fetch(`${srv.url}/ui/indexes/people/rollback`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: viewer.cookie },
      body: new URLSearchParams({ csrf: viewer.csrf, version: '1' }),
    });
    assert.equal(r.status, 403);
    r = await fetch(`${srv.url}/ui/indexes/people/refresh`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: viewer.cookie },
      body: new URLSearchParams({ csrf: viewer.csrf }),
    });
    assert.equal(r.status, 403);
    // without a session, an upload is refused before its body is read: the
    // answer comes while the client still holds the body back
    const status = await new Promise((resolve, reject) => {
      const q = http.request(`${srv.url}/ui/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(1 << 20) },
      }, (res) => { resolve(res.statusCode); res.resume(); q.destroy(); });
      q.on('error', reject);
      q.flushHeaders();
    });
    assert.equal(status, 401);
  });

  it('shows an admin the upload form and the rollback action', async () => {
    const t = await open(browser, 'admin-actions');
    const { page } = t;
    await page.goto(`${srv.url}/ui/signin`);
    await page.fill('#key', adminKey);
    await page.click('form.signin button');
    await page.waitForURL(`${srv.url}/`);
    await page.goto(`${srv.url}/ui/ingest`);
    assert.equal(await page.locator('#ingest-form').count(), 1);
    await page.goto(`${srv.url}/ui/indexes/people`);
    assert.equal(await page.locator('.index-versions button:text("Make v1 live")').count(), 1);
    assert.equal(await page.locator('#refresh-form').count(), 1);
    await t.done();
  });
});
