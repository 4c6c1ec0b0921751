/*
 * http_frame — the framing of one HTTP/1.x request checked byte by byte as it arrives, before
 * evhttp parses it: the request line, the header block and, for a chunked body, the chunks.
 *
 * evhttp (libevent 2.1) is lenient where leniency lets a request mean one thing to a proxy in
 * front of weir and another to weir (request smuggling): it takes LF-only line ends, obs-fold
 * continuation lines, "Content-Length: +2", two Content-Length headers (it reads the first),
 * a space before the colon (then the header is silently some other header), NUL and other
 * control bytes in values, HTTP/1.1 without Host, and any Transfer-Encoding that is not exactly
 * "chunked" (then it reads no body at all, and the chunked bytes become the next request). It
 * also refuses valid chunk extensions ("5;name=value") and answers a malformed chunk 413.
 *
 * This parser accepts what RFC 9112 (sections 2 to 7) and RFC 9110 (section 5) allow and
 * refuses the rest with a status and a reason: 400 for ambiguous or malformed framing, 413
 * for a chunk that takes the body over its limit, 431 for a header block over its limit, 505
 * for an HTTP version other than 1.0 and 1.1. It does not look at methods, paths or what a
 * header means beyond framing (Content-Length, Transfer-Encoding, Host).
 *
 * Chunk extensions and trailer fields are valid but mean nothing to weir, and evhttp cannot
 * take extensions and would merge trailers into the headers. The parser marks their bytes as
 * cuts (ranges the caller removes before evhttp reads them): evhttp then sees "5\r\n" and an
 * empty trailer section. A Content-Length body is not looked at (evhttp counts it).
 *
 * One scan of each byte of the header block, no allocation; the caller owns the state.
 */
#ifndef WR_HTTP_FRAME_H
#define WR_HTTP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wr_http_frame_result {
    WR_HTTP_FRAME_MORE,  /* every byte given was taken; the request goes on */
    WR_HTTP_FRAME_BODY,  /* the header block ended; a Content-Length body (or none) follows */
    WR_HTTP_FRAME_END,   /* a chunked body ended (its last CR LF taken) */
    WR_HTTP_FRAME_ERROR, /* refused: status and why are set */
};

/* Byte ranges to remove, as offsets from the request's first byte. Zero-initialise. */
struct wr_http_frame_cuts {
    uint64_t (*r)[2]; /* [start, end) pairs, ascending, not touching */
    size_t n, cap;
};

/* The state of one request. Fields are the parser's; read only status and why. */
struct wr_http_frame {
    size_t max_head; /* bytes of the request line and headers (and of trailers) */
    size_t max_body; /* bytes of chunk data */
    int state;
    int status;         /* after WR_HTTP_FRAME_ERROR: 400, 413, 431 or 505 */
    const char *why;    /* after WR_HTTP_FRAME_ERROR: a static message */
    uint64_t pos;       /* bytes of this request taken so far */
    size_t head;        /* bytes of the header block (then of the trailers) so far */
    size_t len;         /* bytes of the current token or line */
    char buf[24];       /* the header name (lower case) or the version being read */
    int kind;           /* what the current header is */
    bool ws;            /* whitespace after a Content-Length or Host value */
    bool http10;        /* HTTP/1.0 */
    int hosts;          /* Host headers seen */
    bool has_length;    /* a Content-Length header was seen */
    bool chunked;       /* Transfer-Encoding: chunked was seen */
    uint64_t length;    /* its value */
    uint64_t value;     /* the number being read (Content-Length, chunk size) */
    int digits;         /* digits of it */
    char te[16];        /* the Transfer-Encoding value being read */
    size_t te_len;      /* bytes of te up to its last non-blank byte */
    uint64_t left;      /* chunk data bytes still to come */
    uint64_t body;      /* chunk data bytes so far */
    uint64_t cut_start; /* where the cut being made started, when cutting */
    bool cutting;
};

/* Starts a request, with these limits (both positive). */
void wr_http_frame_init(struct wr_http_frame *f, size_t max_head, size_t max_body);

/*
 * Takes up to n bytes of the request from p (borrowed). Returns WR_HTTP_FRAME_MORE with all n
 * taken; WR_HTTP_FRAME_BODY or WR_HTTP_FRAME_END with *used set to the bytes that belonged to
 * this request (the rest is the next request's, not looked at); WR_HTTP_FRAME_ERROR with
 * f->status and f->why. Byte ranges to remove are added to cuts (NULL: not reported). After
 * any result but MORE, call wr_http_frame_init before feeding again.
 */
enum wr_http_frame_result wr_http_frame_feed(struct wr_http_frame *f, const unsigned char *p,
                                             size_t n, size_t *used,
                                             struct wr_http_frame_cuts *cuts);

/* Empties cuts (keeps its memory). */
void wr_http_frame_cuts_clear(struct wr_http_frame_cuts *cuts);

/* Frees cuts' memory (the struct itself is the caller's). */
void wr_http_frame_cuts_free(struct wr_http_frame_cuts *cuts);

#endif
