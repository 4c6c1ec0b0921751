/*
 * sim — the e2e tests' driver for graphsim, the simulated Microsoft Graph and identity
 * platform (tests/graphsim).
 *
 * It offers:
 *   - sim_start: fork/exec graphsim on 127.0.0.1:0 with a seed and extra flags, read the port
 *     it prints ("graphsim listening on 127.0.0.1:PORT") and fill in the authority and Graph
 *     base URL for wr_graph_options; graphsim gets SIGTERM should the test process die;
 *   - sim_stop: SIGTERM, wait, and check graphsim exited 0 (the sanitizer build's graphsim
 *     checks its own leaks);
 *   - blocking libcurl calls to graphsim's /_sim endpoints, for use between event loop runs:
 *     sim_call (any method and path), sim_stat (one number of /_sim/stats), sim_log (the
 *     request log), sim_requests_since and sim_last_seq (the log as "METHOD path" lines and
 *     its last seq), sim_user (one user as graphsim holds it) and sim_state_text (the whole
 *     tenant, serialised).
 *
 * Failures are cmocka assertions. The caller initialises libcurl (curl_global_init) and
 * ignores SIGPIPE.
 */
#ifndef WEIR_TESTS_E2E_SIM_H
#define WEIR_TESTS_E2E_SIM_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct json_object;

/* At most this many extra arguments are passed to graphsim. */
#define SIM_MAX_EXTRA 16

/* One graphsim process. */
struct sim {
    pid_t pid;
    FILE *out; /* its stdout, kept open so a late write cannot SIGPIPE it */
    int port;
    char authority[64]; /* "http://127.0.0.1:PORT" */
    char base_url[80];  /* "http://127.0.0.1:PORT/v1.0" */
};

/*
 * Starts graphsim (the executable at path) on 127.0.0.1:0 with --seed seed and the extra
 * arguments (NULL-terminated; extra itself may be NULL) and waits for its port.
 */
void sim_start(struct sim *s, const char *path, const char *seed, const char *const *extra);

/* SIGTERM, wait; 0 when graphsim exited 0 (or was not running), -1 otherwise. */
int sim_stop(struct sim *s);

/*
 * Blocking request to graphsim (path starts with '/'); the parsed JSON reply (owned) or NULL
 * when the body is empty or not JSON. status, when not NULL, receives the HTTP status.
 */
struct json_object *sim_call(const struct sim *s, const char *method, const char *path,
                             long *status);

/* The same with a JSON request body (borrowed; NULL = none), e.g. for POST /_sim/faults. */
struct json_object *sim_call_body(const struct sim *s, const char *method, const char *path,
                                  const char *json, long *status);

/* One number from /_sim/stats; the key must be there. */
int64_t sim_stat(const struct sim *s, const char *key);

/* The request log's entries (owned array). */
struct json_object *sim_log(const struct sim *s);

/* The request log's methods and paths since seq `since`, as "METHOD path" lines (owned). */
char *sim_requests_since(const struct sim *s, int64_t since);

/* The request log's last seq, 0 when it is empty. */
int64_t sim_last_seq(const struct sim *s);

/* The simulator's full view of one user (owned), or NULL when it does not exist. */
struct json_object *sim_user(const struct sim *s, const char *ref);

/* The whole tenant (/_sim/state) as plain JSON text (owned). */
char *sim_state_text(const struct sim *s);

#endif
