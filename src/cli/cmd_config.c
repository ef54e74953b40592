/*
 * cmd_config.c — `lakehouse config [show|keys]`: the effective settings and their origin.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void help(void)
{
    size_t n;
    const lh_config_key_info *keys = lh_config_keys(&n);
    printf("usage: lakehouse config [show] [--json] [options]\n"
           "       lakehouse config keys\n\n"
           "show  print the effective configuration (defaults < file < LAKEHOUSE_* env < flags),\n"
           "      each value annotated with where it came from; fails like `serve` would on\n"
           "      a bad file, variable or flag\n"
           "keys  list every setting with its type, default and meaning\n\n"
           "options:\n"
           "  --json               print JSON instead of TOML\n"
           "  --listen HOST:PORT   as for serve (server.listen)\n" LH_CLI_COMMON_HELP
           "\nsettings (environment variable: LAKEHOUSE_<SECTION>_<NAME>):\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-30s %-8s default %-16s %s\n", keys[i].key, keys[i].type,
               keys[i].default_value[0] ? keys[i].default_value : "\"\"", keys[i].help);
}

int cmd_config(int argc, char **argv)
{
    static const struct option options[] = {
        LH_CLI_COMMON_OPTIONS,
        {"json", no_argument, NULL, 'j'},
        {"listen", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "config"};
    bool json = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "hj", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        if (opt == 'h') {
            help();
            return 0;
        }
        if (opt == 'j') {
            json = true;
            continue;
        }
        if (opt == 'l') { /* accepted so `config show` mirrors `serve` exactly */
            lh_cli_override(&common, "server.listen", optarg, "--listen");
            continue;
        }
        return lh_cli_usage_error("config", "unknown option");
    }
    const char *action = optind < argc ? argv[optind] : "show";
    if (optind + 1 < argc) return lh_cli_usage_error("config", "unexpected argument \"%s\"", argv[optind + 1]);
    if (strcmp(action, "keys") == 0) {
        help();
        return 0;
    }
    if (strcmp(action, "show") != 0)
        return lh_cli_usage_error("config", "unknown action \"%s\" (show or keys)", action);
    lh_config cfg;
    int status = lh_cli_load_config(&common, &cfg);
    if (status) {
        lh_cli_common_free(&common);
        return status;
    }
    lh_buf out = {0};
    if (!json && cfg.file) printf("# from %s\n", cfg.file);
    lh_config_dump(&cfg, json, &out);
    fwrite(out.data, 1, out.len, stdout);
    lh_buf_free(&out);
    lh_config_free(&cfg);
    lh_cli_common_free(&common);
    return 0;
}
