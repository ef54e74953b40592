/*
 * ops.c — the operation table: every operation an edge offers, its
 * parameters and the function that runs it; argument checking, typed views
 * of arguments and list paging.
 *
 * Adding an operation: one entry here (its run function in the family's
 * file), one route in src/api/routes.c if HTTP offers it, one row in the CLI
 * table (src/cli/ops.c) and one in the parity suite (tests/e2e/parity.test.mjs).
 */
#include "internal.h"

#include "lakehouse/lh_hnsw.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_trials.h"
#include "lakehouse/lh_memory.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- enum choices (each also parsed by its module: test_app checks they agree) ---- */

const char *const lh_op_choices_commit_mode[] = {"append", "replace", NULL};
const char *const lh_op_choices_metric[] = {"l2", "cosine", "ip", NULL};
const char *const lh_op_choices_quantization[] = {"none", "sq8", NULL};
const char *const lh_op_choices_search_mode[] = {"hybrid", "vector", "text", NULL};
const char *const lh_op_choices_fusion[] = {"rrf", "weighted", NULL};
const char *const lh_op_choices_eval[] = {"auto", "held_out", NULL};
const char *const lh_op_choices_refresh[] = {"manual", "on_append", NULL};
const char *const lh_op_choices_sql_format[] = {"json", "ndjson", "csv", "parquet", NULL};
const char *const lh_op_choices_decimal[] = {".", ",", NULL};
const char *const lh_op_choices_encoding[] = {"utf-8", "latin-1", "utf-16", NULL};
const char *const lh_op_choices_ingest_format[] = {"csv", "tsv", "json", "ndjson", "parquet", "text", "markdown", "pdf", "xlsx", "ods", NULL};

#define END {NULL, 0, false, NULL, 0, 0, NULL}
#define INT64 9.2e18

static const lh_op_param p_none[] = {END};

/* ---- system, storage, journals ---- */

static const lh_op_param p_objects[] = {
    {"bucket", LH_OP_STRING, true, NULL, 0, 0, "the bucket"},
    {"prefix", LH_OP_STRING, false, NULL, 0, 0, "only keys that start with it"},
    END};
static const lh_op_param p_object[] = {
    {"bucket", LH_OP_STRING, true, NULL, 0, 0, "the bucket"},
    {"key", LH_OP_STRING, true, NULL, 0, 0, "the object's key"},
    END};
static const lh_op_param p_errors[] = {
    {"since", LH_OP_STRING, false, NULL, 0, 0, "failures at or after this time: milliseconds since the epoch or ISO 8601"},
    END};
_Static_assert(LH_JOURNAL_FILTER_SCAN == 10000, "journal.recent's description names the scan");
static const lh_op_param p_journal_recent[] = {
    {"entity_type", LH_OP_STRING, false, NULL, 0, 0, "only events of this entity type (dataset, index, profile, ...)"},
    {"entity_id", LH_OP_STRING, false, NULL, 0, 0, "only events whose entity id contains this"},
    {"action", LH_OP_STRING, false, NULL, 0, 0, "only events of this action (ingest, rollback, ...)"},
    {"actor", LH_OP_STRING, false, NULL, 0, 0, "only events by this actor"},
    END};
static const lh_op_param p_history[] = {
    {"entity_id", LH_OP_STRING, true, NULL, 0, 0, "the entity (a dataset, an index, ...)"},
    END};
static const lh_op_param p_sql[] = {
    {"sql", LH_OP_STRING, true, NULL, 0, 0, "one read-only statement"},
    {"params", LH_OP_ARRAY, false, NULL, 0, 0, "values for $1, $2, ..."},
    {"format", LH_OP_STRING, false, lh_op_choices_sql_format, 0, 0, "json (default), ndjson, csv or parquet"},
    {"max_rows", LH_OP_INT, false, NULL, 1, INT64, "at most this many rows (json: capped by query.max_rows)"},
    {"offset", LH_OP_INT, false, NULL, 0, INT64, "skip this many rows first (a page; not for parquet)"},
    {"timeout_ms", LH_OP_INT, false, NULL, 1, INT64, "deadline (default query.timeout_ms, capped at query.max_timeout_ms)"},
    END};
static const lh_op_param p_ingest[] = {
    {"dataset", LH_OP_STRING, true, NULL, 0, 0, "the dataset (created if needed)"},
    {"mode", LH_OP_STRING, false, lh_op_choices_commit_mode, 0, 0, "append (default) or replace"},
    {"format", LH_OP_STRING, false, lh_op_choices_ingest_format, 0, 0, "the input format (default: sniffed)"},
    {"skip_bad_rows", LH_OP_BOOL, false, NULL, 0, 0, "CSV: keep the good rows, report the bad ones"},
    {"bucket", LH_OP_STRING, false, NULL, 0, 0, "where a new dataset lives"},
    {"message", LH_OP_STRING, false, NULL, 0, 0, "the version's message"},
    {"chunk_chars", LH_OP_INT, false, NULL, 100, 1e7, "documents: target chunk size in characters"},
    {"chunk_overlap", LH_OP_INT, false, NULL, 0, 1e7, "documents: characters repeated between chunks"},
    {"filename", LH_OP_STRING, false, NULL, 0, 0, "HTTP raw body: the file's name"},
    {"index", LH_OP_BOOL, false, NULL, 0, 0, "documents: also create (or refresh) the text index named after the dataset"},
    {"delimiter", LH_OP_STRING, false, NULL, 0, 0, "CSV: the field separator, one character, \"\\t\" or \"whitespace\" (default: sniffed)"},
    {"header", LH_OP_BOOL, false, NULL, 0, 0, "CSV: whether the first row names the columns (default: sniffed)"},
    {"decimal", LH_OP_STRING, false, lh_op_choices_decimal, 0, 0, "CSV: the decimal separator, . or , (default: sniffed)"},
    {"encoding", LH_OP_STRING, false, lh_op_choices_encoding, 0, 0, "text: utf-8, latin-1 or utf-16 for the whole file (default: UTF-8 lines kept, the others read as Windows-1252)"},
    END};

/* ---- catalog ---- */

static const lh_op_param p_catalog_list[] = {
    {"include_deleted", LH_OP_BOOL, false, NULL, 0, 0, "also list deleted datasets"},
    END};
static const lh_op_param p_name[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the dataset"},
    END};
static const lh_op_param p_catalog_create[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the dataset: [a-z][a-z0-9_]{0,62}"},
    {"bucket", LH_OP_STRING, false, NULL, 0, 0, "where it lives (default: the default bucket)"},
    {"description", LH_OP_STRING, false, NULL, 0, 0, "what it holds"},
    END};
static const lh_op_param p_catalog_show[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the dataset"},
    {"version", LH_OP_INT, false, NULL, 1, INT64, "a version (default: the current one)"},
    END};
static const lh_op_param p_catalog_commit[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the dataset"},
    {"mode", LH_OP_STRING, false, lh_op_choices_commit_mode, 0, 0, "append (default) or replace"},
    {"objects", LH_OP_ARRAY, true, NULL, 0, 0, "[{bucket, key, size, sha256, rows}] added by this commit"},
    {"schema", LH_OP_ARRAY, false, NULL, 0, 0, "[{name, type}]: the schema after it"},
    {"lineage", LH_OP_ANY, false, NULL, 0, 0, "where the data came from"},
    {"message", LH_OP_STRING, false, NULL, 0, 0, "the version's message"},
    {"expected_parent", LH_OP_INT, false, NULL, 1, INT64, "refuse (409) unless this is the current version"},
    END};
static const lh_op_param p_catalog_rollback[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the dataset"},
    {"version", LH_OP_INT, true, NULL, 1, INT64, "the version whose state becomes current"},
    {"message", LH_OP_STRING, false, NULL, 0, 0, "the new version's message"},
    END};
