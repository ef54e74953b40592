/*
 * fuzz_config.c — libFuzzer target for the lakehouse.toml parser.
 * Any input must either parse or fail with LH_EINVAL and a message; never crash or leak.
 */
#include "lakehouse/lh_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lh_config c;
    lh_err err;
    lh_config_init_defaults(&c);
    lh_code rc = lh_config_parse_text(&c, "fuzz.toml", (const char *)data, size, &err);
    if (rc != LH_OK && (rc != LH_EINVAL || strncmp(err.message, "fuzz.toml:", 10) != 0)) abort();
    lh_buf dump = {0};
    lh_config_dump(&c, true, &dump);
    lh_buf_free(&dump);
    lh_config_free(&c);
    return 0;
}
