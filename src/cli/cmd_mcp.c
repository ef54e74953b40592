/*
 * cmd_mcp.c — `lakehouse mcp`: the MCP server over stdio, for agent hosts
 * that start a local process. One JSON-RPC message per line in, one reply
 * per line out; logs go to stderr. The work is lh_mcp_handle's.
 */
#include "cli.h"

#include "lakehouse/lh_mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_API_KEY = OPT_FIRST_PRIVATE, OPT_PROFILE, OPT_ACTOR };

static void help(void)
{
    printf("usage: lakehouse mcp [options]\n\n"
           "Serves the Model Context Protocol over standard input and output, for agent\n"
           "hosts that start a local process: one JSON-RPC message per line in, one reply\n"
           "per line out (logs go to stderr). The same tools, resources and prompts as\n"
           "POST /mcp on `lakehouse serve` (docs/mcp.md).\n\n"
           "options:\n"
           "  --api-key KEY        act as that key's profile (or $LAKEHOUSE_API_KEY)\n"
           "  --profile ID         act as this profile without a key (or $LAKEHOUSE_PROFILE):\n"
           "                       the local operator narrowing itself to what ID may see\n"
           "  --actor NAME         who is calling when acting as the local operator (journal)\n"
           "  neither key nor profile: the local operator (everything)\n" LH_CLI_COMMON_HELP
           "\nexample (an agent host's configuration):\n"
           "  {\"command\": \"lakehouse\", \"args\": [\"mcp\", \"--data\", \"/srv/lakehouse\", \"--profile\", \"analyst\"]}\n");
}

/* Reads one line of at most max bytes into *line (without its newline).
 * Returns its length, -1 at the end of input, -2 when the line was longer
 * (the rest of it is skipped). */
static long long read_line(FILE *in, lh_buf *line, long long max)
{
    lh_buf_reset(line);
    bool over = false, any = false;
    int c;
    while ((c = getc(in)) != EOF) {
        any = true;
        if (c == '\n') break;
        if (over) continue;
        if ((long long)line->len >= max) {
            over = true;
            continue;
        }
        lh_buf_putc(line, (char)c);
    }
    if (!any) return -1;
    if (over) return -2;
    lh_buf_putc(line, '\0');
    line->len--;
    return (long long)line->len;
}

static void send_line(const char *text)
{
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

int cmd_mcp(int argc, char **argv)
{
    static const struct option options[] = {LH_CLI_COMMON_OPTIONS,
                                            {"api-key", required_argument, NULL, OPT_API_KEY},
                                            {"profile", required_argument, NULL, OPT_PROFILE},
                                            {"actor", required_argument, NULL, OPT_ACTOR},
                                            {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "mcp"};
    const char *api_key = NULL, *profile = getenv("LAKEHOUSE_PROFILE"), *actor = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h': help(); return 0;
        case OPT_API_KEY: api_key = optarg; break;
        case OPT_PROFILE: profile = optarg; break;
        case OPT_ACTOR: actor = optarg; break;
        default: lh_cli_common_free(&common); return lh_cli_usage_error("mcp", "unknown option (see --help)");
        }
    }
    if (optind < argc) {
        lh_cli_common_free(&common);
        return lh_cli_usage_error("mcp", "unexpected argument \"%s\"", argv[optind]);
    }
    if (profile && !*profile) profile = NULL;
    lh_config cfg;
    lh_app *app;
    int status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) return status;
    lh_mcp_limits limits = lh_mcp_limits_of(&cfg);
    lh_err err;
    lh_op_ctx call = {.who = lh_cli_who(actor)};
    call.who.source = "mcp";
    /* who is checked now (a bad key or profile stops here) and again per message: revocations hold */
    lh_code rc = lh_cli_identify(app, api_key, &call.who, &err);
    if (rc == LH_OK && profile && !call.who.profile) rc = lh_app_act_as(app, profile, &call.who, &err);
    if (rc) {
        status = lh_cli_fail("mcp", &err);
        lh_cli_close_app(&cfg, app);
        return status;
    }
    bool keyed = call.who.profile != NULL && !profile;
    lh_buf line = {0};
    long long n;
    while ((n = read_line(stdin, &line, limits.max_message_bytes)) != -1) {
        if (n == -2) {
            char *reply = lh_mcp_error_reply(0, "the message is longer than mcp.max_message_bytes");
            send_line(reply);
            free(reply);
            continue;
        }
        if (n == 0) continue;
        if (keyed || profile) {
            lh_who who = lh_cli_who(actor);
            who.source = "mcp";
            rc = keyed ? lh_cli_identify(app, api_key, &who, &err) : lh_app_act_as(app, profile, &who, &err);
            if (rc) {
                char *reply = lh_mcp_error_reply(-32001, err.message);
                send_line(reply);
                free(reply);
                continue;
            }
            call.who = who;
        }
        char *reply = NULL;
        lh_mcp_handle(app, &limits, line.data, (size_t)n, &call, &reply);
        if (reply) send_line(reply);
        free(reply);
    }
    lh_buf_free(&line);
    lh_cli_close_app(&cfg, app);
    return 0;
}