static const lh_op_param p_catalog_tombstone[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the dataset"},
    {"key_column", LH_OP_STRING, true, NULL, 0, 0, "the column that identifies rows"},
    {"values", LH_OP_ARRAY, true, NULL, 1, 100000, "hide rows whose key_column equals one of these"},
    {"reason", LH_OP_STRING, false, NULL, 0, 0, "why"},
    END};
static const lh_op_param p_catalog_delete[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the dataset"},
    {"reason", LH_OP_STRING, false, NULL, 0, 0, "why"},
    END};
static const lh_op_param p_catalog_purge[] = {
    {"dry_run", LH_OP_BOOL, false, NULL, 0, 0, "only report what would be removed"},
    END};

/* ---- indexes, search, ask ---- */

#define BUILD_PARAMS                                                                                          \
    {"M", LH_OP_INT, false, NULL, LH_HNSW_MIN_M, LH_HNSW_MAX_M, "graph degree"},                           \
        {"ef_construction", LH_OP_INT, false, NULL, 2, LH_HNSW_MAX_EF_CONSTRUCTION, "build beam width"},                \
        {"ef_search", LH_OP_INT, false, NULL, 1, LH_HNSW_MAX_EF, "default search beam width"},             \
        {"seed", LH_OP_INT, false, NULL, 0, INT64, "random seed of the build"},                            \
        {"quantization", LH_OP_STRING, false, lh_op_choices_quantization, 0, 0, "none or sq8 (one byte per dimension)"}, \
        {"promote", LH_OP_BOOL, false, NULL, 0, 0, "make the new version live (default true)"},           \
        {"message", LH_OP_STRING, false, NULL, 0, 0, "the version's message"}

static const lh_op_param p_index_name[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    END};
static const lh_op_param p_index_create[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    {"dataset", LH_OP_STRING, true, NULL, 0, 0, "the dataset it indexes"},
    {"dataset_version", LH_OP_INT, false, NULL, 1, INT64, "a version (default: the current one)"},
    {"id_column", LH_OP_STRING, false, NULL, 0, 0, "unique integer or string ids (documents datasets: chunk_id)"},
    {"vector_column", LH_OP_STRING, false, NULL, 0, 0, "a list of numbers per row (a vector index)"},
    {"text_columns", LH_OP_STRINGS, false, NULL, 1, 64, "columns whose text is embedded (a text index; documents datasets: text)"},
    {"template", LH_OP_STRING, false, NULL, 0, 0, "text from a template over the columns, e.g. \"{name}: {bio}\""},
    {"provider", LH_OP_STRING, false, NULL, 0, 0, "embedding provider (default ai.provider)"},
    {"model", LH_OP_STRING, false, NULL, 0, 0, "embedding model (default: the provider's)"},
    {"refresh", LH_OP_STRING, false, lh_op_choices_refresh, 0, 0, "manual (default) or on_append"},
    {"fusion", LH_OP_STRING, false, lh_op_choices_fusion, 0, 0, "hybrid search fusion: weighted (default) or rrf"},
    {"weight", LH_OP_NUMBER, false, NULL, 0, 1, "weighted fusion: the vector side's weight"},
    {"rrf_k", LH_OP_NUMBER, false, NULL, 0, 1e6, "rrf fusion: the rank constant"},
    {"metric", LH_OP_STRING, false, lh_op_choices_metric, 0, 0, "l2, cosine (default) or ip"},
    BUILD_PARAMS,
    END};
static const lh_op_param p_index_rebuild[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    {"version", LH_OP_INT, false, NULL, 1, INT64, "rebuild from this version's embeddings (default: the live one)"},
    BUILD_PARAMS,
    END};
static const lh_op_param p_index_search[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    {"vector", LH_OP_NUMBERS, true, NULL, 1, LH_HNSW_MAX_DIM, "the query vector"},
    {"k", LH_OP_INT, false, NULL, 1, LH_VINDEX_MAX_K, "neighbours (default 10)"},
    {"ef", LH_OP_INT, false, NULL, 0, LH_HNSW_MAX_EF, "beam width (default: the index's ef_search)"},
    {"filter_ids", LH_OP_ARRAY, false, NULL, 0, 0, "only these ids"},
    END};
static const lh_op_param p_index_add[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    {"vectors", LH_OP_ARRAY, true, NULL, 1, LH_VECTORS_MAX_CHANGE, "[{id, vector}] to add or replace"},
    {"promote", LH_OP_BOOL, false, NULL, 0, 0, "make the new version live (default true)"},
    {"message", LH_OP_STRING, false, NULL, 0, 0, "the version's message"},
    END};
static const lh_op_param p_index_remove[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    {"ids", LH_OP_ARRAY, true, NULL, 1, LH_VECTORS_MAX_CHANGE, "ids to remove"},
    {"promote", LH_OP_BOOL, false, NULL, 0, 0, "make the new version live (default true)"},
    {"message", LH_OP_STRING, false, NULL, 0, 0, "the version's message"},
    END};
static const lh_op_param p_index_promote[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    {"version", LH_OP_INT, true, NULL, 1, INT64, "the version to make live"},
    {"message", LH_OP_STRING, false, NULL, 0, 0, "why"},
    END};
#define TRIAL_CONFIG                                                                                                  \
    {"M", LH_OP_INT, false, NULL, LH_HNSW_MIN_M, LH_HNSW_MAX_M, "links per node (default: the live version's)"},   \
        {"ef_construction", LH_OP_INT, false, NULL, 1, LH_HNSW_MAX_EF_CONSTRUCTION, "build beam width"},            \
        {"ef_search", LH_OP_INT, false, NULL, 1, LH_HNSW_MAX_EF, "search beam width"},                             \
        {"quantization", LH_OP_STRING, false, lh_op_choices_quantization, 0, 0, "none or sq8"},                     \
        {"seed", LH_OP_INT, false, NULL, 0, INT64, "the graph's seed"}
#define TRIAL_EVAL                                                                                                    \
    {"queries", LH_OP_INT, false, NULL, 1, LH_TRIALS_MAX_QUERIES, "evaluation queries (default 200)"},             \
        {"eval_seed", LH_OP_INT, false, NULL, 0, INT64, "draws the evaluation queries (default 1)"},                 \
        {"target", LH_OP_NUMBER, false, NULL, 0, 1, "recall@10 to reach (default 0.9, the floor)"},                 \
        {"promote", LH_OP_BOOL, false, NULL, 0, 0, "make the best live, through the gate"},                         \
        {"eval", LH_OP_STRING, false, lh_op_choices_eval, 0, 0, "auto (stored vectors, exact truth) or held_out (text)"}, \
        {"eval_dataset", LH_OP_STRING, false, NULL, 0, 0, "a labelled set: rows of query or vector, and expected ids"}, \
        {"mode", LH_OP_STRING, false, lh_op_choices_search_mode, 0, 0, "text indexes, labelled: hybrid, vector or text"}, \
        {"fusion", LH_OP_STRING, false, lh_op_choices_fusion, 0, 0, "text indexes, labelled: rrf or weighted"},   \
        {"weight", LH_OP_NUMBER, false, NULL, 0, 1, "weighted fusion: the vector side's weight"},                   \
        {"rrf_k", LH_OP_NUMBER, false, NULL, 0, 1e6, "rrf fusion: the rank constant"}
