// config.test.mjs — configuration precedence and errors, seen from the binary:
// flags > LAKEHOUSE_* env > lakehouse.toml > defaults; bad input names file, line and key.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { run, startServer, tempDir } from './harness.mjs';

function writeConfig(text) {
  const dir = tempDir('lh-config-');
  const file = path.join(dir, 'lakehouse.toml');
  fs.writeFileSync(file, text);
  return { dir, file };
}

function show(args, env) {
  const r = run(['config', 'show', '--json', ...args], { env });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('configuration', () => {
  it('applies defaults < file < env < flags', () => {
    const { file } = writeConfig(
      '[server]\nlisten = "127.0.0.1:4001"\nidle_timeout_s = 11\n[query]\ntimeout_ms = 111\nmax_rows = 7\n',
    );
    const cfg = show(['--config', file, '--listen', '127.0.0.1:4003', '--set', 'query.max_rows=9'], {
      LAKEHOUSE_SERVER_LISTEN: '127.0.0.1:4002',
      LAKEHOUSE_SERVER_IDLE_TIMEOUT_S: '22',
    });
    assert.deepEqual(cfg['server.listen'], { value: '127.0.0.1:4003', source: 'flag' });
    assert.deepEqual(cfg['server.idle_timeout_s'], { value: 22, source: 'env' });
    assert.deepEqual(cfg['query.timeout_ms'], { value: 111, source: 'file' });
    assert.deepEqual(cfg['query.max_rows'], { value: 9, source: 'flag' });
    assert.deepEqual(cfg['log.level'], { value: 'info', source: 'default' });
  });

  it('finds ./lakehouse.toml and $LAKEHOUSE_CONFIG', () => {
    const { dir, file } = writeConfig('[log]\nlevel = "warn"\n');
    const inCwd = JSON.parse(run(['config', 'show', '--json'], { cwd: dir }).stdout);
    assert.deepEqual(inCwd['log.level'], { value: 'warn', source: 'file' });
    const viaEnv = show([], { LAKEHOUSE_CONFIG: file });
    assert.deepEqual(viaEnv['log.level'], { value: 'warn', source: 'file' });
  });

  it('prints TOML annotated with sources', () => {
    const r = run(['config', 'show', '--data', '/tmp/somewhere']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /\[storage\]\ndata_dir = "\/tmp\/somewhere"  # flag\n/);
    assert.match(r.stdout, /\[server\]\nlisten = "127\.0\.0\.1:3100"  # default\n/);
  });

  it('rejects an unknown key with file, line and key', () => {
    const { file } = writeConfig('[server]\n\nlisen = "127.0.0.1:1"\n');
    const r = run(['serve', '--config', file]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`lakehouse serve: ${file}:3: unknown key "lisen" in \\[server\\]`));
    assert.match(r.stderr, /known: listen/);
  });

  it('rejects malformed values from each source', () => {
    const { file } = writeConfig('[server]\nidle_timeout_s = "soon"\n');
    let r = run(['serve', '--config', file]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /:2: server\.idle_timeout_s: expected an integer, got a string/);

    r = run(['serve'], { env: { LAKEHOUSE_SERVER_MAX_BODY_BYTES: 'lots' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /environment LAKEHOUSE_SERVER_MAX_BODY_BYTES: server\.max_body_bytes: expected a size/);

    r = run(['serve', '--listen', 'nowhere']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--listen: server\.listen: expected HOST:PORT/);

    r = run(['serve', '--set', 'nope']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--set expects KEY=VALUE/);

    r = run(['serve', '--config', '/no/such/file.toml']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read configuration file \/no\/such\/file\.toml/);

    const bin = writeConfig('\x00\x01\x02\xff garbage');
    r = run(['serve', '--config', bin.file]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /:1: NUL byte/);
  });

  it('serves with settings from a file, and logs JSON when asked', async () => {
    const { file } = writeConfig('[log]\nformat = "json"\n[server]\nmax_body_bytes = "2KiB"\n');
    const srv = await startServer({ args: ['--config', file] });
    const res = await fetch(`${srv.url}/health`, { method: 'POST', body: 'x'.repeat(3000) });
    assert.equal(res.status, 413);
    await srv.stop();
    const lines = srv.logs().trim().split('\n');
    for (const line of lines) JSON.parse(line); // every log line is a JSON object
    assert.ok(lines.some((l) => JSON.parse(l).event === 'http.access'));
  });

  it('fails clearly when the port is taken', async () => {
    const srv = await startServer();
    const r = run(['serve', '--listen', `127.0.0.1:${srv.port}`, '--data', srv.dir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`port ${srv.port} on 127\\.0\\.0\\.1 is busy`));
    await srv.stop();
  });
});
