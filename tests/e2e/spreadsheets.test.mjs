// spreadsheets.test.mjs — .xlsx written by a real, independent writer
// (libxlsxwriter, through tests/tools/xlsx_write) and .ods archives built
// here, ingested and checked value by value against what was written; then
// hostile archives (zip bomb, deep XML, a DTD, missing parts, damaged zips),
// each refused with a message naming the part and the limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { run, tempDir } from './harness.mjs';

const TOOLS = process.env.LH_TOOLS || path.resolve('build/release/tools');

function rand(seed) {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
}

// A zip archive of [{name, data, store?}] (deflated unless store), written here.
function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const e of entries) {
    const data = Buffer.from(e.data);
    const packed = e.store ? data : zlib.deflateRawSync(data);
    const method = e.store ? 0 : 8;
    const crc = zlib.crc32(data);
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, packed);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function sql(dir, q) {
  const r = run(['sql', q, '--json', '--data', dir]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function ingest(dir, file, dataset, extra = []) {
  const r = run(['ingest', file, '--dataset', dataset, '--json', '--data', dir, ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('xlsx from libxlsxwriter: every sheet, every value, typed (shared and inline strings)', { timeout: 120000 }, () => {
  const dir = tempDir();
  const r = rand(11);
  const regions = ['Québec', 'Zürich', 'São Paulo', '東京', 'O\'Brien & "Sons"', 'multi\nline'];
  const pad = (n) => String(n).padStart(2, '0');
  const sales = [];
  for (let i = 0; i < 3000; i++) {
    const day = `20${pad(10 + (i % 15))}-${pad(1 + (i % 12))}-${pad(1 + (i % 28))}`;
    const time = `${pad(i % 24)}:${pad((i * 7) % 60)}:${pad((i * 13) % 60)}`;
    sales.push([regions[i % regions.length], i - 100, Math.round(r() * 100000) / 100, day, i % 3 === 0,
      String(i % 1000).padStart(5, '0'), `${day} ${time}`, time]);
  }
  const spec = (constant) => ({
    constant_memory: constant,
    sheets: [
      { name: 'Sales', rows: [['region', 'units', 'price', 'shipped', 'active', 'zip', 'at', 'when'],
        ...sales.map((s) => [s[0], s[1], s[2], { date: s[3] }, s[4], s[5], { datetime: s[6] }, { time: s[7] }])] },
      { name: 'Staff', rows: [['name', 'region', 'share'], ['Ann Lee', 'Québec', { number: 0.25, format: '0.00%' }], ['Bo Li', 'Zürich', { number: 0.5, format: '0.00%' }]] },
      { name: 'Numbers only', rows: [[1, 2.5], [3, 4]] },
    ],
  });
  for (const constant of [false, true]) {
    const name = constant ? 'inline' : 'shared';
    const specFile = path.join(dir, `${name}.json`);
    const file = path.join(dir, `${name}.xlsx`);
    fs.writeFileSync(specFile, JSON.stringify(spec(constant)));
    const w = spawnSync(path.join(TOOLS, 'xlsx_write'), [file, specFile], { encoding: 'utf8' });
    assert.equal(w.status, 0, w.stderr);
    const report = ingest(dir, file, name);
    assert.equal(report.sources[0].format, 'xlsx');
    assert.equal(report.row_count, sales.length + 2 + 2);
    const types = Object.fromEntries(report.schema.map((f) => [f.name, f.type]));
    assert.deepEqual(types, {
      sheet: 'VARCHAR', region: 'VARCHAR', units: 'BIGINT', price: 'DOUBLE', shipped: 'DATE', active: 'BOOLEAN',
      zip: 'VARCHAR', at: 'TIMESTAMP', when: 'TIME', name: 'VARCHAR', share: 'DOUBLE', column0: 'BIGINT', column1: 'DOUBLE',
    });
    const rows = sql(dir, `SELECT region, units, price, CAST(shipped AS VARCHAR), active, zip, CAST("at" AS VARCHAR), CAST("when" AS VARCHAR) FROM ${name} WHERE sheet = 'Sales' ORDER BY units`).rows;
    assert.equal(rows.length, sales.length);
    for (let i = 0; i < sales.length; i++) assert.deepEqual(rows[i], sales[i], `Sales row ${i + 2}`);
    assert.deepEqual(sql(dir, `SELECT name, region, share FROM ${name} WHERE sheet = 'Staff' ORDER BY name`).rows,
      [['Ann Lee', 'Québec', 0.25], ['Bo Li', 'Zürich', 0.5]]);
    // a sheet whose first row is numbers has no header: its columns are named by position
    assert.deepEqual(sql(dir, `SELECT column0, column1 FROM ${name} WHERE sheet = 'Numbers only' ORDER BY 1`).rows, [[1, 2.5], [3, 4.0]]);
  }
});

// An OpenDocument spreadsheet as LibreOffice writes one, built here.
function ods(tablesXml) {
  const content = `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.3"><office:body><office:spreadsheet>${tablesXml}</office:spreadsheet></office:body></office:document-content>`;
  return zip([
    { name: 'mimetype', data: 'application/vnd.oasis.opendocument.spreadsheet', store: true },
    { name: 'content.xml', data: content },
    { name: 'META-INF/manifest.xml', data: '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>' },
  ]);
}

const odsCell = (v) => {
  if (v === null) return '<table:table-cell/>';
  if (typeof v === 'number') return `<table:table-cell office:value-type="float" calcext:value-type="float" office:value="${v}"><text:p>${v}</text:p></table:table-cell>`;
  if (typeof v === 'boolean') return `<table:table-cell office:value-type="boolean" office:boolean-value="${v}"><text:p>${v ? 'TRUE' : 'FALSE'}</text:p></table:table-cell>`;
  if (v.date) return `<table:table-cell office:value-type="date" office:date-value="${v.date}"><text:p>${v.date}</text:p></table:table-cell>`;
  if (v.time) return `<table:table-cell office:value-type="time" office:time-value="${v.time}"><text:p>x</text:p></table:table-cell>`;
  return `<table:table-cell office:value-type="string" calcext:value-type="string"><text:p>${esc(v.text)}</text:p></table:table-cell>`;
};

test('ods built here: value types, repeated cells and rows, paragraphs, comments, trailing emptiness', { timeout: 60000 }, () => {
  const dir = tempDir();
  const rows = [];
  for (let i = 0; i < 500; i++) rows.push([{ text: `item ${i} – é` }, i * 1.5, i % 2 === 0, { date: `2024-03-${String(1 + (i % 28)).padStart(2, '0')}` }, { time: `PT${String(i % 24).padStart(2, '0')}H05M09S` }]);
  const header = '<table:table-row>' + ['label', 'amount', 'ok', 'day', 'at'].map((t) => odsCell({ text: t })).join('') + '</table:table-row>';
  const body = rows.map((r) => `<table:table-row>${r.map(odsCell).join('')}<table:table-cell table:number-columns-repeated="16379"/></table:table-row>`).join('');
  const special = '<table:table table:name="Notes">'
    + '<table:table-row><table:table-cell office:value-type="string"><text:p>k</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>v</text:p></table:table-cell></table:table-row>'
    // a repeated row, a value repeated across columns is one cell per column; a comment is not the value
    + '<table:table-row table:number-rows-repeated="3"><table:table-cell office:value-type="string"><office:annotation><text:p>a comment</text:p></office:annotation><text:p>two<text:s text:c="3"/>lines</text:p><text:p>second<text:tab/>para</text:p></table:table-cell><table:covered-table-cell/></table:table-row>'
    + '<table:table-row><table:table-cell office:value-type="currency" office:value="9.99" table:number-columns-repeated="2"><text:p>9,99 €</text:p></table:table-cell></table:table-row>'
    + '<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    + '</table:table>';
  const file = path.join(dir, 'book.ods');
  fs.writeFileSync(file, ods(`<table:table table:name="Items">${header}${body}</table:table>${special}`));
  const report = ingest(dir, file, 'book');
  assert.equal(report.sources[0].format, 'ods');
  assert.equal(report.row_count, 500 + 4);
  const types = Object.fromEntries(report.schema.map((f) => [f.name, f.type]));
  assert.deepEqual(types, { sheet: 'VARCHAR', label: 'VARCHAR', amount: 'DOUBLE', ok: 'BOOLEAN', day: 'DATE', at: 'TIME', k: 'VARCHAR', v: 'DOUBLE' });
  const got = sql(dir, "SELECT label, amount, ok, CAST(day AS VARCHAR), CAST(\"at\" AS VARCHAR) FROM book WHERE sheet = 'Items' ORDER BY amount").rows;
  assert.equal(got.length, rows.length);
  for (let i = 0; i < rows.length; i++) {
    const w = rows[i];
    assert.deepEqual(got[i], [w[0].text, w[1], w[2], w[3].date, `${String(i % 24).padStart(2, '0')}:05:09`], `Items row ${i + 2}`);
  }
  assert.deepEqual(sql(dir, "SELECT k, v FROM book WHERE sheet = 'Notes' ORDER BY k NULLS LAST").rows, [
    ['9.99', 9.99], ['two   lines\nsecond\tpara', null], ['two   lines\nsecond\tpara', null], ['two   lines\nsecond\tpara', null]]);
  // the sheet is named by the format, whatever the file is called; a zip that is no spreadsheet is said to be so
  fs.copyFileSync(file, path.join(dir, 'book.bin'));
  assert.equal(ingest(dir, path.join(dir, 'book.bin'), 'book_bin').sources[0].format, 'ods');
  fs.writeFileSync(path.join(dir, 'other.zip'), zip([{ name: 'readme.txt', data: 'hello' }]));
  const other = run(['ingest', path.join(dir, 'other.zip'), '--dataset', 'other', '--data', dir]);
  assert.equal(other.status, 2);
  assert.match(other.stderr, /a zip archive, but not an \.xlsx or \.ods spreadsheet/);
});

// A minimal .xlsx (workbook, relationships, one sheet) around sheetXml.
function xlsx(sheetXml, { sharedStrings, workbook = true } = {}) {
  const entries = [
    { name: '[Content_Types].xml', data: '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>' },
    { name: 'xl/_rels/workbook.xml.rels', data: '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>' },
    { name: 'xl/worksheets/sheet1.xml', data: sheetXml },
  ];
  if (workbook) entries.push({ name: 'xl/workbook.xml', data: '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>' });
  if (sharedStrings) entries.push({ name: 'xl/sharedStrings.xml', data: sharedStrings });
  return zip(entries);
}

test('xlsx dates: built-in and custom date styles, the 1900 leap-year bug, the 1904 system', { timeout: 60000 }, () => {
  const dir = tempDir();
  const styles = '<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    + '<numFmts count="3"><numFmt numFmtId="164" formatCode="dd\\.mm\\.yyyy"/><numFmt numFmtId="165" formatCode="[Red]0.00;&quot;day&quot;0"/><numFmt numFmtId="166" formatCode="[h]:mm"/></numFmts>'
    + '<cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>'
    + '<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="22"/></cellXfs></styleSheet>';
  const header = '<row r="1"><c r="A1" t="inlineStr"><is><t>serial</t></is></c><c r="B1" t="inlineStr"><is><t>builtin</t></is></c><c r="C1" t="inlineStr"><is><t>custom</t></is></c><c r="D1" t="inlineStr"><is><t>red</t></is></c><c r="E1" t="inlineStr"><is><t>stamp</t></is></c></row>';
  const serials = [1, 59, 60, 61, 25569, 45296];
  const rows = serials.map((v, i) => `<row r="${i + 2}"><c r="A${i + 2}"><v>${v}</v></c><c r="B${i + 2}" s="1"><v>${v}</v></c><c r="C${i + 2}" s="2"><v>${v}</v></c><c r="D${i + 2}" s="3"><v>${v}</v></c><c r="E${i + 2}" s="4"><v>${v + 0.75}</v></c></row>`).join('');
  const sheet = `<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${header}${rows}</sheetData></worksheet>`;
  const build = (date1904) => zip([
    { name: 'xl/workbook.xml', data: `<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><workbookPr date1904="${date1904 ? 1 : 0}"/><sheets><sheet name="D" sheetId="1" r:id="rId7"/></sheets></workbook>` },
    { name: 'xl/_rels/workbook.xml.rels', data: '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/data.xml"/></Relationships>' },
    { name: 'xl/styles.xml', data: styles },
    { name: 'xl/worksheets/data.xml', data: sheet },
  ]);
  // Excel's own reading of these serials (1900 system: serial 60 is a 29 February 1900 that never was)
  const want1900 = ['1900-01-01', '1900-02-28', '1900-02-28', '1900-03-01', '1970-01-01', '2024-01-05'];
  const want1904 = ['1904-01-02', '1904-02-29', '1904-03-01', '1904-03-02', '1974-01-02', '2028-01-06'];
  for (const [name, date1904, want] of [['d1900', false, want1900], ['d1904', true, want1904]]) {
    const file = path.join(dir, `${name}.xlsx`);
    fs.writeFileSync(file, build(date1904));
    const report = ingest(dir, file, name);
    const types = Object.fromEntries(report.schema.map((f) => [f.name, f.type]));
    assert.deepEqual(types, { sheet: 'VARCHAR', serial: 'BIGINT', builtin: 'DATE', custom: 'DATE', red: 'BIGINT', stamp: 'TIMESTAMP' });
    const got = sql(dir, `SELECT serial, CAST(builtin AS VARCHAR), CAST(custom AS VARCHAR), red, CAST(stamp AS VARCHAR) FROM ${name} ORDER BY serial`).rows;
    assert.deepEqual(got, serials.map((v, i) => [v, want[i], want[i], v, `${want[i]} 18:00:00`]), name);
  }
});

const sheetOf = (rows) => `<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${rows}</sheetData></worksheet>`;

test('hostile spreadsheets: refused with the part and the limit, nothing made', { timeout: 120000 }, () => {
  const dir = tempDir();
  // the minimal builder's archive is itself readable
  fs.writeFileSync(path.join(dir, 'fine.xlsx'), xlsx(sheetOf('<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row><row r="2"><c r="A2"><v>1</v></c></row>')));
  assert.equal(ingest(dir, path.join(dir, 'fine.xlsx'), 'fine').row_count, 1);
  const cut = fs.readFileSync(path.join(dir, 'fine.xlsx'));
  const bomb = sheetOf(`<row r="1"><c r="A1"><v>1</v></c></row>${' '.repeat(40 << 20)}`);
  const deep = sheetOf(`<row r="1"><c r="A1"><v>1</v></c></row>${'<x>'.repeat(5000)}${'</x>'.repeat(5000)}`);
  const laughs = `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row><c t="inlineStr"><is><t>&c;</t></is></c></row></sheetData></worksheet>`;
  const cases = [
    ['bomb.xlsx', xlsx(bomb), /inflates more than 200 times its packed size \(a zip bomb\?\)/],
    ['deep.xlsx', xlsx(deep), /xl\/worksheets\/sheet1\.xml nests deeper than 64 levels \(LH_INGEST_SHEET_XML_DEPTH_MAX\)/],
    ['laughs.xlsx', xlsx(laughs), /has a DTD \(<!DOCTYPE>\)/],
    ['noworkbook.xlsx', xlsx(sheetOf(''), { workbook: false }), /not a complete \.xlsx: xl\/workbook\.xml is missing/],
    ['badref.xlsx', xlsx(sheetOf('<row><c r="XFE1"><v>1</v></c></row>')), /cell reference "XFE1" is not a column A to XFD/],
    ['badsst.xlsx', xlsx(sheetOf('<row><c r="A1" t="s"><v>7</v></c></row>'), { sharedStrings: '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>only</t></si></sst>' }), /shared string "7" does not exist \(1 strings\)/],
    ['badxml.xlsx', xlsx('<worksheet><sheetData><row></sheetData>'), /xl\/worksheets\/sheet1\.xml line 1: mismatched tag/],
    ['empty.xlsx', xlsx(sheetOf('')), /no sheet holds a data row/],
    ['truncated.xlsx', cut.subarray(0, cut.length >> 1), /is not a readable \.xlsx \(zip: /],
    ['text.xlsx', Buffer.from('a,b\n1,2\n'), /named \.xlsx but is not a spreadsheet/],
    ['nocontent.ods', zip([{ name: 'mimetype', data: 'application/vnd.oasis.opendocument.spreadsheet', store: true }]), /not a complete OpenDocument spreadsheet: content\.xml is missing/],
    ['wide.ods', ods('<table:table table:name="W"><table:table-row><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="20000"/></table:table-row></table:table>'), /a cell beyond column 16384 \(LH_INGEST_SHEET_COLUMNS_MAX\)/],
    ['longcell.ods', ods(`<table:table table:name="L"><table:table-row><table:table-cell office:value-type="string"><text:p>${'<text:s text:c="100000"/>'.repeat(20)}</text:p></table:table-cell></table:table-row></table:table>`), /content\.xml: a cell longer than 1 MiB \(LH_INGEST_SHEET_CELL_BYTES_MAX\)/],
    ['widerow.ods', ods(`<table:table table:name="W"><table:table-row><table:table-cell office:value-type="string" table:number-columns-repeated="100"><text:p>${'<text:s text:c="1000"/>'.repeat(1000)}</text:p></table:table-cell></table:table-row></table:table>`), /a row longer than 64 MiB \(LH_INGEST_SHEET_ROW_BYTES_MAX\)/],
    ['manyrows.ods', ods(`<table:table table:name="R"><table:table-row table:number-rows-repeated="100000"><table:table-cell office:value-type="string"><text:p>${'<text:s text:c="1000"/>'.repeat(100)}</text:p></table:table-cell></table:table-row></table:table>`), /the rows come to more than 2048 MiB \(LH_INGEST_SHEET_ROWS_BYTES_MAX\)/],
    ['manycells.ods', ods('<table:table table:name="M"><table:table-row table:number-rows-repeated="2000000"><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="100"/></table:table-row></table:table>'), /more than 20000000 cells \(LH_INGEST_SHEET_CELLS_MAX\)/],
  ];
  for (const [name, bytes, message] of cases) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    const r = run(['ingest', file, '--dataset', 'victim', '--data', dir]);
    assert.equal(r.status, 2, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message, name);
  }
  assert.equal(run(['catalog', 'show', 'victim', '--data', dir]).status, 3, 'no dataset was made');
  assert.deepEqual(fs.readdirSync(path.join(dir, '_tmp')).filter((f) => !f.startsWith('.')), [], 'no temp file left');
});
