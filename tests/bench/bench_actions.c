/*
 * bench_actions — update-user actions per second against graphsim, with and without $batch.
 *
 * Starts build/graphsim with N synthetic users, then runs N update-user actions (each a real
 * change: a new jobTitle) through weir's own runner, Graph client and directory, all issued
 * in the same loop turn, and reports completed actions per second twice: with $batch (up to
 * 20 requests per call) and without. Each action is a lookup (GET with $select) and a PATCH,
 * so the simulator sees 2N requests without batching. Pacing is off, as the issue asks.
 *
 * Usage: bench_actions GRAPHSIM SEED [N]
 */
#include <event2/event.h>
#include <fcntl.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/strutil.h"
#include "engine/exec/action_run.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"

struct run {
    struct event_base *base;
    int n, done, ok;
    char first_error[512];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t start_graphsim(const char *bin, const char *seed, int users, int *port)
{
    int fds[2];
    char n[32];
    if (pipe(fds) != 0) {
        return -1;
    }
    snprintf(n, sizeof(n), "%d", users);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        int devnull = open("/dev/null", 1);
        dup2(devnull, 2);
        execl(bin, bin, "--listen", "127.0.0.1:0", "--seed", seed, "--generate-users", n,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256];
    *port = 0;
    if (f && fgets(line, sizeof(line), f)) {
        const char *colon = strrchr(line, ':');
        *port = colon ? atoi(colon + 1) : 0;
    }
    if (f) {
        fclose(f);
    }
    return pid;
}

static void on_done(void *arg, const struct wr_action_outcome *out)
{
    struct run *r = arg;
    r->done++;
    if (out->ok) {
        r->ok++;
    } else if (!r->first_error[0]) {
        snprintf(r->first_error, sizeof(r->first_error), "%s", out->error);
    }
    if (r->done == r->n) {
        event_base_loopexit(r->base, NULL);
    }
}

/* Runs n update-user actions; returns actions/s, or -1. */
static double run_once(int port, int n, bool batch, const char *tag)
{
    struct event_base *base = event_base_new();
    char authority[64], base_url[80], err[WR_ERR_MAX];
    snprintf(authority, sizeof(authority), "http://127.0.0.1:%d", port);
    snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d/v1.0", port);
    struct wr_graph_options go = {
        .authority = authority,
        .tenant = "contoso.onmicrosoft.com",
        .client_id = "00000000-0000-0000-0000-000000000001",
        .client_secret = "sim-secret",
        .base_url = base_url,
        .max_concurrency = 16,
        .batch_max = batch ? 20 : -1,
        .writes_per_150s = -1,
    };
    struct wr_graph *g = wr_graph_new(base, &go, err, sizeof(err));
    struct wr_directory_options dopt = {.base_url = base_url};
    struct wr_directory *dir = g ? wr_directory_new(base, g, &dopt) : NULL;
    if (!dir) {
        fprintf(stderr, "bench_actions: %s\n", err);
        return -1;
    }
    struct wr_action_env env = {.base = base, .graph = g, .dir = dir};
    struct run r = {base, n, 0, 0, ""};
    extern const struct wr_action wr_action_update_user;
    struct json_object **args = calloc((size_t)n, sizeof(*args));
    for (int i = 0; i < n; i++) {
        char upn[64], title[64];
        snprintf(upn, sizeof(upn), "synth%06d@contoso.onmicrosoft.com", i + 1);
        snprintf(title, sizeof(title), "%s title %d", tag, i);
        args[i] = json_object_new_object();
        json_object_object_add(args[i], "user", json_object_new_string(upn));
        struct json_object *set = json_object_new_object();
        json_object_object_add(set, "jobTitle", json_object_new_string(title));
        json_object_object_add(args[i], "set", set);
    }
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        wr_action_start(&env, &wr_action_update_user, args[i], on_done, &r);
    }
    event_base_dispatch(base);
    double secs = now_s() - t0;
    for (int i = 0; i < n; i++) {
        json_object_put(args[i]);
    }
    free(args);
    struct wr_graph_stats st;
    wr_graph_get_stats(g, &st);
    wr_graph_free(g);
    wr_directory_free(dir);
    event_base_free(base);
    if (r.ok != n) {
        fprintf(stderr, "bench_actions: %d of %d failed: %s\n", n - r.ok, n, r.first_error);
        return -1;
    }
    fprintf(stderr, "bench_actions: %s: %d actions in %.2f s, %llu HTTP requests, %llu batches\n",
            tag, n, secs, (unsigned long long)st.http_requests, (unsigned long long)st.batches);
    return n / secs;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_actions GRAPHSIM SEED [N]\n");
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 2000;
    int port = 0;
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    pid_t pid = start_graphsim(argv[1], argv[2], n, &port);
    if (pid <= 0 || port <= 0) {
        fprintf(stderr, "bench_actions: graphsim did not start\n");
        return 1;
    }
    double with = run_once(port, n, true, "batched");
    double without = run_once(port, n, false, "unbatched");
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (with < 0 || without < 0) {
        return 1;
    }
    printf("| update-user actions/s against graphsim (lookup + PATCH, %d users) | %.0f with $batch "
           "| %.0f without $batch | %.1fx | |\n",
           n, with, without, with / without);
    return 0;
}
