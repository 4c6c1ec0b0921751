/*
 * util.c: graphsim's shared helpers (see util.h).
 *
 * The hash map chains entries per bucket and keeps each entry's hash so resizing and lookups
 * compare strings only on a hash match; it is what keeps user lookups by id and UPN O(1) at
 * 100,000 users. The id generator is xoshiro256** seeded from getrandom(): ids must be unique,
 * not secret, and minting one must cost nothing next to a request.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* {====== memory ====== */

static void oom(void)
{
    fputs("graphsim: out of memory\n", stderr);
    abort();
}

void *gs_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL) {
        oom();
    }
    return p;
}

void *gs_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL) {
        oom();
    }
    return p;
}

void *gs_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        oom();
    }
    return q;
}

char *gs_xstrdup(const char *s)
{
    return gs_xstrndup(s, strlen(s));
}

char *gs_xstrndup(const char *s, size_t n)
{
    char *p = gs_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *gs_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        oom();
    }
    return s;
}

/* }====== */

/* {====== hash map ====== */

struct entry {
    struct entry *next;
    uint64_t hash;
    void *value;
    char key[];
};

struct gs_map {
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    bool nocase;
};

static uint64_t hash_key(const char *key, bool nocase)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        unsigned c = *p;

        if (nocase && c >= 'A' && c <= 'Z') {
            c += 'a' - 'A';
        }
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static bool key_eq(const struct gs_map *m, const struct entry *e, const char *key, uint64_t h)
{
    if (e->hash != h) {
        return false;
    }
    return m->nocase ? strcasecmp(e->key, key) == 0 : strcmp(e->key, key) == 0;
}

struct gs_map *gs_map_new(bool nocase)
{
    struct gs_map *m = gs_xcalloc(1, sizeof(*m));

    m->nbuckets = 64;
    m->buckets = gs_xcalloc(m->nbuckets, sizeof(*m->buckets));
    m->nocase = nocase;
    return m;
}

void gs_map_clear(struct gs_map *m, gs_map_free_fn *free_value)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];

        while (e != NULL) {
            struct entry *next = e->next;

            if (free_value != NULL && e->value != NULL) {
                free_value(e->value);
            }
            free(e);
            e = next;
        }
        m->buckets[i] = NULL;
    }
    m->count = 0;
}

void gs_map_free(struct gs_map *m, gs_map_free_fn *free_value)
{
    if (m == NULL) {
        return;
    }
    gs_map_clear(m, free_value);
    free(m->buckets);
    free(m);
}

static void grow(struct gs_map *m)
{
    size_t n = m->nbuckets * 2;
    struct entry **b = gs_xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];

        while (e != NULL) {
            struct entry *next = e->next;
            size_t j = e->hash & (n - 1);

            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void *gs_map_get(const struct gs_map *m, const char *key)
{
    uint64_t h = hash_key(key, m->nocase);

    for (struct entry *e = m->buckets[h & (m->nbuckets - 1)]; e != NULL; e = e->next) {
        if (key_eq(m, e, key, h)) {
            return e->value;
        }
    }
    return NULL;
}

void gs_map_add(struct gs_map *m, const char *key, void *value)
{
    size_t len = strlen(key);
    struct entry *e = gs_xmalloc(sizeof(*e) + len + 1);
    size_t i;

    if (m->count + 1 > m->nbuckets - m->nbuckets / 4) {
        grow(m);
    }
    e->hash = hash_key(key, m->nocase);
    e->value = value;
    memcpy(e->key, key, len + 1);
    i = e->hash & (m->nbuckets - 1);
    e->next = m->buckets[i];
    m->buckets[i] = e;
    m->count++;
}

void *gs_map_put(struct gs_map *m, const char *key, void *value)
{
    uint64_t h = hash_key(key, m->nocase);

    for (struct entry *e = m->buckets[h & (m->nbuckets - 1)]; e != NULL; e = e->next) {
        if (key_eq(m, e, key, h)) {
            void *old = e->value;

            e->value = value;
            return old;
        }
    }
    gs_map_add(m, key, value);
    return NULL;
}

bool gs_map_remove(struct gs_map *m, const char *key, const void *value)
{
    uint64_t h = hash_key(key, m->nocase);
    struct entry **pp = &m->buckets[h & (m->nbuckets - 1)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        struct entry *e = *pp;

        if (key_eq(m, e, key, h) && (value == NULL || e->value == value)) {
            *pp = e->next;
            free(e);
            m->count--;
            return true;
        }
    }
    return false;
}

void *gs_map_next(const struct gs_map *m, const char *key, const void **cursor)
{
    uint64_t h = hash_key(key, m->nocase);
    const struct entry *e = *cursor;

    e = e == NULL ? m->buckets[h & (m->nbuckets - 1)] : e->next;
    for (; e != NULL; e = e->next) {
        if (key_eq(m, e, key, h)) {
            *cursor = e;
            return e->value;
        }
    }
    *cursor = NULL;
    return NULL;
}

void gs_map_foreach(const struct gs_map *m, gs_map_each_fn *fn, void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (struct entry *e = m->buckets[i]; e != NULL; e = e->next) {
            fn(e->key, e->value, arg);
        }
    }
}

size_t gs_map_count(const struct gs_map *m)
{
    return m->count;
}

/* }====== */

/* {====== ids, clocks, encodings ====== */

