/*
 * strutil — small string and memory helpers shared by every module: allocation that aborts on
 * out-of-memory, a growable string buffer, "did you mean" suggestions and path helpers.
 * Nothing here knows about workflows, Graph or the event loop.
 */
#ifndef WR_STRUTIL_H
#define WR_STRUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* malloc/realloc/strdup that abort with a message on out-of-memory; never return NULL. */
void *wr_xmalloc(size_t n);
void *wr_xcalloc(size_t n, size_t size);
void *wr_xrealloc(void *p, size_t n);
char *wr_xstrdup(const char *s);
/* Returns an owned copy of s, or NULL when s is NULL. */
char *wr_xstrdup_or_null(const char *s);
/*
 * The size of every error-message buffer in weir, as curl has CURL_ERROR_SIZE: a caller's
 * `char err[WR_ERR_MAX]`, passed as (err, sizeof(err)) to a function that fails with a
 * message. The longest messages weir composes — a loader's "file:line: key path: what is wrong"
 * with a quoted value, a Lua error with its chunk name and expression, a Graph token error's
 * code and description, a journal error naming the state file's path — run to a few hundred
 * bytes; 2 KiB holds one such message wrapping another, and is still small enough for a stack
 * frame (but never hold one in a function that recurses: pass it down or hoist it). Longer
 * text (a server's whole answer, a path near PATH_MAX) is cut visibly by wr_errf_marked.
 */
#define WR_ERR_MAX 2048

/*
 * Formats a message into err (when err is not NULL and errlen > 0) and returns -1:
 * `return wr_errf(err, errlen, ...)`. A message longer than errlen - 1 bytes is cut there,
 * plainly (a buffer of WR_ERR_MAX bytes holds any message weir composes).
 */
int wr_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * wr_errf for a message that may not fit even in WR_ERR_MAX bytes: one that wraps another
 * message, or quotes text weir did not write (a server's answer, a Lua error, a path). A cut
 * message ends at a UTF-8 boundary, in "…" (when errlen leaves room for it). Returns -1.
 */
int wr_errf_marked(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* wr_errf_marked with a va_list (consumed). */
int wr_verrf_marked(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define WR_QUOTE_MAX 48

/*
 * Copies s into out for quoting user input in a message: unprintable bytes become '?', and
 * input longer than WR_QUOTE_MAX is cut and marked with "...". out must hold
 * WR_QUOTE_MAX + 4 bytes.
 */
void wr_quote_input(const char *s, char out[WR_QUOTE_MAX + 4]);

/* The first n bytes of s (which need not be NUL-terminated) as an owned string. */
char *wr_xstrndup(const char *s, size_t n);
/* Owned printf-style string. */
char *wr_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable NUL-terminated byte buffer. Zero-initialise ({0}) before use. */
struct wr_buf {
    char *data;
    size_t len;
    size_t cap;
};
void wr_buf_addn(struct wr_buf *b, const char *s, size_t n);
void wr_buf_add(struct wr_buf *b, const char *s);

/*
 * The HTML entity that stands for c in text and attribute values ("&amp;", "&lt;", "&gt;",
 * "&quot;", "&#39;"; static), or NULL when c stands for itself. The one escaping table of the
 * approval page and weir.html().
 */
const char *wr_html_entity(char c);
void wr_buf_addc(struct wr_buf *b, char c);
void wr_buf_addf(struct wr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wr_buf_vaddf(struct wr_buf *b, const char *fmt, va_list ap);
/* Borrowed pointer to the contents; "" for an empty buffer; valid until the next change. */
const char *wr_buf_str(const struct wr_buf *b);
/* Hands the contents to the caller (owned, never NULL) and empties the buffer. */
char *wr_buf_take(struct wr_buf *b);
void wr_buf_free(struct wr_buf *b);

/* Edit distance (insert, delete, substitute, transpose), capped at `cap` + 1 for speed. */
size_t wr_edit_distance(const char *a, const char *b, size_t cap);

/*
 * Returns the candidate closest to `word` (borrowed from `candidates`, a NULL-terminated array)
 * when it is close enough to be a plausible typo, else NULL. Case is ignored.
 */
const char *wr_suggest(const char *word, const char *const *candidates);

bool wr_str_has_suffix(const char *s, const char *suffix);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF). */
bool wr_utf8_valid(const char *s, size_t len);

/*
 * The length of the longest prefix of s[0..len) of at most max bytes that does not end inside
 * a UTF-8 sequence (a cut there drops the whole character). len itself when len <= max.
 */
size_t wr_utf8_prefix(const char *s, size_t len, size_t max);

/*
 * The printf precision that quotes at most max bytes of the string s (borrowed) without ending
 * inside a UTF-8 sequence: printf("'%.*s'", wr_utf8_prec(s, 80), s) in place of "'%.80s'", which
 * can cut a character in two. Reads at most max + 1 bytes of s.
 */
int wr_utf8_prec(const char *s, size_t max);

/* The most bytes the marker of a cut text takes: "… (18446744073709551615 bytes more)". */
#define WR_CAP_MARKER_MAX 40

/*
 * Appends s[0..len) to b; when len > max, only its first wr_utf8_prefix(s, len, max) bytes
 * and the marker "… (N bytes more)", N being the bytes left out. At most max +
 * WR_CAP_MARKER_MAX bytes are appended.
 */
void wr_buf_add_capped(struct wr_buf *b, const char *s, size_t len, size_t max);

/* s capped as wr_buf_add_capped does, as an owned string; NULL for NULL. */
char *wr_text_cap(const char *s, size_t max);

/*
 * Joins base and rel into an owned path. An absolute rel, or a NULL/empty base, returns a copy
 * of rel unchanged.
 */
char *wr_path_join(const char *base, const char *rel);

/* Owned copy of the directory part of path ("." when there is none). */
char *wr_path_dirname(const char *path);

/*
 * Reads a whole regular file of at most max_bytes into an owned, NUL-terminated buffer.
 * Returns 0 and sets *out and *len, or a negative errno-style code: -ENOENT, -EISDIR, -EFBIG (over
 * max_bytes), -EINVAL (not a regular file: a FIFO, socket or device), or another -errno. The
 * buffer may contain NUL bytes; *len is exact. Never blocks on a FIFO: the file is opened
 * non-blocking and its type checked before anything is read.
 */
int wr_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

/*
 * What a file of this st_mode is, for messages: "a FIFO (named pipe)", "a socket", "a character
 * device", "a block device", "a directory", "a symbolic link", "a regular file". Static.
 */
const char *wr_file_kind(unsigned mode);

/*
 * The reason wr_read_file(path) failed with rc, for a message: "a FIFO (named pipe), not a
 * regular file" (the kind looked up again) for -EINVAL, "a directory, not a regular file" for
 * -EISDIR, else strerror(-rc). Written into buf (NUL-terminated); returns buf.
 */
const char *wr_read_file_error(const char *path, int rc, char *buf, size_t buflen);

#endif
