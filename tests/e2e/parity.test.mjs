// parity.test.mjs — one behaviour, every edge: the same operations through the
// CLI and through HTTP, on the same data, give the same answer, or the same
// error (the same message, and the exit status that the HTTP error code maps to).
//
// One row per operation and outcome: {name, cli: [args], http: [method, path, body]}.
// Reads are compared whole (after dropping what differs by nature: times, ids,
// the caller's source); mutations run on twin objects (…_cli and …_http) and are
// compared with the twin's name folded. Every CLI command that has an HTTP twin
// has a row; a row with `mcp` also runs the operation's MCP tool (POST /mcp)
// and compares its structuredContent (or its error) with HTTP's. The web UI
// joins this table when it arrives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run, startServer, tempDir } from './harness.mjs';

const EXIT = { bad_request: 2, not_found: 3, conflict: 4, already_exists: 4, timeout: 5, forbidden: 6 };
const VOLATILE = /^(ts|ts_ms|id|created_at|updated_at|deleted_at|request_id|elapsed_ms|mtime_ms|latency_ms|uptime_s|source|author|actor|at|time|loaded_at|built_at|build_ms|seconds|git_commit|rows_per_s|last_used_at|added_at|replica|draft|published_at|discarded_at)$/;

function normalize(v, fold) {
  if (Array.isArray(v)) return v.map((x) => normalize(x, fold));
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) if (!VOLATILE.test(k)) out[k] = normalize(v[k], fold);
    return out;
  }
  if (typeof v === 'string' && fold) return v.replaceAll('_cli', '_X').replaceAll('_http', '_X');
  return v;
}

function embedding(i) {
  return [Math.cos(i), Math.sin(i), Math.cos(2 * i), Math.sin(3 * i)];
}

