// crash.mjs — the crash test (issue 11): random SIGKILLs across ingest,
// commit, journal flush and index promotion on one data folder, then a
// restart, and the promises checked:
//   - every acknowledged write is there: commits (commit_loop's "ack" lines)
//     with their journal events, ingests (exit 0: their rows are queryable),
//     index versions (exit 0: in the history, live at or after them);
//   - nothing torn: the catalog rebuilds with nothing skipped, versions are
//     contiguous, the live index loads and answers;
//   - no orphans after the restart's sweep: no temp file (_tmp, the bucket's
//     .lh-tmp), no write-ahead file left, no half object (every data object's
//     bytes match its content address).
// Complete objects no version points at (a kill between upload and commit)
// are counted, not failures: `catalog purge` removes them after its grace.
//
//   node tests/crash/crash.mjs [KILLS]     the full run (make crash-test: 1000)
//   import { crashRun } ...                 a bounded run inside `make test`
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, cleanEnv, tempDir } from '../e2e/harness.mjs';

const TOOLS = process.env.LH_TOOLS || 'build/release/tools';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo));

function start(cmd, args) {
  const child = spawn(cmd, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, done, out: () => out, err: () => err };
}

async function cli(args) {
  const p = start(BIN, [...args, '--log-level', 'error']);
  const { code } = await p.done;
  assert.equal(code, 0, `lakehouse ${args.join(' ')}: ${p.err()}`);
  return p.out();
}

const cliJson = async (args) => JSON.parse(await cli([...args, '--json']));

function listFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