static const lh_op_param p_trials_run[] = {
    {"index", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    TRIAL_CONFIG,
    TRIAL_EVAL,
    END};
static const lh_op_param p_autotune[] = {
    {"index", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    {"ef", LH_OP_NUMBERS, false, NULL, 1, LH_TRIALS_MAX_GRID, "ef_search values (default 16,32,64,128,256,512)"},
    {"M", LH_OP_NUMBERS, false, NULL, 1, LH_TRIALS_MAX_GRID, "M values, each a graph (default: the live one)"},
    TRIAL_EVAL,
    END};
static const lh_op_param p_trials_list[] = {
    {"index", LH_OP_STRING, false, NULL, 0, 0, "only this index's trials"},
    END};
static const lh_op_param p_index_watch[] = {
    {"index", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    END};
static const lh_op_param p_index_rollback[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the index"},
    {"version", LH_OP_INT, false, NULL, 1, INT64, "the version (default: the previously live one)"},
    {"message", LH_OP_STRING, false, NULL, 0, 0, "why"},
    END};
static const lh_op_param p_index_refresh[] = {
    {"dataset", LH_OP_STRING, false, NULL, 0, 0, "only the text indexes over this dataset (default: all)"},
    END};
static const lh_op_param p_search[] = {
    {"index", LH_OP_STRING, true, NULL, 0, 0, "a text index"},
    {"query", LH_OP_STRING, true, NULL, 0, 0, "what to look for"},
    {"k", LH_OP_INT, false, NULL, 1, LH_VINDEX_MAX_K, "results (default 10)"},
    {"mode", LH_OP_STRING, false, lh_op_choices_search_mode, 0, 0, "hybrid (default), vector or text"},
    {"filter", LH_OP_STRING, false, NULL, 0, 0, "an SQL predicate over the index's dataset"},
    {"fusion", LH_OP_STRING, false, lh_op_choices_fusion, 0, 0, "override the index's fusion"},
    {"weight", LH_OP_NUMBER, false, NULL, 0, 1, "weighted fusion: the vector side's weight"},
    {"rrf_k", LH_OP_NUMBER, false, NULL, 0, 1e6, "rrf fusion: the rank constant"},
    {"ef", LH_OP_INT, false, NULL, 0, LH_HNSW_MAX_EF, "beam width (default: the index's)"},
    {"rows", LH_OP_BOOL, false, NULL, 0, 0, "attach each hit's source row (default true)"},
    {"playbooks", LH_OP_BOOL, false, NULL, 0, 0, "boost hits endorsed by similar past playbooks (default false)"},
    {"context", LH_OP_STRING, false, NULL, 0, 0, "playbooks: only those of this context (\"Chicago, IL\")"},
    END};
static const lh_op_param p_ask[] = {
    {"question", LH_OP_STRING, true, NULL, 0, 0, "the question"},
    {"index", LH_OP_STRING, false, NULL, 0, 0, "a text index to answer from"},
    {"indexes", LH_OP_STRINGS, false, NULL, 1, LH_ASK_MAX_INDEXES, "text indexes to answer from"},
    {"k", LH_OP_INT, false, NULL, 1, LH_ASK_MAX_K, "passages per index (default 5)"},
    END};

/* ---- memory: playbooks and pathways (lh_memory.h) ---- */

static const lh_op_param p_playbook_record[] = {
    {"index", LH_OP_STRING, true, NULL, 0, 0, "the text index whose ids the workers are"},
    {"task", LH_OP_STRING, true, NULL, 0, 0, "what was done (\"fill: welder x2 in Reno, NV\")"},
    {"context", LH_OP_STRING, false, NULL, 0, 0, "where (\"Reno, NV\"): boosts filter by it"},
    {"workers", LH_OP_STRINGS, true, NULL, 1, LH_PLAYBOOK_MAX_WORKERS, "the ids it chose"},
    {"outcome", LH_OP_STRING, false, lh_op_choices_playbook_outcome, 0, 0, "success (default) or failure"},
    {"parent", LH_OP_STRING, false, NULL, 0, 0, "a playbook id: record its next version"},
    {"note", LH_OP_STRING, false, NULL, 0, 0, "why"},
    END};
static const lh_op_param p_playbook_list[] = {
    {"index", LH_OP_STRING, false, NULL, 0, 0, "only this index's"},
    {"context", LH_OP_STRING, false, NULL, 0, 0, "only this context's"},
    {"all", LH_OP_BOOL, false, NULL, 0, 0, "retired ones too"},
    END};
static const lh_op_param p_memory_id[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "its id"},
    END};
static const lh_op_param p_memory_retire[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "its id"},
    {"reason", LH_OP_STRING, false, NULL, 0, 0, "why"},
    END};
static const lh_op_param p_pathway_add[] = {
    {"task_class", LH_OP_STRING, true, NULL, 0, 0, "the kind of task (\"fill\")"},
    {"path", LH_OP_STRING, true, NULL, 0, 0, "the path taken (\"staffing/search/hybrid/boost\")"},
    {"signal_class", LH_OP_STRING, true, NULL, 0, 0, "the signal that chose it (\"repeat_task\")"},
    {"outcome", LH_OP_STRING, false, NULL, 0, 0, "what it produced"},
    {"trace", LH_OP_STRING, false, NULL, 0, 0, "the decision's notes"},
    END};
static const lh_op_param p_pathway_revise[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the pathway id"},
    {"path", LH_OP_STRING, false, NULL, 0, 0, "a new path (the same first two segments)"},
    {"outcome", LH_OP_STRING, false, NULL, 0, 0, "a new outcome"},
    {"trace", LH_OP_STRING, false, NULL, 0, 0, "new notes"},
    END};
static const lh_op_param p_pathway_list[] = {
    {"task_class", LH_OP_STRING, false, NULL, 0, 0, "only this task class"},
    {"all", LH_OP_BOOL, false, NULL, 0, 0, "retired ones too"},
    END};
static const lh_op_param p_pathway_search[] = {
    {"query", LH_OP_STRING, true, NULL, 0, 0, "a task class, path or signal, as text"},
    {"task_class", LH_OP_STRING, false, NULL, 0, 0, "only this task class"},
    {"k", LH_OP_INT, false, NULL, 1, LH_PATHWAY_MAX_K, "results (default 10)"},
    END};

/* ---- profiles and keys ---- */

#define PROFILE_FIELDS(required)                                                                                  \
    {"kind", LH_OP_STRING, required, lh_profile_kinds, 0, 0, "person, agent or model"},                            \
        {"description", LH_OP_STRING, false, NULL, 0, 0, "who or what it is"},                                  \
        {"scopes", LH_OP_STRINGS, required, lh_profile_scopes_names, 0, 4, "read, ingest, manage, admin"},      \
        {"datasets", LH_OP_STRINGS, false, NULL, 0, LH_PROFILE_MAX_BINDINGS, "bound datasets (\"*\": all)"},   \
        {"views", LH_OP_STRINGS, false, NULL, 0, LH_PROFILE_MAX_BINDINGS, "bound views"},                        \
        {"indexes", LH_OP_STRINGS, false, NULL, 0, LH_PROFILE_MAX_BINDINGS, "bound indexes (\"*\": all)"},     \
        {"index_config", LH_OP_OBJECT, false, NULL, 0, 0, "index preferences: HNSW parameters, embedding model"}

static const lh_op_param p_profile_create[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the profile: [a-z][a-z0-9_.-]{0,62}"},
    PROFILE_FIELDS(true),
    END};
static const lh_op_param p_profile_update[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the profile"},
    PROFILE_FIELDS(false),
    END};
static const lh_op_param p_profile_id[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the profile"},
    END};
static const lh_op_param p_profile_delete[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the profile"},
    {"reason", LH_OP_STRING, false, NULL, 0, 0, "why"},
    END};
static const lh_op_param p_profile_search[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the profile searching"},
    {"query", LH_OP_STRING, true, NULL, 0, 0, "what to look for"},
    {"index", LH_OP_STRING, false, NULL, 0, 0, "one of its bound indexes (default: the first)"},
    {"k", LH_OP_INT, false, NULL, 1, LH_VINDEX_MAX_K, "results (default 10)"},
    {"mode", LH_OP_STRING, false, lh_op_choices_search_mode, 0, 0, "hybrid (default), vector or text"},
    END};
static const lh_op_param p_key_create[] = {
    {"profile", LH_OP_STRING, true, NULL, 0, 0, "the profile the key acts as"},
    {"label", LH_OP_STRING, false, NULL, 0, 0, "what the key is for"},
    {"expires_in_days", LH_OP_INT, false, NULL, 1, 36500, "days until it stops working (default: never)"},
    END};
static const lh_op_param p_key_list[] = {
    {"profile", LH_OP_STRING, true, NULL, 0, 0, "the profile"},
    END};
static const lh_op_param p_key_revoke[] = {
    {"profile", LH_OP_STRING, true, NULL, 0, 0, "the profile"},
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the key's id (the hex after lh_)"},
    END};

/* ---- views ---- */

static const lh_op_param p_view_create[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the view: [a-z][a-z0-9_]{0,62}, not a dataset's name"},
    {"base_dataset", LH_OP_STRING, true, NULL, 0, 0, "the dataset it shows"},
    {"columns", LH_OP_STRINGS, false, NULL, 1, 4096, "the columns it shows (default: all)"},
    {"row_filter", LH_OP_STRING, false, NULL, 0, 0, "an SQL condition the rows it shows meet"},
    {"column_redactions", LH_OP_OBJECT, false, NULL, 0, 0,
     "{column: null | \"hash\" | {\"mask\": {\"keep_prefix\": N, \"keep_suffix\": N}}}"},
    {"description", LH_OP_STRING, false, NULL, 0, 0, "what it is for"},
    END};
static const lh_op_param p_view_update[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the view"},
    {"base_dataset", LH_OP_STRING, false, NULL, 0, 0, "the dataset it shows"},
    {"columns", LH_OP_STRINGS, false, NULL, 1, 4096, "the columns it shows"},
    {"row_filter", LH_OP_STRING, false, NULL, 0, 0, "an SQL condition the rows it shows meet"},
    {"column_redactions", LH_OP_OBJECT, false, NULL, 0, 0, "{column: null | \"hash\" | {\"mask\": {...}}}"},
    {"description", LH_OP_STRING, false, NULL, 0, 0, "what it is for"},
    END};
static const lh_op_param p_view_name[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the view"},
    END};
static const lh_op_param p_view_delete[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the view"},
    {"reason", LH_OP_STRING, false, NULL, 0, 0, "why"},
    END};

static const lh_op_param p_view_suggest[] = {
    {"dataset", LH_OP_STRING, true, NULL, 0, 0, "the dataset whose PII tags propose the redactions"},
    END};

/* ---- workspaces ---- */

static const lh_op_param p_ws_create[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the workspace: [a-z][a-z0-9_]{0,62}"},
    {"description", LH_OP_STRING, false, NULL, 0, 0, "what it is for"},
    {"owner", LH_OP_STRING, false, NULL, 0, 0, "its profile (default: the caller; \"local\": the local operator)"},
    END};
static const lh_op_param p_ws_name[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the workspace"},
    END};
static const lh_op_param p_ws_list[] = {
    {"q", LH_OP_STRING, false, NULL, 0, 0, "only those whose name, description or items mention it"},
    END};
static const lh_op_param p_ws_add[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the workspace"},
    {"kind", LH_OP_STRING, true, lh_op_choices_workspace_item, 0, 0, "dataset, view, query, search or note"},
    {"ref", LH_OP_STRING, false, NULL, 0, 0, "dataset, view: its name"},
    {"sql", LH_OP_STRING, false, NULL, 0, 0, "query: the statement (kept, not run)"},
    {"index", LH_OP_STRING, false, NULL, 0, 0, "search: the index"},
    {"query", LH_OP_STRING, false, NULL, 0, 0, "search: what was looked for"},
    {"note", LH_OP_STRING, false, NULL, 0, 0, "why it is on the list"},
    END};
static const lh_op_param p_ws_remove[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the workspace"},
    {"item", LH_OP_INT, true, NULL, 1, INT64, "the item's id"},
    END};
static const lh_op_param p_ws_handoff[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the workspace"},
    {"to", LH_OP_STRING, true, NULL, 0, 0, "the new owner: a profile id (\"local\": the local operator)"},
    END};

/* ---- diffs, embeddings, drafts ---- */

static const lh_op_param p_catalog_diff[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the dataset"},
    {"from", LH_OP_INT, true, NULL, 1, INT64, "the older version"},
    {"to", LH_OP_INT, false, NULL, 1, INT64, "the newer version (default: the current one)"},
    {"limit", LH_OP_INT, false, NULL, 1, 1000, "rows shown per side (default 20)"},
    END};
static const lh_op_param p_catalog_facets[] = {
    {"name", LH_OP_STRING, true, NULL, 0, 0, "the dataset"},
    {"version", LH_OP_INT, false, NULL, 1, INT64, "a version (default: the current one)"},
    {"columns", LH_OP_STRINGS, false, NULL, 1, LH_FACETS_MAX_COLUMNS, "columns to facet (default: suggested ones)"},
    {"limit", LH_OP_INT, false, NULL, 1, LH_FACETS_MAX_VALUES, "values per column (default 10)"},
    END};
static const lh_op_param p_ai_embed[] = {
    {"texts", LH_OP_STRINGS, true, NULL, 1, LH_APP_EMBED_MAX_TEXTS, "the texts (at most 262144 characters in all)"},
    {"provider", LH_OP_STRING, false, NULL, 0, 0, "embedding provider (default ai.provider)"},
    {"model", LH_OP_STRING, false, NULL, 0, 0, "embedding model (default: the provider's)"},
    END};
static const lh_op_param p_drafts_create[] = {
    {"dataset", LH_OP_STRING, true, NULL, 0, 0, "the dataset (created when the draft is published, if needed)"},
    {"data", LH_OP_STRING, true, NULL, 0, 0, "the file's content (at most 8 MiB)"},
    {"format", LH_OP_STRING, false, lh_op_choices_draft_format, 0, 0, "the data's format (default: sniffed)"},
    {"mode", LH_OP_STRING, false, lh_op_choices_commit_mode, 0, 0, "append (default) or replace"},
    {"message", LH_OP_STRING, false, NULL, 0, 0, "the version's message when published"},
    {"skip_bad_rows", LH_OP_BOOL, false, NULL, 0, 0, "CSV: keep the good rows, report the bad ones"},
    END};
static const lh_op_param p_drafts_list[] = {
    {"dataset", LH_OP_STRING, false, NULL, 0, 0, "only drafts of this dataset"},
    {"include_closed", LH_OP_BOOL, false, NULL, 0, 0, "also published and discarded drafts"},
    END};
static const lh_op_param p_draft_id[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the draft"},
    END};
static const lh_op_param p_drafts_publish[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the draft"},
    {"message", LH_OP_STRING, false, NULL, 0, 0, "the version's message (default: the draft's)"},
    {"allow_type_changes", LH_OP_BOOL, false, NULL, 0, 0, "publish although a column's type changes"},
    END};
static const lh_op_param p_drafts_discard[] = {
    {"id", LH_OP_STRING, true, NULL, 0, 0, "the draft"},
    {"reason", LH_OP_STRING, false, NULL, 0, 0, "why"},
    END};

static const lh_op ops[] = {
    {"system.version", "name, version, git commit and DuckDB version", p_none, NULL, NULL, false, lh_app_run_version, LH_SCOPE_ANY, NULL},
    {"storage.buckets", "every bucket with its backend and health", p_none, "buckets", "name,backend,status,latency_ms,error", false, lh_app_run_buckets, LH_SCOPE_ADMIN, NULL},
    {"storage.objects", "objects under a prefix, with sizes", p_objects, "objects", "key,size,mtime_ms", false, lh_app_run_objects, LH_SCOPE_ADMIN, NULL},
    {"storage.get", "an object's bytes (the rescue bucket answers if the bucket fails)", p_object, NULL, NULL, false, NULL, LH_SCOPE_ADMIN, NULL},
    {"storage.put", "writes an object (outside the prefixes Lakehouse manages)", p_object, NULL, NULL, true, NULL, LH_SCOPE_ADMIN, NULL},
    {"storage.delete", "deletes an object (outside the prefixes Lakehouse manages)", p_object, NULL, NULL, true, lh_app_run_object_delete, LH_SCOPE_ADMIN, NULL},
    {"errors.list", "recorded failures, newest first", p_errors, "errors", "ts,operation,code,bucket,key,error", false, lh_app_run_errors, LH_SCOPE_READ, NULL},
    {"errors.flush", "writes buffered failures to the store now", p_none, NULL, NULL, true, lh_app_run_errors_flush, LH_SCOPE_MANAGE, NULL},
    {"journal.recent", "the newest mutation events (a filter looks at the newest 10000)", p_journal_recent, "events", "ts,entity_type,entity_id,action,actor,source", false, lh_app_run_journal_recent, LH_SCOPE_READ, NULL},
    {"journal.history", "every event of one entity, newest first", p_history, "events", "ts,entity_type,entity_id,action,actor,source", false, lh_app_run_journal_history, LH_SCOPE_READ, "entity:entity_id"},
    {"journal.stats", "counts by action and entity type", p_none, NULL, NULL, false, lh_app_run_journal_stats, LH_SCOPE_ADMIN, NULL},
    {"journal.flush", "writes buffered events to the store now", p_none, NULL, NULL, true, lh_app_run_journal_flush, LH_SCOPE_MANAGE, NULL},
    {"sql", "runs one read-only statement over the datasets", p_sql, NULL, NULL, false, lh_app_run_sql, LH_SCOPE_READ, NULL},
    {"sql.history", "the caller's recent statements, newest first (kept by this server process)", p_none, "statements", "sql,at", false, lh_app_run_sql_history, LH_SCOPE_READ, NULL},
    {"ingest", "files to one new version of a dataset", p_ingest, NULL, NULL, true, NULL, LH_SCOPE_INGEST, "dataset:dataset"},
    {"catalog.list", "datasets, sorted by name", p_catalog_list, "datasets", "name,bucket,version,row_count,updated_at,deleted", false, lh_app_run_catalog_list, LH_SCOPE_READ, NULL},
    {"catalog.create", "an empty dataset (version 1)", p_catalog_create, NULL, NULL, true, lh_app_run_catalog_create, LH_SCOPE_MANAGE, "dataset:name"},
    {"catalog.show", "a version's manifest", p_catalog_show, NULL, NULL, false, lh_app_run_catalog_show, LH_SCOPE_READ, "dataset:name"},
    {"catalog.versions", "a dataset's history, oldest first", p_name, "versions", "version,operation,created_at,author,row_count,message", false, lh_app_run_catalog_versions, LH_SCOPE_READ, "dataset:name"},
    {"catalog.commit", "a new version from data objects already in the store", p_catalog_commit, NULL, NULL, true, lh_app_run_catalog_commit, LH_SCOPE_MANAGE, "dataset:name"},
    {"catalog.rollback", "a new version with the state of an earlier one", p_catalog_rollback, NULL, NULL, true, lh_app_run_catalog_rollback, LH_SCOPE_MANAGE, "dataset:name"},
    {"catalog.tombstones", "the rows hidden in the current version", p_name, "tombstones", "key_column,key_value,deleted_at,actor,reason", false, lh_app_run_catalog_tombstones, LH_SCOPE_READ, "dataset:name"},
    {"catalog.tombstone", "hides rows by key (a new version; rows stay in the files)", p_catalog_tombstone, NULL, NULL, true, lh_app_run_catalog_tombstone, LH_SCOPE_MANAGE, "dataset:name"},
    {"catalog.delete", "marks a dataset deleted (a new version; history stays)", p_catalog_delete, NULL, NULL, true, lh_app_run_catalog_delete, LH_SCOPE_MANAGE, "dataset:name"},
    {"catalog.purge", "removes data files no version references", p_catalog_purge, NULL, NULL, true, lh_app_run_catalog_purge, LH_SCOPE_ADMIN, NULL},
    {"catalog.rebuild", "re-reads every bucket", p_none, NULL, NULL, true, lh_app_run_catalog_rebuild, LH_SCOPE_ADMIN, NULL},
    {"catalog.diff", "rows added and removed between two versions of a dataset, and schema changes", p_catalog_diff, NULL, NULL, false, lh_app_run_catalog_diff, LH_SCOPE_READ, "dataset:name"},
    {"catalog.facets", "a version's most frequent values per column, with counts", p_catalog_facets, NULL, NULL, false, lh_app_run_catalog_facets, LH_SCOPE_READ, "dataset:name"},
    {"drafts.create", "ingests data into a draft: stored and checkable, seen by no reader until published", p_drafts_create, NULL, NULL, true, lh_app_run_drafts_create, LH_SCOPE_INGEST, "dataset:dataset"},
    {"drafts.list", "the caller's open drafts (an admin's: everyone's)", p_drafts_list, "drafts", "draft,dataset,status,mode,rows,base_version,created_at", false, lh_app_run_drafts_list, LH_SCOPE_INGEST, NULL},
    {"drafts.validate", "a draft checked against its dataset now: schema changes, nulls, preview, problems", p_draft_id, NULL, NULL, false, lh_app_run_drafts_validate, LH_SCOPE_INGEST, NULL},
    {"drafts.publish", "commits a draft as a new version of its dataset (409 if the dataset moved)", p_drafts_publish, NULL, NULL, true, lh_app_run_drafts_publish, LH_SCOPE_INGEST, NULL},
    {"drafts.discard", "closes a draft unpublished (purge may then remove its files)", p_drafts_discard, NULL, NULL, true, lh_app_run_drafts_discard, LH_SCOPE_INGEST, NULL},
    {"index.list", "indexes, their live version and size", p_none, "indexes", "name,live,versions,count", false, lh_app_run_index_list, LH_SCOPE_READ, NULL},
    {"index.create", "a vector or text index from a dataset", p_index_create, NULL, NULL, true, lh_app_run_index_create, LH_SCOPE_MANAGE, "index:name;dataset:dataset"},
    {"index.show", "the live version's manifest and memory", p_index_name, NULL, NULL, false, lh_app_run_index_show, LH_SCOPE_READ, "index:name"},
    {"index.history", "promotions and versions, oldest first", p_index_name, NULL, NULL, false, lh_app_run_index_history, LH_SCOPE_READ, "index:name"},
    {"index.search", "nearest neighbours of a vector", p_index_search, NULL, NULL, false, lh_app_run_index_search, LH_SCOPE_READ, "index:name"},
    {"index.add", "adds or replaces vectors (a new version)", p_index_add, NULL, NULL, true, lh_app_run_index_add, LH_SCOPE_MANAGE, "index:name"},
    {"index.remove", "removes vectors by id (a new version)", p_index_remove, NULL, NULL, true, lh_app_run_index_remove, LH_SCOPE_MANAGE, "index:name"},
    {"index.rebuild", "a new version built again from stored embeddings", p_index_rebuild, NULL, NULL, true, lh_app_run_index_rebuild, LH_SCOPE_MANAGE, "index:name"},
    {"index.promote", "makes a version live", p_index_promote, NULL, NULL, true, lh_app_run_index_promote, LH_SCOPE_MANAGE, "index:name"},
    {"index.rollback", "back to an earlier live version", p_index_rollback, NULL, NULL, true, lh_app_run_index_rollback, LH_SCOPE_MANAGE, "index:name"},
    {"index.refresh", "embeds the rows text indexes have not seen", p_index_refresh, NULL, NULL, true, lh_app_run_index_refresh, LH_SCOPE_MANAGE, "dataset:dataset"},
    {"index.autotune", "trials over a grid of configurations; with promote, the best goes live through the gate", p_autotune, NULL, NULL, true, lh_app_run_index_autotune, LH_SCOPE_MANAGE, "index:index"},
    {"index.watch", "measures the live version again; rolls back when it regressed", p_index_watch, NULL, NULL, true, lh_app_run_index_watch, LH_SCOPE_MANAGE, "index:index"},
    {"trials.run", "measures one configuration of an index (a row of _trials)", p_trials_run, NULL, NULL, true, lh_app_run_trials_run, LH_SCOPE_MANAGE, "index:index"},
    {"trials.list", "trials, newest first (the rows of _trials)", p_trials_list, "trials", "index_name,index_version,m,ef_search,recall_at_10,p50_ms,status,created_at", false, lh_app_run_trials_list, LH_SCOPE_READ, "index:index?"},
    {"index.stale", "indexes behind their dataset's current version", p_none, "stale", "index,dataset,embedded_version,dataset_version,stale_since,refresh", false, lh_app_run_index_stale, LH_SCOPE_READ, NULL},
    {"playbook.record", "remembers a completed operation: its task, the workers it chose, the outcome (rows of _playbooks)", p_playbook_record, NULL, NULL, true, lh_app_run_playbook_record, LH_SCOPE_INGEST, "index:index"},
    {"playbook.list", "playbooks, newest first (each one's newest version)", p_playbook_list, "playbooks", "playbook_id,version,task,context,n,outcome,failures,recorded_at,retired_at", false, lh_app_run_playbook_list, LH_SCOPE_READ, "index:index?"},
    {"playbook.show", "a playbook and every version of it", p_memory_id, NULL, NULL, false, lh_app_run_playbook_show, LH_SCOPE_READ, NULL},
    {"playbook.retire", "retires a playbook: search no longer takes it into account", p_memory_retire, NULL, NULL, true, lh_app_run_playbook_retire, LH_SCOPE_MANAGE, NULL},
    {"pathway.add", "remembers a decision trace (a repeat bumps its replay_count)", p_pathway_add, NULL, NULL, true, lh_app_run_pathway_add, LH_SCOPE_INGEST, NULL},
    {"pathway.revise", "the next version of a pathway", p_pathway_revise, NULL, NULL, true, lh_app_run_pathway_revise, LH_SCOPE_INGEST, NULL},
    {"pathway.retire", "retires a pathway: hidden from search and list", p_memory_retire, NULL, NULL, true, lh_app_run_pathway_retire, LH_SCOPE_MANAGE, NULL},
    {"pathway.history", "every row of a pathway, oldest first", p_memory_id, "history", "seq,event,version,replay_count,path,outcome,updated_at,retired_at", false, lh_app_run_pathway_history, LH_SCOPE_READ, NULL},
    {"pathway.list", "live pathways, newest first", p_pathway_list, "pathways", "pathway_id,version,task_class,path,signal_class,outcome,replay_count", false, lh_app_run_pathway_list, LH_SCOPE_READ, NULL},
    {"pathway.search", "the live pathways nearest a text (hashed bag of tokens, cosine)", p_pathway_search, NULL, NULL, false, lh_app_run_pathway_search, LH_SCOPE_READ, NULL},
    {"search", "a text index by meaning, keywords or both", p_search, NULL, NULL, false, lh_app_run_search, LH_SCOPE_READ, "index:index"},
    {"ask", "an answer from text indexes, with citations", p_ask, NULL, NULL, true, lh_app_run_ask, LH_SCOPE_READ, "index:index,indexes"},
    {"ai.embed", "embeds texts with the configured (or a named) embedding provider", p_ai_embed, NULL, NULL, false, lh_app_run_ai_embed, LH_SCOPE_READ, NULL},
    {"profiles.create", "a profile: who a caller is and what it may use", p_profile_create, NULL, NULL, true, lh_app_run_profiles_create, LH_SCOPE_ADMIN, NULL},
    {"profiles.list", "profiles, sorted by id", p_none, "profiles", "id,kind,scopes,datasets,indexes,version", false, lh_app_run_profiles_list, LH_SCOPE_ADMIN, NULL},
    {"profiles.get", "a profile (its keys without secrets)", p_profile_id, NULL, NULL, false, lh_app_run_profiles_get, LH_SCOPE_ADMIN, NULL},
    {"profiles.update", "changes a profile (a new version)", p_profile_update, NULL, NULL, true, lh_app_run_profiles_update, LH_SCOPE_ADMIN, NULL},
    {"profiles.delete", "deletes a profile (a new version; its keys stop working)", p_profile_delete, NULL, NULL, true, lh_app_run_profiles_delete, LH_SCOPE_ADMIN, NULL},
    {"profiles.search", "searches as a profile: its bound indexes only, its index preferences (403 names the allowed ones)", p_profile_search, NULL, NULL, false, lh_app_run_profiles_search, LH_SCOPE_READ, NULL},
    {"profiles.me", "the calling profile", p_none, NULL, NULL, false, lh_app_run_profiles_me, LH_SCOPE_ANY, NULL},
    {"keys.create", "an API key for a profile (shown once)", p_key_create, NULL, NULL, true, lh_app_run_keys_create, LH_SCOPE_ADMIN, NULL},
    {"keys.list", "a profile's keys (never their secrets)", p_key_list, "keys", "id,label,created_at,expires_at,revoked_at,last_used_at", false, lh_app_run_keys_list, LH_SCOPE_ADMIN, NULL},
    {"views.create", "an AI-safe view: a dataset's columns, a row filter, redactions", p_view_create, NULL, NULL, true, lh_app_run_views_create, LH_SCOPE_MANAGE, "view:name;dataset:base_dataset"},
    {"views.list", "views, sorted by name", p_none, "views", "name,base_dataset,columns,version", false, lh_app_run_views_list, LH_SCOPE_READ, NULL},
    {"views.get", "a view's definition", p_view_name, NULL, NULL, false, lh_app_run_views_get, LH_SCOPE_READ, "view:name"},
    {"views.update", "changes a view (a new version)", p_view_update, NULL, NULL, true, lh_app_run_views_update, LH_SCOPE_MANAGE, "view:name;dataset:base_dataset?"},
    {"views.delete", "deletes a view (a new version; history stays)", p_view_delete, NULL, NULL, true, lh_app_run_views_delete, LH_SCOPE_MANAGE, "view:name"},
    {"views.suggest", "a view definition proposed from ingest's PII tags (not created)", p_view_suggest, NULL, NULL, false, lh_app_run_views_suggest, LH_SCOPE_READ, "dataset:dataset"},
    {"workspaces.create", "a workspace: a shortlist of datasets, views, queries and searches", p_ws_create, NULL, NULL, true, lh_app_run_workspaces_create, LH_SCOPE_READ, NULL},
    {"workspaces.list", "the caller's workspaces, by name", p_ws_list, "workspaces", "name,owner,description,version", false, lh_app_run_workspaces_list, LH_SCOPE_READ, NULL},
    {"workspaces.get", "a workspace and its shortlist", p_ws_name, NULL, NULL, false, lh_app_run_workspaces_get, LH_SCOPE_READ, NULL},
    {"workspaces.add", "adds an item to a workspace's shortlist", p_ws_add, NULL, NULL, true, lh_app_run_workspaces_add, LH_SCOPE_READ, NULL},
    {"workspaces.remove", "takes an item off a workspace's shortlist", p_ws_remove, NULL, NULL, true, lh_app_run_workspaces_remove, LH_SCOPE_READ, NULL},
    {"workspaces.activity", "a workspace's changes, newest first (from the journal)", p_ws_name, "events", "ts,action,actor,source", false, lh_app_run_workspaces_activity, LH_SCOPE_READ, NULL},
    {"workspaces.handoff", "hands a workspace to another profile (nothing is copied)", p_ws_handoff, NULL, NULL, true, lh_app_run_workspaces_handoff, LH_SCOPE_READ, NULL},
    {"keys.revoke", "revokes a key at once", p_key_revoke, NULL, NULL, true, lh_app_run_keys_revoke, LH_SCOPE_ADMIN, NULL},
};

const lh_op *lh_op_all(size_t *n)
{
    *n = sizeof ops / sizeof *ops;
    return ops;
}

const lh_op *lh_op_find(const char *name)
{
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(ops[i].name, name)) return &ops[i];
    return NULL;
}

