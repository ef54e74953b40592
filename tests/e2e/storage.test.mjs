// storage.test.mjs — buckets over HTTP and the CLI: health, raw objects, an S3
// bucket cross-checked by an independent client (botocore), the rescue bucket
// answering when the primary's server dies, and the error journal recording it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { json, run, s3Args, startServer, tempDir } from './harness.mjs';

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// A private s3rver the test can kill (the shared ones must stay up).
async function ownS3rver() {
  const dir = tempDir('lh-s3rver-');
  const child = spawn('node', ['--openssl-legacy-provider', 'tests/s3/s3rver.mjs', '--dir', dir, '--conditional'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) resolve(m[0]);
    });
    child.on('exit', () => reject(new Error('s3rver exited')));
  });
  return { endpoint, child };
}

describe('buckets', () => {
  it('reports every bucket with its health, and serves raw objects', async () => {
    const srv = await startServer({ args: ['--set', 'bucket.main.backend=fs', '--set', 'bucket.spare.backend=fs'] });
    const b = await json(await fetch(`${srv.url}/v1/storage/buckets`));
    assert.deepEqual(b.buckets.map((x) => [x.name, x.backend, x.status, x.default]), [
      ['main', 'fs', 'ok', true],
      ['spare', 'fs', 'ok', false],
    ]);
    let r = await fetch(`${srv.url}/v1/storage/buckets/spare/object?key=${encodeURIComponent('notes/été.txt')}`, { method: 'PUT', body: 'bonjour' });
    assert.equal(r.status, 201);
    r = await fetch(`${srv.url}/v1/storage/buckets/spare/object?key=${encodeURIComponent('notes/été.txt')}`);
    assert.equal(await r.text(), 'bonjour');
    assert.equal(r.headers.get('x-lakehouse-rescue-used'), null);
    const ls = await json(await fetch(`${srv.url}/v1/storage/buckets/spare/objects?prefix=notes/`));
    assert.deepEqual(ls.objects.map((o) => [o.key, o.size]), [['notes/été.txt', 7]]);
    assert.equal((await fetch(`${srv.url}/v1/storage/buckets/nope/objects`)).status, 404);
    assert.equal((await fetch(`${srv.url}/v1/storage/buckets/spare/object?key=missing`)).status, 404);
    r = await fetch(`${srv.url}/v1/storage/buckets/spare/object?key=notes/%C3%A9t%C3%A9.txt`, { method: 'DELETE' });
    assert.equal(r.status, 200);
    assert.equal((await fetch(`${srv.url}/v1/storage/buckets/spare/object?key=notes/%C3%A9t%C3%A9.txt`)).status, 404);
    // managed namespaces are not writable by hand
    r = await fetch(`${srv.url}/v1/storage/buckets/main/object?key=_catalog/names/x`, { method: 'PUT', body: '{}' });
    assert.equal(r.status, 403);
    const health = await json(await fetch(`${srv.url}/health`));
    assert.equal(health.modules.storage.default_bucket, 'main');
    await srv.stop();
  });

  it('journals configuration and bucket changes between starts', async () => {
    const dir = tempDir();
    let srv = await startServer({ dataDir: dir, args: ['--set', 'bucket.a.backend=fs'] });
    await srv.stop();
    srv = await startServer({ dataDir: dir, args: ['--set', 'bucket.a.backend=fs'] }); // unchanged: no event
    await srv.stop();
    srv = await startServer({ dataDir: dir, args: ['--set', 'bucket.a.backend=fs', '--set', 'bucket.b.backend=fs', '--set', 'query.max_rows=5'] });
    const config = await json(await fetch(`${srv.url}/v1/journal/history/lakehouse.config`));
    assert.deepEqual(config.events.map((e) => e.action), ['change', 'initial']);
    assert.equal(config.events[0].old['query.max_rows'], 100000);
    assert.equal(config.events[0].new['query.max_rows'], 5);
    assert.equal(config.events[0].actor, 'system');
    const b = await json(await fetch(`${srv.url}/v1/journal/history/b`));
    assert.deepEqual(b.events.map((e) => [e.entity_type, e.action, e.new]), [['bucket', 'add', 'fs']]);
    await srv.stop();
  });

  it('refuses a configuration naming an unknown default or rescue bucket', () => {
    let r = run(['serve', '--data', tempDir(), '--set', 'storage.default_bucket=ghost']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /storage\.default_bucket: no bucket named "ghost"/);
    r = run(['serve', '--data', tempDir(), '--set', 'storage.rescue_bucket=ghost']);
    assert.equal(r.status, 2);
    r = run(['serve', '--data', tempDir(), '--set', 'bucket.x.backend=s3']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bucket x: s3 needs an endpoint/);
  });
});

