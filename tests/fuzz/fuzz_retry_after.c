/*
 * fuzz_retry_after — wr_graph_parse_retry_after (engine/graph/graph) on arbitrary header values:
 * delta-seconds, fractional seconds and the three HTTP-date forms (through curl_getdate), at a
 * fixed "now" so every input gives one answer.
 *
 * Invariant, from graph.h and the cap the client applies: -1, or a delay in 0 .. 24 h.
 */
#include <stdlib.h>

#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"
#include "tests/fuzz/fuzz.h"

/* 2024-01-01T00:00:00.250Z: not a whole second, so date arithmetic is exercised too. */
#define NOW_MS 1704067200250LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = wr_fuzz_strndup(data, size);
    int64_t ms = wr_graph_parse_retry_after(value, NOW_MS);

    if (ms < -1 || ms > WR_GRAPH_RETRY_AFTER_CAP_MS) {
        wr_fuzz_fail("wr_graph_parse_retry_after: a delay outside -1 .. 24 h");
    }
    free(value);
    return 0;
}
