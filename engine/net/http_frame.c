/*
 * http_frame — HTTP/1.x request framing checked byte by byte; see http_frame.h.
 *
 * A state machine over single bytes (RFC 9112's grammar, section by section), except chunk
 * data, which is skipped in one step. Messages are static strings: the guard puts them in its
 * 400 answer as they are.
 */
#include "engine/net/http_frame.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/base/strutil.h"

enum {
    /* request line (RFC 9112 3) */
    F_METHOD,
    F_TARGET,
    F_VERSION,
    F_RL_LF, /* its CR seen */
    /* header lines (RFC 9112 5) */
    F_LINE, /* the start of a header line, or of the empty line */
    F_NAME,
    F_OWS,
    F_VALUE,
    F_LF,     /* CR after a value seen */
    F_END_LF, /* CR of the empty line seen */
    /* chunked body (RFC 9112 7.1) */
    F_SIZE,
    F_EXT_WS,    /* blanks after the size or after an extension: ';' must follow */
    F_EXT_BNAME, /* after ';' */
    F_EXT_NAME,
    F_EXT_NWS, /* blanks after a name: '=' or ';' must follow */
    F_EXT_BVAL,
    F_EXT_TOK,
    F_EXT_Q,
    F_EXT_QESC,
    F_EXT_AFTER, /* after a quoted value */
    F_SIZE_LF,
    F_DATA,
    F_DATA_CR,
    F_DATA_LF,
    F_TRAILER, /* the start of a trailer line, or of the empty line */
    F_TNAME,
    F_TVALUE,
    F_TLF,
    F_LAST_LF,
    F_DONE,
    F_ERROR,
};

enum { H_OTHER, H_LENGTH, H_TE, H_HOST };

/* A chunk size line (size and extensions) longer than this is refused. */
#define MAX_SIZE_LINE 4096

#define C_TCHAR 1  /* token characters (RFC 9110 5.6.2) */
#define C_VCHAR 2  /* 0x21-0x7E */
#define C_OBS   4  /* obs-text, 0x80-0xFF */
#define C_HEX   8  /* hex digits */
#define C_HOST  16 /* what a Host value holds: reg-name, IP literal, ':' port */
#define C_DIGIT 32
#define C_FIELD 64 /* what a field value holds: VCHAR, obs-text, SP, HTAB */

static unsigned char cls[256];
static bool cls_ready;

static void cls_init(void)
{
    for (int c = 0; c < 256; c++) {
        unsigned char v = 0;
        bool digit = c >= '0' && c <= '9';
        bool alnum = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        v |= c >= 0x21 && c <= 0x7e ? C_VCHAR : 0;
        v |= c >= 0x80 ? C_OBS : 0;
        v |= alnum || (c && strchr("!#$%&'*+-.^_`|~", c)) ? C_TCHAR : 0;
        v |= digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ? C_HEX : 0;
        v |= alnum || (c && strchr("-._~!$&'()*+,;=:[]%", c)) ? C_HOST : 0;
        v |= digit ? C_DIGIT : 0;
        v |= (c >= 0x21 && c != 0x7f) || c == ' ' || c == '\t' ? C_FIELD : 0;
        cls[c] = v;
    }
    cls_ready = true;
}

static const char E_LINE[] = "malformed request line (expected METHOD SP TARGET SP HTTP/1.1)";
static const char E_LF[] = "a line ends in LF alone (HTTP needs CR LF)";
static const char E_CR[] = "a CR not followed by LF";
static const char E_FOLD[] = "a header continuation line (obs-fold) is not accepted";
static const char E_CTL[] = "a control character in a header value";
static const char E_NAME[] = "invalid character in a header name";
static const char E_LENGTH[] = "Content-Length is not a number of bytes";
static const char E_SIZE[] = "a chunk size is not hexadecimal digits";
static const char E_EXT[] = "malformed chunk extension";
static const char E_DATA[] = "no CR LF after the chunk data";
static const char E_TRAILER[] = "malformed trailer field";

void wr_http_frame_init(struct wr_http_frame *f, size_t max_head, size_t max_body)
{
    if (!cls_ready) {
        cls_init();
    }
    memset(f, 0, sizeof(*f));
    f->max_head = max_head;
    f->max_body = max_body;
    f->state = F_METHOD;
}

static int fail(struct wr_http_frame *f, int status, const char *why)
{
    f->status = status;
    f->why = why;
    f->state = F_ERROR;
    return -1;
}

static int hexval(unsigned char ch)
{
    return ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
}

