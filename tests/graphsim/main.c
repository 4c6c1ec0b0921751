/*
 * main.c: graphsim's command line: parse options, read the seed, run the event loop until
 * SIGTERM or SIGINT, then free everything (the sanitizer build checks for leaks at exit).
 *
 * graphsim is a strict Microsoft Graph tenant simulator for weir's tests, demo and benchmarks.
 * It listens on 127.0.0.1 only and prints exactly one line to stdout once it is ready:
 * "graphsim listening on 127.0.0.1:PORT".
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "util.h"

static const char usage[] =
    "usage: graphsim --seed FILE [--listen 127.0.0.1:PORT] [options]\n"
    "\n"
    "A strict Microsoft Graph v1.0 tenant simulator (token endpoint, users, licenses, roles,\n"
    "groups, manager, $batch, throttling faults, /_sim introspection).\n"
    "\n"
    "  --listen 127.0.0.1:PORT   address to listen on; only 127.0.0.1; PORT 0 picks a free port\n"
    "                            (default 127.0.0.1:0). Prints 'graphsim listening on\n"
    "                            127.0.0.1:PORT' to stdout when ready.\n"
    "  --seed FILE               tenant seed (JSON), e.g. tests/graphsim/seed.json (required)\n"
    "  --token-lifetime S        access token lifetime in seconds (default 3599)\n"
    "  --throttle-every K        answer every K-th mutation with 429 TooManyRequests (0 = off)\n"
    "  --retry-after SECONDS     Retry-After sent with injected 429s, fractional (default 1.25)\n"
    "  --fail-every K            answer every K-th Graph request with 503 (0 = off)\n"
    "  --latency-ms N            delay every Graph and token reply by N ms (0 = off)\n"
    "  --tenant-throttle-for S   for S seconds from start-up, answer every request of the\n"
    "                            throttling scope with 429 and x-ms-throttle-scope; a request\n"
    "                            of the scope sent before a Retry-After passed is a violation\n"
    "  --throttle-scope CLASS    that scope: ReadWrite (default), Read or Write\n"
    "  --throttle-grace-ms N     a request of the scope arriving within N ms after a 429 was\n"
    "                            written to the client is not a violation (default 0)\n"
    "  --bad-answer KIND:K[:METHOD[:PATH]]\n"
    "                            answer the next K matching Graph requests unusably after\n"
    "                            carrying them out: empty_202, html, truncated, no_id or\n"
    "                            wrong_shape; METHOD and a path prefix under /v1.0 narrow it\n"
    "  --graph-host NAME         Graph's host (default graph.microsoft.com): the token\n"
    "                            endpoint takes only the scope https://NAME/.default, and\n"
    "                            @odata.context/@odata.id URLs name it\n"
    "  --generate-users N        add N synthetic users (overrides the seed's generate_users)\n"
    "  --log-limit N             request log entries kept, oldest dropped (default 200000)\n"
    "  --replica-lag DURATION    replica lag after a create (\"3s\", \"500ms\"): reads of and\n"
    "                            references to a user younger than this answer 404, and\n"
    "                            assignLicense this soon after a usageLocation change 400\n"
    "  --pim-forbidden WHAT      none|eligibility|assignment|all: those PIM schedule endpoints\n"
    "                            answer 403, as for an app without the permission\n"
    "  --help                    show this help and exit\n"
    "\n"
    "Fault settings can be changed at run time with POST /_sim/faults. See\n"
    "tests/graphsim/README.md for endpoints, the seed format and introspection.\n";

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_double(const char *s, double min, double max, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max)) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_listen(const char *s, int *port)
{
    static const char host[] = "127.0.0.1:";
    long p;

    if (strncmp(s, host, sizeof(host) - 1) != 0 ||
        !parse_long(s + sizeof(host) - 1, 0, 65535, &p)) {
        return false;
    }
    *port = (int)p;
    return true;
}

/* KIND:COUNT[:METHOD[:PATH]] into *b. */
static bool parse_bad_answer(const char *s, struct gs_bad_answer *b)
{
    char *copy = gs_xstrdup(s), *save = NULL;
    char *kind = strtok_r(copy, ":", &save), *count = strtok_r(NULL, ":", &save);
    char *method = strtok_r(NULL, ":", &save), *path = strtok_r(NULL, "", &save);
    bool ok = kind != NULL && count != NULL && gs_bad_kind_parse(kind) != GS_BAD_NONE &&
              parse_long(count, 0, 1000000000, &b->count) &&
              (method == NULL || strlen(method) < sizeof(b->method)) &&
              (path == NULL || strlen(path) < sizeof(b->path));

    if (ok) {
        b->kind = gs_bad_kind_parse(kind);
        snprintf(b->method, sizeof(b->method), "%s", method ? method : "");
        snprintf(b->path, sizeof(b->path), "%s", path ? path : "");
    }
    free(copy);
    return ok;
}

