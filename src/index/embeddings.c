/*
 * embeddings.c — embeddings Parquet in and out, through DuckDB: the rows an
 * index version is built from (an id and a FLOAT[] per row), read with every
 * check a build needs, and written back as zstd Parquet.
 */
#include "embeddings.h"

#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_query_duckdb.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void emb_rows_free(emb_rows *r)
{
    lh_idtab_free(r->ids);
    free(r->vecs);
    for (size_t i = 0; i < r->ntexts; i++) free(r->texts[i]);
    free(r->texts);
}

static void push_text(emb_rows *r, const char *s, size_t len)
{
    if (r->ntexts == r->tcap) {
        r->tcap = r->tcap ? r->tcap * 2 : 4096;
        r->texts = lh_xrealloc(r->texts, r->tcap * sizeof *r->texts);
    }
    r->texts[r->ntexts++] = lh_xstrndup(s, len);
}

static lh_code push_vector(emb_rows *r, const float *x, size_t len, lh_err *err)
{
    if (r->dim == 0) {
        if (len == 0 || len > LH_HNSW_MAX_DIM)
            return lh_err_set(err, LH_EINVAL, "vectors must have 1..%d values, not %zu", LH_HNSW_MAX_DIM, len);
        r->dim = (uint32_t)len;
    }
    if (len != r->dim)
        return lh_err_set(err, LH_EINVAL, "a vector has %zu values where the others have %u", len, r->dim);
    for (size_t j = 0; j < len; j++)
        if (!isfinite(x[j])) return lh_err_set(err, LH_EINVAL, "a vector holds a non-finite value (NaN or infinity)");
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4096;
        r->vecs = lh_xrealloc(r->vecs, r->cap * r->dim * sizeof(float));
    }
    memcpy(r->vecs + r->n * r->dim, x, len * sizeof(float));
    r->n++;
    return LH_OK;
}

static void describe_id(lh_buf *b, duckdb_vector idv, bool strings, idx_t row)
{
    if (strings) {
        duckdb_string_t *s = &((duckdb_string_t *)duckdb_vector_get_data(idv))[row];
        lh_buf_printf(b, "\"%.*s\"", (int)(duckdb_string_t_length(*s) > 100 ? 100 : duckdb_string_t_length(*s)),
                      duckdb_string_t_data(s));
    } else {
        lh_buf_printf(b, "%" PRId64, ((int64_t *)duckdb_vector_get_data(idv))[row]);
    }
}

