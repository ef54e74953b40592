// cli.test.mjs — the `lakehouse` command line: help everywhere, sql output formats, errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, cleanEnv, run, startServer, tempDir } from './harness.mjs';

describe('lakehouse CLI', () => {
  it('lists subcommands in --help, and every subcommand has --help', () => {
    const top = run(['--help']);
    assert.equal(top.status, 0);
    const commands = [...top.stdout.matchAll(/^  (\w+)\s{2,}/gm)].map((m) => m[1]);
    assert.deepEqual(commands.sort(), ['ask', 'catalog', 'config', 'draft', 'embed', 'index', 'ingest', 'journal', 'mcp', 'pathway', 'playbook', 'profile', 'sample', 'search', 'serve', 'sql', 'storage', 'trial', 'version', 'view', 'workspace']);
    for (const c of commands) {
      const r = run([c, '--help']);
      assert.equal(r.status, 0, c);
      assert.match(r.stdout, new RegExp(`^usage: lakehouse ${c}`), c);
      const viaHelp = run(['help', c]);
      assert.equal(viaHelp.stdout, r.stdout);
    }
  });

  it('keeps DuckDB spill folders per process: a CLI beside a server leaves the server\'s alone', async () => {
    const dir = tempDir();
    const csv = path.join(dir, 'in.csv');
    fs.writeFileSync(csv, 'id,city\n1,Chicago\n');
    assert.equal(run(['ingest', csv, '--dataset', 'spill', '--data', dir]).status, 0);
    // what a crashed process left: swept at the next start
    const dead = path.join(dir, '_spill', 'sql-4194303');
    fs.mkdirSync(dead, { recursive: true });
    fs.writeFileSync(path.join(dead, 'duckdb_temp_block-1.block'), 'x');
    const srv = await startServer({ dataDir: dir });
    try {
      assert.equal(fs.existsSync(dead), false);
      const own = path.join(dir, '_spill', `sql-${srv.child.pid}`);
      assert.equal(fs.existsSync(own), true);
      // a spill file of the server's (DuckDB reads large blocks back by name)
      const block = path.join(own, 'duckdb_temp_block-7.block');
      fs.writeFileSync(block, 'spilled');
      for (const args of [['sql', 'SELECT count(*) AS n FROM spill', '--json'], ['ingest', csv, '--dataset', 'spill2']]) {
        const r = run([...args, '--data', dir]);
        assert.equal(r.status, 0, r.stderr);
      }
      assert.equal(fs.readFileSync(block, 'utf8'), 'spilled');
    } finally {
      await srv.stop();
    }
    // each process removes its own folders when it ends
    assert.deepEqual(fs.readdirSync(path.join(dir, '_spill')), []);
  });

  it('suggests the nearest command, action and option for a typo', () => {
    let r = run(['catlog', 'list']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "catlog"; did you mean "catalog"\?/);
    r = run(['catalog', 'shwo', 'x']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown action "shwo"; did you mean "show"\?/);
    r = run(['catalog', 'show', 'x', '--verison', '2']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option --verison; did you mean --version\?/);
  });

  it('takes --json wherever it prints data, and --format for lists', () => {
    const dir = tempDir();
    assert.equal(run(['catalog', 'create', 'aa', '--data', dir]).status, 0);
    for (const args of [['catalog', 'list'], ['catalog', 'show', 'aa'], ['journal', 'recent'], ['journal', 'stats'], ['storage', 'buckets'], ['index', 'list'], ['sql', 'SELECT 0.1 AS x']]) {
      const r = run([...args, '--json', '--data', dir]);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      JSON.parse(r.stdout);
    }
    // the Parquet export is the library's, so the CLI has it too
    const pq = spawnSync(BIN, ['sql', 'SELECT 42 AS answer', '--format', 'parquet', '--data', dir], { env: cleanEnv() });
    assert.equal(pq.status, 0, String(pq.stderr));
    assert.equal(pq.stdout.subarray(0, 4).toString(), 'PAR1');
    // ... with a relative --data too (the sandbox allows absolute folders only)
    const rel = spawnSync(BIN, ['sql', 'SELECT 42 AS answer', '--format', 'parquet', '--data', path.basename(dir)],
      { env: cleanEnv(), cwd: path.dirname(dir) });
    assert.equal(rel.status, 0, String(rel.stderr));
    assert.equal(rel.stdout.subarray(0, 4).toString(), 'PAR1');
    // shortest round-trip numbers
    assert.match(run(['sql', 'SELECT 0.1 AS x', '--json', '--data', dir]).stdout, /\[0\.1\]/);
    const csv = run(['catalog', 'list', '--format', 'csv', '--data', dir]);
    assert.match(csv.stdout, /^name,bucket,version,row_count,updated_at,deleted\naa,local,1,0,/);
    const nd = run(['catalog', 'list', '--format', 'ndjson', '--data', dir]);
    assert.equal(JSON.parse(nd.stdout.trim()).name, 'aa');
    // flags in any order; an unknown flag never swallows the next word
    const paged = run(['catalog', 'list', '--limit', '1', '--data', dir, '--json']);
    assert.equal(paged.status, 0, paged.stderr);
    assert.equal(JSON.parse(paged.stdout).datasets.length, 1);
    const unknown = run(['catalog', 'list', '--data', dir, '--bogus']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown option --bogus/);
    const bad = run(['catalog', 'show', 'aa', '--format', 'csv', '--data', dir]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /prints lists/);
  });

  it('moves the ingest progress bar with the bytes read', () => {
    const dir = tempDir();
    const file = path.join(dir, 'big.csv');
    const rows = ['id,name,score'];
    for (let i = 0; i < 3000000; i++) rows.push(`${i},name${i},${(i * 7919) % 1000}`);
    fs.writeFileSync(file, rows.join('\n') + '\n');
    // script(1) gives the command a terminal, where the bar is drawn. One thread, so
    // the 70 MB take ~0.7 s on any core count: the bar is sampled every 50 ms, and a
    // many-core machine converted the file between two samples (CI, stop 18).
    const r = spawnSync('script', ['-qec', `${BIN} ingest ${file} --dataset big --data ${dir}`, '/dev/null'], { env: cleanEnv({ LAKEHOUSE_QUERY_THREADS: '1' }), encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, r.stdout);
    const percents = new Set([...r.stdout.matchAll(/\]\s+(\d+)%/g)].map((m) => Number(m[1])));
    assert.ok([...percents].filter((p) => p > 0 && p < 100).length >= 2, `the bar did not move: ${[...percents]}`);
  });

  it('rejects unknown commands and options with exit 2', () => {
    let r = run(['frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
    r = run(['sql', '--bogus', 'SELECT 1']);
    assert.equal(r.status, 2);
    r = run([]);
    assert.equal(r.status, 2);
  });

  it('prints the version', () => {
    const r = run(['version', '--json']);
    assert.equal(r.status, 0);
    const v = JSON.parse(r.stdout);
    assert.equal(v.duckdb_version, 'v1.4.4');
    assert.match(run(['--version']).stdout, /^lakehouse \d+\.\d+\.\d+ \(commit .+, DuckDB v1\.4\.4\)\n$/);
  });

  it('runs SQL and prints a table', () => {
    const r = run(['sql', 'SELECT 42 AS answer']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /│ answer  │/);
    assert.match(r.stdout, /│      42 │/);
    assert.match(r.stdout, /1 row\n$/);
  });

  it('prints json, ndjson and csv', () => {
    let r = run(['sql', '--format', 'json', 'SELECT 42 AS answer, \'a"b\' AS s']);
    assert.deepEqual(JSON.parse(r.stdout), {
      columns: [
        { name: 'answer', type: 'INTEGER' },
        { name: 's', type: 'VARCHAR' },
      ],
      rows: [[42, 'a"b']],
      row_count: 1,
      truncated: false,
    });
    r = run(['sql', '-f', 'ndjson', 'SELECT i FROM range(3) t(i)']);
    assert.deepEqual(r.stdout.trim().split('\n').map(JSON.parse), [{ i: 0 }, { i: 1 }, { i: 2 }]);
    r = run(['sql', '--format=csv', "SELECT 1 AS a, 'x,y' AS b"]);
    assert.equal(r.stdout, 'a,b\r\n1,"x,y"\r\n');
  });

  it('reads SQL from stdin', () => {
    const r = run(['sql', '--format', 'csv'], { input: 'SELECT 7 AS seven' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'seven\r\n7\r\n');
  });

  it('limits rows and reports truncation', () => {
    const r = run(['sql', '--max-rows', '2', '--format', 'json', 'SELECT * FROM range(10)']);
    const body = JSON.parse(r.stdout);
    assert.equal(body.row_count, 2);
    assert.equal(body.truncated, true);
  });

  it('reports bad SQL with DuckDB\'s message and exit 2', () => {
    const r = run(['sql', 'SELEC 1']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^lakehouse sql: Parser Error: syntax error at or near "SELEC"/);
    assert.match(r.stderr, /LINE 1: SELEC 1/);
    assert.equal(r.stdout, '');
  });

  it('shows control characters an error quotes as \\xNN, never raw to the terminal', () => {
    const dir = tempDir();
    const file = path.join(dir, 'esc.json');
    fs.writeFileSync(file, '{"a": \x1b]0;pwned\x07\x1b[31mred}');
    const r = run(['ingest', file, '--dataset', 'esc', '--data', path.join(dir, 'data'), '--log-level', 'error']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^lakehouse ingest: .*esc\.json line 1, column \d+: not JSON: invalid token near '\\x1B/m);
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(r.stderr), JSON.stringify(r.stderr));
    const u = run(['sql', 'SELECT 1\x1b[2J']); // a usage error's message too
    assert.equal(u.status, 2);
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(u.stderr), JSON.stringify(u.stderr));
  });

  it('cancels a statement at its timeout with exit 5', () => {
    const t0 = Date.now();
    const r = run(['sql', '--timeout-ms', '300', 'SELECT count(*) FROM range(1000000000000)']);
    assert.equal(r.status, 5);
    assert.match(r.stderr, /exceeded its timeout of 300 ms/);
    assert.ok(Date.now() - t0 < 10000);
  });
});

describe('documentation', () => {
  it('docs/configuration.md documents every configuration key', async () => {
    const fs = await import('node:fs');
    const readme = fs.readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const keys = Object.keys(JSON.parse(run(['config', 'show', '--json']).stdout));
    assert.ok(keys.length > 10);
    for (const k of keys) assert.ok(readme.includes(`| \`${k}\` |`), `docs/configuration.md misses ${k}`);
  });
});
