/*
 * lh_op.h — the operation table: every operation an edge offers, described once.
 *
 * An operation ("catalog.commit", "index.search", ...) has a name, a
 * summary, parameters (type, required, enum choices, bounds) and the
 * function that runs it (lh_app_call in lh_app.h). lh_op_check() holds a
 * call's arguments against the description — unknown fields, missing ones,
 * types, bounds and choices are LH_EINVAL naming the field — so no edge
 * parses an enum or writes a limit of its own: the HTTP route table,
 * /v1/openapi.json, the CLI's flags and help (and MCP's tools, the UI's
 * forms) are generated from this table.
 *
 * Lists page: an operation with `list` set takes `limit` and `cursor` and
 * answers {<list>: [...], next: "<opaque cursor>" (absent on the last page)}.
 */
#ifndef LH_OP_H
#define LH_OP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_err.h"

typedef struct lh_app lh_app;

typedef enum lh_op_type {
    LH_OP_STRING,
    LH_OP_INT,
    LH_OP_NUMBER,
    LH_OP_BOOL,
    LH_OP_STRINGS, /* an array of strings (CLI: comma-separated or repeated) */
    LH_OP_NUMBERS, /* an array of numbers */
    LH_OP_ARRAY,   /* any JSON array */
    LH_OP_OBJECT,  /* any JSON object */
    LH_OP_ANY,     /* any JSON value */
} lh_op_type;

typedef struct lh_op_param {
    const char *name;
    lh_op_type type;
    bool required;
    const char *const *choices; /* NULL-terminated allowed strings, or NULL */
    double min, max;            /* bounds for INT / NUMBER (and element count for arrays); max 0: none */
    const char *help;
} lh_op_param;

/* What a call carries besides its arguments. */
typedef struct lh_op_ctx {
    lh_who who;
    /* long operations (ingest, embedding) report the fraction done of `what`; may be NULL */
    void (*progress)(void *ctx, const char *what, double done);
    void *progress_ctx;
} lh_op_ctx;

/* What an operation needs of its caller (lh_profile.h: a profile's scopes
 * are a set of READ..ADMIN; ADMIN holds every other). */
typedef enum lh_scope {
    LH_SCOPE_UNSET = 0,  /* never in the table: test_app checks every op declares one */
    LH_SCOPE_ANY = 1,    /* any caller let in (system.version, profiles.me) */
    LH_SCOPE_READ = 2,   /* SQL, search, ask and listings over bound objects */
    LH_SCOPE_INGEST = 4, /* new data into bound datasets */
    LH_SCOPE_MANAGE = 8, /* catalog changes, rollback, tombstones, indexes */
    LH_SCOPE_ADMIN = 16, /* profiles, keys, buckets, raw storage, the journals' totals */
} lh_scope;

typedef struct lh_op {
    const char *name;    /* "catalog.commit" */
    const char *summary; /* one line */
    const lh_op_param *params; /* terminated by an entry with name NULL */
    const char *list;    /* a paged list: the member holding the items ("datasets"), else NULL */
    const char *columns; /* for tables: the item (or result) fields to show, comma-separated */
    bool mutates;
    /* args: checked, borrowed. *out: a new reference. NULL for operations
     * whose body is not JSON (object bytes, uploads, streamed SQL): their
     * edges call the dedicated functions below after lh_op_check. */
    lh_code (*run)(lh_app *app, json_t *args, const lh_op_ctx *call, json_t **out, lh_err *err);
    lh_scope scope; /* what the caller needs (lh_app_authorize) */
    /* the arguments naming the objects the call touches, checked against a
     * profile's bindings: "dataset:name", "index:index,indexes", "entity:entity_id",
     * several kinds joined by ';' ("index:name;dataset:dataset");
     * NULL: none (listings filter their items instead) */
    const char *binds;
} lh_op;

/* Every operation, in a stable order. */
const lh_op *lh_op_all(size_t *n);
/* The operation named name, or NULL. */
const lh_op *lh_op_find(const char *name);

/* Checks args (a JSON object, borrowed) against op's parameters: unknown
 * fields, missing required ones, types, bounds and choices. A list
 * operation's limit (1..LH_OP_LIST_MAX, default LH_OP_LIST_DEFAULT) and cursor
 * are checked too. */
lh_code lh_op_check(const lh_op *op, json_t *args, lh_err *err);

/* Sets argument `name` of op from text (a query string, a CLI flag): typed
 * by the parameter (integers, numbers, true/false/1/0 — "" is true for a
 * bare flag —, comma-separated or repeated lists, JSON for arrays and
 * objects). LH_EINVAL for an unknown name, a bad value, or a scalar given twice. */
lh_code lh_op_set_text(const lh_op *op, json_t *args, const char *name, const char *text, lh_err *err);

/* The allowed values of the enum parameters (NULL-terminated); each module's
 * parser accepts exactly these (test_app checks it). */
extern const char *const lh_op_choices_commit_mode[], *const lh_op_choices_metric[], *const lh_op_choices_quantization[],
    *const lh_op_choices_search_mode[], *const lh_op_choices_fusion[], *const lh_op_choices_eval[], *const lh_op_choices_refresh[],
    *const lh_op_choices_sql_format[], *const lh_op_choices_ingest_format[], *const lh_op_choices_workspace_item[],
    *const lh_op_choices_draft_format[], *const lh_op_choices_decimal[], *const lh_op_choices_encoding[];

#define LH_OP_LIST_DEFAULT 100
#define LH_OP_LIST_MAX 10000

/* Typed views of checked arguments (absent or null -> def / NULL). */
const char *lh_op_str(json_t *args, const char *name);
long long lh_op_int(json_t *args, const char *name, long long def);
double lh_op_num(json_t *args, const char *name, double def);
bool lh_op_bool(json_t *args, const char *name, bool def);

/* Opaque list cursors: base64url of "<kind>:<value>" (malloc'd). */
char *lh_op_cursor_encode(const char *kind, const char *value);
/* The value of a cursor of this kind (malloc'd), or NULL when it is not one (untrusted input). */
char *lh_op_cursor_decode(const char *cursor, const char *kind);

/* Pages an array of items (stolen) into {list: items[offset..offset+limit),
 * next?} by the args' limit and cursor (an opaque offset). */
json_t *lh_op_page(json_t *items, const char *list, json_t *args);
/* The same in two steps, for lists read a page at a time: the window the
 * args ask for, then {list: page (stolen), next?} out of total items. */
void lh_op_page_window(json_t *args, size_t *offset, size_t *limit);
json_t *lh_op_page_of(json_t *page, const char *list, size_t offset, size_t limit, size_t total);

#endif
