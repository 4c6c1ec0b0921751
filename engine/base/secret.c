/*
 * secret — env:/file: references; see secret.h.
 */
#include "engine/base/secret.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "engine/base/strutil.h"

int wr_secret_resolve(const char *ref, const char *base_dir, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (strncmp(ref, "env:", 4) == 0) {
        const char *v = getenv(ref + 4);
        if (!v || !*v) {
            snprintf(err, errlen, "%s: the environment variable %s is not set", ref, ref + 4);
            return -1;
        }
        *out = wr_xstrdup(v);
        wr_secret_register(v);
        return 0;
    }
    if (strncmp(ref, "file:", 5) != 0 || !ref[5]) {
        snprintf(err, errlen, "a secret must be env:NAME or file:PATH");
        return -1;
    }
    char *path = wr_path_join(base_dir, ref + 5);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", ref, strerror(errno));
        free(path);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen, "%s: readable by group or others (mode %03o); chmod 600 it", ref,
                 (unsigned)(st.st_mode & 0777));
        free(path);
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = wr_read_file(path, 64 * 1024, &buf, &len);
    if (rc != 0) {
        char why[WR_ERR_MAX];
        wr_errf_marked(err, errlen, "%s: %s", ref, wr_read_file_error(path, rc, why, sizeof(why)));
        free(path);
        return -1;
    }
    free(path);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        buf[--len] = '\0';
    }
    if (len == 0 || memchr(buf, '\0', len)) {
        snprintf(err, errlen, "%s: the file is empty or not text", ref);
        wr_secret_free(buf);
        return -1;
    }
    *out = buf;
    wr_secret_register(buf);
    return 0;
}

void wr_secret_free(char *value)
{
    if (value) {
        /* volatile: the compiler must not drop the wipe of memory about to be freed. */
        volatile char *p = value;
        while (*p) {
            *p++ = '\0';
        }
        free(value);
    }
}

/* {====== masking ====== */

#define TOKEN_SLOTS 4

static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static char **reg; /* registered values and their JSON-escaped forms, owned */
static size_t nreg;
static char *tokens[TOKEN_SLOTS]; /* the last Graph access tokens, a ring */
static size_t next_token;

/* value as it appears inside a JSON string, or NULL when that is value itself. */
static char *json_escaped(const char *value)
{
    struct json_object *o = json_object_new_string(value);
    const char *j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    char *out = NULL;
    size_t n = strlen(j);
    if (n >= 2 && (n - 2 != strlen(value) || strncmp(j + 1, value, n - 2) != 0)) {
        out = wr_xstrndup(j + 1, n - 2);
    }
    json_object_put(o);
    return out;
}

static bool known(const char *value)
{
    for (size_t i = 0; i < nreg; i++) {
        if (strcmp(reg[i], value) == 0) {
            return true;
        }
    }
    return false;
}

void wr_secret_register(const char *value)
{
    if (!value || strlen(value) < WR_SECRET_MIN_LEN) {
        return;
    }
    char *esc = json_escaped(value);
    pthread_rwlock_wrlock(&reg_lock);
    if (!known(value)) {
        reg = wr_xrealloc(reg, (nreg + 2) * sizeof(*reg));
        reg[nreg++] = wr_xstrdup(value);
        if (esc) {
            reg[nreg++] = esc;
            esc = NULL;
        }
    }
    pthread_rwlock_unlock(&reg_lock);
    free(esc);
}

void wr_secret_register_token(const char *token)
{
    if (!token || strlen(token) < WR_SECRET_MIN_LEN) {
        return;
    }
    char *copy = wr_xstrdup(token);
    pthread_rwlock_wrlock(&reg_lock);
    char *old = tokens[next_token];
    tokens[next_token] = copy;
    next_token = (next_token + 1) % TOKEN_SLOTS;
    pthread_rwlock_unlock(&reg_lock);
    wr_secret_free(old);
}

/* Masks every occurrence of v in *b (built lazily from s). */
static void mask_one(const char *s, const char *v, struct wr_buf *b, bool *changed)
{
    const char *cur = *changed ? wr_buf_str(b) : s;
    const char *hit = strstr(cur, v);
    if (!hit) {
        return;
    }
    struct wr_buf out = {0};
    size_t vlen = strlen(v);
    while (hit) {
        wr_buf_addn(&out, cur, (size_t)(hit - cur));
        wr_buf_add(&out, WR_SECRET_MASK);
        cur = hit + vlen;
        hit = strstr(cur, v);
    }
    wr_buf_add(&out, cur);
    wr_buf_free(b);
    *b = out;
    *changed = true;
}

char *wr_secret_mask(const char *s)
{
    if (!s) {
        return NULL;
    }
    struct wr_buf b = {0};
    bool changed = false;
    pthread_rwlock_rdlock(&reg_lock);
    for (size_t i = 0; i < nreg; i++) {
        mask_one(s, reg[i], &b, &changed);
    }
    for (size_t i = 0; i < TOKEN_SLOTS; i++) {
        if (tokens[i]) {
            mask_one(s, tokens[i], &b, &changed);
        }
    }
    pthread_rwlock_unlock(&reg_lock);
    if (!changed) {
        return NULL;
    }
    char *out = wr_xstrdup(wr_buf_str(&b));
    wr_buf_free(&b);
    return out;
}

void wr_secret_reset(void)
{
    pthread_rwlock_wrlock(&reg_lock);
    for (size_t i = 0; i < nreg; i++) {
        wr_secret_free(reg[i]);
    }
    free(reg);
    reg = NULL;
    nreg = 0;
    for (size_t i = 0; i < TOKEN_SLOTS; i++) {
        wr_secret_free(tokens[i]);
        tokens[i] = NULL;
    }
    pthread_rwlock_unlock(&reg_lock);
}

/* }====== */
