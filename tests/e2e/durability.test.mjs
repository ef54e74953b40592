// durability.test.mjs — the catalog's promises under concurrency and crashes:
// two processes committing 200 times each (fs and S3) lose nothing and number
// versions contiguously; SIGKILL at random points leaves every acknowledged
// commit readable, no torn version, and a journal that recovers its WAL.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { assertClean, crashRun } from '../crash/crash.mjs';
import { cleanEnv, run, s3Args, tempDir } from './harness.mjs';

const TOOL = path.join(process.env.LH_TOOLS || 'build/release/tools', 'commit_loop');

function commitLoop(args) {
  const child = spawn(TOOL, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, done, acks: () => parseAcks(out), stderr: () => err };
}

function parseAcks(text) {
  return text
    .split('\n')
    .filter((l) => l.startsWith('ack '))
    .map((l) => {
      const [, tag, i, version] = l.split(' ');
      return { tag, i: Number(i), version: Number(version) };
    });
}

function catalogJson(args) {
  const r = run([...args, '--json', '--log-level', 'error']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function race(storeArgs, name) {
  const a = commitLoop(['--dataset', name, '--count', '200', '--tag', 'a', ...storeArgs]);
  const b = commitLoop(['--dataset', name, '--count', '200', '--tag', 'b', ...storeArgs]);
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.equal(ra.code, 0, a.stderr());
  assert.equal(rb.code, 0, b.stderr());
  const acks = [...a.acks(), ...b.acks()];
  assert.equal(acks.length, 400);
  const versions = catalogJson(['catalog', 'versions', name, '--limit', '10000', ...storeArgs]).versions;
  // version 1 is the create; 400 commits follow, numbered without a gap
  assert.deepEqual(versions.map((v) => v.version), Array.from({ length: 401 }, (_, i) => i + 1));
  assert.equal(versions.filter((v) => v.operation === 'commit').length, 400);
  // every acknowledged version is distinct and holds its own commit
  assert.equal(new Set(acks.map((x) => x.version)).size, 400);
  const head = catalogJson(['catalog', 'show', name, ...storeArgs]);
  assert.equal(head.version, 401);
  assert.equal(head.row_count, 400);
  const keys = new Set(head.objects.map((o) => o.key));
  for (const x of acks) assert.ok(keys.has(`datasets/${name}/data/${x.tag}-${x.i}`), `lost ${x.tag}-${x.i}`);
  for (const x of acks.slice(0, 5)) {
    const v = catalogJson(['catalog', 'show', name, '--version', String(x.version), ...storeArgs]);
    assert.equal(v.message, `datasets/${name}/data/${x.tag}-${x.i}`);
  }
}

describe('concurrent committers', () => {
  it('two processes x 200 commits over the fs backend: 400 contiguous versions, none lost', async () => {
    await race(['--data', tempDir()], 'race');
  });

  it('two processes x 200 commits over S3 (s3rver): 400 contiguous versions, none lost', async () => {
    const endpoint = process.env.LH_TEST_S3_ENDPOINT;
    assert.ok(endpoint, 'run under scripts/with-s3rver');
    const s3 = [
      '--data', tempDir(),
      ...s3Args('s3', endpoint, `race-${process.pid}-${Date.now()}/`),
    ];
    await race(s3, 'race');
  });
});

describe('crash safety', () => {
  it('survives 25 SIGKILLs during commits and journal flushes', async () => {
    const data = tempDir();
    const args = ['--data', data, '--set', 'journal.flush_events=3', '--set', 'journal.flush_ms=20'];
    const acked = [];
    for (let round = 0; round < 25; round++) {
      const loop = commitLoop(['--dataset', 'crashy', '--count', '100000', '--tag', `r${round}`, ...args]);
      await new Promise((r) => setTimeout(r, 80 + Math.floor(Math.random() * 250)));
      loop.child.kill('SIGKILL');
      const { signal } = await loop.done;
      assert.equal(signal, 'SIGKILL', `round ${round} ended on its own: ${loop.stderr()}`);
      acked.push(...loop.acks());
    }
    assert.ok(acked.length > 25, `only ${acked.length} commits acknowledged`);
    // reopen: nothing torn, every acknowledged commit present
    const report = catalogJson(['catalog', 'rebuild', ...args]);
    assert.deepEqual(report.skipped, []);
    const versions = catalogJson(['catalog', 'versions', 'crashy', '--limit', '10000', ...args]).versions;
    assert.deepEqual(versions.map((v) => v.version), Array.from({ length: versions.length }, (_, i) => i + 1));
    const head = catalogJson(['catalog', 'show', 'crashy', ...args]);
    const keys = new Set(head.objects.map((o) => o.key));
    for (const x of acked) assert.ok(keys.has(`datasets/crashy/data/${x.tag}-${x.i}`), `lost ${x.tag}-${x.i}`);
    // the journal recovered the write-ahead files of the killed processes:
    // every acknowledged commit has its event
    const history = catalogJson(['journal', 'history', 'crashy', '--limit', '10000', ...args]).events;
    const journaled = new Set(history.filter((e) => e.action === 'commit').map((e) => e.new.version));
    for (const x of acked) assert.ok(journaled.has(x.version), `no journal event for version ${x.version}`);
    assert.equal(new Set(history.map((e) => e.id)).size, history.length, 'no event twice');
  });

  // the bounded run of `make crash-test` (tests/crash/crash.mjs)
  it('survives 40 random SIGKILLs across ingest, commit, journal flush and index promotion: nothing lost, no orphans', { timeout: 120000 }, async () => {
    const r = await crashRun({ kills: 40 });
    assertClean(r);
    assert.ok(r.acknowledged.commits > 0 && r.kills === 40);
    fs.rmSync(r.data, { recursive: true, force: true });
  });
});
