// dialects.test.mjs — CSV files the sniffer alone reads wrong (issue 15),
// generated here and checked against an independent parse in JS: column
// count, column types, row count and the sum of a numeric column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run, tempDir } from './harness.mjs';

function rand(seed) {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
}

// {name, text, split: (line) => fields, header: bool, numeric: column index to sum, types?}
function cases() {
  const r = rand(7);
  const rows = Array.from({ length: 200 }, (_, i) => [i + 1, (2 + r() * 2).toFixed(2), Math.floor(r() * 30), Math.floor(r() * 2)]);
  const pad = (v, w) => String(v).padEnd(w);
  return [
    {
      name: 'whitespace', header: true, numeric: 1, types: ['BIGINT', 'DOUBLE', 'BIGINT', 'BIGINT'],
      text: `OBS   GPA    TUCE  PSI\n${rows.map((x) => `${pad(x[0], 6)}${pad(x[1], 7)}${pad(x[2], 6)}${x[3]}`).join('\n')}\n`,
      split: (l) => l.trim().split(/[ \t]+/),
    },
    {
      name: 'whitespace_headerless', header: false, numeric: 1, types: ['BIGINT', 'DOUBLE', 'BIGINT', 'BIGINT'],
      text: `${rows.map((x) => ` ${x.join('\t  ')}`).join('\n')}\n`,
      split: (l) => l.trim().split(/[ \t]+/),
    },
    {
      name: 'semicolon_decimal_comma', header: true, numeric: 1, types: ['VARCHAR', 'DOUBLE', 'BIGINT'],
      text: `produit;prix;quantité\n${rows.map((x) => `item ${x[0]};${x[1].replace('.', ',')};${x[2]}`).join('\n')}\n`,
      split: (l) => l.split(';'),
      value: (s) => Number(s.replace(',', '.')),
    },
    {
      name: 'headerless_numeric', header: false, numeric: 2, types: ['BIGINT', 'BIGINT', 'DOUBLE'],
      text: `${rows.map((x) => `${x[2]},${x[3]},${x[1]}`).join('\n')}\n`,
      split: (l) => l.split(','),
    },
    {
      name: 'bom', header: true, numeric: 1, types: ['BIGINT', 'DOUBLE'],
      text: `\ufeffid,gpa\n${rows.map((x) => `${x[0]},${x[1]}`).join('\n')}\n`,
      split: (l) => l.replace(/^\ufeff/, '').split(','),
    },
    {
      name: 'wide', header: true, numeric: 4999,
      text: `${Array.from({ length: 5000 }, (_, i) => `c${i}`).join(',')}\n${Array.from({ length: 3 }, (_, k) => Array.from({ length: 5000 }, (_, i) => i * (k + 1)).join(',')).join('\n')}\n`,
      split: (l) => l.split(','),
    },
  ];
}

test('CSV dialects: whitespace-aligned, decimal commas, headerless numbers, BOM, 5,000 columns', { timeout: 180000 }, () => {
  const dir = tempDir();
  for (const c of cases()) {
    const file = path.join(dir, `${c.name}.csv`);
    fs.writeFileSync(file, c.text);
    const r = run(['ingest', file, '--dataset', c.name, '--data', dir]);
    assert.equal(r.status, 0, `${c.name}: ${r.stderr}`);
    // the independent parse
    const lines = c.text.split('\n').filter((l) => l.trim());
    const parsed = lines.map(c.split);
    const data = c.header ? parsed.slice(1) : parsed;
    const value = c.value ?? Number;
    const sum = data.reduce((a, f) => a + value(f[c.numeric]), 0);
    const cols = JSON.parse(run(['sql', `DESCRIBE "${c.name}"`, '--json', '--max-rows', '10000', '--data', dir]).stdout).rows;
    assert.equal(cols.length, parsed[0].length, `${c.name}: columns ${cols.map((x) => x[0]).slice(0, 8)}`);
    if (c.types) assert.deepEqual(cols.map((x) => x[1]), c.types, c.name);
    if (c.header) assert.equal(cols[0][0], parsed[0][0].trim(), `${c.name}: the header names the columns`);
    const name = cols[c.numeric][0];
    const got = JSON.parse(run(['sql', `SELECT count(*), sum("${name}") FROM "${c.name}"`, '--json', '--data', dir]).stdout).rows[0];
    assert.equal(got[0], data.length, `${c.name}: rows`);
    assert.ok(Math.abs(got[1] - sum) < 1e-6 * Math.max(1, Math.abs(sum)), `${c.name}: sum ${got[1]} vs ${sum}`);
  }
});

test('CSV overrides: --delimiter, --header, --decimal, --encoding win over the sniffer; bad ones are refused', { timeout: 120000 }, () => {
  const dir = tempDir();
  const put = (name, text, enc = 'utf8') => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, Buffer.from(text, enc));
    return file;
  };
  const cols = (ds) => JSON.parse(run(['sql', `DESCRIBE "${ds}"`, '--json', '--data', dir]).stdout).rows.map((r) => `${r[0]}:${r[1]}`);
  const count = (ds) => JSON.parse(run(['sql', `SELECT count(*) FROM "${ds}"`, '--json', '--data', dir]).stdout).rows[0][0];
  const ok = (args) => {
    const r = run(['ingest', ...args, '--data', dir]);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  // a header of years: the sniffer's call is data; the caller says it is a header
  const years = put('years.csv', '2019,2020,2021\n1,2,3\n4,5,6\n');
  ok([years, '--dataset', 'years', '--header', 'yes']);
  assert.deepEqual(cols('years'), ['2019:BIGINT', '2020:BIGINT', '2021:BIGINT']);
  assert.equal(count('years'), 2);
  // a single space-separated line of words is one column to the sniffer
  const words = put('words.csv', 'a b c\nx y z\nu v w\n');
  ok([words, '--dataset', 'words', '--delimiter', 'whitespace', '--header', 'no']);
  assert.deepEqual(cols('words'), ['column0:VARCHAR', 'column1:VARCHAR', 'column2:VARCHAR']);
  assert.equal(count('words'), 3);
  const semi = put('semi.csv', 'k;v\na;1,5\nb;2,25\n');
  ok([semi, '--dataset', 'semi', '--delimiter', ';', '--decimal', ',']);
  assert.deepEqual(cols('semi'), ['k:VARCHAR', 'v:DOUBLE']);
  const latin = put('latin.csv', 'ville\nMontréal\nQuébec\n', 'latin1');
  ok([latin, '--dataset', 'latin', '--encoding', 'latin-1']);
  assert.deepEqual(JSON.parse(run(['sql', 'SELECT ville FROM latin ORDER BY 1', '--json', '--data', dir]).stdout).rows, [['Montréal'], ['Québec']]);
  let r = run(['ingest', semi, '--dataset', 'bad', '--delimiter', ',', '--decimal', ',', '--data', dir]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /a decimal comma needs another delimiter/);
  r = run(['ingest', semi, '--dataset', 'bad', '--delimiter', 'ab', '--data', dir]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /"delimiter" must be one character/);
  r = run(['ingest', semi, '--dataset', 'bad', '--header', 'maybe', '--data', dir]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /"header" must be true or false/);
  r = run(['ingest', semi, '--dataset', 'bad', '--encoding', 'ebcdic', '--data', dir]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /"encoding" must be one of utf-8, latin-1, utf-16/);
});