static const lh_op_param list_params[] = {
    {"limit", LH_OP_INT, false, NULL, 1, LH_OP_LIST_MAX, "items per page (default 100)"},
    {"cursor", LH_OP_STRING, false, NULL, 0, 0, "the previous page's next"},
    END};

static const lh_op_param *find_param(const lh_op *op, const char *name)
{
    for (const lh_op_param *p = op->params; p->name; p++)
        if (!strcmp(p->name, name)) return p;
    if (op->list)
        for (const lh_op_param *p = list_params; p->name; p++)
            if (!strcmp(p->name, name)) return p;
    return NULL;
}

static void bounds_text(const lh_op_param *p, char *buf, size_t n)
{
    if (p->max >= INT64) snprintf(buf, n, "at least %.0f", p->min);
    else snprintf(buf, n, "in %.15g..%.15g", p->min, p->max);
}

static lh_code check_value(const lh_op_param *p, json_t *v, lh_err *err)
{
    char range[64];
    bounds_text(p, range, sizeof range);
    switch (p->type) {
    case LH_OP_STRING:
        if (!json_is_string(v)) return lh_err_set(err, LH_EINVAL, "\"%s\" must be a string", p->name);
        if (p->choices) {
            for (const char *const *c = p->choices; *c; c++)
                if (!strcmp(*c, json_string_value(v))) return LH_OK;
            lh_buf list = {0};
            for (const char *const *c = p->choices; *c; c++) lh_buf_printf(&list, "%s%s", c == p->choices ? "" : ", ", *c);
            lh_err_set(err, LH_EINVAL, "\"%s\" must be one of %s, not \"%.40s\"", p->name, list.data,
                       json_string_value(v));
            lh_buf_free(&list);
            return LH_EINVAL;
        }
        return LH_OK;
    case LH_OP_INT:
        if (!json_is_integer(v) || (double)json_integer_value(v) < p->min ||
            (p->max > 0 && (double)json_integer_value(v) > p->max))
            return lh_err_set(err, LH_EINVAL, "\"%s\" must be an integer %s", p->name, range);
        return LH_OK;
    case LH_OP_NUMBER:
        if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < p->min ||
            (p->max > 0 && json_number_value(v) > p->max))
            return lh_err_set(err, LH_EINVAL, "\"%s\" must be a number %s", p->name, range);
        return LH_OK;
    case LH_OP_BOOL:
        if (!json_is_boolean(v)) return lh_err_set(err, LH_EINVAL, "\"%s\" must be true or false", p->name);
        return LH_OK;
    case LH_OP_STRINGS:
    case LH_OP_NUMBERS:
    case LH_OP_ARRAY: {
        const char *what = p->type == LH_OP_STRINGS ? "strings" : p->type == LH_OP_NUMBERS ? "numbers" : "values";
        size_t n = json_array_size(v);
        if (!json_is_array(v) || (double)n < p->min || (p->max > 0 && (double)n > p->max))
            return lh_err_set(err, LH_EINVAL, "\"%s\" must be an array of %.0f..%.0f %s", p->name, p->min,
                              p->max > 0 ? p->max : INT64, what);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (p->type == LH_OP_STRINGS && !json_is_string(x))
                return lh_err_set(err, LH_EINVAL, "\"%s\"[%zu] must be a string", p->name, i);
            if (p->type == LH_OP_STRINGS && p->choices) {
                bool known = false;
                for (const char *const *c = p->choices; *c && !known; c++) known = !strcmp(*c, json_string_value(x));
                if (!known) {
                    lh_buf list = {0};
                    for (const char *const *c = p->choices; *c; c++) lh_buf_printf(&list, "%s%s", c == p->choices ? "" : ", ", *c);
                    lh_err_set(err, LH_EINVAL, "\"%s\"[%zu] must be one of %s, not \"%.40s\"", p->name, i, list.data,
                               json_string_value(x));
                    lh_buf_free(&list);
                    return LH_EINVAL;
                }
            }
            if (p->type == LH_OP_NUMBERS &&
                (!json_is_number(x) || !isfinite(json_number_value(x)) || fabs(json_number_value(x)) > 3.0e38))
                return lh_err_set(err, LH_EINVAL, "\"%s\"[%zu] must be a finite float", p->name, i);
        }
        return LH_OK;
    }
    case LH_OP_OBJECT:
        if (!json_is_object(v)) return lh_err_set(err, LH_EINVAL, "\"%s\" must be an object", p->name);
        return LH_OK;
    case LH_OP_ANY: return LH_OK;
    }
    return LH_OK;
}