// {name, cli, http: [method, path, body?], twin?: true (mutations: "{}" in args is _cli / _http), code?,
//  mcp?: [tool, arguments] (the same operation as an MCP tool over POST /mcp: the same answer or error)}
const rows = [
  // system and journals
  { name: 'version', cli: ['version', '--json'], http: ['GET', '/v1/version'] },
  { name: 'journal.stats', cli: ['journal', 'stats', '--json'], http: ['GET', '/v1/journal/stats'], loose: true },
  { name: 'journal.history', cli: ['journal', 'history', 'base', '--json'], http: ['GET', '/v1/journal/history/base'] , mcp: ['journal_history', { entity_id: 'base' }] },
  { name: 'journal.recent limit', cli: ['journal', 'recent', '--limit', '2', '--json'], http: ['GET', '/v1/journal/recent?limit=2'], shape: true },
  { name: 'journal.recent filtered', cli: ['journal', 'recent', '--entity-type', 'dataset', '--entity-id', 'bas', '--action', 'create', '--json'], http: ['GET', '/v1/journal/recent?entity_type=dataset&entity_id=bas&action=create'] },
  { name: 'journal.recent bad limit', cli: ['journal', 'recent', '--limit', '0'], http: ['GET', '/v1/journal/recent?limit=0'], code: 'bad_request' },
  { name: 'journal.flush', cli: ['journal', 'flush', '--json'], http: ['POST', '/v1/journal/flush'] },
  { name: 'errors.list', cli: ['journal', 'errors', '--since', '0', '--json'], http: ['GET', '/v1/errors?since=0'], shape: true , mcp: ['recent_errors', { since: '0' }] },
  { name: 'errors.list bad since', cli: ['journal', 'errors', '--since', 'yesterday'], http: ['GET', '/v1/errors?since=yesterday'], code: 'bad_request' , mcp: ['recent_errors', { since: 'yesterday' }] },
  { name: 'errors.flush', cli: ['journal', 'flush-errors', '--json'], http: ['POST', '/v1/errors/flush'] },
  // storage
  { name: 'storage.buckets', cli: ['storage', 'buckets', '--json'], http: ['GET', '/v1/storage/buckets'] },
  { name: 'storage.objects', cli: ['storage', 'ls', 'local', '_catalog/datasets/base/', '--json'], http: ['GET', '/v1/storage/buckets/local/objects?prefix=_catalog/datasets/base/'] },
  { name: 'storage.objects page', cli: ['storage', 'ls', 'local', '_catalog/', '--limit', '1', '--json'], http: ['GET', '/v1/storage/buckets/local/objects?prefix=_catalog/&limit=1'] },
  { name: 'storage.objects no bucket', cli: ['storage', 'ls', 'nope'], http: ['GET', '/v1/storage/buckets/nope/objects'], code: 'not_found' },
  { name: 'storage.put managed', cli: ['storage', 'put', 'local', '_errors', '@file'], http: ['PUT', '/v1/storage/buckets/local/object?key=_errors', 'x'], code: 'forbidden' },
  { name: 'storage.put managed prefix', cli: ['storage', 'put', 'local', 'datasets/x', '@file'], http: ['PUT', '/v1/storage/buckets/local/object?key=datasets/x', 'x'], code: 'forbidden' },
  { name: 'storage.put', cli: ['storage', 'put', 'local', 'raw/{}.txt', '@file', '--json'], http: ['PUT', '/v1/storage/buckets/local/object?key=raw/{}.txt', 'x'], twin: true },
  { name: 'storage.get', cli: ['storage', 'get', 'local', 'raw/_cli.txt'], http: ['GET', '/v1/storage/buckets/local/object?key=raw/_cli.txt'], raw: true },
  { name: 'storage.delete', cli: ['storage', 'rm', 'local', 'raw/{}.txt', '--json'], http: ['DELETE', '/v1/storage/buckets/local/object?key=raw/{}.txt'], twin: true },
  { name: 'storage.delete managed', cli: ['storage', 'rm', 'local', '_catalog/names/base'], http: ['DELETE', '/v1/storage/buckets/local/object?key=_catalog/names/base'], code: 'forbidden' },
  // catalog reads
  { name: 'catalog.list', cli: ['catalog', 'list', '--json'], http: ['GET', '/v1/catalog/datasets'] , mcp: ['list_datasets', {}] },
  { name: 'catalog.list page', cli: ['catalog', 'list', '--limit', '1', '--json'], http: ['GET', '/v1/catalog/datasets?limit=1'] , mcp: ['list_datasets', { limit: 1 }] },
  { name: 'catalog.list bad cursor', cli: ['catalog', 'list', '--cursor', 'zzz'], http: ['GET', '/v1/catalog/datasets?cursor=zzz'], code: 'bad_request' , mcp: ['list_datasets', { cursor: 'zzz' }] },
  { name: 'catalog.list unknown', cli: ['catalog', 'list', '--bogus', '1'], http: ['GET', '/v1/catalog/datasets?bogus=1'], code: 'bad_request', cliMessage: /unknown option --bogus/ },
  { name: 'catalog.show', cli: ['catalog', 'show', 'base', '--json'], http: ['GET', '/v1/catalog/datasets/base'] },
  { name: 'catalog.show version', cli: ['catalog', 'show', 'base', '--version', '1', '--json'], http: ['GET', '/v1/catalog/datasets/base/versions/1'] },
  { name: 'catalog.show missing', cli: ['catalog', 'show', 'nope'], http: ['GET', '/v1/catalog/datasets/nope'], code: 'not_found' },
  { name: 'catalog.show bad version', cli: ['catalog', 'show', 'base', '--version', '0'], http: ['GET', '/v1/catalog/datasets/base/versions/0'], code: 'bad_request' },
  { name: 'catalog.versions', cli: ['catalog', 'versions', 'base', '--json'], http: ['GET', '/v1/catalog/datasets/base/versions'] , mcp: ['dataset_versions', { name: 'base' }] },
  { name: 'catalog.tombstones', cli: ['catalog', 'tombstones', 'base', '--json'], http: ['GET', '/v1/catalog/datasets/base/tombstones'] },
  // catalog changes
  { name: 'catalog.create', cli: ['catalog', 'create', 'p{}', '--description', 'twin', '--json'], http: ['POST', '/v1/catalog/datasets', { name: 'p{}', description: 'twin' }], twin: true },
  { name: 'catalog.create exists', cli: ['catalog', 'create', 'base'], http: ['POST', '/v1/catalog/datasets', { name: 'base' }], code: 'already_exists' },
  { name: 'catalog.create bad name', cli: ['catalog', 'create', '../x'], http: ['POST', '/v1/catalog/datasets', { name: '../x' }], code: 'bad_request' },
  { name: 'catalog.create unknown field', cli: ['catalog', 'create', 'zz', '--colour', 'red'], http: ['POST', '/v1/catalog/datasets', { name: 'zz', colour: 'red' }], code: 'bad_request', cliMessage: /unknown option --colour/ },
  { name: 'catalog.commit bad mode', cli: ['catalog', 'commit', 'p_cli', '--mode', 'upsert', '--objects', '[]'], http: ['POST', '/v1/catalog/datasets/p_http/commits', { mode: 'upsert', objects: [] }], code: 'bad_request' },
  { name: 'catalog.commit no objects', cli: ['catalog', 'commit', 'p_cli'], http: ['POST', '/v1/catalog/datasets/p_http/commits', {}], code: 'bad_request' },
  { name: 'catalog.commit', cli: ['catalog', 'commit', 'p{}', '--objects', '[]', '--message', 'empty', '--json'], http: ['POST', '/v1/catalog/datasets/p{}/commits', { objects: [], message: 'empty' }], twin: true },
  { name: 'catalog.rollback', cli: ['catalog', 'rollback', 'p{}', '1', '--json'], http: ['POST', '/v1/catalog/datasets/p{}/rollback', { version: 1 }], twin: true },
  { name: 'catalog.rollback missing version', cli: ['catalog', 'rollback', 'p_cli', '99'], http: ['POST', '/v1/catalog/datasets/p_http/rollback', { version: 99 }], code: 'not_found', fold: true },
  { name: 'catalog.tombstone', cli: ['catalog', 'tombstone', 'pt{}', '--column', 'doc', '1', '2', '--json'], http: ['POST', '/v1/catalog/datasets/pt{}/tombstones', { key_column: 'doc', values: [1, 2] }], twin: true },
  { name: 'catalog.delete', cli: ['catalog', 'delete', 'p{}', '--reason', 'done', '--json'], http: ['DELETE', '/v1/catalog/datasets/p{}?reason=done'], twin: true },
  { name: 'catalog.purge', cli: ['catalog', 'purge', '--dry-run', '--json'], http: ['POST', '/v1/catalog/purge', { dry_run: true }] },
  { name: 'catalog.rebuild', cli: ['catalog', 'rebuild', '--json'], http: ['POST', '/v1/catalog/rebuild'] },
  { name: 'catalog.diff', cli: ['catalog', 'diff', 'base', '--from', '1', '--limit', '3', '--json'], http: ['GET', '/v1/catalog/datasets/base/diff?from=1&limit=3'] , mcp: ['diff_versions', { name: 'base', from: 1, limit: 3 }] },
  { name: 'catalog.diff missing version', cli: ['catalog', 'diff', 'base', '--from', '99'], http: ['GET', '/v1/catalog/datasets/base/diff?from=99'], code: 'not_found' , mcp: ['diff_versions', { name: 'base', from: 99 }] },
  { name: 'catalog.facets', cli: ['catalog', 'facets', 'base', '--json'], http: ['GET', '/v1/catalog/datasets/base/facets'], mcp: ['dataset_facets', { name: 'base' }] },
  { name: 'catalog.facets columns', cli: ['catalog', 'facets', 'base', '--columns', 'title,doc', '--limit', '2', '--json'], http: ['GET', '/v1/catalog/datasets/base/facets?columns=title,doc&limit=2'] },
  { name: 'catalog.facets no column', cli: ['catalog', 'facets', 'base', '--columns', 'nope'], http: ['GET', '/v1/catalog/datasets/base/facets?columns=nope'], code: 'bad_request', mcp: ['dataset_facets', { name: 'base', columns: ['nope'] }] },
  { name: 'catalog.facets bad limit', cli: ['catalog', 'facets', 'base', '--limit', '101'], http: ['GET', '/v1/catalog/datasets/base/facets?limit=101'], code: 'bad_request' },
  { name: 'catalog.diff bad limit', cli: ['catalog', 'diff', 'base', '--from', '1', '--limit', '1001'], http: ['GET', '/v1/catalog/datasets/base/diff?from=1&limit=1001'], code: 'bad_request' },
  // embeddings
  { name: 'ai.embed', cli: ['embed', 'hello, world', 'bye', '--json'], http: ['POST', '/v1/embed', { texts: ['hello, world', 'bye'] }] , mcp: ['embed_text', { texts: ['hello, world', 'bye'] }] },
  { name: 'ai.embed no provider', cli: ['embed', 'x', '--provider', 'nope'], http: ['POST', '/v1/embed', { texts: ['x'], provider: 'nope' }], code: 'bad_request' },
  // drafts (ids made before the rows run: <val>, <pub_cli>, ...)
  { name: 'drafts.create', cli: ['draft', 'create', 'dr{}', 'id,v\n1,a\n', '--format', 'csv', '--message', 'twin', '--json'], http: ['POST', '/v1/drafts', { dataset: 'dr{}', data: 'id,v\n1,a\n', format: 'csv', message: 'twin' }], twin: true },
  { name: 'drafts.create bad format', cli: ['draft', 'create', 'dr_cli', 'x', '--format', 'xls'], http: ['POST', '/v1/drafts', { dataset: 'dr_http', data: 'x', format: 'xls' }], code: 'bad_request' },
  { name: 'drafts.list', cli: ['draft', 'list', '--dataset', 'dv', '--json'], http: ['GET', '/v1/drafts?dataset=dv'] , mcp: ['list_drafts', { dataset: 'dv' }] },
  { name: 'drafts.validate', cli: ['draft', 'validate', '<val>', '--json'], http: ['GET', '/v1/drafts/<val>'] , mcp: ['validate_draft', { id: '<val>' }] },
  { name: 'drafts.validate missing', cli: ['draft', 'validate', 'd00000000000000000000000000000000'], http: ['GET', '/v1/drafts/d00000000000000000000000000000000'], code: 'not_found' , mcp: ['validate_draft', { id: 'd00000000000000000000000000000000' }] },
  { name: 'drafts.publish', cli: ['draft', 'publish', '<pub{}>', '--json'], http: ['POST', '/v1/drafts/<pub{}>/publish'], twin: true },
  { name: 'drafts.publish again', cli: ['draft', 'publish', '<pub_cli>'], http: ['POST', '/v1/drafts/<pub_cli>/publish'], code: 'conflict' },
  { name: 'drafts.discard', cli: ['draft', 'discard', '<dis{}>', '--reason', 'twin', '--json'], http: ['DELETE', '/v1/drafts/<dis{}>?reason=twin'], twin: true },
  { name: 'drafts.discard missing', cli: ['draft', 'discard', 'nope'], http: ['DELETE', '/v1/drafts/nope'], code: 'not_found' },
  // SQL
  { name: 'sql', cli: ['sql', 'SELECT count(*) AS n FROM base', '--json'], http: ['POST', '/v1/sql', { sql: 'SELECT count(*) AS n FROM base' }] , mcp: ['query_sql', { sql: 'SELECT count(*) AS n FROM base' }] },
  { name: 'sql bad', cli: ['sql', 'SELEC 1'], http: ['POST', '/v1/sql', { sql: 'SELEC 1' }], code: 'bad_request' , mcp: ['query_sql', { sql: 'SELEC 1' }] },
  { name: 'sql offset', cli: ['sql', 'SELECT * FROM range(10)', '--offset', '7', '--max-rows', '2', '--json'], http: ['POST', '/v1/sql', { sql: 'SELECT * FROM range(10)', offset: 7, max_rows: 2 }] },
  { name: 'sql offset parquet', cli: ['sql', 'SELECT 1', '--offset', '1', '--format', 'parquet'], http: ['POST', '/v1/sql', { sql: 'SELECT 1', offset: 1, format: 'parquet' }], code: 'bad_request' },
  { name: 'sql bad offset', cli: ['sql', 'SELECT 1', '--offset', '-1'], http: ['POST', '/v1/sql', { sql: 'SELECT 1', offset: -1 }], code: 'bad_request' },
  { name: 'sql bad format', cli: ['sql', 'SELECT 1', '--format', 'xml'], http: ['POST', '/v1/sql', { sql: 'SELECT 1', format: 'xml' }], code: 'bad_request' },
  { name: 'sql write', cli: ['sql', 'CREATE TABLE t (a INT)'], http: ['POST', '/v1/sql', { sql: 'CREATE TABLE t (a INT)' }], code: 'forbidden' , mcp: ['query_sql', { sql: 'CREATE TABLE t (a INT)' }] },
  // ingest
  { name: 'ingest bad mode', cli: ['ingest', '@csv', '--dataset', 'q', '--mode', 'upsert'], http: ['POST', '/v1/ingest?dataset=q&mode=upsert&filename=a.csv', 'a\n1\n'], code: 'bad_request' },
  { name: 'ingest bad decimal', cli: ['ingest', '@csv', '--dataset', 'q', '--decimal', ';'], http: ['POST', '/v1/ingest?dataset=q&decimal=%3B&filename=a.csv', 'a\n1\n'], code: 'bad_request' },
  { name: 'ingest not a spreadsheet', cli: ['ingest', '@csv', '--dataset', 'q', '--format', 'xlsx'], http: ['POST', '/v1/ingest?dataset=q&format=xlsx&filename=a.csv', 'a\n1\n'], code: 'bad_request' },
  { name: 'ingest bad format', cli: ['ingest', '@csv', '--dataset', 'q', '--format', 'xls'], http: ['POST', '/v1/ingest?dataset=q&format=xls&filename=a.csv', 'a\n1\n'], code: 'bad_request' },
  // indexes
  { name: 'index.create', cli: ['index', 'create', 'v{}', '--dataset', 'base', '--id', 'doc', '--vector', 'embedding', '--metric', 'l2', '--json'], http: ['POST', '/v1/vectors/indexes', { name: 'v{}', dataset: 'base', id_column: 'doc', vector_column: 'embedding', metric: 'l2' }], twin: true },
  { name: 'index.create text', cli: ['index', 'create', 't{}', '--dataset', 'base', '--id', 'doc', '--text', 'title', '--metric', 'l2', '--json'], http: ['POST', '/v1/vectors/indexes', { name: 't{}', dataset: 'base', id_column: 'doc', text_columns: ['title'], metric: 'l2' }], twin: true },
  { name: 'index.create bad metric', cli: ['index', 'create', 'w', '--dataset', 'base', '--id', 'doc', '--vector', 'embedding', '--metric', 'l3'], http: ['POST', '/v1/vectors/indexes', { name: 'w', dataset: 'base', id_column: 'doc', vector_column: 'embedding', metric: 'l3' }], code: 'bad_request' },
  { name: 'index.create no id', cli: ['index', 'create', 'w', '--dataset', 'base'], http: ['POST', '/v1/vectors/indexes', { name: 'w', dataset: 'base' }], code: 'bad_request' },
  { name: 'index.create no source', cli: ['index', 'create', 'w', '--dataset', 'base', '--id', 'doc'], http: ['POST', '/v1/vectors/indexes', { name: 'w', dataset: 'base', id_column: 'doc' }], code: 'bad_request' },
  { name: 'index.list', cli: ['index', 'list', '--json'], http: ['GET', '/v1/vectors/indexes'] , mcp: ['list_indexes', {}] },
  { name: 'index.show', cli: ['index', 'show', 'v_cli', '--json'], http: ['GET', '/v1/vectors/indexes/v_cli'], loose: true },
  { name: 'index.show missing', cli: ['index', 'show', 'nope'], http: ['GET', '/v1/vectors/indexes/nope'], code: 'not_found' },
  { name: 'index.search', cli: ['index', 'search', 'v_cli', '--k', '3', '--json', '--', ...embedding(4).map(String)], http: ['POST', '/v1/vectors/indexes/v_cli/search', { vector: embedding(4), k: 3 }], json: true },
  { name: 'index.search big k', cli: ['index', 'search', 'v_cli', '--k', '100000', '--', '1', '2', '3', '4'], http: ['POST', '/v1/vectors/indexes/v_cli/search', { vector: [1, 2, 3, 4], k: 100000 }], code: 'bad_request' },
  { name: 'index.search big ef', cli: ['index', 'search', 'v_cli', '--ef', '10001', '--', '1', '2', '3', '4'], http: ['POST', '/v1/vectors/indexes/v_cli/search', { vector: [1, 2, 3, 4], ef: 10001 }], code: 'bad_request' },
  { name: 'index.add', cli: ['index', 'add', 'v{}', '--vectors', JSON.stringify([{ id: 100, vector: embedding(100) }]), '--json'], http: ['POST', '/v1/vectors/indexes/v{}/vectors', { vectors: [{ id: 100, vector: embedding(100) }] }], twin: true },
  { name: 'index.remove', cli: ['index', 'remove', 'v{}', '100', '--json'], http: ['POST', '/v1/vectors/indexes/v{}/vectors/delete', { ids: [100] }], twin: true, cliIdsAsText: true },
  { name: 'index.rebuild', cli: ['index', 'rebuild', 'v{}', '--quantization', 'sq8', '--json'], http: ['POST', '/v1/vectors/indexes/v{}/rebuild', { quantization: 'sq8' }], twin: true },
  { name: 'index.rebuild metric', cli: ['index', 'rebuild', 'v_cli', '--metric', 'ip'], http: ['POST', '/v1/vectors/indexes/v_cli/rebuild', { metric: 'ip' }], code: 'bad_request', cliMessage: /unknown option --metric/ },
  { name: 'index.promote', cli: ['index', 'promote', 'v{}', '1', '--json'], http: ['POST', '/v1/vectors/indexes/v{}/promote', { version: 1 }], twin: true },
  { name: 'index.rollback', cli: ['index', 'rollback', 'v{}', '--json'], http: ['POST', '/v1/vectors/indexes/v{}/rollback'], twin: true },
  { name: 'index.history', cli: ['index', 'history', 'v_cli', '--json'], http: ['GET', '/v1/vectors/indexes/v_cli/history'] },
  { name: 'index.refresh', cli: ['index', 'refresh', 'base', '--json'], http: ['POST', '/v1/vectors/refresh/base'] },
  { name: 'index.stale', cli: ['index', 'stale', '--json'], http: ['GET', '/v1/vectors/stale'] },
  { name: 'trials.list none', cli: ['trial', 'list', '--json'], http: ['GET', '/v1/trials'], mcp: ['list_trials', {}] },
  { name: 'index.watch no trials', cli: ['index', 'watch', 'v_cli', '--json'], http: ['POST', '/v1/vectors/indexes/v_cli/watch'] },
  { name: 'trials.run', cli: ['trial', 'run', 'v{}', '--queries', '20', '--ef-search', '32', '--json'], http: ['POST', '/v1/trials', { index: 'v{}', queries: 20, ef_search: 32 }], twin: true, shape: true },
  { name: 'trials.run missing', cli: ['trial', 'run', 'nope'], http: ['POST', '/v1/trials', { index: 'nope' }], code: 'not_found', mcp: ['run_trial', { index: 'nope' }] },
  { name: 'trials.run bad queries', cli: ['trial', 'run', 'v_cli', '--queries', '0'], http: ['POST', '/v1/trials', { index: 'v_cli', queries: 0 }], code: 'bad_request' },
  { name: 'index.autotune bad grid', cli: ['index', 'autotune', 'v_cli', '--ef', '1.5'], http: ['POST', '/v1/vectors/indexes/v_cli/autotune', { ef: [1.5] }], code: 'bad_request' },
  { name: 'index.autotune missing', cli: ['index', 'autotune', 'nope'], http: ['POST', '/v1/vectors/indexes/nope/autotune'], code: 'not_found' },
  // search and ask
  { name: 'search', cli: ['search', 't_cli', 'doc', '7', '--k', '3', '--json'], http: ['POST', '/v1/search', { index: 't_cli', query: 'doc 7', k: 3, rows: true }] , mcp: ['search', { index: 't_cli', query: 'doc 7', k: 3, rows: true }] },
  { name: 'search bad mode', cli: ['search', 't_cli', 'doc', '--mode', 'fuzzy'], http: ['POST', '/v1/search', { index: 't_cli', query: 'doc', mode: 'fuzzy' }], code: 'bad_request' , mcp: ['search', { index: 't_cli', query: 'doc', mode: 'fuzzy' }] },
  { name: 'search missing', cli: ['search', 'nope', 'doc'], http: ['POST', '/v1/search', { index: 'nope', query: 'doc' }], code: 'not_found' , mcp: ['search', { index: 'nope', query: 'doc' }] },
  // memory: playbooks (a text index's) and pathways
  { name: 'playbook.record', cli: ['playbook', 'record', 't{}', 'fill: doc x2', '--context', 'docs', '--workers', '1,2', '--json'], http: ['POST', '/v1/playbooks', { index: 't{}', task: 'fill: doc x2', context: 'docs', workers: ['1', '2'] }], twin: true, shape: true },
  { name: 'playbook.record bad outcome', cli: ['playbook', 'record', 't_cli', 'x', '--workers', '1', '--outcome', 'meh'], http: ['POST', '/v1/playbooks', { index: 't_cli', task: 'x', workers: ['1'], outcome: 'meh' }], code: 'bad_request' },
  { name: 'playbook.record twice named', cli: ['playbook', 'record', 't_cli', 'x', '--workers', '1,1'], http: ['POST', '/v1/playbooks', { index: 't_cli', task: 'x', workers: ['1', '1'] }], code: 'bad_request' },
  { name: 'playbook.record missing index', cli: ['playbook', 'record', 'nope', 'x', '--workers', '1'], http: ['POST', '/v1/playbooks', { index: 'nope', task: 'x', workers: ['1'] }], code: 'not_found' },
  { name: 'playbook.list', cli: ['playbook', 'list', '--json'], http: ['GET', '/v1/playbooks'], mcp: ['list_playbooks', {}] },
  { name: 'playbook.show missing', cli: ['playbook', 'show', '0123456789abcdef'], http: ['GET', '/v1/playbooks/0123456789abcdef'], code: 'not_found' },
  { name: 'playbook.show bad id', cli: ['playbook', 'show', 'x'], http: ['GET', '/v1/playbooks/x'], code: 'bad_request' },
  { name: 'playbook.retire missing', cli: ['playbook', 'retire', '0123456789abcdef'], http: ['POST', '/v1/playbooks/0123456789abcdef/retire'], code: 'not_found' },
  { name: 'search with playbooks', cli: ['search', 't_cli', 'fill:', 'doc', 'x2', '--playbooks', '--context', 'docs', '--k', '3', '--json'], http: ['POST', '/v1/search', { index: 't_cli', query: 'fill: doc x2', k: 3, rows: true, playbooks: true, context: 'docs' }], shape: true },
  { name: 'pathway.add', cli: ['pathway', 'add', 'fill{}', 'staffing/search/hybrid', 'repeat', '--outcome', 'ok', '--json'], http: ['POST', '/v1/pathways', { task_class: 'fill{}', path: 'staffing/search/hybrid', signal_class: 'repeat', outcome: 'ok' }], twin: true, shape: true },
  { name: 'pathway.add again', cli: ['pathway', 'add', 'fill{}', 'staffing/search/hybrid', 'repeat', '--json'], http: ['POST', '/v1/pathways', { task_class: 'fill{}', path: 'staffing/search/hybrid', signal_class: 'repeat' }], twin: true, shape: true },
  { name: 'pathway.revise', cli: ['pathway', 'revise', '<pw{}>', '--path', 'staffing/search/vector', '--json'], http: ['POST', '/v1/pathways/<pw{}>/revise', { path: 'staffing/search/vector' }], twin: true, shape: true },
  { name: 'pathway.revise moved', cli: ['pathway', 'revise', '<pw_cli>', '--path', 'other/x'], http: ['POST', '/v1/pathways/<pw_cli>/revise', { path: 'other/x' }], code: 'bad_request' },
  { name: 'pathway.list', cli: ['pathway', 'list', '--json'], http: ['GET', '/v1/pathways'] },
  { name: 'pathway.search', cli: ['pathway', 'search', 'fill_cli staffing', '--json'], http: ['POST', '/v1/pathways/search', { query: 'fill_cli staffing' }], mcp: ['search_pathways', { query: 'fill_cli staffing' }] },
  { name: 'pathway.search bad k', cli: ['pathway', 'search', 'x', '--k', '0'], http: ['POST', '/v1/pathways/search', { query: 'x', k: 0 }], code: 'bad_request', mcp: ['search_pathways', { query: 'x', k: 0 }] },
  { name: 'pathway.history', cli: ['pathway', 'history', '<pw_cli>', '--json'], http: ['GET', '/v1/pathways/<pw_cli>/history'] },
  { name: 'pathway.history bad id', cli: ['pathway', 'history', 'x'], http: ['GET', '/v1/pathways/x/history'], code: 'bad_request' },
  { name: 'pathway.retire', cli: ['pathway', 'retire', '<pw{}>', '--json'], http: ['POST', '/v1/pathways/<pw{}>/retire'], twin: true, shape: true },
  { name: 'pathway.retire twice', cli: ['pathway', 'retire', '<pw_cli>'], http: ['POST', '/v1/pathways/<pw_cli>/retire'], code: 'conflict' },
  { name: 'pathway.revise retired', cli: ['pathway', 'revise', '<pw_cli>', '--outcome', 'x'], http: ['POST', '/v1/pathways/<pw_cli>/revise', { outcome: 'x' }], code: 'conflict' },
  { name: 'ask', cli: ['ask', 'which', 'doc', 'is', '7?', '--index', 't_cli', '--k', '2', '--json'], http: ['POST', '/v1/ask', { question: 'which doc is 7?', indexes: ['t_cli'], k: 2 }] , mcp: ['ask', { question: 'which doc is 7?', indexes: ['t_cli'], k: 2 }] },
  { name: 'ask big k', cli: ['ask', 'x', '--index', 't_cli', '--k', '51'], http: ['POST', '/v1/ask', { question: 'x', indexes: ['t_cli'], k: 51 }], code: 'bad_request' },
  // profiles and keys (both edges act as the admin profile "parity", by its key)
  { name: 'profiles.create', cli: ['profile', 'create', 'p{}', '--kind', 'agent', '--scopes', 'read', '--datasets', 'base', '--json'], http: ['POST', '/v1/profiles', { id: 'p{}', kind: 'agent', scopes: ['read'], datasets: ['base'] }], twin: true },
  { name: 'profiles.create exists', cli: ['profile', 'create', 'parity', '--kind', 'person', '--scopes', 'admin'], http: ['POST', '/v1/profiles', { id: 'parity', kind: 'person', scopes: ['admin'] }], code: 'already_exists' },
  { name: 'profiles.create bad kind', cli: ['profile', 'create', 'zz', '--kind', 'robot', '--scopes', 'read'], http: ['POST', '/v1/profiles', { id: 'zz', kind: 'robot', scopes: ['read'] }], code: 'bad_request' },
  { name: 'profiles.create bad scope', cli: ['profile', 'create', 'zz', '--kind', 'agent', '--scopes', 'root'], http: ['POST', '/v1/profiles', { id: 'zz', kind: 'agent', scopes: ['root'] }], code: 'bad_request' },
  { name: 'profiles.create bad id', cli: ['profile', 'create', 'Zed', '--kind', 'agent', '--scopes', 'read'], http: ['POST', '/v1/profiles', { id: 'Zed', kind: 'agent', scopes: ['read'] }], code: 'bad_request' },
  { name: 'profiles.get', cli: ['profile', 'show', 'p_cli', '--json'], http: ['GET', '/v1/profiles/p_cli'] },
  { name: 'profiles.get missing', cli: ['profile', 'show', 'nope'], http: ['GET', '/v1/profiles/nope'], code: 'not_found' },
  { name: 'profiles.update', cli: ['profile', 'update', 'p{}', '--description', 'twin', '--json'], http: ['PATCH', '/v1/profiles/p{}', { description: 'twin' }], twin: true },
  { name: 'profiles.list', cli: ['profile', 'list', '--json'], http: ['GET', '/v1/profiles'] },
  { name: 'profiles.search out of scope', cli: ['profile', 'search', 'p_cli', 'doc 7', '--index', 't_cli'], http: ['POST', '/v1/profiles/p_cli/search', { query: 'doc 7', index: 't_cli' }], code: 'forbidden' },
  { name: 'profiles.me', cli: ['profile', 'me', '--json'], http: ['GET', '/v1/profiles/me'] },
  { name: 'keys.create', cli: ['profile', 'key-create', 'p{}', '--label', 'twin', '--json'], http: ['POST', '/v1/profiles/p{}/keys', { label: 'twin' }], twin: true, shape: true },
  { name: 'keys.list', cli: ['profile', 'keys', 'p{}', '--json'], http: ['GET', '/v1/profiles/p{}/keys'], twin: true },
  { name: 'keys.revoke missing', cli: ['profile', 'key-revoke', 'p_cli', '0000000000000000'], http: ['DELETE', '/v1/profiles/p_http/keys/0000000000000000'], code: 'not_found', fold: true },
  // workspaces
  { name: 'workspaces.create', cli: ['workspace', 'create', 'w{}', '--description', 'twin', '--json'], http: ['POST', '/v1/workspaces', { name: 'w{}', description: 'twin' }], twin: true },
  { name: 'workspaces.add', cli: ['workspace', 'add', 'w{}', 'dataset', 'base', '--note', 'good', '--json'], http: ['POST', '/v1/workspaces/w{}/items', { kind: 'dataset', ref: 'base', note: 'good' }], twin: true },
  { name: 'workspaces.add bad kind', cli: ['workspace', 'add', 'w_cli', 'table', 'base'], http: ['POST', '/v1/workspaces/w_http/items', { kind: 'table', ref: 'base' }], code: 'bad_request' },
  { name: 'workspaces.add missing dataset', cli: ['workspace', 'add', 'w_cli', 'dataset', 'nope'], http: ['POST', '/v1/workspaces/w_http/items', { kind: 'dataset', ref: 'nope' }], code: 'not_found' },
  { name: 'workspaces.get', cli: ['workspace', 'show', 'w_cli', '--json'], http: ['GET', '/v1/workspaces/w_cli'] },
  { name: 'workspaces.get missing', cli: ['workspace', 'show', 'nope'], http: ['GET', '/v1/workspaces/nope'], code: 'not_found' },
  { name: 'workspaces.list', cli: ['workspace', 'list', '--q', 'twin', '--json'], http: ['GET', '/v1/workspaces?q=twin'] },
  { name: 'workspaces.remove', cli: ['workspace', 'remove', 'w{}', '1', '--json'], http: ['DELETE', '/v1/workspaces/w{}/items/1'], twin: true },
  { name: 'workspaces.remove missing', cli: ['workspace', 'remove', 'w_cli', '99'], http: ['DELETE', '/v1/workspaces/w_http/items/99'], code: 'not_found', fold: true },
  { name: 'workspaces.activity', cli: ['workspace', 'activity', 'w_cli', '--json'], http: ['GET', '/v1/workspaces/w_cli/activity'], shape: true },
  { name: 'workspaces.handoff', cli: ['workspace', 'handoff', 'w{}', 'p{}', '--json'], http: ['POST', '/v1/workspaces/w{}/handoff', { to: 'p{}' }], twin: true },
  { name: 'workspaces.handoff missing', cli: ['workspace', 'handoff', 'w_cli', 'nobody'], http: ['POST', '/v1/workspaces/w_http/handoff', { to: 'nobody' }], code: 'not_found' },
  { name: 'profiles.delete', cli: ['profile', 'delete', 'p{}', '--json'], http: ['DELETE', '/v1/profiles/p{}'], twin: true },
  // AI-safe views
  { name: 'views.create', cli: ['view', 'create', 'sv{}', '--base', 'base', '--columns', 'doc,title', '--redact', '{"title":"hash"}', '--json'], http: ['POST', '/v1/views', { name: 'sv{}', base_dataset: 'base', columns: ['doc', 'title'], column_redactions: { title: 'hash' } }], twin: true },
  { name: 'views.create bad column', cli: ['view', 'create', 'zz', '--base', 'base', '--columns', 'nope'], http: ['POST', '/v1/views', { name: 'zz', base_dataset: 'base', columns: ['nope'] }], code: 'bad_request' },
  { name: 'views.create bad redaction', cli: ['view', 'create', 'zz', '--base', 'base', '--redact', '{"title":"rot13"}'], http: ['POST', '/v1/views', { name: 'zz', base_dataset: 'base', column_redactions: { title: 'rot13' } }], code: 'bad_request' },
  { name: 'views.create a dataset name', cli: ['view', 'create', 'base', '--base', 'base'], http: ['POST', '/v1/views', { name: 'base', base_dataset: 'base' }], code: 'already_exists' },
  { name: 'views.get', cli: ['view', 'show', 'sv_cli', '--json'], http: ['GET', '/v1/views/sv_cli'] },
  { name: 'views.get missing', cli: ['view', 'show', 'nope'], http: ['GET', '/v1/views/nope'], code: 'not_found' },
  { name: 'views.update', cli: ['view', 'update', 'sv{}', '--filter', 'doc < 3', '--json'], http: ['PATCH', '/v1/views/sv{}', { row_filter: 'doc < 3' }], twin: true },
  { name: 'views.list', cli: ['view', 'list', '--json'], http: ['GET', '/v1/views'] , mcp: ['list_views', {}] },
  { name: 'sql over a view', cli: ['sql', 'SELECT doc, title FROM sv_cli ORDER BY doc', '--json'], http: ['POST', '/v1/sql', { sql: 'SELECT doc, title FROM sv_cli ORDER BY doc' }] , mcp: ['query_sql', { sql: 'SELECT doc, title FROM sv_cli ORDER BY doc' }] },
  { name: 'views.suggest', cli: ['view', 'suggest', 'base', '--json'], http: ['GET', '/v1/catalog/datasets/base/suggested-view'] },
  { name: 'views.delete', cli: ['view', 'delete', 'sv{}', '--json'], http: ['DELETE', '/v1/views/sv{}'], twin: true },
  { name: 'profiles.delete missing', cli: ['profile', 'delete', 'nope'], http: ['DELETE', '/v1/profiles/nope'], code: 'not_found' },
];

