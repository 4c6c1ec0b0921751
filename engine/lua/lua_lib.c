/*
 * lua_lib — the weir.* helper library that scripts and expressions see inside the Lua sandbox:
 * weir.null, weir.log, weir.json_encode/json_decode, weir.array, weir.slug, weir.date,
 * weir.env, weir.html, and weir.list and weir.index (written in Lua).
 *
 * This file only defines the functions; the sandbox, the value mapping between Lua and json-c
 * (wr_lua_push_json / wr_lua_to_json), the log sink and the environment allow-list belong to
 * lua_host.c. Every function here runs inside a script's budget and memory cap, so anything it
 * allocates outside Lua (json-c trees) sits in a box with a __gc until it is released, and a
 * Lua error (budget, memory cap) raised halfway leaks nothing. weir.json_decode reads with
 * weir's one strict JSON reader (engine/base/json) and weir.date with its one timestamp reader
 * (engine/base/timestamp, shared with wait_until:), so they refuse what the rest of weir refuses.
 * tostring(weir.null) is "weir.null".
 *
 * Nothing here reads the process time zone or locale: dates are read by engine/base/timestamp and
 * written through gmtime_r and strftime_l in the "C" locale.
 */
#include "engine/lua/lua_host.h"

#include <lauxlib.h>
#include <locale.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"
#include "engine/base/timestamp.h"

#define LOG_MAX         4096             /* bytes of one weir.log() message; longer ones are cut */
#define SNIP_MAX        64               /* bytes of user input quoted in an error message */
#define DATE_FMT_MAX    128              /* bytes of a weir.date() format */
#define DATE_OUT_MAX    256              /* bytes of a weir.date() result */
#define JSON_DEPTH      WR_LUA_MAX_DEPTH /* weir.json_decode nesting limit */
#define JSON_BOX_MT     "weir.json_box"
#define EPOCH_MIN       (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define EPOCH_MAX       253402300799LL   /* 9999-12-31T23:59:59Z */
#define DATE_SPECIFIERS "%Y %m %d %H %M %S %y %j %a %A %b %B %e %F %T %z %Z %% %u %w %G %V"

/* Work charged to the evaluation's budget (wr_lua_charge: a unit is about one instruction),
   which also keeps its time limit: reading JSON or a slug's input costs ns a byte. */
#define JSON_BYTES 4          /* bytes weir.json_decode reads or json_encode writes per unit */
#define SLUG_UNITS 2          /* per byte weir.slug reads */
#define SLUG_CHUNK (64 << 10) /* bytes weir.slug reads between two charges */
#define NOTE_JSON  "(weir.json_decode or json_encode over too much data?)"
#define NOTE_SLUG  "(weir.slug over too long a string?)"
#define HTML_UNITS 1 /* per byte weir.html reads */
#define NOTE_HTML  "(weir.html over too long a string?)"