static lh_code unknown_field(const lh_op *op, const char *key, lh_err *err)
{
    lh_buf known = {0};
    for (const lh_op_param *q = op->params; q->name; q++) lh_buf_printf(&known, "%s%s", known.len ? ", " : "", q->name);
    if (op->list) lh_buf_printf(&known, "%slimit, cursor", known.len ? ", " : "");
    lh_err_set(err, LH_EINVAL, "unknown field \"%.60s\" (%s takes: %s)", key, op->name,
               known.len ? known.data : "nothing");
    lh_buf_free(&known);
    return LH_EINVAL;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"", "1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!strcasecmp(s, yes[i])) return *out = true, true;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (!strcasecmp(s, no[i])) return *out = false, true;
    return false;
}

static json_t *scalar_from_text(lh_op_type type, const char *text)
{
    char *end;
    errno = 0;
    if (type == LH_OP_INT) {
        long long v = strtoll(text, &end, 10);
        return *text && !*end && !errno ? json_integer(v) : NULL;
    }
    if (type == LH_OP_NUMBER || type == LH_OP_NUMBERS) {
        double v = strtod(text, &end);
        return *text && !*end && !errno && isfinite(v) ? json_real(v) : NULL;
    }
    if (type == LH_OP_BOOL) {
        bool b;
        return parse_bool(text, &b) ? json_boolean(b) : NULL;
    }
    return json_string(text);
}

