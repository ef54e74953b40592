/*
 * cmd_index.c — `lakehouse index ...`: vector indexes, their versions and
 * live pointer, over the same library calls as /v1/vectors/indexes.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_DATASET = OPT_FIRST_PRIVATE, OPT_DATASET_VERSION, OPT_ID, OPT_VECTOR, OPT_METRIC, OPT_M, OPT_EFC,
       OPT_EFS, OPT_QUANT, OPT_SEED, OPT_NO_PROMOTE, OPT_VERSION, OPT_MESSAGE, OPT_ACTOR, OPT_K, OPT_EF, OPT_JSON,
       OPT_TEXT, OPT_TEMPLATE, OPT_PROVIDER, OPT_MODEL, OPT_REFRESH, OPT_FUSION, OPT_WEIGHT };

static void help(void)
{
    printf("usage: lakehouse index <action> [arguments] [options]\n\n"
           "Vector indexes: HNSW graphs built from a dataset's vectors, or from its text\n"
           "embedded by a provider (text indexes, searched with `lakehouse search`), stored\n"
           "as versions next to their embeddings; one version is live (what searches see).\n\n"
           "actions:\n"
           "  list [--json]                     indexes, their live version and size\n"
           "  show NAME                         the live version's manifest and memory\n"
           "  create NAME --dataset D --id COL --vector COL [build options]\n"
           "                                    a new index from a dataset (id: unique integers or\n"
           "                                    strings; vector: a list of numbers per row)\n"
           "  create NAME --dataset D --id COL (--text COL[,COL...] | --template T)\n"
           "         [--provider P] [--model M] [--refresh manual|on_append]\n"
           "                                    a text index: each row's text embedded by provider P\n"
           "                                    (local, hash, ollama, openai; default: ai.provider),\n"
           "                                    with a BM25 index over the same text\n"
           "  refresh [DATASET]                 embed the rows the text indexes over DATASET (or all)\n"
           "                                    have not seen; only new texts are embedded\n"
           "  stale                             indexes behind their dataset's current version\n"
           "  rebuild NAME [--version N] [build options]\n"
           "                                    a new version built again from the embeddings Parquet\n"
           "                                    of version N (default: the live one)\n"
           "  search NAME [--k K] [--ef EF] -- VALUE...\n"
           "                                    nearest neighbours of the vector VALUE... (after\n"
           "                                    \"--\", so that negative values are not options)\n"
           "  promote NAME VERSION              make VERSION live\n"
           "  rollback NAME [VERSION]           back to VERSION (default: the previously live one)\n"
           "  history NAME                      promotions and versions, oldest first\n\n"
           "build options:\n"
           "  --metric l2|cosine|ip             (create; default cosine)\n"
           "  --m M  --ef-construction N  --ef-search N  --seed S\n"
           "  --quantization none|sq8           one byte per dimension in the graph walk\n"
           "  --dataset-version N               (create; default: the current version)\n"
           "  --no-promote                      build without making the new version live\n"
           "  --fusion rrf|weighted  --weight W (text: how hybrid search fuses, W = vector weight)\n"
           "  --message TEXT  --actor NAME\n\n"
           "options:\n" LH_CLI_COMMON_HELP);
}

static void print_list(json_t *list)
{
    printf("%-32s %6s %9s %12s\n", "NAME", "LIVE", "VERSIONS", "VECTORS");
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) {
        printf("%-32s %6lld %9lld %12lld\n", json_string_value(json_object_get(x, "name")),
               (long long)json_integer_value(json_object_get(x, "live")),
               (long long)json_integer_value(json_object_get(x, "versions")),
               (long long)json_integer_value(json_object_get(x, "count")));
    }
}

static void embed_progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    lh_cli_progress_bar("embedding", total ? (double)done / (double)total : 1.0);
}

static bool parse_u32(const char *s, long long min, long long max, uint32_t *out)
{
    long long v;
    if (!lh_cli_parse_int(s, min, &v) || v > max) return false;
    *out = (uint32_t)v;
    return true;
}

int cmd_index(int argc, char **argv)
{
    static const struct option options[] = {
        LH_CLI_COMMON_OPTIONS,
        {"dataset", required_argument, NULL, OPT_DATASET},
        {"dataset-version", required_argument, NULL, OPT_DATASET_VERSION},
        {"id", required_argument, NULL, OPT_ID},
        {"vector", required_argument, NULL, OPT_VECTOR},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"m", required_argument, NULL, OPT_M},
        {"ef-construction", required_argument, NULL, OPT_EFC},
        {"ef-search", required_argument, NULL, OPT_EFS},
        {"quantization", required_argument, NULL, OPT_QUANT},
        {"seed", required_argument, NULL, OPT_SEED},
        {"no-promote", no_argument, NULL, OPT_NO_PROMOTE},
        {"version", required_argument, NULL, OPT_VERSION},
        {"message", required_argument, NULL, OPT_MESSAGE},
        {"actor", required_argument, NULL, OPT_ACTOR},
        {"k", required_argument, NULL, OPT_K},
        {"ef", required_argument, NULL, OPT_EF},
        {"json", no_argument, NULL, OPT_JSON},
        {"text", required_argument, NULL, OPT_TEXT},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"provider", required_argument, NULL, OPT_PROVIDER},
        {"model", required_argument, NULL, OPT_MODEL},
        {"refresh", required_argument, NULL, OPT_REFRESH},
        {"fusion", required_argument, NULL, OPT_FUSION},
        {"weight", required_argument, NULL, OPT_WEIGHT},
        {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "index"};
    lh_vectors_spec spec = {.params.metric = LH_METRIC_COSINE};
    const char *actor = NULL;
    long long k = 10, ef = 0, n;
    bool json = false;
    const char *text_opt[7] = {0}; /* --text --template --provider --model --refresh --fusion --weight */
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h': help(); return 0;
        case OPT_DATASET: spec.dataset = optarg; break;
        case OPT_DATASET_VERSION:
            if (!lh_cli_parse_int(optarg, 1, &n)) return lh_cli_usage_error("index", "--dataset-version expects a positive integer");
            spec.dataset_version = n;
            break;
        case OPT_ID: spec.id_column = optarg; break;
        case OPT_VECTOR: spec.vector_column = optarg; break;
        case OPT_METRIC:
            if (!lh_metric_parse(optarg, &spec.params.metric)) return lh_cli_usage_error("index", "--metric is l2, cosine or ip");
            break;
        case OPT_M:
            if (!parse_u32(optarg, 2, 128, &spec.params.M)) return lh_cli_usage_error("index", "--m expects 2..128");
            break;
        case OPT_EFC:
            if (!parse_u32(optarg, 2, 10000, &spec.params.ef_construction))
                return lh_cli_usage_error("index", "--ef-construction expects 2..10000");
            break;
        case OPT_EFS:
            if (!parse_u32(optarg, 1, 10000, &spec.params.ef_search))
                return lh_cli_usage_error("index", "--ef-search expects 1..10000");
            break;
        case OPT_QUANT:
            if (strcmp(optarg, "none") && strcmp(optarg, "sq8")) return lh_cli_usage_error("index", "--quantization is none or sq8");
            spec.params.quantization = strcmp(optarg, "sq8") == 0 ? LH_QUANT_SQ8 : LH_QUANT_NONE;
            spec.params_set_quantization = true;
            break;
        case OPT_SEED:
            if (!lh_cli_parse_int(optarg, 0, &n)) return lh_cli_usage_error("index", "--seed expects a number");
            spec.params.seed = (uint64_t)n;
            break;
        case OPT_NO_PROMOTE: spec.no_promote = true; break;
        case OPT_VERSION:
            if (!lh_cli_parse_int(optarg, 1, &n)) return lh_cli_usage_error("index", "--version expects a positive integer");
            spec.version = n;
            break;
        case OPT_MESSAGE: spec.message = optarg; break;
        case OPT_ACTOR: actor = optarg; break;
        case OPT_K:
            if (!lh_cli_parse_int(optarg, 1, &k) || k > LH_VINDEX_MAX_K) return lh_cli_usage_error("index", "--k expects 1..%d", LH_VINDEX_MAX_K);
            break;
        case OPT_EF:
            if (!lh_cli_parse_int(optarg, 0, &ef) || ef > 10000) return lh_cli_usage_error("index", "--ef expects 0..10000");
            break;
        case OPT_JSON: json = true; break;
        case OPT_TEXT: case OPT_TEMPLATE: case OPT_PROVIDER: case OPT_MODEL: case OPT_REFRESH: case OPT_FUSION:
        case OPT_WEIGHT: text_opt[opt - OPT_TEXT] = optarg; break;
        default: return lh_cli_usage_error("index", "unknown option");
        }
    }
    static const lh_cli_action actions[] = {
        {"list", 0, 0},    {"show", 1, 1},                        {"create", 1, 1},  {"rebuild", 1, 1},
        {"search", 2, LH_HNSW_MAX_DIM + 1}, {"promote", 2, 2}, {"rollback", 1, 2}, {"history", 1, 1},
        {"refresh", 0, 1}, {"stale", 0, 0}};
    char **args;
    int nargs;
    const char *action = lh_cli_action_pick("index", actions, sizeof actions / sizeof *actions, argc, argv, &args, &nargs);
    if (!action) return 2;
    json_t *text = NULL; /* the text index settings, as the HTTP API takes them */
    if (!spec.vector_column) {
        static const char *const keys[7] = {"columns", "template", "provider", "model", "refresh", "fusion", "weight"};
        for (int i = 0; i < 7; i++) {
            if (!text_opt[i]) continue;
            char *end = NULL;
            json_t *x = i == 6 ? json_real(strtod(text_opt[i], &end)) : json_string(text_opt[i]);
            if (i == 0) { /* a,b,c */
                json_decref(x);
                x = json_array();
                char *cols = lh_xstrdup(text_opt[0]);
                for (char *save = NULL, *c = strtok_r(cols, ",", &save); c; c = strtok_r(NULL, ",", &save))
                    json_array_append_new(x, json_string(c));
                free(cols);
            }
            if (i == 6 && *end) {
                json_decref(x);
                json_decref(text);
                return lh_cli_usage_error("index", "--weight expects a number in 0..1");
            }
            if (!text) text = json_object();
            json_object_set_new(text, keys[i], x);
        }
        spec.text = text;
        if (text && isatty(2)) spec.progress = embed_progress;
    }
    long long version = 0;
    if ((!strcmp(action, "promote") || (!strcmp(action, "rollback") && nargs == 2)) &&
        !lh_cli_parse_int(args[1], 1, &version))
        return lh_cli_usage_error("index", "VERSION must be a positive integer, got \"%s\"", args[1]);
    if (!strcmp(action, "create") && (!spec.dataset || !spec.id_column || (!spec.vector_column && !spec.text))) {
        json_decref(text);
        return lh_cli_usage_error("index", "create needs --dataset, --id and --vector (or --text / --template)");
    }
    float *query = NULL;
    if (!strcmp(action, "search")) {
        query = lh_xmalloc((size_t)(nargs - 1) * sizeof *query);
        for (int i = 1; i < nargs; i++) {
            char *end;
            query[i - 1] = strtof(args[i], &end);
            if (end == args[i] || *end) {
                free(query);
                return lh_cli_usage_error("index", "\"%s\" is not a number", args[i]);
            }
        }
    }

    lh_config cfg;
    lh_app *app;
    int status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) {
        free(query);
        json_decref(text);
        return status;
    }
    lh_vectors *v = lh_app_vectors(app);
    lh_who who = lh_cli_who(actor);
    lh_err err;
    lh_code rc;
    json_t *out = NULL;
    if (!strcmp(action, "list")) {
        rc = lh_vectors_list(v, &out, &err);
        if (rc == LH_OK && !json) {
            print_list(out);
            json_decref(out);
            out = NULL;
        }
    } else if (!strcmp(action, "show")) {
        rc = lh_vectors_get(v, args[0], &out, &err);
    } else if (!strcmp(action, "create")) {
        rc = lh_vectors_create(v, args[0], &spec, &who, &out, &err);
    } else if (!strcmp(action, "rebuild")) {
        rc = lh_vectors_rebuild(v, args[0], &spec, &who, &out, &err);
    } else if (!strcmp(action, "search")) {
        rc = lh_vectors_search(v, args[0], query, (size_t)(nargs - 1), (size_t)k, (size_t)ef, NULL, &out, &err);
    } else if (!strcmp(action, "refresh")) {
        rc = lh_vectors_refresh(v, nargs ? args[0] : NULL, &who, &out, &err);
    } else if (!strcmp(action, "stale")) {
        rc = lh_vectors_stale(v, &out, &err);
    } else if (!strcmp(action, "promote")) {
        rc = lh_vectors_promote(v, args[0], version, spec.message, &who, &out, &err);
    } else if (!strcmp(action, "rollback")) {
        rc = lh_vectors_rollback(v, args[0], version, spec.message, &who, &out, &err);
    } else {
        rc = lh_vectors_history(v, args[0], &out, &err);
    }
    if (out) {
        lh_cli_print_json(out);
        json_decref(out);
    }
    free(query);
    json_decref(text);
    status = rc ? lh_cli_fail("index", &err) : 0;
    lh_cli_close_app(&cfg, app);
    return status;
}