static struct wr_lua *host(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/*
 * Writes a printable excerpt of s[0..len) into buf for an error message: at most SNIP_MAX
 * bytes, control bytes (and NUL) shown as '?', "..." when cut.
 */
static const char *snip(const char *s, size_t len, char *buf, size_t cap)
{
    size_t n = 0;
    size_t max = len > SNIP_MAX ? SNIP_MAX : len;
    for (size_t i = 0; i < max && n + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (max < len && n + 4 <= cap) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* {====== UTF-8 ====== */

/*
 * Decodes one UTF-8 sequence at s (n bytes available) into *cp. Returns its length, or 0 for
 * an invalid sequence: a stray continuation byte, a truncated sequence, an overlong form, a
 * surrogate or a code point above U+10FFFF.
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t len;
    uint32_t min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }
    *cp = c;
    return len;
}

/* }====== */

/* {====== weir.log ====== */

static int l_log(lua_State *L)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    size_t llen, mlen;
    const char *level = luaL_checklstring(L, 1, &llen);
    const char *known = NULL;
    char buf[SNIP_MAX + 8];

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (strlen(levels[i]) == llen && memcmp(level, levels[i], llen) == 0) {
            known = levels[i];
        }
    }
    if (!known) {
        return luaL_error(L, "weir.log: level '%s' is not one of debug, info, warn, error",
                          snip(level, llen, buf, sizeof(buf)));
    }
    luaL_checkany(L, 2);
    const char *msg = luaL_tolstring(L, 2, &mlen);
    if (mlen > LOG_MAX) {
        /* Cut on a character boundary so that the sink never sees half a UTF-8 sequence. */
        size_t cut = LOG_MAX;
        while (cut > 0 && ((unsigned char)msg[cut] & 0xc0) == 0x80) {
            cut--;
        }
        msg = lua_pushlstring(L, msg, cut);
    }
    wr_lua_log(host(L), known, msg);
    return 0;
}

/* }====== */

/* {====== weir.json_encode, weir.json_decode, weir.array ====== */

/*
 * A json-c tree in flight sits in a full userdata whose __gc releases it: if a Lua error
 * (memory cap, budget) unwinds past us, the collector frees the tree instead of leaking it.
 */
static int json_box_gc(lua_State *L)
{
    struct json_object **box = luaL_checkudata(L, 1, JSON_BOX_MT);
    json_object_put(*box);
    *box = NULL;
    return 0;
}

static struct json_object **push_json_box(lua_State *L)
{
    struct json_object **box = lua_newuserdatauv(L, sizeof(*box), 0);
    *box = NULL;
    luaL_setmetatable(L, JSON_BOX_MT);
    return box;
}

/* Releases the tree in the box now rather than at the next collection. */
static void json_box_release(struct json_object **box)
{
    json_object_put(*box);
    *box = NULL;
}

static int l_json_encode(lua_State *L)
{
    char err[WR_ERR_MAX];
    size_t len;

    luaL_checkany(L, 1);
    struct json_object **box = push_json_box(L);
    if (wr_lua_to_json(L, 1, box, err, sizeof(err)) != 0) {
        return luaL_error(L, "weir.json_encode: %s", err);
    }
    const char *s = json_object_to_json_string_length(
        *box, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s) {
        return luaL_error(L, "weir.json_encode: out of memory");
    }
    lua_pushlstring(L, s, len);
    json_box_release(box);
    /* The conversion's work shows only now: charged by the text it made. */
    wr_lua_charge(L, host(L), (uint64_t)len / JSON_BYTES, NOTE_JSON);
    return 1;
}

/*
 * weir.json_decode(s) -> value | nil, message. Bad input is data, not a bug in the script, so
 * a parse error follows the Lua convention of io.open and friends (nil plus a message) and the
 * script decides; argument errors (s not a string) still raise. JSON null at the top level
 * decodes to weir.null, never nil, so nil always means failure.
 *
 * The strict reader every outside JSON goes through (engine/base/json): RFC 8259, nesting up to
 * 64, duplicate keys refused, numbers kept exactly or refused (an integer beyond 64 bits, a
 * number beyond a double). A string may hold \u0000 (Lua strings are byte-exact), a key may
 * not. Messages name the byte offset: "weir.json_decode: unexpected data after the JSON value
 * at byte 4".
 */
static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);

    if (len >= INT32_MAX) {
        lua_pushnil(L);
        lua_pushliteral(L, "weir.json_decode: input too large");
        return 2;
    }
    wr_lua_charge(L, host(L), (uint64_t)len / JSON_BYTES, NOTE_JSON);
    struct json_object **box = push_json_box(L);
    struct wr_json_opts opts = {.max_depth = JSON_DEPTH, .allow_nul = true};
    struct wr_json_error e;
    if (wr_json_parse(s, len, &opts, box, &e) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "weir.json_decode: %s at byte %I", e.msg, (lua_Integer)e.offset);
        return 2;
    }
    if (!*box) {
        lua_pushlightuserdata(L, WR_LUA_NULL);
        return 1;
    }
    wr_lua_push_json(L, *box);
    json_box_release(box);
    return 1;
}