lh_code lh_op_set_text(const lh_op *op, json_t *args, const char *name, const char *text, lh_err *err)
{
    const lh_op_param *p = find_param(op, name);
    if (!p) return unknown_field(op, name, err);
    json_t *have = json_object_get(args, name);
    if (p->type == LH_OP_STRINGS || p->type == LH_OP_NUMBERS) {
        json_t *list = have ? json_incref(have) : json_array();
        if (!json_is_array(list)) {
            json_decref(list);
            return lh_err_set(err, LH_EINVAL, "\"%s\" is given twice", name);
        }
        char *copy = lh_xstrdup(text);
        lh_code rc = LH_OK;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && rc == LH_OK; t = strtok_r(NULL, ",", &save)) {
            json_t *x = scalar_from_text(p->type, t);
            if (!x)
                rc = p->type == LH_OP_NUMBERS
                         ? lh_err_set(err, LH_EINVAL, "\"%s\" must hold numbers, not \"%.40s\"", name, t)
                         : lh_err_set(err, LH_EINVAL, "\"%s\" must hold valid UTF-8 text", name);
            else json_array_append_new(list, x);
        }
        free(copy);
        if (rc == LH_OK) json_object_set(args, name, list);
        json_decref(list);
        return rc;
    }
    if (have) return lh_err_set(err, LH_EINVAL, "\"%s\" is given twice", name);
    json_t *v;
    if (p->type == LH_OP_ARRAY || p->type == LH_OP_OBJECT || p->type == LH_OP_ANY) {
        json_error_t jerr;
        v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!v) return lh_err_set(err, LH_EINVAL, "\"%s\" must be JSON: %s", name, jerr.text);
    } else if (!(v = scalar_from_text(p->type, text)) && p->type == LH_OP_STRING) {
        return lh_err_set(err, LH_EINVAL, "\"%s\" must be valid UTF-8 text", name);
    } else if (!v) {
        static const char *const what[] = {[LH_OP_STRING] = "valid UTF-8 text", [LH_OP_INT] = "an integer",
                                           [LH_OP_NUMBER] = "a number", [LH_OP_BOOL] = "true or false"};
        return lh_err_set(err, LH_EINVAL, "\"%s\" must be %s, not \"%.40s\"", name, what[p->type], text);
    }
    json_object_set_new(args, name, v);
    return LH_OK;
}

