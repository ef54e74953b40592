// memory.test.mjs — playbook and pathway memory (issue 17, items 5 and 6)
// through a server and the CLI: a recorded playbook boosts and injects its
// workers in a later search, with provenance; versions and retirement; the
// rows are data (SQL over _playbooks and _pathways, journaled, written by the
// system only); pathways ADD / UPDATE / REVISE / RETIRE / HISTORY / SEARCH;
// hostile arguments get clear errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { json, run, startServer, tempDir } from './harness.mjs';

async function call(url, method, body) {
  const res = await fetch(url, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await json(res) };
}

function cli(args) {
  const r = run(args);
  assert.equal(r.status, 0, `lakehouse ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('playbook and pathway memory', { timeout: 240000 }, () => {
  let srv, dir;
  before(async () => {
    dir = tempDir('lh-memory-');
    const file = path.join(tempDir('lh-memory-in-'), 'workers.csv');
    const rows = ['worker_id,city,profile'];
    const roles = ['welder', 'line cook', 'forklift operator', 'electrician'];
    for (let i = 1; i <= 60; i++) rows.push(`${i},${i % 2 ? 'Reno' : 'Denver'},"Worker ${i} is a ${roles[i % 4]} in ${i % 2 ? 'Reno' : 'Denver'}"`);
    fs.writeFileSync(file, rows.join('\n') + '\n');
    cli(['ingest', file, '--dataset', 'workers', '--data', dir]);
    cli(['index', 'create', 'people', '--dataset', 'workers', '--id', 'worker_id', '--text', 'profile', '--provider', 'hash', '--data', dir]);
    srv = await startServer({ dataDir: dir });
  });
  after(async () => {
    await srv?.stop();
  });

  it('boosts and injects the workers a recorded playbook chose, saying by which playbook', async () => {
    const task = 'fill: welder x2 in Reno, NV';
    const search = (extra = {}) => call(`${srv.url}/v1/search`, 'POST', { index: 'people', query: task, k: 5, rows: false, ...extra });
    const plain = await search();
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    const before = await search({ playbooks: true, context: 'Reno, NV' });
    assert.deepEqual(before.body.hits, plain.body.hits, 'no playbook yet: nothing changes');
    assert.deepEqual(before.body.playbooks.candidates, []);
    // worker 2 (a line cook in Denver) is far from the query: the plain search misses it
    assert.ok(!plain.body.hits.some((h) => h.id === 2));
    const rec = await call(`${srv.url}/v1/playbooks`, 'POST', { index: 'people', task, context: 'Reno, NV', workers: ['1', '2'] });
    assert.equal(rec.status, 201, JSON.stringify(rec.body));
    const pb = rec.body.playbook;
    assert.equal(pb.version, 1);
    assert.equal(pb.n, 2);
    assert.equal(pb.provider, 'hash');
    const after = await search({ playbooks: true, context: 'Reno, NV' });
    assert.equal(after.status, 200, JSON.stringify(after.body));
    const ref = `${pb.playbook_id}@1`;
    assert.equal(after.body.playbooks.candidates.length, 1);
    assert.equal(after.body.playbooks.candidates[0].playbook, ref);
    const w1 = after.body.hits.find((h) => h.id === 1), w2 = after.body.hits.find((h) => h.id === 2);
    assert.ok(w2?.injected, `worker 2 injected: ${JSON.stringify(after.body)}`);
    assert.deepEqual(w2.playbooks, [ref]);
    assert.ok(Math.abs(w2.boost - 0.25) < 1e-6, `boost ${w2.boost}: cos 1 x 0.5 / 2`);
    assert.ok(after.body.playbooks.injected.includes(2));
    assert.ok(w1 && Math.abs(w1.boost - 0.25) < 1e-6, 'worker 1: boosted, or injected when the plain search missed it');
    assert.ok(after.body.playbooks[plain.body.hits.some((h) => h.id === 1) ? 'boosted' : 'injected'].includes(1));
    assert.equal(after.body.hits.length, 5);
    // another context: nothing
    const denver = await search({ playbooks: true, context: 'Denver, CO' });
    assert.deepEqual(denver.body.hits, plain.body.hits);

    // a next version (a failure): the first is superseded, the boost halves
    const v2 = await call(`${srv.url}/v1/playbooks`, 'POST', { index: 'people', task, context: 'Reno, NV', workers: ['1', '2'], outcome: 'failure', parent: pb.playbook_id });
    assert.equal(v2.status, 201, JSON.stringify(v2.body));
    assert.equal(v2.body.superseded, ref);
    assert.equal(v2.body.playbook.failures, 1);
    const halved = await search({ playbooks: true, context: 'Reno, NV' });
    assert.deepEqual(halved.body.playbooks.candidates.map((c) => c.playbook), [`${pb.playbook_id}@2`]);
    assert.ok(Math.abs(halved.body.hits.find((h) => h.id === 2).boost - 0.125) < 1e-6);
    const show = await call(`${srv.url}/v1/playbooks/${pb.playbook_id}`, 'GET');
    assert.equal(show.status, 200);
    assert.equal(show.body.versions.length, 2);
    assert.ok(show.body.versions[0].superseded_at);
    assert.equal(show.body.playbook.parent, ref);

    // the rows are data: SQL, the journal, and nobody but the system writes them
    const q = await call(`${srv.url}/v1/sql`, 'POST', { sql: `SELECT event, version, failures FROM _playbooks WHERE playbook_id = '${pb.playbook_id}' ORDER BY seq` });
    assert.deepEqual(q.body.rows, [['record', 1, 0], ['supersede', 1, 0], ['record', 2, 1]]);
    const history = await call(`${srv.url}/v1/journal/history/_playbooks`, 'GET');
    assert.ok(history.body.events.length >= 2);
    assert.equal((await call(`${srv.url}/v1/catalog/datasets/_playbooks/rollback`, 'POST', { version: 1 })).status, 403);
    const csv = path.join(tempDir('lh-memory-x-'), 'x.csv');
    fs.writeFileSync(csv, 'a\n1\n');
    assert.notEqual(run(['ingest', csv, '--dataset', '_playbooks', '--data', dir]).status, 0);

    // retired: no longer boosts; twice is a conflict
    const retired = await call(`${srv.url}/v1/playbooks/${pb.playbook_id}/retire`, 'POST', { reason: 'client changed' });
    assert.equal(retired.status, 200, JSON.stringify(retired.body));
    assert.equal((await call(`${srv.url}/v1/playbooks/${pb.playbook_id}/retire`, 'POST')).status, 409);
    const gone = await search({ playbooks: true, context: 'Reno, NV' });
    assert.deepEqual(gone.body.hits, plain.body.hits);
    assert.equal((await call(`${srv.url}/v1/playbooks`, 'GET')).body.playbooks.length, 0);
    assert.equal((await call(`${srv.url}/v1/playbooks?all=true`, 'GET')).body.playbooks.length, 1);
  });

  it('refuses hostile playbooks with clear errors', async () => {
    const post = (body) => call(`${srv.url}/v1/playbooks`, 'POST', body);
    const huge = Array.from({ length: 1001 }, (_, i) => String(i));
    let r = await post({ index: 'people', task: 't', workers: huge });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /workers/);
    r = await post({ index: 'people', task: 't', workers: [] });
    assert.equal(r.status, 400);
    r = await post({ index: 'people', task: 't', workers: [1, 2] });
    assert.equal(r.status, 400);
    r = await post({ index: 'people', task: 'x'.repeat(3000), workers: ['1'] });
    assert.equal(r.status, 413);
    r = await post({ index: 'people', task: 't', workers: ['1'], parent: "'; DROP TABLE x; --" });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /not a playbook id/);
    r = await post({ index: 'nope', task: 't', workers: ['1'] });
    assert.equal(r.status, 404);
    r = await call(`${srv.url}/v1/playbooks/ffffffffffffffff`, 'GET');
    assert.equal(r.status, 404);
    r = await call(`${srv.url}/v1/search`, 'POST', { index: 'people', query: 'x', playbooks: 'yes' });
    assert.equal(r.status, 400);
    r = await call(`${srv.url}/v1/search`, 'POST', { index: 'people', query: 'x', context: 'Reno, NV' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /playbooks/);
  });

  it('remembers pathways: add, repeat, revise chains, retire hides, history, search', async () => {
    const id = crypto.createHash('sha256').update('fill|staffing/search|repeat_task').digest('hex');
    assert.equal((await call(`${srv.url}/v1/pathways/${id}/history`, 'GET')).status, 404, 'starts empty');
    const added = JSON.parse(cli(['pathway', 'add', 'fill', '/staffing/search/hybrid', 'repeat_task', '--outcome', 'filled 3/3', '--json', '--data', srv.dir]));
    assert.equal(added.action, 'add');
    assert.equal(added.pathway.pathway_id, id);
    assert.equal(added.pathway.vector.length, 32);
    const again = await call(`${srv.url}/v1/pathways`, 'POST', { task_class: 'fill', path: 'staffing/search/hybrid', signal_class: 'repeat_task' });
    assert.equal(again.status, 201);
    assert.equal(again.body.action, 'update');
    assert.equal(again.body.pathway.replay_count, 1);
    const r2 = await call(`${srv.url}/v1/pathways/${id}/revise`, 'POST', { path: 'staffing/search/vector', outcome: 'filled 2/3' });
    assert.equal(r2.status, 201, JSON.stringify(r2.body));
    assert.deepEqual([r2.body.pathway.version, r2.body.pathway.parent_version, r2.body.pathway.replay_count], [2, 1, 0]);
    const r3 = JSON.parse(cli(['pathway', 'revise', id, '--trace', 'vector alone missed the city', '--json', '--data', srv.dir]));
    assert.deepEqual([r3.pathway.version, r3.pathway.parent_version], [3, 2]);
    await call(`${srv.url}/v1/pathways`, 'POST', { task_class: 'triage', path: 'support/email/urgent', signal_class: 'angry_customer' });
    let s = await call(`${srv.url}/v1/pathways/search`, 'POST', { query: 'fill staffing search', k: 1 });
    assert.equal(s.body.hits[0].pathway_id, id);
    assert.equal(s.body.hits[0].version, 3);
    const h = await call(`${srv.url}/v1/pathways/${id}/history`, 'GET');
    assert.deepEqual(h.body.history.map((x) => [x.event, x.version]), [['add', 1], ['update', 1], ['revise', 2], ['revise', 3]]);
    const q = await call(`${srv.url}/v1/sql`, 'POST', { sql: `SELECT max(version), count(*) FROM _pathways WHERE pathway_id = '${id}'` });
    assert.deepEqual(q.body.rows, [[3, 4]]);
    // RETIRE hides it
    assert.equal((await call(`${srv.url}/v1/pathways/${id}/retire`, 'POST', { reason: 'replaced' })).status, 200);
    s = await call(`${srv.url}/v1/pathways/search`, 'POST', { query: 'fill staffing search' });
    assert.ok(!s.body.hits.some((x) => x.pathway_id === id));
    assert.ok(!(await call(`${srv.url}/v1/pathways`, 'GET')).body.pathways.some((x) => x.pathway_id === id));
    // and refuses what no longer makes sense
    let r = await call(`${srv.url}/v1/pathways/${id}/retire`, 'POST');
    assert.equal(r.status, 409);
    assert.match(r.body.error.message, /retired/);
    r = await call(`${srv.url}/v1/pathways/${id}/revise`, 'POST', { outcome: 'x' });
    assert.equal(r.status, 409);
    r = await call(`${srv.url}/v1/pathways/${'0'.repeat(64)}/revise`, 'POST', { outcome: 'x' });
    assert.equal(r.status, 404);
    r = await call(`${srv.url}/v1/pathways/nope/history`, 'GET');
    assert.equal(r.status, 400);
    r = await call(`${srv.url}/v1/pathways`, 'POST', { task_class: 't', path: '///', signal_class: 's' });
    assert.equal(r.status, 400);
    r = await call(`${srv.url}/v1/pathways`, 'POST', { task_class: 't', path: 'a/b', signal_class: 's', trace: 'x'.repeat(5000) });
    assert.equal(r.status, 413);
    r = await call(`${srv.url}/v1/pathways`, 'POST', { task_class: ['t'], path: 'a/b', signal_class: 's' });
    assert.equal(r.status, 400);
  });
});
