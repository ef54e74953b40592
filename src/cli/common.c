/*
 * common.c — option handling and configuration loading shared by subcommands.
 */
#include "cli.h"

#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

void lh_cli_override(lh_cli_common *c, const char *key, const char *value, const char *origin)
{
    if (c->n_overrides == LH_CLI_MAX_OVERRIDES) {
        fprintf(stderr, "lakehouse %s: too many setting flags\n", c->cmd);
        exit(2);
    }
    c->overrides[c->n_overrides++] = (lh_config_override){key, value, origin};
}

bool lh_cli_common_option(lh_cli_common *c, int opt, const char *arg)
{
    switch (opt) {
    case OPT_CONFIG: c->config_file = arg; return true;
    case OPT_DATA: lh_cli_override(c, "storage.data_dir", arg, "--data"); return true;
    case OPT_LOG_LEVEL: lh_cli_override(c, "log.level", arg, "--log-level"); return true;
    case OPT_SET: {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg) {
            fprintf(stderr, "lakehouse %s: --set expects KEY=VALUE, got \"%s\"\n", c->cmd, arg);
            exit(2);
        }
        if (c->n_owned == LH_CLI_MAX_OVERRIDES) {
            fprintf(stderr, "lakehouse %s: too many --set flags\n", c->cmd);
            exit(2);
        }
        char *key = lh_xstrndup(arg, (size_t)(eq - arg));
        c->owned[c->n_owned++] = key;
        lh_cli_override(c, key, eq + 1, "--set");
        return true;
    }
    default: return false;
    }
}

int lh_cli_common_flag(const char *name)
{
    static const struct {
        const char *name;
        int opt;
    } flags[] = {{"config", OPT_CONFIG}, {"data", OPT_DATA}, {"set", OPT_SET}, {"log-level", OPT_LOG_LEVEL}};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (!strcmp(flags[i].name, name)) return flags[i].opt;
    return 0;
}

int lh_cli_load_config(lh_cli_common *c, lh_config *cfg)
{
    lh_err err;
    if (lh_config_load(cfg, c->config_file, environ, c->overrides, c->n_overrides, &err)) {
        lh_config_free(cfg);
        return lh_cli_fail(c->cmd, &err);
    }
    lh_log_level level;
    lh_log_format format;
    lh_log_level_parse(cfg->log_level, &level);
    lh_log_format_parse(cfg->log_format, &format);
    /* one-shot commands print results, not progress: only warnings unless asked */
    size_t n;
    const lh_config_key_info *keys = lh_config_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i].key, "log.level") && cfg->source[i] == LH_CONFIG_DEFAULT && strcmp(c->cmd, "serve") != 0)
            level = LH_LOG_WARN;
    lh_log_configure(level, format, 2);
    return 0;
}

void lh_cli_common_free(lh_cli_common *c)
{
    for (size_t i = 0; i < c->n_owned; i++) free(c->owned[i]);
    c->n_owned = 0;
}

bool lh_cli_parse_int(const char *s, long long min, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min) return false;
    *out = v;
    return true;
}

void lh_cli_put_message(FILE *f, const char *message)
{
    for (const unsigned char *p = (const unsigned char *)message; *p; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7F) fprintf(f, "\\x%02X", *p);
        else fputc(*p, f);
    }
}

int lh_cli_fail(const char *cmd, const lh_err *err)
{
    fprintf(stderr, "lakehouse %s: ", cmd);
    lh_cli_put_message(stderr, err->message);
    fputc('\n', stderr);
    return lh_code_exit_status(err->code);
}

int lh_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char message[LH_ERR_MESSAGE_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fprintf(stderr, "lakehouse %s: ", cmd);
    lh_cli_put_message(stderr, message);
    fprintf(stderr, "\n(see lakehouse %s --help)\n", cmd);
    return 2;
}

void lh_cli_progress_bar(const char *label, double done)
{
    int width = 30, filled = (int)(done * width + 0.5);
    if (filled > width) filled = width;
    fprintf(stderr, "\r%-32.32s [", label);
    for (int i = 0; i < width; i++) fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %3.0f%%", done * 100);
    if (done >= 1.0) fputc('\n', stderr);
    fflush(stderr);
}
