// documents.test.mjs — documents that answer questions end to end (issue 15):
// a multi-page PDF with an outline (bookmarks) ingests into chunks that carry
// a unique chunk_id and their section path, `ingest --index` makes it
// searchable in one step, and a question about a section by its title finds
// that section first — with no id, no text column and no export by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run, startServer, tempDir } from './harness.mjs';

// A PDF whose pages hold lines of text — a string (11 pt), or {text, size} —
// with an outline: [{title, page, children}] (none when empty).
function writePdf(file, pages, outline) {
  const objs = [];
  const add = (body) => objs.push(body) && objs.length;
  const catalog = add(null), pagesObj = add(null), font = add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  const esc = (s) => s.replace(/[\\()]/g, (c) => `\\${c}`);
  const pageRefs = pages.map((lines) => {
    const stream = `BT 72 740 Td ${lines.map((l) => {
      const { text, size } = typeof l === 'string' ? { text: l, size: 11 } : l;
      return `/F1 ${size} Tf ${Math.round(size * 1.3)} TL (${esc(text)}) Tj T*`;
    }).join(' ')} ET`;
    const contents = add(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
    return add(`<< /Type /Page /Parent ${pagesObj} 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 ${font} 0 R >> >> /Contents ${contents} 0 R >>`);
  });
  objs[pagesObj - 1] = `<< /Type /Pages /Count ${pages.length} /Kids [${pageRefs.map((r) => `${r} 0 R`).join(' ')}] >>`;
  const root = add(null);
  const items = (list, parent) => {
    const ids = list.map(() => add(null));
    list.forEach((it, i) => {
      let body = `<< /Title (${esc(it.title)}) /Parent ${parent} 0 R /Dest [${pageRefs[it.page - 1]} 0 R /XYZ 0 792 0]`;
      if (i > 0) body += ` /Prev ${ids[i - 1]} 0 R`;
      if (i + 1 < ids.length) body += ` /Next ${ids[i + 1]} 0 R`;
      if (it.children?.length) {
        const kids = items(it.children, ids[i]);
        body += ` /First ${kids[0]} 0 R /Last ${kids.at(-1)} 0 R /Count ${kids.length}`;
      }
      objs[ids[i] - 1] = `${body} >>`;
    });
    return ids;
  };
  if (outline.length) {
    const top = items(outline, root);
    objs[root - 1] = `<< /Type /Outlines /First ${top[0]} 0 R /Last ${top.at(-1)} 0 R /Count ${top.length} >>`;
    objs[catalog - 1] = `<< /Type /Catalog /Pages ${pagesObj} 0 R /Outlines ${root} 0 R /PageMode /UseOutlines >>`;
  } else {
    objs[root - 1] = '<< >>';
    objs[catalog - 1] = `<< /Type /Catalog /Pages ${pagesObj} 0 R >>`;
  }
  let out = '%PDF-1.4\n';
  const offsets = objs.map((body, i) => {
    const at = out.length;
    out += `${i + 1} 0 obj ${body} endobj\n`;
    return at;
  });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer << /Size ${objs.length + 1} /Root ${catalog} 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  fs.writeFileSync(file, out, 'latin1');
}

const filler = (topic, n) => Array.from({ length: n }, (_, i) => `Line ${i + 1} about ${topic}: settings apply to the current plot only.`);

test('a PDF with an outline: chunk ids, section paths, ingest --index, and a section found by its title', { timeout: 120000 }, async () => {
  const dir = tempDir();
  const pdf = path.join(dir, 'manual.pdf');
  writePdf(pdf, [
    ['Introduction', ...filler('getting started', 12)],
    ['Palette', 'Colors come from the current color map.', ...filler('colors', 20), 'Logscale', 'Syntax: set log y.', 'Each tick on that axis is a power of ten.', ...filler('axes', 20)],
    ['Fonts', ...filler('text rendering', 15)],
  ], [
    { title: 'Introduction', page: 1 },
    { title: 'Commands', page: 2, children: [{ title: 'Palette', page: 2 }, { title: 'Logscale', page: 2 }, { title: 'Fonts', page: 3 }] },
  ]);
  const ingest = run(['ingest', pdf, '--dataset', 'manual', '--index', '--chunk-chars', '300', '--json', '--data', dir]);
  assert.equal(ingest.status, 0, ingest.stderr);
  const report = JSON.parse(ingest.stdout);
  assert.equal(report.index.name, 'manual');
  assert.equal(report.index.action, 'created');

  const rows = JSON.parse(run(['sql', 'SELECT chunk_id, page, section, text FROM manual ORDER BY page, chunk_no', '--json', '--data', dir]).stdout).rows;
  assert.equal(new Set(rows.map((r) => r[0])).size, rows.length, 'chunk_id is unique');
  assert.ok(rows.every((r) => /^[0-9a-f]{16}-p\d+-c\d+$/.test(r[0])), rows[0][0]);
  const sections = [...new Set(rows.map((r) => r[2]))];
  assert.deepEqual(sections, ['Introduction', 'Commands > Palette', 'Commands > Logscale', 'Commands > Fonts']);
  // the Logscale section starts mid-page, at its title, and runs past its first chunk
  const log = rows.filter((r) => r[2] === 'Commands > Logscale');
  assert.equal(log[0][1], 2);
  assert.match(log[0][3], /^Logscale/);
  assert.ok(log.length >= 2, `${log.length} chunks`);
  assert.ok(!log.slice(1).some((r) => /logscale/i.test(r[3])), 'later chunks do not name their section in their text');

  // searched and asked by the section's title, that section comes first
  const srv = await startServer({ dataDir: dir });
  try {
    const hits = await (await fetch(`${srv.url}/v1/search`, { method: 'POST', body: JSON.stringify({ index: 'manual', query: 'logscale', k: 5, mode: 'text' }) })).json();
    assert.ok(hits.hits.length >= log.length, JSON.stringify(hits));
    for (let i = 0; i < log.length; i++) assert.equal(hits.hits[i].row.section, 'Commands > Logscale', JSON.stringify(hits.hits.map((h) => h.row.section)));
    const asked = await (await fetch(`${srv.url}/v1/ask`, { method: 'POST', body: JSON.stringify({ question: 'What does the logscale command do?', index: 'manual', k: 3 }) })).json();
    const first = rows.find((r) => r[0] === asked.citations[0].id);
    assert.equal(first[2], 'Commands > Logscale', JSON.stringify(asked));
    assert.match(asked.answer, /power of ten|set log y/);
  } finally {
    await srv.stop();
  }

  // index create with no --id/--text works on a documents dataset; elsewhere it says what is missing
  const made = run(['index', 'create', 'manual2', '--dataset', 'manual', '--json', '--data', dir]);
  assert.equal(made.status, 0, made.stderr);
  const shown = JSON.parse(run(['index', 'show', 'manual2', '--json', '--data', dir]).stdout);
  assert.deepEqual(shown.manifest.text.columns, ['section', 'text']);
  assert.equal(shown.manifest.origin.id_column, 'chunk_id');
  fs.writeFileSync(path.join(dir, 't.csv'), 'a,b\n1,x\n');
  assert.equal(run(['ingest', path.join(dir, 't.csv'), '--dataset', 'plain', '--data', dir]).status, 0);
  const refused = run(['index', 'create', 'p', '--dataset', 'plain', '--data', dir]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /only a documents dataset .* has defaults/);
});

test('poppler is opened on the first PDF: without it a PDF gets a clear error and the rest works', () => {
  const dir = tempDir();
  const pdf = path.join(dir, 'one.pdf');
  writePdf(pdf, [['Only page. It has some text.']], []);
  // a library by poppler-glib's name that cannot be loaded, found first
  const libs = tempDir('lh-nolib-');
  fs.writeFileSync(path.join(libs, 'libpoppler-glib.so.8'), '');
  const env = { LD_LIBRARY_PATH: libs };
  const csv = path.join(dir, 'a.csv');
  fs.writeFileSync(csv, 'id\n1\n');
  let r = run(['ingest', csv, '--dataset', 'plain', '--data', dir], { env });
  assert.equal(r.status, 0, r.stderr);
  r = run(['ingest', pdf, '--dataset', 'docs', '--data', dir], { env });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /PDF support needs libpoppler-glib\.so\.8 \(Debian: libpoppler-glib8\), which could not be loaded: .*libpoppler-glib\.so\.8/);
  // with it, the same file reads
  r = run(['ingest', pdf, '--dataset', 'docs', '--data', dir]);
  assert.equal(r.status, 0, r.stderr);
});