static json_object *read_seed(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL, err[256];
    size_t len = 0, cap = 0, n;
    json_object *seed = NULL;

    if (f == NULL) {
        fprintf(stderr, "graphsim: cannot open seed %s: %s\n", path, strerror(errno));
        return NULL;
    }
    do {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            buf = gs_xrealloc(buf, cap);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    if (ferror(f)) {
        fprintf(stderr, "graphsim: cannot read seed %s: %s\n", path, strerror(errno));
        goto err;
    }
    seed = gs_json_parse(buf, len, err, sizeof(err));
    if (seed == NULL) {
        fprintf(stderr, "graphsim: seed %s is not valid JSON: %s\n", path, err);
    }
err:
    fclose(f);
    free(buf);
    return seed;
}

struct run {
    struct event_base *base;
    struct gs_server *srv;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct run *run = arg;
    struct timeval drain = {0, 200000};

    (void)sig;
    (void)what;
    /* Answer delayed requests now and give the writes a moment to reach their sockets. */
    gs_server_flush(run->srv);
    event_base_loopexit(run->base, &drain);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"seed", required_argument, NULL, 's'},
        {"token-lifetime", required_argument, NULL, 't'},
        {"throttle-every", required_argument, NULL, 'T'},
        {"retry-after", required_argument, NULL, 'r'},
        {"fail-every", required_argument, NULL, 'f'},
        {"latency-ms", required_argument, NULL, 'L'},
        {"generate-users", required_argument, NULL, 'g'},
        {"log-limit", required_argument, NULL, 'n'},
        {"tenant-throttle-for", required_argument, NULL, 'P'},
        {"throttle-scope", required_argument, NULL, 'S'},
        {"throttle-grace-ms", required_argument, NULL, 'G'},
        {"bad-answer", required_argument, NULL, 'B'},
        {"graph-host", required_argument, NULL, 'H'},
        {"replica-lag", required_argument, NULL, 'R'},
        {"pim-forbidden", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct gs_options opt = {
        .port = 0,
        .token_lifetime = 3599,
        .faults = {.throttle_every = 0,
                   .retry_after = 1.25,
                   .fail_every = 0,
                   .latency_ms = 0,
                   .throttle_classes = 3},
        .generate_users = -1,
        .log_limit = 200000,
    };
    const char *seed_path = NULL;
    struct event_base *base = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    struct gs_server *srv = NULL;
    struct run run;
    json_object *seed = NULL;
    char err[512];
    double t0;
    int c, rc = 1;
    bool ok;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            ok = parse_listen(optarg, &opt.port);
            break;
        case 's':
            seed_path = optarg;
            ok = true;
            break;
        case 't':
            ok = parse_double(optarg, 1, 86400 * 365, &opt.token_lifetime);
            break;
        case 'T':
            ok = parse_long(optarg, 0, 1000000000, &opt.faults.throttle_every);
            break;
        case 'r':
            ok = parse_double(optarg, 0.001, 3600, &opt.faults.retry_after);
            break;
        case 'f':
            ok = parse_long(optarg, 0, 1000000000, &opt.faults.fail_every);
            break;
        case 'L':
            ok = parse_long(optarg, 0, 600000, &opt.faults.latency_ms);
            break;
        case 'g':
            ok = parse_long(optarg, 0, 10000000, &opt.generate_users);
            break;
        case 'n':
            ok = parse_long(optarg, 1000, 100000000, &opt.log_limit);
            break;
        case 'P':
            ok = parse_double(optarg, 0, 3600, &opt.tenant_throttle_for);
            break;
        case 'S':
            opt.faults.throttle_classes = gs_throttle_classes(optarg);
            ok = opt.faults.throttle_classes != 0;
            break;
        case 'B':
            ok = parse_bad_answer(optarg, &opt.faults.bad[0]);
            opt.faults.nbad = 1;
            break;
        case 'G':
            ok = parse_long(optarg, 0, 60000, &opt.faults.throttle_grace_ms);
            break;
        case 'H':
            opt.graph_host = optarg;
            ok = gs_host_ok(optarg);
            break;
        case 'R':
            ok = gs_model_parse_seconds(optarg, &opt.model.replica_lag);
            break;
        case 'F':
            ok = gs_model_parse_pim(optarg, &opt.model.pim_forbidden);
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "graphsim: invalid option value '%s'\n%s", optarg, usage);
            return 2;
        }
    }
    if (optind != argc || seed_path == NULL) {
        fprintf(stderr, "graphsim: %s\n%s",
                seed_path == NULL ? "--seed is required" : "unexpected argument", usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    gs_random_init();
    t0 = gs_now_mono();
    seed = read_seed(seed_path);
    if (seed == NULL) {
        goto err;
    }
    base = event_base_new();
    if (base == NULL) {
        fprintf(stderr, "graphsim: event_base_new failed\n");
        json_object_put(seed);
        goto err;
    }
    srv = gs_server_new(base, seed, &opt, err, sizeof(err));
    if (srv == NULL) {
        fprintf(stderr, "graphsim: %s\n", err);
        goto err;
    }
    run.base = base;
    run.srv = srv;
    sigterm = evsignal_new(base, SIGTERM, on_signal, &run);
    sigint = evsignal_new(base, SIGINT, on_signal, &run);
    if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
        evsignal_add(sigint, NULL) != 0) {
        fprintf(stderr, "graphsim: cannot install signal handlers\n");
        goto err;
    }
    fprintf(stderr, "graphsim: tenant loaded (%zu users) in %.3f s\n", gs_server_user_count(srv),
            gs_now_mono() - t0);
    printf("graphsim listening on 127.0.0.1:%d\n", gs_server_port(srv));
    fflush(stdout);
    if (event_base_dispatch(base) < 0) {
        fprintf(stderr, "graphsim: event loop failed\n");
        goto err;
    }
    rc = 0;

err:
    gs_server_free(srv);
    if (sigterm != NULL) {
        event_free(sigterm);
    }
    if (sigint != NULL) {
        event_free(sigint);
    }
    if (base != NULL) {
        event_base_free(base);
    }
    libevent_global_shutdown();
    return rc;
}