describe('an S3 bucket', () => {
  it('holds ordinary S3 objects: botocore reads what Lakehouse wrote and vice versa', async () => {
    const endpoint = process.env.LH_TEST_S3_ENDPOINT;
    const prefix = `cross-${process.pid}-${Date.now()}/`;
    const args = ['--data', tempDir(), ...s3Args('s3', endpoint, prefix), '--log-level', 'warn'];
    const file = path.join(tempDir(), 'blob.bin');
    const blob = crypto.randomBytes(7 * 1024 * 1024 + 123); // over the 5 MiB part size: multipart
    fs.writeFileSync(file, blob);
    let r = run(['storage', 'put', 's3', 'raw/blob.bin', file, '--set', 'bucket.s3.multipart_threshold=5MiB', '--set', 'bucket.s3.part_size=5MiB', ...args]);
    assert.equal(r.status, 0, r.stderr);
    r = run(['catalog', 'create', 'remote_ds', ...args]);
    assert.equal(r.status, 0, r.stderr);
    const manifest = JSON.parse(run(['catalog', 'show', 'remote_ds', '--json', ...args]).stdout);
    const expectedPath = path.join(tempDir(), 'expected.json');
    fs.writeFileSync(expectedPath, JSON.stringify({ 'raw/blob.bin': sha256(blob) }));
    const py = spawnSync('python3', ['tests/s3/crosscheck.py', endpoint, process.env.LH_TEST_S3_BUCKET, prefix, expectedPath], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    const seen = JSON.parse(py.stdout);
    assert.equal(seen.checked, 1);
    assert.ok(seen.listed.includes('raw/blob.bin'));
    assert.ok(seen.listed.includes('_catalog/datasets/remote_ds/v00000001.json'));
    assert.ok(seen.listed.includes('_catalog/names/remote_ds'));
    // and Lakehouse reads what botocore wrote
    r = run(['storage', 'get', 's3', seen.written, ...args]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'written by botocore\n');
    assert.equal(manifest.bucket, 's3');
  });

  it('falls back to the rescue bucket when the primary dies, and journals the failure', async () => {
    const own = await ownS3rver();
    const prefix = `rescue-${Date.now()}/`;
    const srv = await startServer({
      args: [
        ...s3Args('primary', own.endpoint, prefix),
        '--set', 'bucket.primary.retries=1',
        '--set', 'bucket.primary.timeout_ms=500',
        '--set', 'bucket.home.backend=fs',
        '--set', 'bucket.backup.backend=fs',
        '--set', 'storage.default_bucket=home',
        '--set', 'storage.rescue_bucket=backup',
        '--set', 'storage.rescue_mirror=true',
      ],
    });
    let r = await fetch(`${srv.url}/v1/storage/buckets/primary/object?key=docs/a.txt`, { method: 'PUT', body: 'precious' });
    assert.equal(r.status, 201);
    assert.ok(fs.existsSync(path.join(srv.dir, 'backup', 'docs', 'a.txt')), 'mirrored to the rescue bucket');
    r = await fetch(`${srv.url}/v1/storage/buckets/primary/object?key=docs/a.txt`);
    assert.equal(r.headers.get('x-lakehouse-rescue-used'), null);
    own.child.kill('SIGKILL');
    await new Promise((res) => own.child.on('exit', res));
    const t0 = Date.now();
    r = await fetch(`${srv.url}/v1/storage/buckets/primary/object?key=docs/a.txt`, { headers: { 'X-Request-Id': 'rescue-me' } });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'precious');
    assert.equal(r.headers.get('x-lakehouse-rescue-used'), '1');
    assert.ok(Date.now() - t0 < 10000);
    // one call finds the failure, with its request id
    const errors = await json(await fetch(`${srv.url}/v1/errors?since=${t0 - 1000}`));
    const e = errors.errors.find((x) => x.request_id === 'rescue-me');
    assert.ok(e, JSON.stringify(errors));
    assert.equal(e.operation, 'get');
    assert.equal(e.bucket, 'primary');
    assert.equal(e.key, 'docs/a.txt');
    assert.equal(e.code, 'unavailable');
    const buckets = await json(await fetch(`${srv.url}/v1/storage/buckets`));
    assert.equal(buckets.buckets.find((b) => b.name === 'primary').status, 'failing');
    const health = await json(await fetch(`${srv.url}/health`));
    assert.equal(health.modules.storage.status, 'degraded');
    assert.equal((await fetch(`${srv.url}/v1/errors?since=yesterday`)).status, 400);
    await srv.stop();
  });
});
