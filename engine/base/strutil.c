/*
 * strutil — allocation, buffers, suggestions and path helpers; see strutil.h.
 */
#include "engine/base/strutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void oom(void)
{
    fputs("weir: out of memory\n", stderr);
    abort();
}

void *wr_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom();
    }
    return p;
}

void *wr_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        oom();
    }
    return p;
}

void *wr_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        oom();
    }
    return q;
}

char *wr_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        oom();
    }
    return p;
}

int wr_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int wr_verrf_marked(char *err, size_t errlen, const char *fmt, va_list ap)
{
    static const char cut[] = "…";

    if (err == NULL || errlen == 0) {
        return -1;
    }
    int n = vsnprintf(err, errlen, fmt, ap);
    if (n >= 0 && (size_t)n >= errlen && errlen > sizeof(cut)) {
        /* vsnprintf kept errlen - 1 bytes: keep what fits before the marker, whole characters
           only, so that the message stays valid UTF-8 and shows that it was cut. */
        size_t keep = wr_utf8_prefix(err, errlen - 1, errlen - sizeof(cut));
        memcpy(err + keep, cut, sizeof(cut));
    }
    return -1;
}

int wr_errf_marked(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wr_verrf_marked(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void wr_quote_input(const char *s, char out[WR_QUOTE_MAX + 4])
{
    size_t i;
    for (i = 0; s[i] && i < WR_QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

char *wr_xstrndup(const char *s, size_t n)
{
    char *p = wr_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *wr_xstrdup_or_null(const char *s)
{
    return s ? wr_xstrdup(s) : NULL;
}

char *wr_xasprintf(const char *fmt, ...)
{
    struct wr_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    wr_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    return wr_buf_take(&b);
}

static void buf_reserve(struct wr_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        cap *= 2;
    }
    b->data = wr_xrealloc(b->data, cap);
    b->cap = cap;
}

void wr_buf_addn(struct wr_buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void wr_buf_add(struct wr_buf *b, const char *s)
{
    wr_buf_addn(b, s, strlen(s));
}

void wr_buf_addc(struct wr_buf *b, char c)
{
    wr_buf_addn(b, &c, 1);
}

void wr_buf_vaddf(struct wr_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return;
    }
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void wr_buf_addf(struct wr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wr_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

const char *wr_buf_str(const struct wr_buf *b)
{
    return b->data ? b->data : "";
}

char *wr_buf_take(struct wr_buf *b)
{
    char *s = b->data ? b->data : wr_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void wr_buf_free(struct wr_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

size_t wr_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) {
        return cap + 1;
    }
    if ((la > lb ? la - lb : lb - la) > cap) {
        return cap + 1;
    }
    /* Optimal string alignment distance over three rolling rows. */
    size_t rows[3][65];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t best = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t cost = ca == cb ? 0 : 1;
            size_t v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) {
                v = cur[j - 1] + 1;
            }
            if (prev[j - 1] + cost < v) {
                v = prev[j - 1] + cost;
            }
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < v) {
                v = prev2[j - 2] + 1;
            }
            cur[j] = v;
            if (v < best) {
                best = v;
            }
        }
        if (best > cap) {
            return cap + 1;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *wr_suggest(const char *word, const char *const *candidates)
{
    size_t len = strlen(word);
    /* Short words tolerate one edit, longer ones up to a third of their length (max 3). */
    size_t cap = len <= 3 ? 1 : len / 3 > 3 ? 3 : (len / 3 < 1 ? 1 : len / 3);
    const char *best = NULL;
    size_t best_d = cap + 1;
    for (size_t i = 0; candidates && candidates[i]; i++) {
        size_t d = wr_edit_distance(word, candidates[i], cap);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    if (best) {
        return best;
    }
    /* A spelled-out or shortened name: "maximum" for "max", "enable" for "enabled". */
    for (size_t i = 0; candidates && candidates[i]; i++) {
        size_t lc = strlen(candidates[i]);
        size_t shorter = lc < len ? lc : len;
        size_t longer = lc < len ? len : lc;
        if (shorter >= 3 && longer - shorter <= 4 &&
            strncasecmp(word, candidates[i], shorter) == 0) {
            return candidates[i];
        }
    }
    return NULL;
}

bool wr_str_has_suffix(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

bool wr_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        /* ASCII runs, the common case, eight bytes at a time */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, sizeof(w));
            if (w & 0x8080808080808080ULL) {
                break;
            }
            p += 8;
        }
        if (p >= end) {
            break;
        }
        unsigned c = *p;
        size_t n;
        unsigned cp, min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= n) {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        p += n + 1;
    }
    return true;
}

size_t wr_utf8_prefix(const char *s, size_t len, size_t max)
{
    if (len <= max) {
        return len;
    }
    /* s[n] is the first byte left out: when it continues a sequence, the sequence goes too
       (at most 3 bytes back; longer runs of continuation bytes are not UTF-8 anyway). */
    size_t n = max;
    while (n > 0 && max - n < 3 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--;
    }
    return ((unsigned char)s[n] & 0xC0) == 0x80 ? max : n;
}

int wr_utf8_prec(const char *s, size_t max)
{
    if (max > INT_MAX) {
        max = INT_MAX;
    }
    return (int)wr_utf8_prefix(s, strnlen(s, max + 1), max);
}

void wr_buf_add_capped(struct wr_buf *b, const char *s, size_t len, size_t max)
{
    size_t n = wr_utf8_prefix(s, len, max);
    wr_buf_addn(b, s, n);
    if (n < len) {
        wr_buf_addf(b, "… (%zu bytes more)", len - n);
    }
}

char *wr_text_cap(const char *s, size_t max)
{
    if (!s) {
        return NULL;
    }
    struct wr_buf b = {0};
    wr_buf_add_capped(&b, s, strlen(s), max);
    return wr_buf_take(&b);
}

char *wr_path_join(const char *base, const char *rel)
{
    if (rel[0] == '/' || !base || !*base || strcmp(base, ".") == 0) {
        return wr_xstrdup(rel);
    }
    size_t lb = strlen(base);
    return wr_xasprintf("%s%s%s", base, base[lb - 1] == '/' ? "" : "/", rel);
}

char *wr_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return wr_xstrdup(".");
    }
    if (slash == path) {
        return wr_xstrdup("/");
    }
    size_t n = (size_t)(slash - path);
    char *d = wr_xmalloc(n + 1);
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

int wr_read_file(const char *path, size_t max_bytes, char **out, size_t *len)
{
    int fd = -1, rc = 0;
    char *data = NULL;
    size_t used = 0, cap = 0;
    struct stat st;

    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever. A
       regular file ignores the flag, and nothing else is read. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        /* A socket cannot be opened at all (ENXIO): say what it is, as for a FIFO. */
        return errno == ENXIO && stat(path, &st) == 0 && !S_ISREG(st.st_mode) ? -EINVAL : -errno;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto err;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        goto err;
    }
    /* Read in chunks rather than trusting st_size: the file may grow while we read it. */
    for (;;) {
        if (cap - used < 4096) {
            cap = cap ? cap * 2 : 8192;
            data = wr_xrealloc(data, cap + 1);
        }
        ssize_t n = read(fd, data + used, cap - used);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            goto err;
        }
        if (n == 0) {
            break;
        }
        used += (size_t)n;
        if (used > max_bytes) {
            rc = -EFBIG;
            goto err;
        }
    }
    close(fd);
    if (!data) {
        data = wr_xmalloc(1);
    }
    data[used] = '\0';
    *out = data;
    *len = used;
    return 0;
err:
    close(fd);
    free(data);
    return rc;
}

const char *wr_file_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFIFO:
        return "a FIFO (named pipe)";
    case S_IFSOCK:
        return "a socket";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFDIR:
        return "a directory";
    case S_IFLNK:
        return "a symbolic link";
    case S_IFREG:
        return "a regular file";
    }
    return "not a file weir knows";
}

const char *wr_read_file_error(const char *path, int rc, char *buf, size_t buflen)
{
    struct stat st;
    if (rc == -EISDIR) {
        snprintf(buf, buflen, "a directory, not a regular file");
    } else if (rc == -EINVAL && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(buf, buflen, "%s, not a regular file", wr_file_kind(st.st_mode));
    } else if (rc == -EINVAL) {
        snprintf(buf, buflen, "not a regular file");
    } else {
        snprintf(buf, buflen, "%s", strerror(-rc));
    }
    return buf;
}

const char *wr_html_entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}
