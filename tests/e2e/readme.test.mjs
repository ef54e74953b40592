// readme.test.mjs — every command in README.md (and in the ```sh examples of
// docs/cli.md, docs/http.md, docs/search.md and docs/mcp.md) runs, against a real server.
//
// The rule: every line of every ```sh block in the README is run with bash,
// in order, from the checkout's root, and must exit 0 with some output. Lines
// ending in "\" continue on the next. A line is rewritten only so that it
// talks to this test's instances instead of a developer's:
//   - `bin/lakehouse`, and `lakehouse` as a command word -> $LH_BIN;
//   - `127.0.0.1:3100` -> the test server's address;
//   - `curl -s` -> `curl -sS --fail-with-body` (an HTTP error fails the line);
//   - the data folder is a temporary one (LAKEHOUSE_STORAGE_DATA_DIR, and
//     `--data` for the server); embeddings use the `hash` provider
//     (LAKEHOUSE_AI_PROVIDER=hash, from the harness's cleanEnv), so the index
//     the README says takes ~2 min with the local model takes a second here.
// Lines that run `make` (alone or under sudo) are not run: `make run` is done
// here by its steps — the first-start command of the Makefile's run recipe
// (read from the Makefile) over the temporary folder, then `serve`; `make
// test` is the suite this file belongs to; `make install` is
// install.test.mjs. Any other `make` line fails this test, so a new one gets
// a test of its own. A few lines also have their output checked (EXPECT); each
// of those checks must match a README line, so they follow the README.
// The docs pages run the same way, each against a fresh server and data
// folder holding the sample (as after `make run`); docs/install.md is not run
// here (bootstrap, make: install.test.mjs does what it says).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, cleanEnv, tempDir, startServer } from './harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const DOCS = ['docs/cli.md', 'docs/http.md', 'docs/search.md', 'docs/mcp.md'];
const NOT_RUN = new Map([
  ['make run', 'done here by its steps'],
  ['make test', 'the suite this test is part of'],
  ['sudo make install', 'install.test.mjs'],
]);