/*
 * weir.array([t]) marks t (or a new table) as a JSON array and returns it; t[1..#t] become
 * the elements. Only plain tables: replacing a metatable the script does not own (a library
 * proxy, a scope) would break the sandbox.
 */
static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_newtable(L);
        wr_lua_mark_array(L, -1);
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if (lua_getmetatable(L, 1)) {
        /* Compare with the marker's metatable: a marked table may be marked again. */
        lua_newtable(L);
        wr_lua_mark_array(L, -1);
        lua_getmetatable(L, -1);
        if (!lua_rawequal(L, 2, -1)) {
            return luaL_error(L, "weir.array: the table already has a metatable");
        }
        lua_settop(L, 1);
        return 1;
    }
    wr_lua_mark_array(L, 1);
    return 1;
}

/* }====== */

/* {====== weir.slug ====== */

/*
 * ASCII folds of U+00C0..U+017F (Latin-1 Supplement letters and Latin Extended-A), lowercase;
 * "" drops the character (× and ÷).
 */
/* One row per 16 code points, as in the Unicode charts. */
/* clang-format off */
static const char *const fold_latin[0x180 - 0xc0] = {
    /* U+00C0 À Á Â Ã Ä Å Æ Ç È É Ê Ë Ì Í Î Ï */
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00D0 Ð Ñ Ò Ó Ô Õ Ö × Ø Ù Ú Û Ü Ý Þ ß */
    "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "ss",
    /* U+00E0 à á â ã ä å æ ç è é ê ë ì í î ï */
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00F0 ð ñ ò ó ô õ ö ÷ ø ù ú û ü ý þ ÿ */
    "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",
    /* U+0100 Ā ā Ă ă Ą ą Ć ć Ĉ ĉ Ċ ċ Č č Ď ď */
    "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
    /* U+0110 Đ đ Ē ē Ĕ ĕ Ė ė Ę ę Ě ě Ĝ ĝ Ğ ğ */
    "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
    /* U+0120 Ġ ġ Ģ ģ Ĥ ĥ Ħ ħ Ĩ ĩ Ī ī Ĭ ĭ Į į */
    "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
    /* U+0130 İ ı Ĳ ĳ Ĵ ĵ Ķ ķ ĸ Ĺ ĺ Ļ ļ Ľ ľ Ŀ */
    "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
    /* U+0140 ŀ Ł ł Ń ń Ņ ņ Ň ň ŉ Ŋ ŋ Ō ō Ŏ ŏ */
    "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "ng", "ng", "o", "o", "o", "o",
    /* U+0150 Ő ő Œ œ Ŕ ŕ Ŗ ŗ Ř ř Ś ś Ŝ ŝ Ş ş */
    "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
    /* U+0160 Š š Ţ ţ Ť ť Ŧ ŧ Ũ ũ Ū ū Ŭ ŭ Ů ů */
    "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+0170 Ű ű Ų ų Ŵ ŵ Ŷ ŷ Ÿ Ź ź Ż ż Ž ž ſ */
    "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};
/* clang-format on */

enum slug_class {
    SLUG_DROP,   /* emits nothing and does not break a word */
    SLUG_TEXT,   /* emits `text` */
    SLUG_SEP,    /* whitespace, '_', '.': a word break */
    SLUG_HYPHEN, /* '-' and Unicode hyphens */
};

static bool is_unicode_space(uint32_t cp)
{
    return cp == 0xa0 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x202f || cp == 0x205f ||
           cp == 0x3000;
}

/*
 * Classifies one code point; for SLUG_TEXT sets *text (static, NUL-terminated) and *ascii: a
 * letter or digit is written to *ascii and *text points at it.
 */
static enum slug_class slug_classify(uint32_t cp, const char **text, char ascii[2])
{
    if (cp >= 'A' && cp <= 'Z') {
        cp += 'a' - 'A';
    }
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
        ascii[0] = (char)cp;
        ascii[1] = '\0';
        *text = ascii;
        return SLUG_TEXT;
    }
    if (cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == '_' || cp == '.' || is_unicode_space(cp)) {
        return SLUG_SEP;
    }
    if (cp == '-' || (cp >= 0x2010 && cp <= 0x2013) || cp == 0x2212) {
        return SLUG_HYPHEN;
    }
    if (cp >= 0xc0 && cp < 0x180) {
        *text = fold_latin[cp - 0xc0];
        return **text ? SLUG_TEXT : SLUG_DROP;
    }
    /* Romanian comma-below letters (Latin Extended-B), common in names: Ș ș Ț ț. */
    if (cp >= 0x218 && cp <= 0x21b) {
        *text = cp < 0x21a ? "s" : "t";
        return SLUG_TEXT;
    }
    /* Everything else, apostrophes (' ’ ʼ) included, is dropped: "O'Brien" -> "obrien". */
    return SLUG_DROP;
}

