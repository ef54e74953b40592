// ui-harness.mjs — what the browser tests of the web UI share (ui.test.mjs,
// ui-ops.test.mjs): Debian's chromium driven by playwright-core, a page that
// records what must not happen (console errors, page errors, failed
// requests, unexpected error statuses, dialogs) and saves a screenshot, the
// session cookie and CSRF token a browser would get, and the XSS probes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { run } from './harness.mjs';

export const CHROMIUM = process.env.LH_CHROMIUM || '/usr/bin/chromium';
export const OUT = path.resolve(process.env.LH_TEST_OUTPUT || 'build/test-output/ui');
export const SCRIPT = '<script>alert(1)</script>';
export const IMG = '"><img src=x onerror=alert(1)>';

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

export function cli(args) {
  const r = run(args);
  assert.equal(r.status, 0, `lakehouse ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// A page that records what must not happen; done() asserts none did.
// allow: [{status, path}] error statuses a test expects.
export async function open(browser, name, { allow = [] } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  const dialogs = [];
  // an error status is judged by the response listener (which knows what is allowed)
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource: the server responded with a status of'))
      problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // ERR_ABORTED: the page navigated away before a request (the icon) ended, not a failure
  page.on('requestfailed', (r) => {
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !allow.some((a) => a.status === r.status() && r.url().includes(a.path)))
      problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  return {
    page,
    context,
    dialogs,
    async done() {
      fs.mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
      await context.close();
      assert.deepEqual(dialogs, [], 'no dialog fired');
      assert.deepEqual(problems, [], 'no console error, failed request or unexpected error status');
    },
  };
}

// The session cookie and CSRF token a browser would get from a page
// (headers: e.g. a signed-in session's cookie).
export async function session(url, headers = {}) {
  const r = await fetch(url, { headers });
  const set = r.headers.get('set-cookie');
  const cookie = set ? set.split(';')[0] : headers.cookie;
  const html = await r.text();
  const csrf = html.match(/<meta name="csrf-token" content="([0-9a-f]+)">/)[1];
  return { cookie, csrf };
}

export function assertEscaped(html, where) {
  assert.doesNotMatch(html, /<script>alert/i, `${where}: a raw <script>`);
  assert.doesNotMatch(html, /<img[^>]*onerror/i, `${where}: a raw onerror attribute`);
}
