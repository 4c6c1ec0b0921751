/*
 * sim — the e2e tests' driver for graphsim: start, stop and blocking /_sim calls (see sim.h).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "sim.h"

void sim_start(struct sim *s, const char *path, const char *seed, const char *const *extra)
{
    const char *argv[SIM_MAX_EXTRA + 8];
    size_t n = 0;
    int fds[2];
    char line[256];

    memset(s, 0, sizeof(*s));
    argv[n++] = path;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--seed";
    argv[n++] = seed;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && i < SIM_MAX_EXTRA; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    assert_int_equal(pipe(fds), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        /* If the test process dies (an abort in an assertion), graphsim goes with it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    s->out = fdopen(fds[0], "r");
    assert_non_null(s->out);
    assert_non_null(fgets(line, sizeof(line), s->out));
    assert_int_equal(sscanf(line, "graphsim listening on 127.0.0.1:%d", &s->port), 1);
    snprintf(s->authority, sizeof(s->authority), "http://127.0.0.1:%d", s->port);
    snprintf(s->base_url, sizeof(s->base_url), "http://127.0.0.1:%d/v1.0", s->port);
}

int sim_stop(struct sim *s)
{
    int status = 0;

    if (s->pid <= 0) {
        return 0;
    }
    kill(s->pid, SIGTERM);
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    if (s->out != NULL) {
        fclose(s->out);
        s->out = NULL;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static size_t sink(char *data, size_t size, size_t nmemb, void *arg)
{
    fwrite(data, size, nmemb, arg);
    return size * nmemb;
}

struct json_object *sim_call(const struct sim *s, const char *method, const char *path,
                             long *status)
{
    return sim_call_body(s, method, path, NULL, status);
}

struct json_object *sim_call_body(const struct sim *s, const char *method, const char *path,
                                  const char *json, long *status)
{
    char url[512], *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    CURL *c = curl_easy_init();
    struct json_object *o;
    CURLcode rc;

    assert_non_null(mem);
    assert_non_null(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    struct curl_slist *hdr = NULL;
    if (json != NULL) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    rc = curl_easy_perform(c);
    if (status != NULL) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(hdr);
    fclose(mem);
    assert_int_equal(rc, CURLE_OK);
    o = len > 0 ? json_tokener_parse(buf) : NULL;
    free(buf);
    return o;
}

int64_t sim_stat(const struct sim *s, const char *key)
{
    struct json_object *st = sim_call(s, "GET", "/_sim/stats", NULL), *v;
    int64_t n;

    assert_non_null(st);
    assert_true(json_object_object_get_ex(st, key, &v));
    n = json_object_get_int64(v);
    json_object_put(st);
    return n;
}

/* The "value" array of a /_sim/requests reply (borrowed from o). */
static struct json_object *log_entries(struct json_object *o)
{
    struct json_object *v = NULL;

    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "value", &v));
    return v;
}

/* The length of an array; 0 for NULL or anything else (json-c asserts on those). */
static size_t array_len(struct json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

struct json_object *sim_log(const struct sim *s)
{
    struct json_object *o = sim_call(s, "GET", "/_sim/requests", NULL);
    struct json_object *v = log_entries(o);

    json_object_get(v);
    json_object_put(o);
    return v;
}

char *sim_requests_since(const struct sim *s, int64_t since)
{
    char path[64], *out;
    struct json_object *o, *v;
    size_t cap = 1, len = 0;

    snprintf(path, sizeof(path), "/_sim/requests?since=%lld", (long long)since);
    o = sim_call(s, "GET", path, NULL);
    v = log_entries(o);
    for (size_t i = 0; i < array_len(v); i++) {
        struct json_object *e = json_object_array_get_idx(v, i);

        cap += strlen(json_object_get_string(json_object_object_get(e, "path"))) + 16;
    }
    out = calloc(1, cap);
    assert_non_null(out);
    for (size_t i = 0; i < array_len(v); i++) {
        struct json_object *e = json_object_array_get_idx(v, i);

        len += (size_t)snprintf(out + len, cap - len, "%s %s\n",
                                json_object_get_string(json_object_object_get(e, "method")),
                                json_object_get_string(json_object_object_get(e, "path")));
    }
    json_object_put(o);
    return out;
}

int64_t sim_last_seq(const struct sim *s)
{
    struct json_object *o = sim_call(s, "GET", "/_sim/requests", NULL);
    struct json_object *v = log_entries(o);
    size_t n = array_len(v);
    int64_t seq = 0;

    if (n > 0) {
        seq = json_object_get_int64(
            json_object_object_get(json_object_array_get_idx(v, n - 1), "seq"));
    }
    json_object_put(o);
    return seq;
}

struct json_object *sim_user(const struct sim *s, const char *ref)
{
    char path[256];
    long status = 0;
    struct json_object *u;

    snprintf(path, sizeof(path), "/_sim/users/%s", ref);
    u = sim_call(s, "GET", path, &status);
    if (status == 404) {
        json_object_put(u);
        return NULL;
    }
    assert_int_equal(status, 200);
    return u;
}

char *sim_state_text(const struct sim *s)
{
    struct json_object *st = sim_call(s, "GET", "/_sim/state", NULL);
    char *text;

    assert_non_null(st);
    text = strdup(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN));
    assert_non_null(text);
    json_object_put(st);
    return text;
}