static uint64_t rng[4];

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void gs_random_init(void)
{
    ssize_t n = getrandom(rng, sizeof(rng), 0);

    if (n != (ssize_t)sizeof(rng) || (rng[0] | rng[1] | rng[2] | rng[3]) == 0) {
        struct timespec ts;

        /* No kernel randomness: ids only need to differ between runs, not be secret. */
        clock_gettime(CLOCK_REALTIME, &ts);
        rng[0] = (uint64_t)ts.tv_nsec ^ 0x9e3779b97f4a7c15ULL;
        rng[1] = (uint64_t)ts.tv_sec;
        rng[2] = (uint64_t)getpid() | 1;
        rng[3] = 0x2545f4914f6cdd1dULL;
    }
}

uint64_t gs_random64(void)
{
    uint64_t result = rotl(rng[1] * 5, 7) * 9;
    uint64_t t = rng[1] << 17;

    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 45);
    return result;
}

void gs_guid_new(char out[37])
{
    uint64_t a = gs_random64();
    uint64_t b = gs_random64();

    a = (a & ~0xf000ULL) | 0x4000ULL;                        /* version 4 */
    b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* RFC 4122 variant */
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xffff), (unsigned)(b >> 48),
             (unsigned long long)(b & 0xffffffffffffULL));
}

bool gs_is_guid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return s[36] == '\0';
}

double gs_now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double gs_now_wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void gs_time_format(char out[32], double wall, bool zone)
{
    time_t t = (time_t)wall;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, zone ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%S", &tm);
}

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

bool gs_is_datetimeoffset(const char *s)
{
    int mon, day, hour, min;

    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
        s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2)) {
        return false;
    }
    mon = (s[5] - '0') * 10 + (s[6] - '0');
    day = (s[8] - '0') * 10 + (s[9] - '0');
    hour = (s[11] - '0') * 10 + (s[12] - '0');
    min = (s[14] - '0') * 10 + (s[15] - '0');
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59) {
        return false;
    }
    s += 16;
    if (*s == ':') {
        if (!digits(s + 1, 2) || (s[1] - '0') * 10 + (s[2] - '0') > 59) {
            return false;
        }
        s += 3;
        if (*s == '.') {
            s++;
            if (!isdigit((unsigned char)*s)) {
                return false;
            }
            while (isdigit((unsigned char)*s)) {
                s++;
            }
        }
    }
    if (*s == 'Z') {
        return s[1] == '\0';
    }
    if (*s == '+' || *s == '-') {
        return digits(s + 1, 2) && s[3] == ':' && digits(s + 4, 2) && s[6] == '\0';
    }
    return false;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *gs_base64(const void *data, size_t len)
{
    char *url = gs_base64url(data, len);
    size_t n = strlen(url);
    char *out = gs_xmalloc(n + 3);

    for (size_t i = 0; i < n; i++) {
        out[i] = url[i] == '-' ? '+' : url[i] == '_' ? '/' : url[i];
    }
    for (; n % 4 != 0; n++) {
        out[n] = '=';
    }
    out[n] = '\0';
    free(url);
    return out;
}

char *gs_base64url(const void *data, size_t len)
{
    const unsigned char *p = data;
    char *out = gs_xmalloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;

    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;

        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

char *gs_base64_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *out = NULL;
    size_t o = 0;

    if (n % 4 != 0) {
        return NULL;
    }
    out = gs_xmalloc(n / 4 * 3 + 1);
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;

        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0 || (v[k] = b64val((unsigned char)s[i + k])) < 0) {
                free(out);
                return NULL;
            }
        }
        out[o++] = (char)(v[0] << 2 | v[1] >> 4);
        if (pad < 2) {
            out[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        }
        if (pad < 1) {
            out[o++] = (char)((v[2] & 3) << 6 | v[3]);
        }
    }
    out[o] = '\0';
    if (len != NULL) {
        *len = o;
    }
    return out;
}

void gs_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        memset(out, '0', 64);
        out[64] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

bool gs_pct_decode(char *s, bool plus_space)
{
    char *w = s;

    for (const char *r = s; *r; r++) {
        if (*r == '%') {
            int hi = hexval((unsigned char)r[1]);
            int lo = hi < 0 ? -1 : hexval((unsigned char)r[2]);

            if (lo < 0 || (hi == 0 && lo == 0)) {
                return false;
            }
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else if (*r == '+' && plus_space) {
            *w++ = ' ';
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return true;
}

char *gs_lower_dup(const char *s)
{
    char *p = gs_xstrdup(s);

    for (char *q = p; *q; q++) {
        *q = (char)tolower((unsigned char)*q);
    }
    return p;
}

/* }====== */

/* {====== JSON ====== */

json_object *gs_json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    struct json_tokener *tok = json_tokener_new();
    json_object *obj = NULL;
    enum json_tokener_error jerr;
    size_t end;

    if (tok == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    if (len > (size_t)0x7fffffff) {
        snprintf(err, errlen, "body too large");
        goto err;
    }
    obj = json_tokener_parse_ex(tok, buf, (int)len);
    jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue) {
        snprintf(err, errlen, "unexpected end of input");
        goto err;
    }
    if (jerr != json_tokener_success) {
        snprintf(err, errlen, "%s at offset %zu", json_tokener_error_desc(jerr),
                 json_tokener_get_parse_end(tok));
        goto err;
    }
    end = json_tokener_get_parse_end(tok);
    for (; end < len; end++) {
        if (!isspace((unsigned char)buf[end])) {
            snprintf(err, errlen, "trailing data at offset %zu", end);
            goto err;
        }
    }
    if (obj == NULL) {
        snprintf(err, errlen, "null is not a valid document here");
    }
    json_tokener_free(tok);
    return obj;

err:
    json_object_put(obj);
    json_tokener_free(tok);
    return NULL;
}

const char *gs_json_str(json_object *obj)
{
    return json_object_to_json_string_ext(obj,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

const char *gs_json_get_str(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

void gs_json_add_str(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, value ? json_object_new_string(value) : NULL);
}

/* }====== */