/*
 * weir.slug(s [, sep]). Word breaks become one `sep` between words and never lead or trail.
 * A hyphen joins words: it absorbs breaks around it ("Jean - Luc" -> "jean-luc"), repeated
 * hyphens collapse, and hyphens never lead or trail either. The result holds only a-z, 0-9,
 * '-' and sep.
 */
static int l_slug(lua_State *L)
{
    size_t len, seplen;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    const char *sep = luaL_optlstring(L, 2, ".", &seplen);
    enum slug_class pending = SLUG_DROP; /* a break or hyphen waiting for the next word */
    bool started = false;
    luaL_Buffer b;

    size_t charged = 0; /* bytes of s charged for so far */
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len;) {
        if (i >= charged) {
            size_t piece = len - i < SLUG_CHUNK ? len - i : SLUG_CHUNK;
            wr_lua_charge(L, host(L), (uint64_t)piece * SLUG_UNITS, NOTE_SLUG);
            charged = i + piece;
        }
        uint32_t cp = 0;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            i++; /* invalid byte: dropped */
            continue;
        }
        i += n;
        const char *text = NULL;
        char ascii[2];
        switch (slug_classify(cp, &text, ascii)) {
        case SLUG_TEXT:
            if (started && pending == SLUG_SEP) {
                luaL_addlstring(&b, sep, seplen);
            } else if (started && pending == SLUG_HYPHEN) {
                luaL_addchar(&b, '-');
            }
            luaL_addstring(&b, text);
            started = true;
            pending = SLUG_DROP;
            break;
        case SLUG_SEP:
            if (pending != SLUG_HYPHEN) {
                pending = SLUG_SEP;
            }
            break;
        case SLUG_HYPHEN:
            pending = SLUG_HYPHEN;
            break;
        case SLUG_DROP:
            break;
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* }====== */

/* {====== weir.date ====== */

/* Checks fmt against the allowed conversions; returns NULL or the first refused one. */
static const char *date_fmt_refused(const char *fmt, size_t len, char *conv)
{
    static const char allowed[] = "YmdHMSyjaAbBeFTzZ%uwGV";
    for (size_t i = 0; i < len; i++) {
        if (fmt[i] == '\0') {
            return "a NUL byte";
        }
        if (fmt[i] != '%') {
            continue;
        }
        if (i + 1 >= len) {
            return "a lone '%' at the end";
        }
        char c = fmt[++i];
        if (c == '\0' || !strchr(allowed, c)) {
            snprintf(conv, 8, "'%%%c'", c >= 0x20 && c < 0x7f ? c : '?');
            return conv;
        }
    }
    return NULL;
}

/*
 * weir.date(value [, fmt]): value is an ISO-8601 string or integer epoch seconds; returns
 * epoch seconds, or with fmt the UTC time formatted by strftime (a safe subset; %Z is "UTC").
 * Years 0000 to 9999 only.
 */
