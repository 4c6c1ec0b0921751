/*
 * session — the console's session table; see session.h.
 *
 * WR_SESSION_MAX fixed slots, searched whole on every lookup (64 digest compares cost less than
 * the request around them, and keep the lookup's time independent of where a session sits).
 */
#include "engine/console/session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"

#define DIGEST_LEN 32

struct slot {
    bool used;
    unsigned char digest[DIGEST_LEN]; /* SHA-256 of the cookie value */
    int64_t created_ms, used_ms;
};

struct wr_sessions {
    wr_clock_fn clock;
    void *clock_arg;
    unsigned char key[32]; /* the CSRF tokens' HMAC key */
    struct slot slots[WR_SESSION_MAX];
};

static int64_t now_ms(const struct wr_sessions *s)
{
    return s->clock ? s->clock(s->clock_arg) : wr_clock_mono_ms();
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Whether v has the form of a cookie value or a token: exactly WR_SESSION_HEX_LEN hex digits. */
static bool well_formed(const char *v)
{
    return v && strlen(v) == WR_SESSION_HEX_LEN &&
           strspn(v, "0123456789abcdef") == WR_SESSION_HEX_LEN;
}

static void digest(const char *v, unsigned char out[DIGEST_LEN])
{
    unsigned int n = DIGEST_LEN;
    EVP_Digest(v, strlen(v), out, &n, EVP_sha256(), NULL);
}

/* The CSRF token of the session whose cookie value is cookie. */
static void csrf_of(const struct wr_sessions *s, const char *cookie,
                    char out[WR_SESSION_HEX_LEN + 1])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), s->key, sizeof(s->key), (const unsigned char *)cookie, strlen(cookie), mac,
         &n);
    to_hex(mac, DIGEST_LEN, out);
    OPENSSL_cleanse(mac, sizeof(mac));
}

static void clear_slot(struct slot *sl)
{
    OPENSSL_cleanse(sl, sizeof(*sl));
}

static void expire(struct wr_sessions *s, int64_t now)
{
    for (size_t i = 0; i < WR_SESSION_MAX; i++) {
        if (s->slots[i].used && now - s->slots[i].used_ms >= WR_SESSION_IDLE_MS) {
            clear_slot(&s->slots[i]);
        }
    }
}

/* The live slot of cookie, or NULL; every slot is compared whatever matches. */
static struct slot *lookup(struct wr_sessions *s, const char *cookie)
{
    unsigned char d[DIGEST_LEN];
    struct slot *found = NULL;
    if (!well_formed(cookie)) {
        return NULL;
    }
    expire(s, now_ms(s));
    digest(cookie, d);
    for (size_t i = 0; i < WR_SESSION_MAX; i++) {
        bool same = CRYPTO_memcmp(d, s->slots[i].digest, DIGEST_LEN) == 0;
        if (same && s->slots[i].used) {
            found = &s->slots[i];
        }
    }
    OPENSSL_cleanse(d, sizeof(d));
    return found;
}

struct wr_sessions *wr_sessions_new(wr_clock_fn clock, void *clock_arg, char *err, size_t errlen)
{
    struct wr_sessions *s = wr_xcalloc(1, sizeof(*s));
    s->clock = clock;
    s->clock_arg = clock_arg;
    if (RAND_bytes(s->key, sizeof(s->key)) != 1) {
        snprintf(err, errlen, "the console's session key cannot be drawn (no random bytes)");
        free(s);
        return NULL;
    }
    return s;
}

int wr_sessions_create(struct wr_sessions *s, char cookie[WR_SESSION_HEX_LEN + 1],
                       char csrf[WR_SESSION_HEX_LEN + 1], char *err, size_t errlen)
{
    unsigned char raw[WR_SESSION_HEX_LEN / 2];
    int64_t now = now_ms(s);
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        snprintf(err, errlen, "no random bytes for a session");
        return -1;
    }
    expire(s, now);
    struct slot *sl = NULL;
    for (size_t i = 0; i < WR_SESSION_MAX && !sl; i++) {
        if (!s->slots[i].used) {
            sl = &s->slots[i];
        }
    }
    if (!sl) {
        /* Full: the session idle the longest makes room. */
        sl = &s->slots[0];
        for (size_t i = 1; i < WR_SESSION_MAX; i++) {
            if (s->slots[i].used_ms < sl->used_ms) {
                sl = &s->slots[i];
            }
        }
        clear_slot(sl);
    }
    to_hex(raw, sizeof(raw), cookie);
    OPENSSL_cleanse(raw, sizeof(raw));
    digest(cookie, sl->digest);
    sl->used = true;
    sl->created_ms = sl->used_ms = now;
    csrf_of(s, cookie, csrf);
    return 0;
}

bool wr_sessions_find(struct wr_sessions *s, const char *cookie, char csrf[WR_SESSION_HEX_LEN + 1])
{
    struct slot *sl = lookup(s, cookie);
    if (!sl) {
        return false;
    }
    sl->used_ms = now_ms(s);
    if (csrf) {
        csrf_of(s, cookie, csrf);
    }
    return true;
}

bool wr_sessions_csrf_ok(struct wr_sessions *s, const char *cookie, const char *token)
{
    char want[WR_SESSION_HEX_LEN + 1];
    if (!token || strlen(token) != WR_SESSION_HEX_LEN || !wr_sessions_find(s, cookie, want)) {
        return false;
    }
    bool ok = CRYPTO_memcmp(want, token, WR_SESSION_HEX_LEN) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}

bool wr_sessions_drop(struct wr_sessions *s, const char *cookie)
{
    struct slot *sl = lookup(s, cookie);
    if (sl) {
        clear_slot(sl);
    }
    return sl != NULL;
}

size_t wr_sessions_count(struct wr_sessions *s)
{
    size_t n = 0;
    expire(s, now_ms(s));
    for (size_t i = 0; i < WR_SESSION_MAX; i++) {
        n += s->slots[i].used;
    }
    return n;
}

void wr_sessions_free(struct wr_sessions *s)
{
    if (s) {
        OPENSSL_cleanse(s, sizeof(*s));
        free(s);
    }
}