// Runs `kills` rounds; each starts one writer and SIGKILLs it at a random
// moment (a writer that finished first is acknowledged and counted too).
export async function crashRun({ kills, data = tempDir('lh-crash-'), log = () => {} }) {
  const common = ['--data', data, '--set', 'journal.flush_events=3', '--set', 'journal.flush_ms=20'];
  const csvDir = tempDir('lh-crash-in-');
  // an index to promote versions of
  fs.writeFileSync(path.join(csvDir, 'v.json'), '[{"id":0,"v":[0.1,0.2,0.3]},{"id":-1,"v":[0.3,0.2,0.1]}]');
  await cli(['ingest', path.join(csvDir, 'v.json'), '--dataset', 'vecs', ...common]);
  await cli(['index', 'create', 'vi', '--dataset', 'vecs', '--id', 'id', '--vector', 'v', ...common]);

  const acked = { commit: [], ingest: [], index: [] };
  const stats = { kills: 0, finished: 0, rounds: 0 };
  const t0 = Date.now();
  // Opening grows with the folder (every manifest and journal segment is
  // read): kills are aimed past the open, into the work, by timing one now and then.
  let openMs = 0;
  for (let round = 0; stats.kills < kills; round++) {
    if (round % 50 === 0) {
      const t = Date.now();
      await cli(['catalog', 'list', ...common]);
      openMs = Date.now() - t;
    }
    stats.rounds++;
    const kind = ['commit', 'ingest', 'index'][round % 3];
    let p;
    if (kind === 'commit') {
      // a dataset per 30 rounds: manifests list every object, so one dataset's
      // open cost grows with versions × objects; the test aims at the kills
      p = start(path.join(TOOLS, 'commit_loop'), ['--dataset', `crashy_${Math.floor(round / 30)}`, '--count', '100000', '--tag', `r${round}`, ...common]);
    } else if (kind === 'ingest') {
      const rows = Array.from({ length: 3000 }, (_, i) => `${round},${i},row ${i} of round ${round}`);
      const file = path.join(csvDir, `r${round}.csv`);
      fs.writeFileSync(file, `round,i,txt\n${rows.join('\n')}\n`);
      p = start(BIN, ['ingest', file, '--dataset', 'ing', '--json', '--log-level', 'error', ...common]);
    } else {
      const v = [Math.random(), Math.random(), Math.random()];
      p = start(BIN, ['index', 'add', 'vi', '--vectors', JSON.stringify([{ id: round, vector: v }]), '--json', '--log-level', 'error', ...common]);
    }
    if (kind === 'commit') {
      // into the commit loop: after its first acknowledgement (or a bounded wait)
      const t = Date.now();
      while (!p.out().includes('ack ') && Date.now() - t < openMs * 3 + 2000 && p.child.exitCode === null) await sleep(5);
      await Promise.race([sleep(rand(0, 60)), p.done]);
    } else {
      await Promise.race([sleep(rand(Math.floor(openMs / 3), openMs + 300)), p.done]);
    }
    p.child.kill('SIGKILL');
    const { code, signal } = await p.done;
    if (signal === 'SIGKILL') stats.kills++;
    else {
      stats.finished++;
      assert.equal(code, 0, `${kind} round ${round} failed: ${p.err()}`);
    }
    if (kind === 'commit') {
      for (const l of p.out().split('\n')) {
        const [word, tag, i, version] = l.split(' ');
        if (word === 'ack') acked.commit.push({ dataset: `crashy_${Math.floor(round / 30)}`, tag, i: Number(i), version: Number(version) });
      }
    } else if (code === 0) {
      const r = JSON.parse(p.out());
      if (kind === 'ingest') acked.ingest.push({ round, version: r.version });
      else acked.index.push({ id: round, version: r.version });
    }
    if (stats.rounds % 100 === 0) log(`${stats.kills} kills, ${stats.finished} finished, open ${openMs} ms, ${Math.round((Date.now() - t0) / 1000)} s`);
  }

  // restart: the first process alone on the folder recovers and sweeps
  const report = await cliJson(['catalog', 'rebuild', ...common]);
  assert.deepEqual(report.skipped, [], 'torn versions');
  const datasets = [...new Set(acked.commit.map((x) => x.dataset)), 'ing'];
  const keys = new Set();
  const journaled = new Set();
  for (const name of datasets) {
    const versions = (await cliJson(['catalog', 'versions', name, '--limit', '10000', ...common])).versions;
    assert.deepEqual(versions.map((v) => v.version), Array.from({ length: versions.length }, (_, i) => i + 1), `${name}: versions contiguous`);
    for (const o of (await cliJson(['catalog', 'show', name, ...common])).objects) keys.add(o.key);
    const history = (await cliJson(['journal', 'history', name, '--limit', '10000', ...common])).events;
    for (const e of history) if (e.action === 'commit') journaled.add(`${name}@${e.new.version}`);
    assert.equal(new Set(history.map((e) => e.id)).size, history.length, 'no journal event twice');
  }
  let lost = 0;
  for (const x of acked.commit) if (!keys.has(`datasets/${x.dataset}/data/${x.tag}-${x.i}`)) lost++;
  const unjournaled = acked.commit.filter((x) => !journaled.has(`${x.dataset}@${x.version}`)).length;
  const rounds = new Set((await cliJson(['sql', 'SELECT DISTINCT round FROM ing', ...common])).rows.map((r) => r[0]));
  for (const x of acked.ingest) if (!rounds.has(x.round)) lost++;
  const ix = await cliJson(['index', 'history', 'vi', ...common]);
  const ixVersions = new Set(ix.versions.map((v) => v.version));
  for (const x of acked.index) if (!ixVersions.has(x.version)) lost++;
  const maxAcked = Math.max(0, ...acked.index.map((x) => x.version));
  assert.ok(ix.live >= maxAcked, `live index version ${ix.live} is behind an acknowledged ${maxAcked}`);
  const search = await cliJson(['index', 'search', 'vi', '0.1', '0.2', '0.3', ...common]);
  assert.ok(search.hits.length > 0, 'the live index answers');

  // orphans, after the restart's sweep
  const temps = [
    ...listFiles(path.join(data, '_tmp')).filter((f) => path.basename(f) !== '.live'),
    ...listFiles(path.join(data, 'local', '.lh-tmp')),
  ];
  const wals = listFiles(path.join(data, '_wal')).filter((f) => f.endsWith('.wal'));
  let half = 0;
  let unreferenced = 0;
  const referenced = keys;
  for (const name of fs.readdirSync(path.join(data, 'local', 'datasets')).filter((n) => n !== 'vecs')) {
    for (const f of listFiles(path.join(data, 'local', 'datasets', name, 'data'))) {
      const key = path.relative(path.join(data, 'local'), f);
      const bytes = fs.readFileSync(f);
      const ok = name !== 'ing' ? bytes.toString() === key : crypto.createHash('sha256').update(bytes).digest('hex') === path.basename(f, '.parquet');
      if (!ok) half++;
      if (!referenced.has(key)) unreferenced++;
    }
  }
  return {
    ...stats,
    seconds: Math.round((Date.now() - t0) / 1000),
    open_ms_last: openMs,
    acknowledged: { commits: acked.commit.length, ingests: acked.ingest.length, index_versions: acked.index.length },
    lost,
    unjournaled,
    temp_files: temps.length,
    wal_files: wals.length,
    half_objects: half,
    unreferenced_objects: unreferenced,
    temps,
    data,
  };
}

// Asserts the promises on a run's result.
export function assertClean(r) {
  assert.equal(r.lost, 0, 'acknowledged writes lost');
  assert.equal(r.unjournaled, 0, 'acknowledged commits without a journal event');
  assert.deepEqual(r.temps, [], 'temp files left after the restart');
  assert.equal(r.wal_files, 0, 'write-ahead files left after the restart');
  assert.equal(r.half_objects, 0, 'objects whose bytes do not match their address');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const kills = Number(process.argv[2] || 1000);
  const r = await crashRun({ kills, log: (m) => console.error(`crash-test: ${m}`) });
  const { temps, ...numbers } = r;
  console.log(JSON.stringify(numbers, null, 2));
  assertClean(r);
  fs.rmSync(r.data, { recursive: true, force: true });
  console.log(`crash-test: ${r.kills} SIGKILLs, nothing acknowledged lost, no orphans`);
}