static int l_date(lua_State *L)
{
    long long epoch;
    char buf[SNIP_MAX + 8];

    if (lua_type(L, 1) == LUA_TNUMBER) {
        lua_Integer i;
        int isint = 0;
        i = lua_tointegerx(L, 1, &isint);
        if (!isint) {
            return luaL_error(L, "weir.date: %s is not a whole number of seconds",
                              lua_tostring(L, 1));
        }
        epoch = (long long)i;
    } else if (lua_type(L, 1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);
        int64_t sec;
        int32_t nsec;
        char why[WR_ERR_MAX];
        /* the timestamp reader wait_until uses too; the fraction is dropped (the epoch is the
           whole second at or before the instant) */
        if (wr_timestamp_parse(s, len, &sec, &nsec, why) != 0) {
            return luaL_error(L, "weir.date: '%s': %s", snip(s, len, buf, sizeof(buf)), why);
        }
        epoch = (long long)sec;
    } else {
        return luaL_typeerror(L, 1, "ISO-8601 string or epoch seconds");
    }
    if (epoch < EPOCH_MIN || epoch > EPOCH_MAX) {
        /* Only an offset can push a parsed date out ("0000-01-01T00:00+01:00"). */
        if (lua_type(L, 1) == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, 1, &len);
            return luaL_error(L, "weir.date: '%s' is outside the years 0000 to 9999",
                              snip(s, len, buf, sizeof(buf)));
        }
        return luaL_error(L, "weir.date: %I is outside the years 0000 to 9999", (lua_Integer)epoch);
    }
    if (lua_isnoneornil(L, 2)) {
        lua_pushinteger(L, (lua_Integer)epoch);
        return 1;
    }

    size_t flen;
    const char *fmt = luaL_checklstring(L, 2, &flen);
    char conv[8];
    const char *refused = date_fmt_refused(fmt, flen, conv);
    if (refused) {
        return luaL_error(L, "weir.date: format has %s; allowed: %s", refused, DATE_SPECIFIERS);
    }
    if (flen > DATE_FMT_MAX) {
        return luaL_error(L, "weir.date: format longer than %d bytes", DATE_FMT_MAX);
    }
    time_t t = (time_t)epoch;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        return luaL_error(L, "weir.date: cannot convert %I", (lua_Integer)epoch);
    }
    tm.tm_zone = "UTC"; /* glibc's gmtime says "GMT" */
    /* The "C" locale: day and month names must not depend on the process's LC_TIME. */
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0) {
        return luaL_error(L, "weir.date: cannot create the C locale");
    }
    char out[DATE_OUT_MAX];
    size_t n = strftime_l(out, sizeof(out), fmt, &tm, c_locale);
    freelocale(c_locale);
    if (n == 0 && flen > 0) {
        return luaL_error(L, "weir.date: result longer than %d bytes", DATE_OUT_MAX - 1);
    }
    lua_pushlstring(L, out, n);
    return 1;
}

/* }====== */

/* {====== weir.html ====== */

/*
 * weir.html(v): v as text for an HTML body (send-mail's format: html): & < > " and ' become
 * entities, everything else is kept. A number or boolean is its text; nil and weir.null are "".
 * Templates do not escape on their own: a value from an event goes into an html body through
 * weir.html, markup written in the workflow goes in as written.
 */
