// ui.test.mjs — the web UI (issue 14) in a real browser: Debian's chromium,
// headless, driven by playwright-core. Every test fails on a console error,
// a page error, a failed request or a 4xx/5xx answer it did not expect, and
// saves a screenshot under build/test-output/ui/.
//
// Also here: the XSS test (hostile column values, a hostile file name in the
// lineage and hostile error messages come back escaped and fire no dialog),
// the CSRF test (a POST without the token is refused) and the parity check
// (the dataset page shows what GET /v1/catalog/datasets/{name} returns).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, tempDir } from './harness.mjs';
import { IMG, OUT, SCRIPT, assertEscaped, cli, launch, open, session } from './ui-harness.mjs';

// A dataset with the staffing sample, a text index over workers, and a
// dataset whose values, file name and message are hostile.
function loadData(dir) {
  cli(['sample', '--rows', '50', '--ingest', '--data', dir]);
  cli(['index', 'create', 'people', '--dataset', 'workers', '--id-column', 'worker_id', '--text-columns', 'profile',
    '--provider', 'hash', '--data', dir]);
  cli(['index', 'create', 'orders', '--dataset', 'job_orders', '--id-column', 'job_order_id', '--text-columns',
    'description', '--provider', 'hash', '--data', dir]);
  const files = tempDir('lh-ui-files-');
  const hostile = path.join(files, `${IMG}.csv`);
  fs.writeFileSync(hostile, `id,note\n1,"${SCRIPT}"\n2,"${IMG.replaceAll('"', '""')}"\n`);
  cli(['ingest', hostile, '--dataset', 'hostile', '--message', `${SCRIPT}${IMG}`, '--data', dir]);
}

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

