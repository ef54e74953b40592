// dialects.test.mjs — CSV files the sniffer alone reads wrong (issue 15),
// generated here and checked against an independent parse in JS: column
// count, column types, row count and the sum of a numeric column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run, startServer, tempDir } from './harness.mjs';

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

// Windows-1252 bytes for the characters the mixed corpus uses (an encoder
// written here; the check below decodes with TextDecoder, independently).
const CP1252 = { é: 0xe9, è: 0xe8, ç: 0xe7, ü: 0xfc, à: 0xe0, '€': 0x80, '“': 0x93, '”': 0x94, '–': 0x96, Œ: 0x8c };
function cp1252(s) {
  return Buffer.from([...s].map((ch) => (ch.charCodeAt(0) < 0x80 ? ch.charCodeAt(0) : CP1252[ch])));
}

// Each line decoded on its own: UTF-8 if it is valid UTF-8, Windows-1252 otherwise.
function decodeLines(buf) {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const w1252 = new TextDecoder('windows-1252');
  const lines = [];
  let start = 0;
  for (let i = 0; i <= buf.length; i++) {
    if (i < buf.length && buf[i] !== 0x0a) continue;
    const line = buf.subarray(start, i);
    try { lines.push(utf8.decode(line)); } catch { lines.push(w1252.decode(line)); }
    start = i + 1;
  }
  return lines;
}

