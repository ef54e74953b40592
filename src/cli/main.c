/*
 * main.c — the multi-call entry point: `lakehouse <command> [options]`.
 */
#include "cli.h"

#include "lakehouse/lh_version.h"

#include <stdio.h>
#include <string.h>

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", cmd_serve, "run the HTTP server (all modules in one process)"},
    {"ingest", cmd_ingest, "turn CSV, JSON, Parquet, text or PDF files into a dataset version"},
    {"sql", cmd_sql, "run a read-only SQL statement over the datasets and print the result"},
    {"catalog", cmd_catalog, "datasets and versions: list, show, create, rollback, tombstone, ..."},
    {"index", cmd_index, "vector and text indexes: create, refresh, search, promote, rollback, history"},
    {"search", cmd_search, "search a text index by meaning, keywords or both"},
    {"ask", cmd_ask, "answer a question from text indexes, with citations"},
    {"embed", cmd_embed, "embed texts with the configured embedding provider"},
    {"draft", cmd_draft, "drafts: ingest, validate, then publish or discard (write-audit-publish)"},
    {"trial", cmd_trial, "trials: run an index configuration against an evaluation set, list them"},
    {"playbook", cmd_playbook, "playbooks: record completed operations, list, show, retire them"},
    {"pathway", cmd_pathway, "pathways: decision traces: add, revise, retire, history, list, search"},
    {"storage", cmd_storage, "buckets and raw objects"},
    {"workspace", cmd_workspace, "workspaces: create, add, remove, activity, handoff"},
    {"view", cmd_view, "AI-safe views: create, list, show, update, delete"},
    {"profile", cmd_profile, "profiles and API keys: create, list, update, key-create, key-revoke"},
    {"mcp", cmd_mcp, "serve the Model Context Protocol over stdio, for AI agents"},
    {"journal", cmd_journal, "the mutation journal and the error journal"},
    {"sample", cmd_sample, "generate (and ingest) the staffing reference data"},
    {"config", cmd_config, "show the effective configuration and where each value came from"},
    {"version", cmd_version, "print version, commit and DuckDB version"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lakehouse <command> [options]\n\n"
            "Lakehouse %s: a versioned knowledge substrate (datasets, SQL, search).\n\n"
            "commands:\n",
            lh_version());
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'lakehouse <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            for (size_t i = 0; i < N_COMMANDS; i++) {
                if (strcmp(commands[i].name, argv[2]) == 0) {
                    char *help_argv[] = {argv[2], "--help", NULL};
                    return commands[i].fn(2, help_argv);
                }
            }
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) name = "version";
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return commands[i].fn(argc - 1, argv + 1);
    const char *names[N_COMMANDS];
    for (size_t i = 0; i < N_COMMANDS; i++) names[i] = commands[i].name;
    const char *near = lh_cli_nearest(name, names, N_COMMANDS);
    if (near) {
        fprintf(stderr, "lakehouse: unknown command \"%s\"; did you mean \"%s\"?\n", name, near);
        return 2;
    }
    fprintf(stderr, "lakehouse: unknown command \"%s\"\n\n", name);
    usage(stderr);
    return 2;
}