test('ingest errors name the line, the limit and the fix (and a file in the working folder does not hang the CLI)', { timeout: 120000 }, () => {
  const dir = tempDir();
  const lines = Array.from({ length: 500 }, (_, i) => JSON.stringify({ a: i + 1 }));
  fs.writeFileSync(path.join(dir, 'bad.ndjson'), [...lines, '{"a": oops}', '{"a": 0}'].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'rag.csv'), 'a,b\n1,2\n3,4,5\n6,7\n');
  fs.writeFileSync(path.join(dir, 'huge.csv'), `a,b\n1,"${'x'.repeat(3_000_000)}"\n`);
  // run from the data's folder with bare file names: the name is the path (this once looped forever)
  const ingest = (file, ...more) => run(['ingest', file, '--dataset', 'x', '--data', 'd', ...more], { cwd: dir });
  let r = ingest('bad.ndjson');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bad\.ndjson line 501, column \d+: not JSON: invalid token near 'oops'/);
  r = ingest('rag.csv');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /rag\.csv: 1 row\(s\) could not be read; the first, at line 3: .*--skip-bad-rows/);
  r = ingest('huge.csv');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /huge\.csv line 1: a line or quoted value is longer than the 2 MiB .*ingest\.max_line_bytes/);
  r = ingest('huge.csv', '--set', 'ingest.max_line_bytes=8MiB');
  assert.equal(r.status, 0, r.stderr);
  const n = JSON.parse(run(['sql', 'SELECT length(b) AS n FROM x', '--json', '--data', path.join(dir, 'd')]).stdout).rows;
  assert.deepEqual(n, [[3_000_000]]);
});