/* The request line's version, at its CR. */
static int end_version(struct wr_http_frame *f)
{
    const char *v = f->buf;
    if (f->len == 8 && memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '1' || v[7] == '0')) {
        f->http10 = v[7] == '0';
        return 0;
    }
    if (f->len == 8 && memcmp(v, "HTTP/", 5) == 0 && (cls[(unsigned char)v[5]] & C_DIGIT) &&
        v[6] == '.' && (cls[(unsigned char)v[7]] & C_DIGIT)) {
        return fail(f, 505, "HTTP version not supported (weir takes HTTP/1.0 and HTTP/1.1)");
    }
    return fail(f, 400, E_LINE);
}

/* A header's name, at its colon. */
static int end_name(struct wr_http_frame *f)
{
    size_t n = f->len < sizeof(f->buf) - 1 ? f->len : sizeof(f->buf) - 1;
    f->buf[n] = '\0';
    f->kind = H_OTHER;
    if (f->len == 14 && strcmp(f->buf, "content-length") == 0) {
        f->kind = H_LENGTH;
    } else if (f->len == 17 && strcmp(f->buf, "transfer-encoding") == 0) {
        if (f->chunked) {
            return fail(f, 400, "Transfer-Encoding given twice");
        }
        f->kind = H_TE;
    } else if (f->len == 4 && strcmp(f->buf, "host") == 0) {
        if (++f->hosts > 1) {
            return fail(f, 400, "two Host headers");
        }
        f->kind = H_HOST;
    }
    f->value = 0;
    f->digits = 0;
    f->ws = false;
    f->te_len = 0;
    f->len = 0;
    return 0;
}

/* One byte of a header value (the blanks before it skipped). */
static int value_byte(struct wr_http_frame *f, unsigned char ch)
{
    bool blank = ch == ' ' || ch == '\t';
    if (!blank && !(cls[ch] & (C_VCHAR | C_OBS))) {
        return fail(f, 400, ch == '\n' ? E_LF : E_CTL);
    }
    switch (f->kind) {
    case H_LENGTH:
        if (blank) {
            f->ws = true;
        } else if (!(cls[ch] & C_DIGIT) || f->ws) {
            return fail(f, 400, E_LENGTH);
        } else {
            /* Saturates: a length that large is refused 413 all the same. */
            f->value = f->value > UINT64_MAX / 10 - 1 ? UINT64_MAX : f->value * 10 + (ch - '0');
            f->digits++;
        }
        break;
    case H_HOST:
        if (blank) {
            f->ws = true;
        } else if (!(cls[ch] & C_HOST) || f->ws) {
            return fail(f, 400, "Host is not a valid host[:port]");
        }
        break;
    case H_TE:
        if (f->len < sizeof(f->te)) {
            f->te[f->len] = (char)ch;
        }
        f->len++;
        if (!blank) {
            f->te_len = f->len;
        }
        break;
    }
    return 0;
}

/* A header's value, at its CR. */
static int end_value(struct wr_http_frame *f)
{
    if (f->kind == H_LENGTH) {
        if (f->digits == 0) {
            return fail(f, 400, E_LENGTH);
        }
        if (f->has_length && f->length != f->value) {
            return fail(f, 400, "two Content-Length headers that disagree");
        }
        f->has_length = true;
        f->length = f->value;
    } else if (f->kind == H_TE) {
        if (f->te_len != 7 || strncasecmp(f->te, "chunked", 7) != 0) {
            return fail(f, 400,
                        "Transfer-Encoding must be exactly chunked (weir decodes no other "
                        "coding, and no list of them)");
        }
        f->chunked = true;
    }
    return 0;
}

/* The empty line after the headers: the framing the request declared. 1: a Content-Length
   body (or none) follows; 0: chunks follow. */