test('mixed UTF-8 and Windows-1252 lines: each line read right, repairs counted in the report and manifest', { timeout: 180000 }, async () => {
  const dir = tempDir();
  const cities = ['Québec', 'Montréal', 'Zürich', 'Besançon', 'Orléans', 'Œuvre à “Paris”', 'Prix 5 € – net'];
  // ~2.5 MB: lines cross the 1 MiB read buffers; every 7th line is Windows-1252
  const parts = [Buffer.from('id,city,note\n')];
  let legacy = 0;
  for (let i = 1; i <= 60000; i++) {
    const line = `${i},${cities[i % cities.length]},note ${'x'.repeat(i % 13)}\n`;
    if (i % 7 === 3) { parts.push(cp1252(line)); legacy++; } else parts.push(Buffer.from(line));
  }
  const bytes = Buffer.concat(parts);
  const file = path.join(dir, 'mixed.csv');
  fs.writeFileSync(file, bytes);
  const expected = decodeLines(bytes).filter((l) => l).slice(1).map((l) => l.split(','));
  assert.ok(expected.some((r) => r[1] === 'Œuvre à “Paris”'));

  const r = run(['ingest', file, '--dataset', 'mixed', '--json', '--data', dir]);
  assert.equal(r.status, 0, r.stderr);
  const src = JSON.parse(r.stdout).sources[0];
  assert.equal(src.lines_repaired, legacy);
  assert.equal(src.repaired_as, 'windows-1252');
  assert.equal(src.encoding, 'utf-8+windows-1252');
  // every row, compared by digest (the text is too long to print); then the distinct cities themselves
  const digest = crypto.createHash('md5').update(expected.map((x) => x.join('|')).join('\n')).digest('hex');
  const got = JSON.parse(run(['sql', "SELECT count(*) AS n, md5(string_agg(concat_ws('|', id, city, note), chr(10) ORDER BY id)) AS h FROM mixed", '--json', '--data', dir]).stdout).rows[0];
  assert.deepEqual(got.map(String), [String(expected.length), digest]);
  const distinct = JSON.parse(run(['sql', 'SELECT DISTINCT city FROM mixed ORDER BY 1', '--json', '--data', dir]).stdout).rows.map((x) => x[0]);
  assert.deepEqual(distinct, [...new Set(expected.map((x) => x[1]))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  const shown = JSON.parse(run(['catalog', 'show', 'mixed', '--json', '--data', dir]).stdout);
  const lineage = (shown.manifest ?? shown).lineage.sources[0];
  assert.equal(lineage.lines_repaired, legacy);
  assert.equal(lineage.repaired_as, 'windows-1252');
  // the CLI's summary says it too
  const again = path.join(dir, 'again.csv');
  fs.writeFileSync(again, Buffer.concat([Buffer.from('city\nQuébec\n'), cp1252('Montréal\n')]));
  const text = run(['ingest', again, '--dataset', 'again', '--data', dir]);
  assert.match(text.stdout, /1 line\(s\) not UTF-8, read as windows-1252/);

  // lines that are not UTF-8 only past the first 64 KiB (the sniffed sample): the
  // conversion started beside the hash is done again from a repaired copy
  const late = path.join(dir, 'late.csv');
  const head = Array.from({ length: 4000 }, (_, i) => `${i},Québec ${i}\n`).join('');
  fs.writeFileSync(late, Buffer.concat([Buffer.from(`id,city\n${head}`), cp1252('4000,Montréal – “late”\n'), Buffer.from('4001,Zürich\n')]));
  const lt = JSON.parse(run(['ingest', late, '--dataset', 'late', '--json', '--data', dir]).stdout).sources[0];
  assert.equal(lt.lines_repaired, 1);
  assert.equal(lt.encoding, 'utf-8+windows-1252');
  assert.deepEqual(JSON.parse(run(['sql', 'SELECT count(*), max(city) FILTER (WHERE id = 4000), max(city) FILTER (WHERE id = 4001) FROM late', '--json', '--data', dir]).stdout).rows,
    [[4002, 'Montréal – “late”', 'Zürich']]);
  // with --encoding utf-8 such a file is refused, naming the line
  const strict = run(['ingest', late, '--dataset', 'strict', '--encoding', 'utf-8', '--data', dir]);
  assert.equal(strict.status, 2);
  assert.match(strict.stderr, /late\.csv line 4002 is not valid UTF-8 \(1 such lines\), yet encoding utf-8 was given/);
  assert.deepEqual(fs.readdirSync(path.join(dir, '_tmp')).filter((f) => !f.startsWith('.')), [], 'no temp file left');

  // a file that is all Windows-1252 says so; pure UTF-8 reports no repair
  const legacyFile = path.join(dir, 'legacy.csv');
  fs.writeFileSync(legacyFile, cp1252('ville,note\nMontréal,“ok”\nQuébec,5 €\n'));
  const lr = JSON.parse(run(['ingest', legacyFile, '--dataset', 'legacy', '--json', '--data', dir]).stdout).sources[0];
  assert.equal(lr.encoding, 'windows-1252');
  assert.equal(lr.lines_repaired, 2);
  assert.deepEqual(JSON.parse(run(['sql', 'SELECT note FROM legacy ORDER BY 1', '--json', '--data', dir]).stdout).rows, [['5 €'], ['“ok”']]);
  const plain = path.join(dir, 'plain.csv');
  fs.writeFileSync(plain, 'ville\nQuébec\n');
  const pr = JSON.parse(run(['ingest', plain, '--dataset', 'plain', '--json', '--data', dir]).stdout).sources[0];
  assert.equal(pr.encoding, 'utf-8');
  assert.equal(pr.lines_repaired, undefined);

  // NDJSON and text documents are repaired the same way; over HTTP too
  const srv = await startServer({ dataDir: dir });
  try {
    const nd = Buffer.concat([Buffer.from('{"city":"Québec"}\n'), cp1252('{"city":"Montréal – “centre”"}\n')]);
    const res = await fetch(`${srv.url}/v1/ingest?dataset=nd&filename=cities.ndjson`, { method: 'POST', body: nd });
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.equal(body.sources[0].lines_repaired, 1);
    assert.equal(body.sources[0].repaired_as, 'windows-1252');
    const q = await (await fetch(`${srv.url}/v1/sql`, { method: 'POST', body: JSON.stringify({ sql: 'SELECT city FROM nd ORDER BY 1' }) })).json();
    assert.deepEqual(q.rows, [['Montréal – “centre”'], ['Québec']]);
    const txt = Buffer.concat([Buffer.from('Québec est une ville.\n'), cp1252('Montréal aussi – “vraiment”.\n')]);
    const tr = await (await fetch(`${srv.url}/v1/ingest?dataset=notes&filename=notes.txt`, { method: 'POST', body: txt })).json();
    assert.equal(tr.sources[0].lines_repaired, 1);
    const t = await (await fetch(`${srv.url}/v1/sql`, { method: 'POST', body: JSON.stringify({ sql: 'SELECT text FROM notes' }) })).json();
    assert.equal(t.rows[0][0].trim(), 'Québec est une ville.\nMontréal aussi – “vraiment”.');
  } finally {
    await srv.stop();
  }
});