describe('the web UI, local operator', { timeout: 180000 }, () => {
  let srv;
  before(async () => {
    const dir = tempDir('lh-ui-');
    loadData(dir);
    srv = await startServer({ dataDir: dir });
  });
  after(async () => {
    await srv?.stop();
  });

  it('serves pages with a strict CSP and assets with immutable caching', async () => {
    const r = await fetch(`${srv.url}/`);
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const cookie = r.headers.get('set-cookie');
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const html = await r.text();
    assert.doesNotMatch(html, /<script>[^<]/, 'no inline script');
    const assets = [...html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.equal(assets.length, 7);
    for (const a of assets) {
      assert.match(a, /-[0-9a-f]{12}\.(js|css|svg)$/);
      const got = await fetch(`${srv.url}${a}`);
      assert.equal(got.status, 200, a);
      assert.equal(got.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
    }
    assert.equal((await fetch(`${srv.url}/ui/assets/htmx-000000000000.js`)).status, 404);
  });

  it('explores a dataset: filter as you type, schema with PII, preview, diff of two versions', async () => {
    const t = await open(browser, 'explore');
    const { page } = t;
    await page.goto(`${srv.url}/`);
    await page.fill('#q', 'work');
    await page.waitForFunction(() => !document.querySelector('#datasets').textContent.includes('calls'));
    assert.ok((await page.textContent('#datasets')).includes('workers'));
    await page.click('#datasets a:text-is("workers")');
    await page.waitForURL(/\/ui\/datasets\/workers$/);
    assert.equal(await page.textContent('h1'), 'workers');
    assert.ok((await page.textContent('table.schema')).includes('email'));
    assert.ok(await page.locator('table.schema .tag.pii').count() >= 3);
    // parity: what the page shows is what the HTTP API returns
    const api = await (await fetch(`${srv.url}/v1/catalog/datasets/workers`)).json();
    assert.equal(await page.textContent('[data-fact=version]'), String(api.version));
    assert.equal(await page.textContent('[data-fact=row_count]'), String(api.row_count));
    assert.equal(await page.locator('#preview tbody tr').count(), Math.min(50, api.row_count));
    assert.equal(await page.locator('.timeline li').count(), api.version);
    // the diff of v1 and v2 (HTMX swaps it in)
    await page.selectOption('#diff-from', '1');
    await page.selectOption('#diff-to', '2');
    await page.click('.diff-form button');
    await page.waitForSelector('#diff [data-diff=rows_added]');
    assert.equal(await page.textContent('#diff [data-diff=rows_added]'), `+${api.row_count} rows`);
    assert.ok((await page.textContent('#diff .schema-changes')).includes('worker_id'));
    await t.done();
  });

  it('facets a column: top values with counts (as the API says) that filter the preview', async () => {
    const t = await open(browser, 'facets');
    const { page } = t;
    await page.goto(`${srv.url}/ui/datasets/workers`);
    await page.waitForSelector('#facets .facet[data-facet=city]');
    const api = await (await fetch(`${srv.url}/v1/catalog/datasets/workers/facets?columns=city`)).json();
    const top = api.facets[0].values[0];
    const shown = page.locator('#facets .facet[data-facet=city] li').first();
    assert.equal(await shown.locator('a').textContent(), top.value);
    assert.equal(await shown.locator('.count').textContent(), String(top.count));
    await shown.locator('a').click();
    await page.waitForSelector('#preview .facet-value');
    assert.equal(await page.textContent('#preview .facet-value'), top.value);
    assert.equal(await page.locator('#preview tbody tr').count(), Math.min(50, top.count));
    const cityColumn = (await page.locator('#preview thead th').allTextContents()).findIndex((h) => h.startsWith('city'));
    for (const c of await page.locator(`#preview tbody tr td:nth-child(${cityColumn + 1})`).allTextContents())
      assert.equal(c, top.value);
    // without JavaScript the same filter is a plain link to a full page
    const html = await (await fetch(`${srv.url}/ui/datasets/workers?facet=city&value=${encodeURIComponent(top.value)}`)).text();
    assert.match(html, new RegExp(`of ${top.count} \\(v`));
    assert.equal((await fetch(`${srv.url}/ui/datasets/workers?facet=nope&value=x`)).status, 400);
    await t.done();
  });

  it('hides rows by key (a tombstone) and lists them; the preview no longer shows them', async () => {
    const before = await (await fetch(`${srv.url}/v1/catalog/datasets/placements`)).json();
    const t = await open(browser, 'tombstone');
    const { page } = t;
    await page.goto(`${srv.url}/ui/datasets/placements`);
    await page.selectOption('#ts-column', 'placement_id');
    await page.fill('#ts-values', '1\n2');
    await page.fill('#ts-reason', 'duplicate entries');
    await page.click('.tombstone-form button');
    await page.waitForURL(/\/ui\/datasets\/placements#tombstones$/);
    const now = await (await fetch(`${srv.url}/v1/catalog/datasets/placements`)).json();
    assert.equal(now.version, before.version + 1);
    assert.equal(now.tombstones.length, 2);
    // the files keep every row (row_count); readers, and the preview, see two fewer
    const seen = await (await fetch(`${srv.url}/v1/sql`, { method: 'POST', body: JSON.stringify({ sql: 'SELECT count(*) FROM placements' }) })).json();
    assert.equal(seen.rows[0][0], before.row_count - 2);
    assert.match(await page.textContent('#preview p.muted'), new RegExp(` of ${before.row_count - 2} \\(v${now.version}\\)`));
    assert.equal(await page.locator('#tombstones tbody tr').count(), 2);
    assert.ok((await page.textContent('#tombstones tbody')).includes('duplicate entries'));
    const first = await page.locator('#preview tbody tr td:first-child').allTextContents();
    assert.ok(!first.includes('1') && !first.includes('2'), 'hidden rows are not previewed');
    await t.done();
  });

  it('rolls a dataset back (POST with the CSRF token) and refuses a POST without it', async () => {
    const before = await (await fetch(`${srv.url}/v1/catalog/datasets/clients`)).json();
    const { cookie, csrf } = await session(`${srv.url}/ui/datasets/clients`);
    const post = (body, headers = {}) => fetch(`${srv.url}/ui/datasets/clients/rollback`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
      body: new URLSearchParams(body),
    });
    assert.equal((await post({ version: '1' })).status, 403, 'no token');
    assert.equal((await post({ version: '1', csrf: 'f'.repeat(64) })).status, 403, 'a wrong token');
    const other = await session(`${srv.url}/`);
    assert.equal((await post({ version: '1', csrf: other.csrf })).status, 403, 'another session\'s token');
    const refused = await fetch(`${srv.url}/ui/sql`, { method: 'POST', body: new URLSearchParams({ sql: 'select 1' }) });
    assert.equal(refused.status, 403, 'a POST without a session');
    assert.equal((await (await fetch(`${srv.url}/v1/catalog/datasets/clients`)).json()).version, before.version);

    const t = await open(browser, 'rollback');
    await t.page.goto(`${srv.url}/ui/datasets/clients`);
    await t.page.click('button:text("Roll back to v1")');
    await t.page.waitForURL(/\/ui\/datasets\/clients$/);
    const now = await (await fetch(`${srv.url}/v1/catalog/datasets/clients`)).json();
    assert.equal(now.version, before.version + 1);
    assert.equal(now.row_count, 0);
    assert.equal(await t.page.textContent('[data-fact=version]'), String(now.version));
    await t.done();
  });

  it('runs SQL with Ctrl+Enter, draws a chart, and shows the engine\'s error', async () => {
    const t = await open(browser, 'sql');
    const { page } = t;
    await page.goto(`${srv.url}/ui/sql`);
    await page.fill('#sql', 'SELECT city, count(*) AS n, avg(hourly_rate) AS rate FROM workers GROUP BY city ORDER BY n DESC, city');
    await page.press('#sql', 'Control+Enter');
    await page.waitForSelector('figure.chart[data-drawn=bar]');
    assert.ok(await page.locator('#sql-result tbody tr').count() > 1);
    await page.selectOption('#chart-kind', 'line');
    await page.waitForSelector('figure.chart[data-drawn=line]');
    await page.fill('#sql', 'SELECT years_experience, hourly_rate FROM workers');
    await page.press('#sql', 'Control+Enter');
    await page.waitForSelector('figure.chart[data-drawn=scatter]');
    await page.screenshot({ path: path.join(OUT, 'sql-scatter.png') });
    await page.fill('#sql', `SELECT "${SCRIPT}" FROM workers`);
    await page.press('#sql', 'Control+Enter');
    await page.waitForSelector('#sql-result .error');
    assert.ok((await page.textContent('#sql-result .error')).includes(SCRIPT));
    await t.done();
  });

  it('pages a SQL result, marks the error\'s place, downloads CSV and Parquet, and keeps a history', async () => {
    const t = await open(browser, 'sql-more');
    const { page } = t;
    await page.goto(`${srv.url}/ui/sql`);
    await page.fill('#sql', 'SELECT range AS n FROM range(450)');
    await page.press('#sql', 'Control+Enter');
    await page.waitForSelector('#sql-result [data-first]');
    assert.equal(await page.textContent('#sql-result [data-last]'), '200');
    await page.click('#sql-result .pager button:text("next →")');
    await page.waitForFunction(() => document.querySelector('#sql-result [data-first]')?.textContent === '201');
    assert.equal(await page.textContent('#sql-result tbody tr:first-child td'), '200');
    await page.click('#sql-result .pager button:text("next →")');
    await page.waitForFunction(() => document.querySelector('#sql-result [data-last]')?.textContent === '450');
    assert.equal(await page.locator('#sql-result .pager button:text("next →")').count(), 0, 'the last page');
    // downloads: the whole result, as the HTTP API gives it
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('button:text("Download CSV")')]);
    const csvText = fs.readFileSync(await csv.path(), 'utf8');
    const api = await (await fetch(`${srv.url}/v1/sql`, { method: 'POST', body: JSON.stringify({ sql: 'SELECT range AS n FROM range(450)', format: 'csv' }) })).text();
    assert.equal(csvText, api);
    assert.equal(csvText.trim().split(/\r?\n/).length, 451);
    const [pq] = await Promise.all([page.waitForEvent('download'), page.click('button:text("Download Parquet")')]);
    const bytes = fs.readFileSync(await pq.path());
    assert.equal(bytes.subarray(0, 4).toString(), 'PAR1');
    assert.equal(pq.suggestedFilename(), 'result.parquet');
    // any format the API answers, json included (the edge adds no rule of its own)
    await page.evaluate(() => {
      const form = [...document.querySelectorAll('form')].find((f) => f.textContent.includes('Download CSV'));
      form.querySelector('input[name=format]').value = 'json';
    });
    const [js] = await Promise.all([page.waitForEvent('download'), page.click('button:text("Download CSV")')]);
    const got = JSON.parse(fs.readFileSync(await js.path(), 'utf8'));
    const want = await (await fetch(`${srv.url}/v1/sql`, { method: 'POST', body: JSON.stringify({ sql: 'SELECT range AS n FROM range(450)' }) })).json();
    assert.equal(js.suggestedFilename(), 'result.json');
    assert.deepEqual(got.rows, want.rows);
    assert.equal(got.rows.length, 450);
    // the engine's error: its place is marked on the page and selected in the editor
    await page.fill('#sql', 'SELECT city,\n  count(*) FORM workers');
    await page.press('#sql', 'Control+Enter');
    await page.waitForSelector('#sql-result pre.sql-at mark');
    assert.equal(await page.textContent('#sql-result pre.sql-at mark'), 'workers');
    assert.ok((await page.textContent('#sql-result .sql-at')).includes('count(*) FORM'));
    assert.equal(await page.evaluate(() => {
      const e = document.getElementById('sql');
      return e.value.slice(e.selectionStart, e.selectionEnd);
    }), 'workers');
    // the history: newest first, as sql.history answers over HTTP; a click loads it
    await page.waitForFunction(() => document.querySelector('#sql-history li code')?.textContent.includes('range(450)'));
    const history = await (await fetch(`${srv.url}/v1/sql/history?limit=20`)).json();
    const listed = await page.locator('#sql-history li code').allTextContents();
    assert.deepEqual(listed, history.statements.map((s) => s.sql));
    await page.click('#sql-history li a:has-text("range(450)")');
    await page.waitForURL(/\/ui\/sql\?sql=/);
    assert.equal(await page.inputValue('#sql'), 'SELECT range AS n FROM range(450)');
    await t.done();
  });

  it('filters the journal by action and entity', async () => {
    const t = await open(browser, 'journal');
    const { page } = t;
    await page.goto(`${srv.url}/ui/system`);
    await page.fill('#j-action', 'rollback');
    await page.waitForFunction(() => [...document.querySelectorAll('#journal tbody tr')].length > 0 &&
      [...document.querySelectorAll('#journal tbody tr')].every((r) => r.textContent.includes('rollback')));
    const api = await (await fetch(`${srv.url}/v1/journal/recent?action=rollback&limit=50`)).json();
    assert.equal(await page.locator('#journal tbody tr').count(), api.events.length);
    await page.fill('#j-entity_id', 'no-such-entity');
    await page.waitForSelector('#journal :text("No events match.")');
    await t.done();
  });

  it('moves by keyboard: a skip link first, visible focus, forms that submit with Enter', async () => {
    const t = await open(browser, 'keyboard');
    const { page } = t;
    await page.goto(`${srv.url}/`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
    assert.ok(await page.evaluate(() => document.activeElement.getBoundingClientRect().left >= 0), 'the skip link shows');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => location.hash), '#main');
    // the nav is reachable and shows where focus is
    await page.goto(`${srv.url}/`);
    let sql = false;
    for (let i = 0; i < 12 && !sql; i++) {
      await page.keyboard.press('Tab');
      sql = await page.evaluate(() => document.activeElement.getAttribute('href') === '/ui/sql');
    }
    assert.ok(sql, 'the SQL link is reached by Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'focus is visible');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/ui\/sql$/);
    // the dataset filter: type, Tab to the result, Enter opens it
    await page.goto(`${srv.url}/`);
    await page.focus('#q');
    await page.keyboard.type('clien');
    await page.waitForFunction(() => !document.querySelector('#datasets').textContent.includes('workers'));
    await page.keyboard.press('Tab');
    for (let i = 0; i < 3 && !(await page.evaluate(() => document.activeElement.tagName === 'A')); i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/ui\/datasets\/clients$/);
    // Ask: Tab to the question, type, Enter asks
    await page.goto(`${srv.url}/ui/ask`);
    await page.focus('#question');
    await page.keyboard.type('forklift');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.citations li');
    await t.done();
  });

  it('asks a question: numbered citations expand to the source row and link to the dataset version', async () => {
    const t = await open(browser, 'ask');
    const { page } = t;
    await page.goto(`${srv.url}/ui/ask`);
    await page.uncheck('input[name=indexes][value=orders]');
    await page.check('input[name=indexes][value=people]');
    await page.fill('#question', 'forklift operator in Chicago');
    await page.click('#ask-form button');
    await page.waitForSelector('.citations li');
    assert.ok((await page.textContent('.answer .text')).length > 0);
    assert.equal((await page.textContent('.citations li .n')).trim(), '[1]');
    await page.click('.citations li summary');
    const first = page.locator('.citations li').first();
    assert.ok(await first.locator('table.data tbody tr').isVisible(), 'the cited row');
    const href = await first.locator('a').getAttribute('href');
    assert.match(href, /^\/ui\/datasets\/workers\?version=\d+$/);
    await first.locator('a').click();
    await page.waitForURL(/\/ui\/datasets\/workers\?version=/);
    // over two indexes at once: citations from both, as the ask operation answers
    await page.goto(`${srv.url}/ui/ask`);
    assert.ok(await page.isChecked('input[name=indexes][value=orders]'), 'the first index is chosen by default');
    await page.check('input[name=indexes][value=people]');
    await page.fill('#question', 'forklift operator');
    await page.click('#ask-form button');
    await page.waitForSelector('.citations li');
    const cited = new Set((await page.locator('.citations li summary').allTextContents()).map((s) => s.split(' ')[1]));
    assert.deepEqual([...cited].sort(), ['orders', 'people']);
    await t.done();
  });

  it('escapes hostile values, file names and error messages (XSS)', async () => {
    const html = await (await fetch(`${srv.url}/ui/datasets/hostile`)).text();
    assertEscaped(html, 'dataset page');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the value is shown, escaped');
    assert.ok(html.includes('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.csv'), 'the file name is shown, escaped');
    const { cookie, csrf } = await session(`${srv.url}/ui/sql`);
    const error = await fetch(`${srv.url}/ui/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ csrf, sql: `SELECT "${SCRIPT}${IMG}" FROM hostile` }),
    });
    assert.equal(error.status, 200);
    const errorHtml = await error.text();
    assertEscaped(errorHtml, 'SQL error');
    assert.ok(errorHtml.includes('class="error"'));
    assertEscaped(await (await fetch(`${srv.url}/ui/datasets/${encodeURIComponent(IMG)}`)).text(), 'a bad dataset name');
    assertEscaped(await (await fetch(`${srv.url}/ui/datasets/hostile/diff?from=1&to=2`)).text(), 'the diff');
    assertEscaped(await (await fetch(`${srv.url}/ui/datasets?q=${encodeURIComponent(IMG)}`)).text(), 'the filter');
    const q = encodeURIComponent(`${SCRIPT}${IMG}`);
    assertEscaped(await (await fetch(`${srv.url}/ui/datasets/hostile?facet=note&value=${q}`)).text(), 'a facet value');
    assertEscaped(await (await fetch(`${srv.url}/ui/datasets/hostile?facet=${q}&value=x`)).text(), 'a facet column');
    assertEscaped(await (await fetch(`${srv.url}/ui/datasets/hostile/facets`)).text(), 'the facets');
    assertEscaped(await (await fetch(`${srv.url}/ui/sql?sql=${q}`)).text(), 'a statement in the editor');
    assertEscaped(await (await fetch(`${srv.url}/ui/system/journal?actor=${q}&entity_id=${q}`)).text(), 'the journal filter');
    // a hostile statement that runs joins the history, escaped
    const ran = await fetch(`${srv.url}/ui/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ csrf, sql: `SELECT '${SCRIPT}${IMG.replaceAll("'", "''")}' AS x` }),
    });
    const ranHtml = await ran.text();
    assertEscaped(ranHtml, 'a hostile result and the history');
    assert.ok(ranHtml.includes('Recent statements') && ranHtml.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    // a form field that is not UTF-8 is as if absent, not a crash
    const bad = await fetch(`${srv.url}/ui/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: `csrf=${csrf}&sql=%FF%FE&%FF=1&indexes=a&indexes=b`,
    });
    assert.equal(bad.status, 200);

    const t = await open(browser, 'xss', { allow: [{ status: 400, path: '/ui/datasets/%22%3E%3Cimg' }] });
    await t.page.goto(`${srv.url}/ui/datasets/hostile`);
    await t.page.goto(`${srv.url}/ui/datasets/hostile/diff?from=1&to=2`);
    await t.page.goto(`${srv.url}/ui/datasets/${encodeURIComponent(IMG)}`);
    await t.page.goto(`${srv.url}/ui/sql`);
    await t.page.fill('#sql', `SELECT "${SCRIPT}${IMG}" FROM hostile`);
    await t.page.press('#sql', 'Control+Enter');
    await t.page.waitForSelector('#sql-result .error');
    await t.done();
  });
});

describe('the web UI, signed in', { timeout: 180000 }, () => {
  let srv, key, readerKey;
  before(async () => {
    const dir = tempDir('lh-ui-auth-');
    cli(['sample', '--rows', '50', '--ingest', '--data', dir]);
    key = JSON.parse(cli(['profile', 'key-create', 'agent', '--json', '--data', dir])).key;
    cli(['profile', 'create', 'reader', '--kind', 'person', '--scopes', 'read', '--datasets', 'clients', '--data', dir]);
    readerKey = JSON.parse(cli(['profile', 'key-create', 'reader', '--json', '--data', dir])).key;
    srv = await startServer({ dataDir: dir, args: ['--set', 'auth.required=true'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('signs in with a key, keeps it out of the browser, and refuses a page the profile may not see', async () => {
    const t = await open(browser, 'signin', {
      allow: [{ status: 401, path: '/ui/signin' }, { status: 403, path: '/ui/datasets/workers' }],
    });
    const { page } = t;
    await page.goto(`${srv.url}/ui/sql`);
    await page.waitForURL(/\/ui\/signin$/);
    await page.fill('#key', 'lh_0000000000000000_nope');
    await page.click('form.signin button');
    await page.waitForSelector('.error');
    await page.fill('#key', key);
    await page.click('form.signin button');
    await page.waitForURL(`${srv.url}/`);
    assert.ok((await page.textContent('.who')).includes('agent'));
    const cookies = await t.context.cookies();
    assert.equal(cookies.length, 1);
    assert.ok(cookies[0].httpOnly);
    assert.equal(cookies[0].sameSite, 'Strict');
    assert.ok(!cookies[0].value.includes(key.slice(-16)), 'the cookie is not the key');
    // agent reads the view workers_safe, not the dataset workers
    const res = await page.goto(`${srv.url}/ui/datasets/workers`);
    assert.equal(res.status(), 403);
    assert.ok((await page.textContent('.error')).includes('agent'));
    await page.goto(`${srv.url}/ui/sql`);
    await page.fill('#sql', 'SELECT count(*) AS n FROM workers_safe');
    await page.press('#sql', 'Control+Enter');
    await page.waitForSelector('#sql-result tbody tr');
    // signing out ends the session
    await page.click('.who button');
    await page.waitForURL(/\/ui\/signin$/);
    await page.goto(`${srv.url}/ui/sql`);
    await page.waitForURL(/\/ui\/signin$/);
    await t.done();
  });

  it('offers a read-only profile no rollback or tombstone, and refuses them when posted', async () => {
    const start = await session(`${srv.url}/ui/signin`);
    const signin = await fetch(`${srv.url}/ui/signin`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: start.cookie },
      body: new URLSearchParams({ csrf: start.csrf, key: readerKey }),
    });
    assert.equal(signin.status, 303);
    const cookie = signin.headers.get('set-cookie').split(';')[0];
    const page = await fetch(`${srv.url}/ui/datasets/clients`, { headers: { cookie } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(html.includes('<h1>clients</h1>'));
    assert.ok(!html.includes('tombstone-form'), 'no tombstone form');
    assert.ok(!html.includes('Roll back to'), 'no rollback button');
    const csrf = html.match(/<meta name="csrf-token" content="([0-9a-f]+)">/)[1];
    const before = JSON.parse(cli(['catalog', 'show', 'clients', '--json', '--data', srv.dir])).version;
    for (const [action, body] of [['tombstone', { key_column: 'client_id', values: '1' }], ['rollback', { version: '1' }]]) {
      const r = await fetch(`${srv.url}/ui/datasets/clients/${action}`, {
        method: 'POST', redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ csrf, ...body }),
      });
      assert.equal(r.status, 403, action);
      assert.ok((await r.text()).includes('reader'), 'the refusal names the profile');
    }
    assert.equal(JSON.parse(cli(['catalog', 'show', 'clients', '--json', '--data', srv.dir])).version, before);
    // its SQL history is its own
    const history = await fetch(`${srv.url}/ui/sql`, { headers: { cookie } });
    assert.ok(!(await history.text()).includes('workers_safe'), 'not the agent\'s statements');
  });
});

describe('the web UI, a long history', { timeout: 180000 }, () => {
  it('shows the newest 100 versions of a dataset, says how many are older, and marks one that does not read', async () => {
    let srv = await startServer();
    const dir = srv.dir;
    try {
      for (let i = 1; i <= 104; i++) {
        const r = await fetch(`${srv.url}/v1/ingest?dataset=feed&filename=h${i}.csv`, { method: 'POST', body: `id,hour\n${i},${i % 24}\n` });
        assert.equal(r.status, 201, await r.text());
      }
    } finally {
      await srv.stop();
    }
    // version 50 damaged behind the catalog's back; a new process has read none of it
    fs.writeFileSync(path.join(dir, 'local', '_catalog', 'datasets', 'feed', 'v00000050.json'), '{"format":1,"da');
    srv = await startServer({ dataDir: dir });
    try {
      assert.equal((await (await fetch(`${srv.url}/health`)).json()).status, 'ok');
      const r = await fetch(`${srv.url}/ui/datasets/feed`);
      assert.equal(r.status, 200);
      const html = await r.text();
      const timeline = html.match(/<ol class="timeline" reversed>([\s\S]*?)<\/ol>/)[1];
      const items = [...timeline.matchAll(/<li><(?:a href="[^"]*"><)?strong>v(\d+)<\/strong>/g)].map((m) => Number(m[1]));
      assert.equal(items.length, 100);
      assert.equal(items[0], 105);
      assert.equal(items[99], 6);
      assert.match(timeline, /<li><strong>v50<\/strong> <span class="error">does not read/);
      assert.match(html, /5 older versions: <code>lakehouse catalog versions feed<\/code>/);
      // the diff form offers only versions that read
      assert.doesNotMatch(html.match(/<form class="diff-form"[\s\S]*?<\/form>/)[0], /value="50"/);
      // read for the page, the damage is now findable in one call
      const health = await (await fetch(`${srv.url}/health`)).json();
      assert.equal(health.status, 'degraded');
      assert.match(JSON.stringify(health.modules.catalog.corrupt), /feed\/v00000050\.json/);
    } finally {
      await srv.stop();
    }
  });
});
