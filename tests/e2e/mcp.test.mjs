// mcp.test.mjs — the MCP server driven by the official TypeScript SDK client
// (@modelcontextprotocol/sdk), over both transports: stdio (`lakehouse mcp`)
// and streamable HTTP (POST /mcp on `serve`). Initialize, list tools,
// resources, templates and prompts, call every tool (success and error),
// read resources, follow cursors, and check results are capped and say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BIN, cleanEnv, run, startServer, tempDir } from './harness.mjs';

const TOOLS = [
  'list_datasets', 'describe_dataset', 'query_sql', 'search', 'ask', 'embed_text', 'list_indexes', 'list_views',
  'dataset_versions', 'diff_versions', 'journal_history', 'recent_errors', 'ingest_draft', 'validate_draft',
  'publish_draft', 'discard_draft', 'list_drafts', 'dataset_facets', 'list_trials', 'run_trial',
  'record_playbook', 'list_playbooks', 'add_pathway', 'search_pathways',
];

function cli(args) {
  const r = run(args);
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// The staffing sample (workers, workers_safe, profile "agent") and a text index over worker profiles.
function sampleData() {
  const dir = tempDir();
  cli(['sample', '--rows', '50', '--ingest', '--data', dir]);
  cli(['index', 'create', 'people', '--dataset', 'workers', '--id-column', 'worker_id', '--text-columns', 'profile',
    '--provider', 'hash', '--data', dir]);
  return dir;
}

async function connectStdio(dir, args = []) {
  const client = new Client({ name: 'lakehouse-e2e', version: '1.0.0' });
  const transport = new StdioClientTransport({ command: BIN, args: ['mcp', '--data', dir, ...args], env: cleanEnv(), stderr: 'pipe' });
  await client.connect(transport);
  return client;
}

async function connectHttp(url, key) {
  const client = new Client({ name: 'lakehouse-e2e', version: '1.0.0' });
  const headers = key ? { Authorization: `Bearer ${key}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
  return client;
}

// A tool's structured result; the text content must be the same JSON.
async function call(client, name, args = {}) {
  const r = await client.callTool({ name, arguments: args });
  assert.equal(r.isError, false, `${name}: ${r.content?.[0]?.text}`);
  assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent, `${name}: text and structuredContent differ`);
  return r.structuredContent;
}

async function callError(client, name, args, pattern) {
  const r = await client.callTool({ name, arguments: args });
  assert.equal(r.isError, true, `${name} should fail: ${JSON.stringify(r)}`);
  assert.match(r.content[0].text, pattern);
  return r.content[0].text;
}

async function exercise(client) {
  const info = client.getServerVersion();
  assert.equal(info.name, 'lakehouse');
  assert.match(client.getInstructions(), /Prefer search for text/);

  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort());
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object', t.name);
    assert.equal(t.outputSchema.type, 'object', t.name);
    assert.ok(t.description.length > 10, t.name);
  }
  assert.equal(tools.find((t) => t.name === 'query_sql').inputSchema.properties.format, undefined, 'format is hidden');
  assert.deepEqual(tools.find((t) => t.name === 'search').inputSchema.properties.mode.enum, ['hybrid', 'vector', 'text']);

  // list_datasets, paged by its cursor
  const all = await call(client, 'list_datasets');
  const names = all.datasets.map((d) => d.name);
  assert.ok(names.includes('workers') && names.includes('job_orders'), names.join(','));
  const seen = [];
  let cursor;
  do {
    const page = await call(client, 'list_datasets', cursor ? { limit: 2, cursor } : { limit: 2 });
    assert.ok(page.datasets.length <= 2);
    seen.push(...page.datasets.map((d) => d.name));
    cursor = page.next;
  } while (cursor);
  assert.deepEqual(seen, names);

  const described = await call(client, 'describe_dataset', { name: 'workers' });
  const email = described.manifest.schema.fields.find((f) => f.name === 'email');
  assert.equal(email.pii, 'email');
  assert.ok(described.versions.length >= 1 && described.versions_total >= 1);
  await callError(client, 'describe_dataset', { name: 'nope' }, /^not_found: /);

  // query_sql: rows, caps, one read-only statement, hidden parameters
  const count = await call(client, 'query_sql', { sql: 'SELECT count(*) AS n FROM workers' });
  assert.deepEqual(count.rows, [[50]]);
  const big = await call(client, 'query_sql', { sql: 'SELECT * FROM range(1000)' });
  assert.equal(big.rows.length, 200, 'capped at mcp.max_rows');
  assert.equal(big.truncated, true);
  assert.match(big.truncation, /mcp\.max_rows/);
  const fewer = await call(client, 'query_sql', { sql: 'SELECT * FROM range(1000)', max_rows: 7 });
  assert.equal(fewer.rows.length, 7);
  const params = await call(client, 'query_sql', { sql: 'SELECT $1::INT + 1 AS x', params: [41] });
  assert.deepEqual(params.rows, [[42]]);
  await callError(client, 'query_sql', { sql: 'SELECT 1; SELECT 2' }, /^bad_request: .*multiple statements/);
  await callError(client, 'query_sql', { sql: 'DROP TABLE workers' }, /^(bad_request|forbidden): /);
  await callError(client, 'query_sql', { sql: 'SELECT 1', format: 'csv' }, /unknown field "format"/);
  await callError(client, 'query_sql', {}, /"sql" is required/);
  await callError(client, 'query_sql', { sql: 'SELECT nope FROM workers' }, /^bad_request: .*nope/);

  // search and ask
  const hits = await call(client, 'search', { index: 'people', query: 'forklift welder', k: 3 });
  assert.equal(hits.hits.length, 3);
  assert.ok(hits.hits.every((h) => h.id !== undefined && h.row));
  const filtered = await call(client, 'search', { index: 'people', query: 'forklift', k: 50, filter: "city = 'Austin'" });
  assert.ok(filtered.hits.every((h) => h.row.city === 'Austin'), JSON.stringify(filtered.hits.map((h) => h.row.city)));
  await callError(client, 'search', { index: 'people', query: 'x', mode: 'fuzzy' }, /"mode" must be one of hybrid, vector, text/);
  await callError(client, 'search', { index: 'nope', query: 'x' }, /^not_found: /);
  const answer = await call(client, 'ask', { question: 'who can drive a forklift?', index: 'people' });
  assert.ok(answer.answer.length > 0 && answer.citations.length > 0);

  const indexes = await call(client, 'list_indexes');
  assert.deepEqual(indexes.indexes.map((i) => i.name), ['people']);
  const views = await call(client, 'list_views');
  assert.deepEqual(views.views.map((v) => v.name), ['workers_safe']);
  const versions = await call(client, 'dataset_versions', { name: 'workers' });
  assert.deepEqual(versions.versions.map((v) => v.version), [1, 2]);
  const history = await call(client, 'journal_history', { entity_id: 'workers' });
  assert.ok(history.events.some((e) => e.action === 'commit'));
  const errors = await call(client, 'recent_errors');
  assert.ok(Array.isArray(errors.errors));
  await callError(client, 'recent_errors', { since: 'yesterday' }, /^bad_request: .*since/);

  const embedded = await call(client, 'embed_text', { texts: ['forklift operator', 'welder'] });
  assert.equal(embedded.vectors.length, 2);
  assert.equal(embedded.vectors[0].length, embedded.dim);
  await callError(client, 'embed_text', { texts: [] }, /^bad_request: .*texts/);

  const diff = await call(client, 'diff_versions', { name: 'workers', from: 1, to: 2 });
  assert.equal(diff.rows_added, 50);
  assert.equal(diff.rows_removed, 0);
  await callError(client, 'diff_versions', { name: 'workers', from: 99 }, /^not_found: /);

  // write-audit-publish
  const draft = await call(client, 'ingest_draft', { dataset: 'notes', data: 'id,text\n1,first note\n2,second note\n', format: 'csv' });
  assert.ok(draft.draft);
  const hidden = await call(client, 'list_datasets');
  assert.ok(!hidden.datasets.some((d) => d.name === 'notes'), 'a draft is not a dataset yet');
  const checked = await call(client, 'validate_draft', { id: draft.draft });
  assert.equal(checked.preview.length, 2);
  assert.equal(checked.publishable, true, JSON.stringify(checked.problems));
  const listed = await call(client, 'list_drafts');
  assert.ok(listed.drafts.some((d) => d.draft === draft.draft));
  await call(client, 'publish_draft', { id: draft.draft });
  const notes = await call(client, 'query_sql', { sql: 'SELECT text FROM notes ORDER BY id' });
  assert.deepEqual(notes.rows, [['first note'], ['second note']]);
  const dropped = await call(client, 'ingest_draft', { dataset: 'notes', data: '{"id": 3, "text": "third"}\n', format: 'ndjson' });
  await call(client, 'discard_draft', { id: dropped.draft });
  await callError(client, 'publish_draft', { id: dropped.draft }, /^(conflict|not_found): /);
  await callError(client, 'ingest_draft', { dataset: 'notes', data: '{"id": ', format: 'json' }, /^bad_request: /);

  // unknown tools are protocol errors
  await assert.rejects(client.callTool({ name: 'drop_everything', arguments: {} }), /-32602|unknown tool/);

  // resources, templates, prompts, completion
  const resources = [];
  let rc;
  do {
    const page = await client.listResources(rc ? { cursor: rc } : {});
    resources.push(...page.resources);
    rc = page.nextCursor;
  } while (rc);
  const uris = resources.map((r) => r.uri);
  for (const u of ['lakehouse://system/status', 'lakehouse://docs/architecture', 'lakehouse://docs/instructions', 'lakehouse://datasets/workers'])
    assert.ok(uris.includes(u), u);
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate).sort(), ['lakehouse://datasets/{name}', 'lakehouse://datasets/{name}@{version}']);
  const ds = JSON.parse((await client.readResource({ uri: 'lakehouse://datasets/workers' })).contents[0].text);
  assert.equal(ds.dataset, 'workers');
  assert.equal(ds.sample_rows.length, 5);
  const v1 = JSON.parse((await client.readResource({ uri: 'lakehouse://datasets/workers@1' })).contents[0].text);
  assert.equal(v1.version, 1);
  assert.equal(v1.sample_rows.length, 0);
  const status = JSON.parse((await client.readResource({ uri: 'lakehouse://system/status' })).contents[0].text);
  assert.ok(status.health.status);
  const arch = (await client.readResource({ uri: 'lakehouse://docs/architecture' })).contents[0];
  assert.equal(arch.mimeType, 'text/markdown');
  assert.match(arch.text, /^# Architecture/);
  await assert.rejects(client.readResource({ uri: 'lakehouse://datasets/nope' }), /-32002|not_found/);
  await assert.rejects(client.readResource({ uri: 'file:///etc/passwd' }), /-32002/);
  await assert.rejects(client.readResource({ uri: 'lakehouse://datasets/workers@x' }), /-32602/);

  const { prompts } = await client.listPrompts();
  assert.deepEqual(prompts.map((p) => p.name).sort(), ['explain_dataset', 'find_candidates']);
  const prompt = await client.getPrompt({ name: 'find_candidates', arguments: { role: 'welder', city: 'Austin' } });
  assert.match(prompt.messages[0].content.text, /Find 5 candidates for a "welder" job order in Austin/);
  await assert.rejects(client.getPrompt({ name: 'find_candidates', arguments: { role: 'welder' } }), /city/);
  const done = await client.complete({ ref: { type: 'ref/prompt', name: 'explain_dataset' }, argument: { name: 'dataset', value: 'work' } });
  assert.deepEqual(done.completion.values, ['workers']);
  assert.deepEqual(await client.ping(), {});
  await client.setLoggingLevel('warning');
}

test('MCP over stdio: every tool, resource and prompt through the SDK client', { timeout: 180000 }, async () => {
  const dir = sampleData();
  const client = await connectStdio(dir);
  try {
    await exercise(client);
  } finally {
    await client.close();
  }
  // every call was journaled, with the caller and source mcp
  const events = JSON.parse(cli(['journal', 'recent', '--limit', '1000', '--json', '--data', dir])).events;
  const calls = events.filter((e) => e.entity_type === 'mcp');
  assert.ok(calls.length > 25, `${calls.length} journaled calls`);
  assert.ok(calls.every((e) => e.source === 'mcp'));
  assert.ok(calls.some((e) => e.action === 'call_failed' && e.new.outcome === 'not_found'));
});

test('MCP over streamable HTTP: the same, and results cut to mcp.max_chars say so', { timeout: 180000 }, async () => {
  const dir = sampleData();
  const srv = await startServer({ dataDir: dir });
  try {
    const client = await connectHttp(srv.url);
    await exercise(client);
    await client.close();
  } finally {
    await srv.stop();
  }
  const small = await startServer({ dataDir: dir, args: ['--set', 'mcp.max_chars=3000'] });
  try {
    const client = await connectHttp(small.url);
    const r = await call(client, 'query_sql', { sql: 'SELECT * FROM workers' });
    assert.equal(r.truncated, true);
    assert.ok(r.rows.length > 0 && r.rows.length < 50, `${r.rows.length} rows`);
    assert.match(r.truncation, /rows: \d+ of 50 shown.*mcp\.max_chars/);
    assert.ok(JSON.stringify(r).length <= 3000);
    const wide = await call(client, 'query_sql', { sql: "SELECT repeat('x', 10000) AS wide" });
    assert.equal(wide.truncated, true);
    assert.ok(wide.rows[0][0].length < 5000 && wide.rows[0][0].endsWith('…'));
    await client.close();
  } finally {
    await small.stop();
  }
});

test('lakehouse mcp --profile and --api-key confine the stdio server; a bad one stops it', { timeout: 120000 }, async () => {
  const dir = sampleData();
  const agent = await connectStdio(dir, ['--profile', 'agent']);
  try {
    const views = await call(agent, 'list_views');
    assert.deepEqual(views.views.map((v) => v.name), ['workers_safe']);
    await callError(agent, 'query_sql', { sql: 'SELECT * FROM workers' }, /^(forbidden|not_found|bad_request): /);
    await callError(agent, 'ingest_draft', { dataset: 'workers', data: 'a\n1\n', format: 'csv' }, /^forbidden: /);
  } finally {
    await agent.close();
  }
  const key = JSON.parse(cli(['profile', 'key-create', 'agent', '--json', '--data', dir])).key;
  const keyed = await connectStdio(dir, ['--api-key', key]);
  try {
    const safe = await call(keyed, 'query_sql', { sql: 'SELECT count(*) FROM workers_safe' });
    assert.deepEqual(safe.rows, [[50]]);
  } finally {
    await keyed.close();
  }
  const bad = run(['mcp', '--data', dir, '--profile', 'nobody'], { input: '' });
  assert.equal(bad.status, 3);
  assert.match(bad.stderr, /no profile "nobody"/);
  const wrong = run(['mcp', '--data', dir, '--api-key', 'lh_0000000000000000_000000000000000000000000000000000000000000000000'], { input: '' });
  assert.equal(wrong.status, 6, wrong.stderr);
});
