/*
 * fuzz_workflow — wr_workflow_parse (engine/lang/workflow) on arbitrary bytes, read both as YAML
 * (x.yaml) and as JSON (x.json): srcdoc's two parsers, the schema checks, every action's and
 * trigger's argument checks, template and `when:` compilation in a fresh Lua sandbox each time.
 *
 * `script:` steps resolve against a scratch directory holding small hooks under the names the
 * seed workflows use (a good one, one with a syntax error, one failing at its top level), so
 * hook loading is covered without reading the source tree. Invariants: a parse succeeds with a
 * workflow and no message, or fails with no workflow and at least one message; a loaded
 * workflow serialises to JSON.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/diag.h"
#include "engine/lang/workflow.h"
#include "tests/fuzz/fuzz.h"

static const char *base_dir;

static void setup(void)
{
    static const char good[] = "function map(event, ctx)\n  return { department = event.x }\nend\n";
    static const char broken[] = "function map(event, ctx)\n  return { x = 1 .. , }\nend\n";
    static const char failing[] = "local d = nil\nlocal c = d.country\n"
                                  "function map(event, ctx) return {} end\n";
    static const char *const good_names[] = {"scripts/ok.lua", "scripts/hr_to_graph.lua",
                                             "scripts/m365_user_csv.lua", "hook.lua"};

    for (size_t i = 0; i < sizeof(good_names) / sizeof(good_names[0]); i++) {
        free(wr_fuzz_write(good_names[i], good, sizeof(good) - 1));
    }
    free(wr_fuzz_write("scripts/broken.lua", broken, sizeof(broken) - 1));
    free(wr_fuzz_write("scripts/top_level_error.lua", failing, sizeof(failing) - 1));
    base_dir = wr_fuzz_scratch_dir();
}

static void parse_as(const char *file, const uint8_t *data, size_t size)
{
    struct wr_diags d = {0};
    struct wr_workflow *wf = NULL;
    int rc = wr_workflow_parse(file, (const char *)data, size, base_dir, NULL, &wf, &d);

    if (rc == 0) {
        char *json;

        if (wf == NULL || d.count != 0) {
            wr_fuzz_fail("wr_workflow_parse: success without a workflow, or with messages");
        }
        json = wr_workflow_to_json(wf);
        if (json == NULL) {
            wr_fuzz_fail("wr_workflow_to_json: NULL for a loaded workflow");
        }
        free(json);
    } else if (wf != NULL || d.count == 0) {
        wr_fuzz_fail("wr_workflow_parse: failure with a workflow, or without a message");
    }
    wr_workflow_free(wf);
    wr_diags_clear(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (base_dir == NULL) {
        setup();
    }
    parse_as("x.yaml", data, size);
    parse_as("x.json", data, size);
    return 0;
}