static lh_code read_rows(duckdb_connection conn, lh_query_lease *lease, const char *sql, int what, emb_rows *r,
                         lh_err *err)
{
    duckdb_result res;
    if (duckdb_query(conn, sql, &res) == DuckDBError) {
        lh_code rc = lh_query_lease_timed_out(lease) ? lh_err_set(err, LH_ETIMEOUT, "reading embeddings timed out")
                                                     : lh_err_set(err, LH_EINVAL, "%s", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc;
    }
    bool strings = lh_idtab_strings(r->ids);
    lh_code rc = LH_OK;
    size_t row_no = 0;
    duckdb_data_chunk chunk;
    while (rc == LH_OK && (chunk = duckdb_fetch_chunk(res))) {
        idx_t n = duckdb_data_chunk_get_size(chunk);
        duckdb_vector idv = duckdb_data_chunk_get_vector(chunk, 0);
        uint64_t *idvalid = duckdb_vector_get_validity(idv);
        duckdb_vector lv = what & EMB_VECTORS ? duckdb_data_chunk_get_vector(chunk, 1) : NULL;
        duckdb_vector tv = what & EMB_TEXT ? duckdb_data_chunk_get_vector(chunk, lv ? 2 : 1) : NULL;
        uint64_t *tvalid = tv ? duckdb_vector_get_validity(tv) : NULL;
        duckdb_string_t *ts = tv ? duckdb_vector_get_data(tv) : NULL;
        uint64_t *lvalid = lv ? duckdb_vector_get_validity(lv) : NULL;
        duckdb_list_entry *le = lv ? duckdb_vector_get_data(lv) : NULL;
        duckdb_vector child = lv ? duckdb_list_vector_get_child(lv) : NULL;
        float *cf = child ? duckdb_vector_get_data(child) : NULL;
        uint64_t *cvalid = child ? duckdb_vector_get_validity(child) : NULL;
        for (idx_t i = 0; rc == LH_OK && i < n; i++, row_no++) {
            if (idvalid && !duckdb_validity_row_is_valid(idvalid, i)) {
                rc = lh_err_set(err, LH_EINVAL, "row %zu has no id (ids must be non-null)", row_no + 1);
                break;
            }
            bool no_text = tv && ((tvalid && !duckdb_validity_row_is_valid(tvalid, i)) ||
                                  duckdb_string_t_length(ts[i]) == 0);
            if (lv ? lvalid && !duckdb_validity_row_is_valid(lvalid, i) : no_text) {
                r->skipped++;
                continue;
            }
            lh_id id = {0};
            if (strings) {
                duckdb_string_t *s = &((duckdb_string_t *)duckdb_vector_get_data(idv))[i];
                id = (lh_id){.s = duckdb_string_t_data(s), .len = duckdb_string_t_length(*s)};
            } else {
                id.i = ((int64_t *)duckdb_vector_get_data(idv))[i];
            }
            if (lv) {
                for (idx_t j = 0; cvalid && j < le[i].length; j++)
                    if (!duckdb_validity_row_is_valid(cvalid, le[i].offset + j)) {
                        rc = lh_err_set(err, LH_EINVAL, "a vector holds a NULL value");
                        break;
                    }
                if (rc == LH_OK) rc = push_vector(r, cf + le[i].offset, le[i].length, err);
            }
            uint64_t label;
            if (rc == LH_OK) rc = lh_idtab_add(r->ids, id, &label, err);
            if (rc == LH_OK && tv)
                no_text ? push_text(r, "", 0) : push_text(r, duckdb_string_t_data(&ts[i]), duckdb_string_t_length(ts[i]));
            if (rc) {
                lh_buf where = {0};
                describe_id(&where, idv, strings, i);
                lh_err_wrap(err, "row %zu (id %s)", row_no + 1, where.data);
                lh_buf_free(&where);
            }
        }
        duckdb_destroy_data_chunk(&chunk);
    }
    duckdb_destroy_result(&res);
    return rc;
}

lh_code emb_read(lh_query_engine *engine, const char *sql, int what, emb_rows *r, lh_err *err)
{
    lh_query_lease *lease;
    lh_code rc = lh_query_lease_acquire(engine, 0, &lease, err);
    if (rc) return rc;
    rc = read_rows(lh_query_lease_connection(lease), lease, sql, what, r, err);
    lh_query_lease_release(lease);
    return rc;
}

lh_code emb_write(lh_query_engine *engine, const char *path, const lh_idtab *ids, size_t first, const float *vecs,
                  size_t n, uint32_t dim, char *const *texts, const char *source, lh_err *err)
{
    lh_query_lease *lease;
    lh_code rc = lh_query_lease_acquire(engine, 0, &lease, err);
    if (rc) return rc;
    duckdb_connection conn = lh_query_lease_connection(lease);
    bool strings = lh_idtab_strings(ids);
    char *ddl = lh_xasprintf("CREATE OR REPLACE TEMP TABLE lh_emb (id %s, vector FLOAT[]%s)",
                             strings ? "VARCHAR" : "BIGINT", texts ? ", chunk_text VARCHAR, source VARCHAR" : "");
    rc = lh_query_exec(conn, lease, ddl, err);
    free(ddl);
    size_t ncols = texts ? 4 : 2;
    duckdb_appender app = NULL;
    if (rc == LH_OK && duckdb_appender_create(conn, NULL, "lh_emb", &app) == DuckDBError)
        rc = lh_err_set(err, LH_EINTERNAL, "cannot append embeddings");
    duckdb_logical_type ft = duckdb_create_logical_type(DUCKDB_TYPE_FLOAT);
    duckdb_logical_type types[4] = {duckdb_create_logical_type(strings ? DUCKDB_TYPE_VARCHAR : DUCKDB_TYPE_BIGINT),
                                    duckdb_create_list_type(ft), duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR),
                                    duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR)};
    duckdb_data_chunk chunk = duckdb_create_data_chunk(types, ncols);
    size_t cap = (size_t)duckdb_vector_size();
    for (size_t done = 0; rc == LH_OK && done < n;) {
        size_t m = n - done < cap ? n - done : cap;
        duckdb_data_chunk_reset(chunk);
        duckdb_vector idv = duckdb_data_chunk_get_vector(chunk, 0), lv = duckdb_data_chunk_get_vector(chunk, 1);
        duckdb_list_vector_reserve(lv, m * dim);
        duckdb_list_vector_set_size(lv, m * dim);
        float *cf = duckdb_vector_get_data(duckdb_list_vector_get_child(lv));
        duckdb_list_entry *le = duckdb_vector_get_data(lv);
        for (size_t i = 0; i < m; i++) {
            lh_id id = lh_idtab_get(ids, first + done + i);
            if (strings) duckdb_vector_assign_string_element_len(idv, i, id.s, id.len);
            else ((int64_t *)duckdb_vector_get_data(idv))[i] = id.i;
            le[i] = (duckdb_list_entry){.offset = i * dim, .length = dim};
            memcpy(cf + i * dim, vecs + (done + i) * dim, dim * sizeof(float));
            if (texts) {
                duckdb_vector_assign_string_element(duckdb_data_chunk_get_vector(chunk, 2), i, texts[done + i]);
                duckdb_vector_assign_string_element(duckdb_data_chunk_get_vector(chunk, 3), i, source ? source : "");
            }
        }
        duckdb_data_chunk_set_size(chunk, m);
        if (duckdb_append_data_chunk(app, chunk) == DuckDBError)
            rc = lh_err_set(err, LH_EINTERNAL, "appending embeddings: %s", duckdb_appender_error(app));
        done += m;
    }
    duckdb_destroy_data_chunk(&chunk);
    for (size_t i = 0; i < 4; i++) duckdb_destroy_logical_type(&types[i]);
    duckdb_destroy_logical_type(&ft);
    if (app && duckdb_appender_destroy(&app) == DuckDBError && rc == LH_OK)
        rc = lh_err_set(err, LH_EINTERNAL, "cannot append embeddings");
    if (rc == LH_OK) {
        lh_buf sql = {0};
        lh_buf_puts(&sql, "COPY lh_emb TO ");
        lh_sql_quote_literal(&sql, path);
        lh_buf_puts(&sql, " (FORMAT parquet, COMPRESSION zstd)");
        rc = lh_query_exec(conn, lease, sql.data, err);
        lh_buf_free(&sql);
    }
    lh_err ignored;
    lh_query_exec(conn, NULL, "DROP TABLE IF EXISTS lh_emb", &ignored);
    lh_query_lease_release(lease);
    return rc;
}