test('a PDF without an outline: headings found by type size give sections, and a section is found by its title', { timeout: 120000 }, async () => {
  const dir = tempDir();
  const pdf = path.join(dir, 'guide.pdf');
  const h1 = (text) => ({ text, size: 20 });
  const h2 = (text) => ({ text, size: 15 });
  // body sentences run past the chunk size, so chunks end at sentence boundaries
  const prose = (topic, n) => Array.from({ length: n }, (_, i) => `Step ${i + 1} of the ${topic} setup. It changes how the chart looks.`);
  writePdf(pdf, [
    [h1('Plotting Guide'), h2('Introduction'), ...prose('first', 14)],
    [h2('Palette'), 'Colors come from the current color map.', ...prose('colour', 10), h2('Logscale'), 'Syntax: set log y.', 'Each tick on that axis is a power of ten.', ...prose('axis', 10)],
    [h1('Reference'), h2('Fonts'), ...prose('font', 12)],
  ], []);
  const ingest = run(['ingest', pdf, '--dataset', 'guide', '--index', '--chunk-chars', '300', '--json', '--data', dir]);
  assert.equal(ingest.status, 0, ingest.stderr);
  const rows = JSON.parse(run(['sql', 'SELECT page, section, text FROM guide ORDER BY page, chunk_no', '--json', '--data', dir]).stdout).rows;
  const sections = [...new Set(rows.map((r) => r[1]))];
  assert.deepEqual(sections, ['Plotting Guide > Introduction', 'Plotting Guide > Palette', 'Plotting Guide > Logscale', 'Reference > Fonts']);
  const log = rows.filter((r) => r[1] === 'Plotting Guide > Logscale');
  assert.equal(log[0][0], 2);
  assert.match(log[0][2], /^Logscale/);
  // every chunk of body text ends at the end of a sentence, none mid-word
  for (const r of rows) assert.match(r[2], /[.:]$|^(Plotting Guide|Reference)?\s*\S+$/, r[2]);
  const srv = await startServer({ dataDir: dir });
  try {
    const hits = await (await fetch(`${srv.url}/v1/search`, { method: 'POST', body: JSON.stringify({ index: 'guide', query: 'logscale', k: 5, mode: 'text' }) })).json();
    assert.equal(hits.hits[0].row.section, 'Plotting Guide > Logscale', JSON.stringify(hits.hits.map((h) => h.row.section)));
  } finally {
    await srv.stop();
  }
});