// Output checks for some lines: [pattern the command matches, check of stdout].
const EXPECT = [
  [/\/health$/, (out) => assert.equal(JSON.parse(out).status, 'ok')],
  [/\/v1\/version$/, (out) => assert.equal(JSON.parse(out).duckdb_version, 'v1.4.4')],
  [/sql "SELECT city, count\(\*\)/, (out) => assert.match(out, /\n5 rows\n?$/)],
  [/\/v1\/sql .*placed/, (out) => assert.ok(JSON.parse(out).rows[0][0] > 0, out)],
  [/ingest examples\/certifications\.csv .*# nothing new/, (out) => assert.match(out, /nothing new/)],
  [/ingest examples\/certifications\.csv --dataset certifications$/, (out) => assert.match(out, /version 2, 6 rows/)],
  [/ingest examples\/certifications-2026-q4\.csv/, (out) => assert.match(out, /version 3, 9 rows/)],
  [/catalog versions certifications/, (out) => assert.deepEqual([...out.matchAll(/^(\d+)\s+\w+\s+\S+\s+\S+\s+(\d+)/gm)].map((m) => Number(m[2])), [0, 6, 9])],
  [/sql "SHOW TABLES"/, (out) => assert.match(out, /certifications/)],
  [/JOIN workers/, (out) => assert.match(out, /\n9 rows\n?$/)],
  [/dataset_version\('certifications', 2\)/, (out) => assert.match(out, /│\s+6 │/)],
  [/journal\/history\/certifications/, (out) => assert.ok(JSON.stringify(JSON.parse(out)).includes('"commit"'), out)],
  [/index create workers_idx/, (out) => assert.match(out, /^count\s+2000$/m)],
  [/search workers_idx forklift/, (out) => assert.match(out, /^\s+1\. \d+ .*forklift/im)],
  [/search workers_idx welder --filter "state = 'TX'" --k 3/, (out) => assert.equal(out.trim().split('\n').length, 3, out)],
  [/\/v1\/ask/, (out) => assert.ok(JSON.parse(out).citations.length > 0, out)],
  [/--help$/, (out) => assert.match(out, /usage: lakehouse <command>/)],
];

// The ```sh blocks' commands, continuation lines joined.
function readmeCommands(text) {
  const commands = [];
  for (const m of text.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    let pending = '';
    for (const line of m[1].split('\n')) {
      if (line.endsWith('\\')) {
        pending += line.slice(0, -1) + ' ';
        continue;
      }
      const cmd = (pending + line).trim();
      pending = '';
      if (cmd && !cmd.startsWith('#')) commands.push(cmd);
    }
  }
  return commands;
}

const withoutComment = (cmd) => cmd.replace(/\s+#[^'"]*$/, '');

let server, dataDir, hadData;

// `make run`'s first start, from the Makefile's run recipe ($(BIN) sample ...
// --data ./data ...), into dir.
function loadSample(dir) {
  const makefile = fs.readFileSync(path.join(ROOT, 'Makefile'), 'utf8');
  const recipe = makefile.match(/^run:[^\n]*\n((?:\t[^\n]*\n)+)/m);
  assert.ok(recipe, 'the Makefile has a run recipe');
  const first = recipe[1].match(/\$\(BIN\) (sample [^;]*);/);
  assert.ok(first, `the run recipe loads the sample: ${recipe[1]}`);
  const args = first[1].trim().split(/\s+/).map((a) => (a === './data' ? dir : a));
  assert.ok(args.includes(dir), `the sample goes to --data ./data: ${first[1]}`);
  const r = spawnSync(BIN, args, { env: cleanEnv(), encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stderr);
}

// Runs one command line as the README's reader would, against port and dir.
function runLine(cmd, port, dir) {
  const line = cmd
    .replace(/(^|[\s;|&(])bin\/lakehouse\b/g, `$1${BIN}`)
    .replace(/(^|[;|&(]\s*)lakehouse\b/g, `$1${BIN}`)
    .replaceAll('127.0.0.1:3100', `127.0.0.1:${port}`)
    .replace(/\bcurl -s\b/g, 'curl -sS --fail-with-body');
  const r = spawnSync('bash', ['-c', line], {
    cwd: ROOT,
    env: cleanEnv({ LAKEHOUSE_STORAGE_DATA_DIR: dir }),
    encoding: 'utf8',
    timeout: 120000,
  });
  assert.equal(r.status, 0, `${cmd}\nran: ${line}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.ok(r.stdout.trim().length > 0, `${cmd} printed nothing\nstderr: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  hadData = fs.existsSync(path.join(ROOT, 'data'));
  dataDir = tempDir('lh-readme-');
  loadSample(dataDir);
  server = await startServer({ dataDir });
});

after(async () => {
  if (server) assert.equal((await server.stop()).code, 0, server.logs());
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the README has commands, and make lines only the known ones', () => {
  const cmds = readmeCommands(README);
  assert.ok(cmds.length >= 10, cmds.join('\n'));
  for (const c of cmds.filter((c) => /^(sudo\s+)?make\b/.test(c)))
    assert.ok(NOT_RUN.has(withoutComment(c)), `README line "${c}" runs make; give it a test and add it to NOT_RUN`);
  assert.ok(cmds.some((c) => withoutComment(c) === 'make run'), 'the tour starts with make run');
});

test('every README command runs', () => {
  const used = new Set();
  for (const cmd of readmeCommands(README)) {
    if (/^(sudo\s+)?make\b/.test(cmd)) continue;
    const stdout = runLine(cmd, server.port, dataDir);
    for (const [i, [pattern, check]] of EXPECT.entries()) {
      if (!pattern.test(cmd)) continue;
      used.add(i);
      try {
        check(stdout);
      } catch (e) {
        e.message = `README: ${cmd}\n${e.message}\nstdout: ${stdout}`;
        throw e;
      }
    }
  }
  const unused = EXPECT.filter((_, i) => !used.has(i)).map(([p]) => p);
  assert.deepEqual(unused, [], 'every output check matches a README line');
  if (!hadData) assert.ok(!fs.existsSync(path.join(ROOT, 'data')), 'the commands used the temporary data folder, not ./data');
});

for (const doc of DOCS) {
  test(`every command in ${doc} runs`, async () => {
    const cmds = readmeCommands(fs.readFileSync(path.join(ROOT, doc), 'utf8'));
    assert.ok(cmds.length > 0, `${doc} has sh examples`);
    const dir = tempDir('lh-docs-');
    loadSample(dir);
    const s = await startServer({ dataDir: dir });
    try {
      for (const cmd of cmds) {
        assert.ok(!/^(sudo\s+)?make\b/.test(cmd), `${doc}: "${cmd}" runs make`);
        runLine(cmd, s.port, dir);
      }
    } finally {
      assert.equal((await s.stop()).code, 0, s.logs());
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
