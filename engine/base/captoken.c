/*
 * captoken — capability tokens and their key; see captoken.h.
 */
#include "engine/base/captoken.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/strutil.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void random_bytes(unsigned char *b, size_t n)
{
    if (RAND_bytes(b, (int)n) != 1) {
        /* No secure randomness: nothing weir could do with a guessable token or key. */
        fputs("weir: the system's random number generator failed\n", stderr);
        abort();
    }
}

void wr_captoken_new_key(unsigned char key[WR_CAPTOKEN_KEY_LEN])
{
    random_bytes(key, WR_CAPTOKEN_KEY_LEN);
}

/* {====== the key file ====== */

/* Reads the 32 bytes of an open key file after checking its mode and size. */
static int key_read(int fd, const char *path, unsigned char key[WR_CAPTOKEN_KEY_LEN], char *err,
                    size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return wr_errf(err, errlen, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return wr_errf(err, errlen, "%s: %s, not a regular file", path, wr_file_kind(st.st_mode));
    }
    if (st.st_mode & 077) {
        return wr_errf(err, errlen,
                       "%s: the approval key may be read by others (mode %04o): make it 0600 "
                       "(chmod 600), or remove it to make a new one (every open approval link "
                       "stops working then)",
                       path, (unsigned)(st.st_mode & 07777));
    }
    if (st.st_size != WR_CAPTOKEN_KEY_LEN) {
        return wr_errf(err, errlen, "%s: an approval key is %d bytes, this file has %lld", path,
                       WR_CAPTOKEN_KEY_LEN, (long long)st.st_size);
    }
    size_t got = 0;
    while (got < WR_CAPTOKEN_KEY_LEN) {
        ssize_t n = read(fd, key + got, WR_CAPTOKEN_KEY_LEN - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return wr_errf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "cut short");
        }
        got += (size_t)n;
    }
    return 0;
}

/* Writes a new key to path, never over an existing file: 0, 1 when path exists already (then
   the caller reads it), -1 with err. */
static int key_create(const char *path, char *err, size_t errlen)
{
    unsigned char key[WR_CAPTOKEN_KEY_LEN];
    char *tmp = wr_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = -1, rc = -1;

    unlink(tmp); /* left by a crash of an earlier process with this pid */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        wr_errf(err, errlen, "%s: cannot create the approval key: %s", tmp, strerror(errno));
        goto out;
    }
    random_bytes(key, sizeof(key));
    size_t put = 0;
    while (put < sizeof(key)) {
        ssize_t n = write(fd, key + put, sizeof(key) - put);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            wr_errf(err, errlen, "%s: cannot write the approval key: %s", tmp, strerror(errno));
            goto out;
        }
        put += (size_t)n;
    }
    if (fsync(fd) != 0) {
        wr_errf(err, errlen, "%s: cannot write the approval key: %s", tmp, strerror(errno));
        goto out;
    }
    /* link() never replaces: of two processes creating the key at once, one wins, and the
       other reads the winner's. */
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            rc = 1;
        } else {
            wr_errf(err, errlen, "%s: cannot create the approval key: %s", path, strerror(errno));
        }
        goto out;
    }
    char *dir = wr_path_dirname(path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the new name survives a power cut too */
        close(dfd);
    }
    free(dir);
    rc = 0;
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

int wr_captoken_key_load(const char *path, unsigned char key[WR_CAPTOKEN_KEY_LEN], char *err,
                         size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            int rc = key_read(fd, path, key, err, errlen);
            close(fd);
            if (rc != 0) {
                OPENSSL_cleanse(key, WR_CAPTOKEN_KEY_LEN);
            }
            return rc;
        }
        if (errno != ENOENT) {
            return wr_errf(err, errlen, "%s: cannot read the approval key: %s", path,
                           strerror(errno));
        }
        if (key_create(path, err, errlen) < 0) {
            return -1;
        }
    }
    return wr_errf(err, errlen, "%s: the approval key vanished while it was created", path);
}

/* }====== */

/* {====== tokens ====== */

void wr_captoken_nonce(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    random_bytes(b, sizeof(b));
    for (size_t i = 0; i < sizeof(b); i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
}

void wr_captoken_make(const unsigned char key[WR_CAPTOKEN_KEY_LEN], const char *run_id,
                      int64_t step_idx, const char *approver, const char *nonce,
                      char out[WR_CAPTOKEN_LEN + 1])
{
    /* The message: the fields NUL-separated (none of them holds a NUL), so no two different
       bindings share a message. */
    char idx[24];
    int idxlen = snprintf(idx, sizeof(idx), "%" PRId64, step_idx);
    const char *parts[4] = {run_id, idx, approver, nonce};
    size_t lens[4] = {strlen(run_id), (size_t)idxlen, strlen(approver), strlen(nonce)};
    size_t total = lens[0] + lens[1] + lens[2] + lens[3] + 3;
    unsigned char *msg = wr_xmalloc(total), *p = msg;
    for (int i = 0; i < 4; i++) {
        memcpy(p, parts[i], lens[i]);
        p += lens[i];
        if (i < 3) {
            *p++ = '\0';
        }
    }
    unsigned char mac[32];
    unsigned int maclen = sizeof(mac);
    if (!HMAC(EVP_sha256(), key, WR_CAPTOKEN_KEY_LEN, msg, total, mac, &maclen)) {
        fputs("weir: HMAC-SHA256 failed\n", stderr);
        abort();
    }
    free(msg);
    /* base64url, no padding: 10 groups of 3 bytes, then 2 bytes into 3 characters. */
    size_t o = 0, i = 0;
    for (; i + 3 <= sizeof(mac); i += 3) {
        uint32_t v = (uint32_t)mac[i] << 16 | (uint32_t)mac[i + 1] << 8 | mac[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    uint32_t v = (uint32_t)mac[i] << 16 | (uint32_t)mac[i + 1] << 8;
    out[o++] = b64url[(v >> 18) & 63];
    out[o++] = b64url[(v >> 12) & 63];
    out[o++] = b64url[(v >> 6) & 63];
    out[o] = '\0';
    OPENSSL_cleanse(mac, sizeof(mac));
}

void wr_captoken_hash(const char *token, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    unsigned int n = sizeof(d);
    EVP_Digest(token, strlen(token), d, &n, EVP_sha256(), NULL);
    for (size_t i = 0; i < sizeof(d); i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}

bool wr_captoken_well_formed(const char *token)
{
    if (!token) {
        return false;
    }
    size_t i = 0;
    for (; token[i]; i++) {
        if (i >= WR_CAPTOKEN_LEN) {
            return false;
        }
        const char *at = token[i] ? strchr(b64url, token[i]) : NULL;
        if (!at) {
            return false;
        }
        /* The last character carries 4 bits of the MAC and 2 zero bits of padding. */
        if (i == WR_CAPTOKEN_LEN - 1 && ((at - b64url) & 3) != 0) {
            return false;
        }
    }
    return i == WR_CAPTOKEN_LEN;
}

/* }====== */