static int end_head(struct wr_http_frame *f)
{
    if (!f->http10 && f->hosts == 0) {
        return fail(f, 400, "an HTTP/1.1 request without Host");
    }
    if (f->chunked && f->has_length) {
        return fail(f, 400, "both Transfer-Encoding and Content-Length (ambiguous framing)");
    }
    if (f->chunked && f->http10) {
        return fail(f, 400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (!f->chunked) {
        f->state = F_DONE;
        return 1;
    }
    f->state = F_SIZE;
    f->value = 0;
    f->digits = 0;
    f->len = 0;
    return 0;
}

/* The request line and the header block. */
static int head_byte(struct wr_http_frame *f, unsigned char ch)
{
    unsigned char c = cls[ch];
    if (++f->head > f->max_head) {
        return fail(f, 431, "the request line and headers are too large");
    }
    switch (f->state) {
    case F_METHOD:
        if (c & C_TCHAR) {
            f->len++;
        } else if (ch == ' ' && f->len > 0) {
            f->state = F_TARGET;
            f->len = 0;
        } else if (ch == ' ' || ch == '\r' || ch == '\n') {
            return fail(f, 400, E_LINE);
        } else {
            return fail(f, 400, "invalid character in the method");
        }
        return 0;
    case F_TARGET:
        if (c & C_VCHAR) {
            f->len++;
        } else if (ch == ' ' && f->len > 0) {
            f->state = F_VERSION;
            f->len = 0;
        } else if (ch == ' ' || ch == '\r' || ch == '\n') {
            return fail(f, 400, E_LINE);
        } else {
            return fail(f, 400, "a control character or a byte over 0x7E in the request target");
        }
        return 0;
    case F_VERSION:
        if (ch == '\r') {
            f->state = F_RL_LF;
            return end_version(f);
        }
        if (ch == '\n') {
            return fail(f, 400, E_LF);
        }
        if (f->len >= 8) {
            return fail(f, 400, E_LINE);
        }
        f->buf[f->len++] = (char)ch;
        return 0;
    case F_RL_LF:
    case F_LF:
        if (ch != '\n') {
            return fail(f, 400, E_CR);
        }
        f->state = F_LINE;
        return 0;
    case F_LINE:
        if (ch == '\r') {
            f->state = F_END_LF;
        } else if (ch == '\n') {
            return fail(f, 400, E_LF);
        } else if (ch == ' ' || ch == '\t') {
            return fail(f, 400, E_FOLD);
        } else if (c & C_TCHAR) {
            f->state = F_NAME;
            f->buf[0] = (char)(ch | ((ch >= 'A' && ch <= 'Z') ? 0x20 : 0));
            f->len = 1;
        } else {
            return fail(f, 400, E_NAME);
        }
        return 0;
    case F_NAME:
        if (c & C_TCHAR) {
            if (f->len < sizeof(f->buf) - 1) {
                f->buf[f->len] = (char)(ch | ((ch >= 'A' && ch <= 'Z') ? 0x20 : 0));
            }
            f->len++;
        } else if (ch == ':') {
            f->state = F_OWS;
            return end_name(f);
        } else if (ch == ' ' || ch == '\t') {
            return fail(f, 400, "whitespace before the colon of a header (or in its name)");
        } else if (ch == '\r' || ch == '\n') {
            return fail(f, 400, "a header line without a colon");
        } else {
            return fail(f, 400, E_NAME);
        }
        return 0;
    case F_OWS:
        if (ch == ' ' || ch == '\t') {
            return 0;
        }
        /* This byte is the value's first. */
        f->state = F_VALUE;
        /* fall through */
    case F_VALUE:
        if (ch == '\r') {
            f->state = F_LF;
            return end_value(f);
        }
        return value_byte(f, ch);
    case F_END_LF:
        if (ch != '\n') {
            return fail(f, 400, E_CR);
        }
        return end_head(f);
    }
    return fail(f, 400, E_LINE);
}

/* A chunk size line: the size, then extensions (each of their bytes cut). */
static int size_byte(struct wr_http_frame *f, unsigned char ch, bool *cut)
{
    unsigned char c = cls[ch];
    bool blank = ch == ' ' || ch == '\t';
    if (++f->len > MAX_SIZE_LINE) {
        return fail(f, 400, "a chunk size line is longer than 4KiB");
    }
    if (ch == '\n') {
        return fail(f, 400, E_LF);
    }
    if (f->state == F_SIZE) {
        if (c & C_HEX) {
            f->value = f->value * 16 + (uint64_t)hexval(ch);
            f->digits++;
            if (f->value > f->max_body - f->body) {
                return fail(f, 413, "a chunk takes the body over its limit");
            }
            return 0;
        }
        if (f->digits == 0) {
            return fail(f, 400, E_SIZE);
        }
        if (ch == '\r') {
            f->state = F_SIZE_LF;
        } else if (ch == ';') {
            f->state = F_EXT_BNAME;
        } else if (blank) {
            f->state = F_EXT_WS;
        } else {
            return fail(f, 400, E_SIZE);
        }
        *cut = ch != '\r';
        return 0;
    }
    /* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] ) */
    bool end = false;
    switch (f->state) {
    case F_EXT_WS:
        if (ch == ';') {
            f->state = F_EXT_BNAME;
        } else if (!blank) {
            return fail(f, 400, E_EXT);
        }
        break;
    case F_EXT_BNAME:
        if (c & C_TCHAR) {
            f->state = F_EXT_NAME;
        } else if (!blank) {
            return fail(f, 400, E_EXT);
        }
        break;
    case F_EXT_NAME:
    case F_EXT_TOK:
        if (c & C_TCHAR) {
            break;
        }
        if (ch == '=' && f->state == F_EXT_NAME) {
            f->state = F_EXT_BVAL;
        } else if (ch == ';') {
            f->state = F_EXT_BNAME;
        } else if (blank) {
            f->state = f->state == F_EXT_NAME ? F_EXT_NWS : F_EXT_WS;
        } else if (ch == '\r') {
            end = true;
        } else {
            return fail(f, 400, E_EXT);
        }
        break;
    case F_EXT_NWS:
        if (ch == '=') {
            f->state = F_EXT_BVAL;
        } else if (ch == ';') {
            f->state = F_EXT_BNAME;
        } else if (!blank) {
            return fail(f, 400, E_EXT);
        }
        break;
    case F_EXT_BVAL:
        if (ch == '"') {
            f->state = F_EXT_Q;
        } else if (c & C_TCHAR) {
            f->state = F_EXT_TOK;
        } else if (!blank) {
            return fail(f, 400, E_EXT);
        }
        break;
    case F_EXT_Q:
        if (ch == '"') {
            f->state = F_EXT_AFTER;
        } else if (ch == '\\') {
            f->state = F_EXT_QESC;
        } else if (!blank && !(c & (C_VCHAR | C_OBS))) {
            return fail(f, 400, E_EXT);
        }
        break;
    case F_EXT_QESC:
        if (!blank && !(c & (C_VCHAR | C_OBS))) {
            return fail(f, 400, E_EXT);
        }
        f->state = F_EXT_Q;
        break;
    case F_EXT_AFTER:
        if (ch == ';') {
            f->state = F_EXT_BNAME;
        } else if (blank) {
            f->state = F_EXT_WS;
        } else if (ch == '\r') {
            end = true;
        } else {
            return fail(f, 400, E_EXT);
        }
        break;
    }
    if (end) {
        f->state = F_SIZE_LF;
    }
    *cut = !end;
    return 0;
}

/* The rest of a chunked body but its data: line ends and trailers (each byte of a trailer
   field line cut). 2: the body ended with this byte. */
static int chunk_byte(struct wr_http_frame *f, unsigned char ch, bool *cut)
{
    unsigned char c = cls[ch];
    switch (f->state) {
    case F_SIZE_LF:
        if (ch != '\n') {
            return fail(f, 400, E_CR);
        }
        if (f->value == 0) {
            f->state = F_TRAILER;
            f->head = 0;
        } else {
            f->state = F_DATA;
            f->left = f->value;
            f->body += f->value;
        }
        return 0;
    case F_DATA_CR:
        if (ch != '\r') {
            return fail(f, 400, E_DATA);
        }
        f->state = F_DATA_LF;
        return 0;
    case F_DATA_LF:
        if (ch != '\n') {
            return fail(f, 400, E_DATA);
        }
        f->state = F_SIZE;
        f->value = 0;
        f->digits = 0;
        f->len = 0;
        return 0;
    case F_LAST_LF:
        if (ch != '\n') {
            return fail(f, 400, E_CR);
        }
        f->state = F_DONE;
        return 2;
    }
    /* Trailer lines. */
    if (++f->head > f->max_head) {
        return fail(f, 431, "the trailer fields are too large");
    }
    switch (f->state) {
    case F_TRAILER:
        if (ch == '\r') {
            f->state = F_LAST_LF;
            return 0;
        }
        if (ch == '\n') {
            return fail(f, 400, E_LF);
        }
        if (ch == ' ' || ch == '\t') {
            return fail(f, 400, E_FOLD);
        }
        if (!(c & C_TCHAR)) {
            return fail(f, 400, E_TRAILER);
        }
        f->state = F_TNAME;
        break;
    case F_TNAME:
        if (ch == ':') {
            f->state = F_TVALUE;
        } else if (!(c & C_TCHAR)) {
            return fail(f, 400, E_TRAILER);
        }
        break;
    case F_TVALUE:
        if (ch == '\r') {
            f->state = F_TLF;
        } else if (ch == '\n') {
            return fail(f, 400, E_LF);
        } else if (ch != ' ' && ch != '\t' && !(c & (C_VCHAR | C_OBS))) {
            return fail(f, 400, "a control character in a trailer field");
        }
        break;
    case F_TLF:
        if (ch != '\n') {
            return fail(f, 400, E_CR);
        }
        f->state = F_TRAILER;
        break;
    default:
        return fail(f, 400, E_TRAILER);
    }
    *cut = true;
    return 0;
}

static void add_cut(struct wr_http_frame_cuts *cuts, uint64_t start, uint64_t end)
{
    if (!cuts || start >= end) {
        return;
    }
    if (cuts->n > 0 && cuts->r[cuts->n - 1][1] == start) {
        cuts->r[cuts->n - 1][1] = end;
        return;
    }
    if (cuts->n == cuts->cap) {
        cuts->cap = cuts->cap ? cuts->cap * 2 : 8;
        cuts->r = wr_xrealloc(cuts->r, cuts->cap * sizeof(*cuts->r));
    }
    cuts->r[cuts->n][0] = start;
    cuts->r[cuts->n][1] = end;
    cuts->n++;
}

enum wr_http_frame_result wr_http_frame_feed(struct wr_http_frame *f, const unsigned char *p,
                                             size_t n, size_t *used,
                                             struct wr_http_frame_cuts *cuts)
{
    size_t i = 0;
    int rc = 0;

    *used = 0;
    if (f->state == F_ERROR) {
        return WR_HTTP_FRAME_ERROR;
    }
    if (f->state == F_DONE) {
        return f->chunked ? WR_HTTP_FRAME_END : WR_HTTP_FRAME_BODY;
    }
    while (i < n && rc == 0) {
        if (f->state == F_DATA) {
            /* Chunk data: skipped whole. */
            uint64_t k = f->left < n - i ? f->left : n - i;
            i += (size_t)k;
            f->pos += k;
            f->left -= k;
            if (f->left == 0) {
                f->state = F_DATA_CR;
            }
            continue;
        }
        if (f->state == F_VALUE || f->state == F_NAME || f->state == F_TARGET) {
            /* Most bytes of a header block: a run of one class, taken in a tight loop (the
               byte that ends it goes the slow way below). */
            size_t j = i, room = f->max_head - f->head, end = n - i < room ? n : i + room;
            if (f->state == F_NAME) {
                size_t len = f->len;
                for (; j < end && (cls[p[j]] & C_TCHAR); j++, len++) {
                    if (len < sizeof(f->buf) - 1) {
                        unsigned char ch = p[j];
                        f->buf[len] = (char)(ch | ((ch >= 'A' && ch <= 'Z') ? 0x20 : 0));
                    }
                }
                f->len = len;
            } else if (f->state == F_TARGET) {
                while (j < end && (cls[p[j]] & C_VCHAR)) {
                    j++;
                }
                f->len += j - i;
            } else if (f->kind == H_OTHER) {
                while (j < end && (cls[p[j]] & C_FIELD)) {
                    j++;
                }
            }
            f->head += j - i;
            f->pos += j - i;
            i = j;
            if (i == n) {
                break;
            }
        }
        bool cut = false;
        unsigned char ch = p[i];
        if (f->state <= F_END_LF) {
            rc = head_byte(f, ch);
        } else if (f->state <= F_EXT_AFTER) {
            rc = size_byte(f, ch, &cut);
        } else {
            rc = chunk_byte(f, ch, &cut);
        }
        if (rc < 0) {
            return WR_HTTP_FRAME_ERROR;
        }
        if (cut && !f->cutting) {
            f->cutting = true;
            f->cut_start = f->pos;
        } else if (!cut && f->cutting) {
            add_cut(cuts, f->cut_start, f->pos);
            f->cutting = false;
        }
        f->pos++;
        i++;
    }
    if (f->cutting) {
        /* The cut goes on in the next bytes; report what this call saw of it. */
        add_cut(cuts, f->cut_start, f->pos);
        f->cut_start = f->pos;
    }
    *used = i;
    return rc == 0 ? WR_HTTP_FRAME_MORE : rc == 1 ? WR_HTTP_FRAME_BODY : WR_HTTP_FRAME_END;
}

void wr_http_frame_cuts_clear(struct wr_http_frame_cuts *cuts)
{
    cuts->n = 0;
}

void wr_http_frame_cuts_free(struct wr_http_frame_cuts *cuts)
{
    free(cuts->r);
    cuts->r = NULL;
    cuts->n = cuts->cap = 0;
}
