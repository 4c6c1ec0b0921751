/*
 * fuzz_config — wr_config_load (engine/config) on arbitrary weir.yaml contents: srcdoc's YAML
 * parser, the key table, listen addresses, Graph credentials and their references, pacing,
 * batch and run limits. The loader takes a path, so each input is written to weir.yaml in a
 * scratch directory made once; loading never reads the secrets it references, and this target
 * never calls wr_config_read_credentials.
 *
 * Invariants: success gives a config with resolved paths and no message; failure gives no
 * config and at least one message.
 */
#include <stdlib.h>

#include "engine/config.h"
#include "engine/base/diag.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = wr_fuzz_write("weir.yaml", data, size);
    struct wr_config *cfg = NULL;
    struct wr_diags d = {0};

    if (wr_config_load(path, &cfg, &d) == 0) {
        if (cfg == NULL || d.count != 0 || cfg->workflows == NULL || cfg->state == NULL) {
            wr_fuzz_fail("wr_config_load: success without a config, paths, or with messages");
        }
    } else if (cfg != NULL || d.count == 0) {
        wr_fuzz_fail("wr_config_load: failure with a config, or without a message");
    }
    wr_config_free(cfg);
    wr_diags_clear(&d);
    free(path);
    return 0;
}