lh_code lh_op_check(const lh_op *op, json_t *args, lh_err *err)
{
    if (!json_is_object(args)) return lh_err_set(err, LH_EINVAL, "the arguments must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        const lh_op_param *p = find_param(op, key);
        if (!p) return unknown_field(op, key, err);
        if (json_is_null(v)) continue;
        lh_code rc = check_value(p, v, err);
        if (rc) return rc;
    }
    for (const lh_op_param *p = op->params; p->name; p++) {
        json_t *x = json_object_get(args, p->name);
        if (p->required && (!x || json_is_null(x))) return lh_err_set(err, LH_EINVAL, "\"%s\" is required", p->name);
    }
    const char *cursor = lh_op_str(args, "cursor");
    if (cursor && op->list) {
        char *offset = lh_op_cursor_decode(cursor, "offset");
        char *after = offset ? NULL : lh_op_cursor_decode(cursor, "after");
        bool ok = offset || after;
        free(offset);
        free(after);
        if (!ok) return lh_err_set(err, LH_EINVAL, "\"cursor\" is not a cursor this list gave out");
    }
    return LH_OK;
}

lh_code lh_app_call(lh_app *app, const char *name, json_t *args, const lh_op_ctx *call, json_t **out, lh_err *err)
{
    *out = NULL;
    const lh_op *op = lh_op_find(name);
    if (!op) return lh_err_set(err, LH_ENOTFOUND, "no operation named \"%s\"", name);
    if (!op->run) return lh_err_set(err, LH_EUNSUPPORTED, "%s does not answer JSON", name);
    json_t *none = args ? NULL : json_object();
    if (!args) args = none;
    static const lh_op_ctx anonymous = {.who = {.actor = "anonymous", .source = "library"}};
    if (!call) call = &anonymous;
    lh_code rc = lh_op_check(op, args, err);
    if (rc == LH_OK && app) rc = lh_app_authorize(app, op, args, &call->who, err);
    if (rc == LH_OK) {
        const lh_profile *was = lh_app_scope_swap(call->who.profile);
        rc = lh_app_error_scrub(app, op->run(app, args, call, out, err), err);
        lh_app_scope_swap(was);
    }
    json_decref(none);
    return rc;
}