const MULTI = ['catalog', 'index', 'journal', 'storage', 'profile', 'view', 'workspace', 'draft', 'trial', 'playbook', 'pathway'];

test('the same operations through the CLI, HTTP and MCP agree', { timeout: 240000 }, async () => {
  // an admin profile and its key, before the server starts: every call then needs a key
  const dataDir = tempDir();
  assert.equal(run(['profile', 'create', 'parity', '--kind', 'person', '--scopes', 'admin', '--data', dataDir]).status, 0);
  const made = run(['profile', 'key-create', 'parity', '--json', '--data', dataDir]);
  assert.equal(made.status, 0, made.stderr);
  const adminKey = JSON.parse(made.stdout).key;
  const srv = await startServer({ dataDir });
  const dir = tempDir();
  try {
    assert.equal((await fetch(`${srv.url}/v1/catalog/datasets`)).status, 401, 'a key is needed once one exists');
    const docs = path.join(dir, 'base.ndjson');
    fs.writeFileSync(docs, Array.from({ length: 30 }, (_, i) => JSON.stringify({ doc: i, title: `doc ${i} about item ${i % 5}`, embedding: embedding(i) })).join('\n') + '\n');
    const file = path.join(dir, 'blob.txt');
    fs.writeFileSync(file, 'x');
    const csv = path.join(dir, 'a.csv');
    fs.writeFileSync(csv, 'a\n1\n');
    for (const d of ['base', 'pt_cli', 'pt_http']) assert.equal(run(['ingest', docs, '--dataset', d, '--data', srv.dir]).status, 0);
    // drafts the rows name by <key>: one to validate, twins to publish and to discard
    const ids = {};
    const draftOf = (dataset) => {
      const r = run(['draft', 'create', dataset, 'id,v\n1,a\n2,b\n', '--format', 'csv', '--json', '--data', srv.dir], { env: { LAKEHOUSE_API_KEY: adminKey } });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout).draft;
    };
    ids.val = draftOf('dv');
    for (const who of ['_cli', '_http']) {
      ids[`pub${who}`] = draftOf(`dp${who}`);
      ids[`dis${who}`] = draftOf(`dd${who}`);
    }
    for (const who of ['_cli', '_http']) ids[`pw${who}`] = crypto.createHash('sha256').update(`fill${who}|staffing/search|repeat`).digest('hex');
    const ided = (a) => a.replace(/<([a-z_]+)>/g, (m, k) => ids[k] ?? m);
    const cliArgs = (args, who) => args.map((a) => (a === '@file' ? file : a === '@csv' ? csv : ided(a.replaceAll('{}', who))));
    const httpCall = async ([method, p, body], who) => {
      const url = srv.url + ided(p.replaceAll('{}', who));
      const init = { method, headers: { Authorization: `Bearer ${adminKey}` } };
      if (typeof body === 'string') init.body = body;
      else if (body) {
        const fill = (v) => (typeof v === 'string' ? v.replaceAll('{}', who) : Array.isArray(v) ? v.map(fill) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)])) : v);
        init.body = JSON.stringify(fill(body));
        init.headers['Content-Type'] = 'application/json';
      }
      const r = await fetch(url, init);
      const text = await r.text();
      return { status: r.status, text, body: (() => { try { return JSON.parse(text); } catch { return null; } })() };
    };
    const mcpCall = async ([tool, a]) => {
      const fill = (v) => (typeof v === 'string' ? ided(v) : Array.isArray(v) ? v.map(fill) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)])) : v);
      const r = await fetch(`${srv.url}/mcp`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: fill(a) } }),
      });
      return (await r.json()).result;
    };
    const failures = [];
    for (const row of rows) {
      const args = cliArgs(row.cli, '_cli'), at = MULTI.includes(args[0]) ? 2 : 1;
      if (args[0] !== 'version') args.splice(at, 0, '--data', srv.dir);
      const cli = run(args, { env: { LAKEHOUSE_API_KEY: adminKey } });
      const http = await httpCall(row.http, row.twin ? '_http' : '_cli');
      try {
        if (row.code) {
          assert.equal(http.body?.error?.code, row.code, `HTTP: ${http.text}`);
          assert.equal(cli.status, EXIT[row.code], `CLI exit status (stderr: ${cli.stderr})`);
          const msg = http.body.error.message;
          if (row.cliMessage) assert.match(cli.stderr, row.cliMessage);
          else if (row.fold) assert.ok(cli.stderr.replaceAll('_cli', '_X').includes(msg.replaceAll('_http', '_X')), `CLI says ${cli.stderr} / HTTP says ${msg}`);
          else assert.ok(cli.stderr.includes(msg), `CLI says ${cli.stderr.trim()} / HTTP says ${msg}`);
        } else {
          assert.ok(http.status >= 200 && http.status < 300, `HTTP ${http.status}: ${http.text}`);
          assert.equal(cli.status, 0, `CLI: ${cli.stderr}`);
          if (row.raw) {
            assert.equal(cli.stdout, http.text);
          } else {
            const a = normalize(JSON.parse(cli.stdout), row.twin), b = normalize(http.body, row.twin);
            if (row.shape || row.loose) assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
            else assert.deepEqual(a, b);
          }
        }
        if (row.mcp) {
          const m = await mcpCall(row.mcp);
          if (row.code) {
            assert.equal(m.isError, true, `MCP: ${JSON.stringify(m)}`);
            assert.equal(m.content[0].text, `${row.code}: ${http.body.error.message}`, 'MCP error');
          } else {
            assert.equal(m.isError, false, `MCP: ${m.content[0].text}`);
            const a = normalize(m.structuredContent), b = normalize(http.body);
            if (row.shape || row.loose) assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), 'MCP');
            else assert.deepEqual(a, b, 'MCP');
          }
        }
      } catch (e) {
        failures.push(`${row.name}: ${e.message.split('\n').slice(0, 6).join(' ')}`);
      }
    }
    assert.deepEqual(failures, []);
  } finally {
    await srv.stop();
  }
});

test('every CLI command with an HTTP twin has a parity row', () => {
  const covered = new Set(rows.map((r) => r.cli[0] + (MULTI.includes(r.cli[0]) ? ' ' + r.cli[1] : '')));
  const help = (c) => run([c, '--help']).stdout;
  for (const c of MULTI) {
    for (const m of help(c).matchAll(new RegExp(`^  ${c} ([a-z-]+)`, 'gm'))) assert.ok(covered.has(`${c} ${m[1]}`), `no parity row for ${c} ${m[1]}`);
  }
  for (const c of ['sql', 'ingest', 'search', 'ask', 'version', 'embed']) assert.ok(covered.has(c), `no parity row for ${c}`);
});