static int l_html(lua_State *L)
{
    if (lua_isnoneornil(L, 1) || lua_touserdata(L, 1) == WR_LUA_NULL) {
        lua_pushliteral(L, "");
        return 1;
    }
    if (lua_type(L, 1) == LUA_TBOOLEAN) {
        lua_pushstring(L, lua_toboolean(L, 1) ? "true" : "false");
        return 1;
    }
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    wr_lua_charge(L, host(L), (uint64_t)len * HTML_UNITS, NOTE_HTML);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++) {
        const char *e = wr_html_entity(s[i]);
        if (e) {
            luaL_addstring(&b, e);
        } else {
            luaL_addchar(&b, s[i]);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* }====== */

/* {====== weir.env ====== */

static int l_env(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    bool allowed = false;
    char buf[SNIP_MAX + 8];

    const char *value = strlen(name) == len ? wr_lua_env_get(host(L), name, &allowed) : NULL;
    if (!allowed) {
        return luaL_error(L, "weir.env: '%s' is not listed in weir.yaml lua.env_allow",
                          snip(name, len, buf, sizeof(buf)));
    }
    if (value) {
        lua_pushstring(L, value);
    } else {
        lua_pushnil(L);
    }
    return 1;
}

/* }====== */

static int null_tostring(lua_State *L)
{
    if (lua_touserdata(L, 1) == WR_LUA_NULL) {
        lua_pushliteral(L, "weir.null");
    } else {
        lua_pushfstring(L, "userdata: %p", lua_touserdata(L, 1));
    }
    return 1;
}

static const luaL_Reg weir_funcs[] = {
    {"log", l_log},
    {"json_encode", l_json_encode},
    {"json_decode", l_json_decode},
    {"array", l_array},
    {"slug", l_slug},
    {"date", l_date},
    {"env", l_env},
    {"html", l_html},
    {NULL, NULL},
};

/*
 * weir.list(x) and weir.index(list, key, value), in Lua: what XML bodies need, whose elements
 * are one object when they do not repeat and a list when they do. Run once with the sandbox's
 * own next, type and ipairs as arguments (the chunk reaches no global), so the functions see
 * views as any script does and are metered like one.
 *   weir.list(x): nil, weir.null or an empty table -> an empty list; a list (x[1] set) -> x;
 *                 anything else -> a list of one, {x}.
 *   weir.index(list, key, value): the records of list (through weir.list) as a table from
 *                 each record's [key] (default "name") to its [value] (default "value"), as in
 *                 SuccessFactors' entityKeys: weir.index(e.entityKeys.entityKey).userId.
 */
static const char weir_lua_src[] =
    "local weir, next, type, ipairs, null = ...\n"
    "function weir.list(x)\n"
    "  if x == nil or x == null then return weir.array() end\n"
    "  if type(x) == 'table' and x[1] ~= nil then return x end\n"
    "  if type(x) == 'table' and next(x) == nil then return weir.array() end\n"
    "  return weir.array({x})\n"
    "end\n"
    "function weir.index(list, key, value)\n"
    "  key = key or 'name'\n"
    "  value = value or 'value'\n"
    "  local t = {}\n"
    "  for _, e in ipairs(weir.list(list)) do\n"
    "    if type(e) == 'table' then\n"
    "      local k = e[key]\n"
    "      if type(k) == 'string' or type(k) == 'number' then t[k] = e[value] end\n"
    "    end\n"
    "  end\n"
    "  return t\n"
    "end\n";

void wr_lua_open_weir(lua_State *L, struct wr_lua *lua)
{
    if (luaL_newmetatable(L, JSON_BOX_MT)) {
        lua_pushcfunction(L, json_box_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);

    /* Light userdata share one metatable. weir.null is the only one scripts can reach (the
       views' bookkeeping keys are skipped by next): tostring(weir.null) says "weir.null",
       not a heap address that changes from run to run. */
    lua_pushlightuserdata(L, WR_LUA_NULL);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, null_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);

    lua_createtable(L, 0, 8);
    lua_pushlightuserdata(L, lua);
    luaL_setfuncs(L, weir_funcs, 1);
    lua_pushlightuserdata(L, WR_LUA_NULL);
    lua_setfield(L, -2, "null");
    /* The functions written in Lua; the chunk is weir's own, so a failure is a bug. */
    if (luaL_loadbufferx(L, weir_lua_src, sizeof(weir_lua_src) - 1, "=weir", "t") != LUA_OK) {
        lua_error(L);
    }
    lua_pushvalue(L, -2);
    lua_getfield(L, -4, "next");
    lua_getfield(L, -5, "type");
    lua_getfield(L, -6, "ipairs");
    lua_pushlightuserdata(L, WR_LUA_NULL);
    lua_call(L, 5, 0);
    lua_setfield(L, -2, "weir");
}