/* ---- typed views ---- */

const char *lh_op_str(json_t *args, const char *name)
{
    return json_string_value(json_object_get(args, name));
}

long long lh_op_int(json_t *args, const char *name, long long def)
{
    json_t *v = json_object_get(args, name);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

double lh_op_num(json_t *args, const char *name, double def)
{
    json_t *v = json_object_get(args, name);
    return json_is_number(v) ? json_number_value(v) : def;
}

bool lh_op_bool(json_t *args, const char *name, bool def)
{
    json_t *v = json_object_get(args, name);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* ---- cursors and pages ---- */

char *lh_op_cursor_encode(const char *kind, const char *value)
{
    char *plain = lh_xasprintf("%s:%s", kind, value);
    size_t n = strlen(plain);
    char *b64 = lh_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, (int)n);
    free(plain);
    for (char *p = b64; *p; p++) {
        if (*p == '+') *p = '-';
        else if (*p == '/') *p = '_';
        else if (*p == '=') *p = '\0';
    }
    return b64;
}

char *lh_op_cursor_decode(const char *cursor, const char *kind)
{
    size_t n = strlen(cursor);
    if (n == 0 || n > 4096) return NULL;
    char *b64 = lh_xmalloc(n + 4);
    size_t i = 0;
    for (; i < n; i++) {
        char c = cursor[i];
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            free(b64);
            return NULL;
        }
        b64[i] = c;
    }
    size_t pad = (4 - n % 4) % 4;
    if (pad == 3) {
        free(b64);
        return NULL;
    }
    for (size_t j = 0; j < pad; j++) b64[i++] = '=';
    b64[i] = '\0';
    unsigned char *plain = lh_xmalloc(i + 1);
    int len = EVP_DecodeBlock(plain, (const unsigned char *)b64, (int)i);
    free(b64);
    if (len < 0) {
        free(plain);
        return NULL;
    }
    len -= (int)pad;
    plain[len] = '\0';
    size_t k = strlen(kind);
    char *value = NULL;
    if ((size_t)len == strlen((char *)plain) && (size_t)len > k && !memcmp(plain, kind, k) && plain[k] == ':')
        value = lh_xstrdup((char *)plain + k + 1);
    free(plain);
    return value;
}

void lh_op_page_window(json_t *args, size_t *offset, size_t *limit)
{
    *limit = (size_t)lh_op_int(args, "limit", LH_OP_LIST_DEFAULT);
    *offset = 0;
    const char *cursor = lh_op_str(args, "cursor");
    char *at = cursor ? lh_op_cursor_decode(cursor, "offset") : NULL;
    if (at) *offset = (size_t)strtoull(at, NULL, 10);
    free(at);
}

json_t *lh_op_page_of(json_t *page, const char *list, size_t offset, size_t limit, size_t total)
{
    json_t *out = json_object();
    json_object_set_new(out, list, page);
    if (offset + limit < total) {
        char next[32];
        snprintf(next, sizeof next, "%zu", offset + limit);
        char *c = lh_op_cursor_encode("offset", next);
        json_object_set_new(out, "next", json_string(c));
        free(c);
    }
    return out;
}

json_t *lh_op_page(json_t *items, const char *list, json_t *args)
{
    size_t offset, limit;
    lh_op_page_window(args, &offset, &limit);
    size_t total = json_array_size(items);
    json_t *page = json_array();
    for (size_t i = offset; i < total && i < offset + limit; i++) json_array_append(page, json_array_get(items, i));
    json_decref(items);
    return lh_op_page_of(page, list, offset, limit, total);
}
