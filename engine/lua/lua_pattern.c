/*
 * lua_pattern — Lua 5.4 pattern matching with its work counted; see lua_pattern.h.
 *
 * The matcher follows the reference manual's rules item by item: a single-character class
 * (with *, +, - or ?), %n back-references, %bxy, %f[set], () position captures, ^ and $
 * anchors. Like Lua's, it reads the byte after the end of the subject and of the pattern,
 * which Lua guarantees is '\0' (every Lua string is NUL-terminated): that is what makes '$'
 * inside a pattern, '%f' at the end of the subject and a class ending the pattern behave as
 * in Lua.
 *
 * Counting. Every visit of the matcher to a pattern item counts one step, so does every
 * character a greedy item consumes; class scans, balance scans, back-reference comparisons and
 * plain searches count one step per 4 bytes. Steps are charged to the budget every 4096 and
 * at the end of each call, so a short match costs a few units and a runaway one is stopped
 * within a few microseconds of its budget running out.
 */
#include "engine/lua/lua_pattern.h"

#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "engine/lua/lua_host.h"

#define MAX_CAPTURES   32  /* as LUA_MAXCAPTURES */
#define MAX_DEPTH      200 /* nested matcher calls before "pattern too complex", as Lua's */
#define CAP_UNFINISHED (-1)
#define CAP_POSITION   (-2)
#define ESC            '%'
#define SPECIALS       "^$*+?.([%-"
#define BYTES_PER_STEP 4
#define SETTLE_EVERY   4096              /* steps between charges */
#define MAX_RESULT     ((size_t)INT_MAX) /* string.rep's limit, as Lua's MAXSIZE */

/* {====== counting ====== */

struct meter {
    lua_State *L;
    struct wr_lua *lua;  /* charged; NULL: max_steps applies */
    uint64_t max_steps;  /* per call, without lua; 0 = none */
    uint64_t steps;      /* counted in this call */
    uint64_t charged;    /* steps already charged (a multiple of the unit) */
    uint64_t next_check; /* steps at which to charge again */
};

static void meter_start(struct meter *m, lua_State *L)
{
    m->L = L;
    m->steps = m->charged = 0;
    m->next_check = SETTLE_EVERY;
}

/* Charges the steps counted so far (rounded up at the end of a call). May raise. */
static void meter_settle(struct meter *m, bool final)
{
    uint64_t open = m->steps - m->charged;
    uint64_t units =
        (open + (final ? WR_LUA_PATTERN_STEPS_PER_UNIT - 1 : 0)) / WR_LUA_PATTERN_STEPS_PER_UNIT;
    m->charged += units * WR_LUA_PATTERN_STEPS_PER_UNIT;
    m->next_check = m->steps + SETTLE_EVERY;
    if (m->lua) {
        wr_lua_charge(m->L, m->lua, units,
                      "(a string pattern that backtracks too much, or too long a subject?)");
    } else if (m->max_steps && m->steps > m->max_steps) {
        luaL_error(m->L, "pattern step limit exceeded");
    }
}

static inline void spend(struct meter *m, uint64_t n)
{
    m->steps += n;
    if (m->steps >= m->next_check) {
        meter_settle(m, false);
    }
}

/* The upvalues every function here carries: the host (light userdata) and max_steps. */
static void meter_init(struct meter *m, lua_State *L)
{
    m->lua = lua_touserdata(L, lua_upvalueindex(1));
    m->max_steps = (uint64_t)lua_tointeger(L, lua_upvalueindex(2));
    meter_start(m, L);
}

/* }====== */

/* {====== the matcher ====== */

struct capture {
    const char *init;
    ptrdiff_t len; /* or CAP_UNFINISHED, CAP_POSITION */
};

struct mstate {
    const char *src_init; /* the subject */
    const char *src_end;  /* its end ('\0' there) */
    const char *p_end;    /* the pattern's end ('\0' there) */
    lua_State *L;
    int depth; /* nested calls left */
    int level; /* captures open or closed */
    struct capture capture[MAX_CAPTURES];
    struct meter m;
};

static void mstate_init(struct mstate *ms, lua_State *L, const char *s, size_t ls, const char *p,
                        size_t lp)
{
    ms->L = L;
    ms->src_init = s;
    ms->src_end = s + ls;
    ms->p_end = p + lp;
}

/* Ready for a match attempt at a new subject position. */
static void mstate_reset(struct mstate *ms)
{
    ms->level = 0;
    ms->depth = MAX_DEPTH;
    spend(&ms->m, 1);
}

static const char *do_match(struct mstate *ms, const char *s, const char *p);

/* %a, %d, ... and their complements (%A, %D, ...); any other character stands for itself. */
static bool class_has(int c, int cl)
{
    bool yes;
    switch (tolower(cl)) {
    case 'a':
        yes = isalpha(c);
        break;
    case 'c':
        yes = iscntrl(c);
        break;
    case 'd':
        yes = isdigit(c);
        break;
    case 'g':
        yes = isgraph(c);
        break;
    case 'l':
        yes = islower(c);
        break;
    case 'p':
        yes = ispunct(c);
        break;
    case 's':
        yes = isspace(c);
        break;
    case 'u':
        yes = isupper(c);
        break;
    case 'w':
        yes = isalnum(c);
        break;
    case 'x':
        yes = isxdigit(c);
        break;
    case 'z': /* NUL: deprecated since Lua 5.2, still understood by 5.4 */
        yes = c == 0;
        break;
    default:
        return cl == c;
    }
    return isupper(cl) ? !yes : yes;
}

/* Whether c is in the set [...] that starts at p and whose ']' is at end. */
static bool set_has(struct mstate *ms, int c, const char *p, const char *end)
{
    bool in = true;
    spend(&ms->m, (uint64_t)(end - p) / BYTES_PER_STEP);
    if (p[1] == '^') {
        in = false;
        p++;
    }
    while (++p < end) {
        if (*p == ESC) {
            p++;
            if (class_has(c, (unsigned char)*p)) {
                return in;
            }
        } else if (p[1] == '-' && p + 2 < end) {
            p += 2;
            if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p) {
                return in;
            }
        } else if ((unsigned char)*p == c) {
            return in;
        }
    }
    return !in;
}

/* The end of the single-character class at p (past its ']' for a set). */
static const char *class_end(struct mstate *ms, const char *p)
{
    const char *start = p;
    switch (*p++) {
    case ESC:
        if (p == ms->p_end) {
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        }
        return p + 1;
    case '[':
        if (*p == '^') {
            p++;
        }
        do { /* the first character, even a ']', belongs to the set */
            if (p == ms->p_end) {
                luaL_error(ms->L, "malformed pattern (missing ']')");
            }
            if (*(p++) == ESC && p < ms->p_end) {
                p++; /* an escaped character, such as %] */
            }
        } while (*p != ']');
        spend(&ms->m, (uint64_t)(p - start) / BYTES_PER_STEP);
        return p + 1;
    default:
        return p;
    }
}

/* Whether the subject character at s matches the class [p, ep). */
static bool single_match(struct mstate *ms, const char *s, const char *p, const char *ep)
{
    if (s >= ms->src_end) {
        return false;
    }
    int c = (unsigned char)*s;
    switch (*p) {
    case '.':
        return true;
    case ESC:
        return class_has(c, (unsigned char)p[1]);
    case '[':
        return set_has(ms, c, p, ep - 1);
    default:
        return (unsigned char)*p == c;
    }
}

/* %bxy at s; p points at x. */
static const char *match_balance(struct mstate *ms, const char *s, const char *p)
{
    if (p >= ms->p_end - 1) {
        luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    }
    if (*s != *p) {
        return NULL;
    }
    const char *start = s;
    char open = p[0], close = p[1];
    int depth = 1;
    while (++s < ms->src_end) {
        if (*s == close) {
            if (--depth == 0) {
                spend(&ms->m, (uint64_t)(s - start) / BYTES_PER_STEP);
                return s + 1;
            }
        } else if (*s == open) {
            depth++;
        }
    }
    spend(&ms->m, (uint64_t)(s - start) / BYTES_PER_STEP);
    return NULL;
}

/* Greedy: as many as match (i), then back off one at a time until the rest matches. */
static const char *max_expand(struct mstate *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t i = 0;
    while (single_match(ms, s + i, p, ep)) {
        i++;
        spend(&ms->m, 1);
    }
    for (; i >= 0; i--) {
        const char *res = do_match(ms, s + i, ep + 1);
        if (res) {
            return res;
        }
    }
    return NULL;
}

/* Lazy: as few as possible, one more each time the rest does not match. */
static const char *min_expand(struct mstate *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *res = do_match(ms, s, ep + 1);
        if (res) {
            return res;
        }
        if (!single_match(ms, s, p, ep)) {
            return NULL;
        }
        s++;
    }
}

static const char *start_capture(struct mstate *ms, const char *s, const char *p, ptrdiff_t what)
{
    int level = ms->level;
    if (level >= MAX_CAPTURES) {
        luaL_error(ms->L, "too many captures");
    }
    ms->capture[level].init = s;
    ms->capture[level].len = what;
    ms->level = level + 1;
    const char *res = do_match(ms, s, p);
    if (!res) {
        ms->level--;
    }
    return res;
}

/* The innermost capture still open. */
static int open_capture(struct mstate *ms)
{
    for (int level = ms->level - 1; level >= 0; level--) {
        if (ms->capture[level].len == CAP_UNFINISHED) {
            return level;
        }
    }
    return luaL_error(ms->L, "invalid pattern capture");
}

static const char *end_capture(struct mstate *ms, const char *s, const char *p)
{
    int l = open_capture(ms);
    ms->capture[l].len = s - ms->capture[l].init;
    const char *res = do_match(ms, s, p);
    if (!res) {
        ms->capture[l].len = CAP_UNFINISHED;
    }
    return res;
}

/* The capture a back-reference character ('1'..'9', or another digit) names. */
static int capture_index(struct mstate *ms, int c)
{
    int l = c - '1';
    if (l < 0 || l >= ms->level || ms->capture[l].len == CAP_UNFINISHED) {
        return luaL_error(ms->L, "invalid capture index %%%d", l + 1);
    }
    return l;
}

static const char *match_capture(struct mstate *ms, const char *s, int c)
{
    int l = capture_index(ms, c);
    /* A position capture's length is CAP_POSITION: as size_t, longer than any subject. */
    size_t len = (size_t)ms->capture[l].len;
    if ((size_t)(ms->src_end - s) < len) {
        return NULL;
    }
    spend(&ms->m, len / BYTES_PER_STEP);
    return memcmp(ms->capture[l].init, s, len) == 0 ? s + len : NULL;
}

/* Matches pattern p at subject position s: the end of the match, or NULL. */
static const char *do_match(struct mstate *ms, const char *s, const char *p)
{
    if (ms->depth-- == 0) {
        luaL_error(ms->L, "pattern too complex");
    }
next: /* the pattern goes on at p, the subject at s: a loop instead of a tail call */
    spend(&ms->m, 1);
    if (p == ms->p_end) {
        goto done;
    }
    switch (*p) {
    case '(':
        s = p[1] == ')' ? start_capture(ms, s, p + 2, CAP_POSITION)
                        : start_capture(ms, s, p + 1, CAP_UNFINISHED);
        goto done;
    case ')':
        s = end_capture(ms, s, p + 1);
        goto done;
    case '$':
        if (p + 1 != ms->p_end) {
            break; /* a '$' inside the pattern is an ordinary character */
        }
        s = s == ms->src_end ? s : NULL;
        goto done;
    case ESC:
        switch (p[1]) {
        case 'b':
            s = match_balance(ms, s, p + 2);
            if (s) {
                p += 4;
                goto next;
            }
            goto done;
        case 'f': {
            p += 2;
            if (*p != '[') {
                luaL_error(ms->L, "missing '[' after '%%f' in pattern");
            }
            const char *ep = class_end(ms, p);
            int before = s == ms->src_init ? '\0' : (unsigned char)s[-1];
            int at = (unsigned char)*s; /* '\0' at the end of the subject */
            if (!set_has(ms, before, p, ep - 1) && set_has(ms, at, p, ep - 1)) {
                p = ep;
                goto next;
            }
            s = NULL;
            goto done;
        }
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
            s = match_capture(ms, s, (unsigned char)p[1]);
            if (s) {
                p += 2;
                goto next;
            }
            goto done;
        default:
            break;
        }
        break;
    default:
        break;
    }
    /* A single-character class, maybe followed by a repetition. */
    const char *ep = class_end(ms, p);
    if (!single_match(ms, s, p, ep)) {
        if (*ep == '*' || *ep == '?' || *ep == '-') {
            p = ep + 1; /* zero repetitions are fine */
            goto next;
        }
        s = NULL;
        goto done;
    }
    switch (*ep) {
    case '?': {
        const char *res = do_match(ms, s + 1, ep + 1);
        if (res) {
            s = res;
            goto done;
        }
        p = ep + 1;
        goto next;
    }
    case '+':
        s = max_expand(ms, s + 1, p, ep);
        goto done;
    case '*':
        s = max_expand(ms, s, p, ep);
        goto done;
    case '-':
        s = min_expand(ms, s, p, ep);
        goto done;
    default:
        s++;
        p = ep;
        goto next;
    }
done:
    ms->depth++;
    return s;
}

/* }====== */

/* {====== captures ====== */

/*
 * Capture i of a match [s, e): its text in *cap and its length, or CAP_POSITION (the position
 * pushed onto the stack). Without captures, capture 0 is the whole match.
 */
static ptrdiff_t get_capture(struct mstate *ms, int i, const char *s, const char *e,
                             const char **cap)
{
    if (i >= ms->level) {
        if (i != 0) {
            luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        }
        *cap = s;
        return e - s;
    }
    ptrdiff_t len = ms->capture[i].len;
    *cap = ms->capture[i].init;
    if (len == CAP_UNFINISHED) {
        luaL_error(ms->L, "unfinished capture");
    } else if (len == CAP_POSITION) {
        lua_pushinteger(ms->L, (ms->capture[i].init - ms->src_init) + 1);
    }
    return len;
}

static void push_capture(struct mstate *ms, int i, const char *s, const char *e)
{
    const char *cap;
    ptrdiff_t len = get_capture(ms, i, s, e, &cap);
    if (len != CAP_POSITION) {
        lua_pushlstring(ms->L, cap, (size_t)len);
    }
}

/* Pushes every capture (the whole match when there are none and s is set); returns how many. */
static int push_captures(struct mstate *ms, const char *s, const char *e)
{
    int n = ms->level == 0 && s ? 1 : ms->level;
    luaL_checkstack(ms->L, n, "too many captures");
    for (int i = 0; i < n; i++) {
        push_capture(ms, i, s, e);
    }
    return n;
}

/* }====== */

/* {====== the library functions ====== */

/* A 1-based start position as string.find takes it: negative counts from the end. */
static size_t start_at(lua_Integer pos, size_t len)
{
    if (pos > 0) {
        return (size_t)pos;
    }
    if (pos == 0 || pos < -(lua_Integer)len) {
        return 1;
    }
    return len + (size_t)pos + 1;
}

/* Whether p[0..lp) has no magic character (it may hold NULs). */
static bool no_specials(const char *p, size_t lp)
{
    size_t upto = 0;
    do {
        if (strpbrk(p + upto, SPECIALS)) {
            return false;
        }
        upto += strlen(p + upto) + 1;
    } while (upto <= lp);
    return true;
}

static int find_aux(lua_State *L, bool find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
    struct mstate ms;
    meter_init(&ms.m, L);
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
        /* memmem is linear in the subject, where a naive search is not. */
        spend(&ms.m, (ls - init + lp) / BYTES_PER_STEP);
        meter_settle(&ms.m, true);
        const char *hit = lp == 0 ? s + init : memmem(s + init, ls - init, p, lp);
        if (hit) {
            lua_pushinteger(L, (hit - s) + 1);
            lua_pushinteger(L, (lua_Integer)((size_t)(hit - s) + lp));
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    const char *s1 = s + init;
    bool anchor = *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    mstate_init(&ms, L, s, ls, p, lp);
    do {
        mstate_reset(&ms);
        const char *e = do_match(&ms, s1, p);
        if (e) {
            meter_settle(&ms.m, true);
            if (find) {
                lua_pushinteger(L, (s1 - s) + 1);
                lua_pushinteger(L, e - s);
                return push_captures(&ms, NULL, NULL) + 2;
            }
            return push_captures(&ms, s1, e);
        }
    } while (s1++ < ms.src_end && !anchor);
    meter_settle(&ms.m, true);
    luaL_pushfail(L);
    return 1;
}

static int l_find(lua_State *L)
{
    return find_aux(L, true);
}

static int l_match(lua_State *L)
{
    return find_aux(L, false);
}

struct gmatch_state {
    const char *src;       /* where the next search starts */
    const char *p;         /* the pattern */
    const char *lastmatch; /* the end of the last match: an empty match there is skipped */
    struct mstate ms;
};

static int gmatch_next(lua_State *L)
{
    struct gmatch_state *gm = lua_touserdata(L, lua_upvalueindex(3));
    gm->ms.L = L;
    meter_start(&gm->ms.m, L);
    for (const char *src = gm->src; src <= gm->ms.src_end; src++) {
        mstate_reset(&gm->ms);
        const char *e = do_match(&gm->ms, src, gm->p);
        if (e && e != gm->lastmatch) {
            gm->src = gm->lastmatch = e;
            meter_settle(&gm->ms.m, true);
            return push_captures(&gm->ms, src, e);
        }
    }
    meter_settle(&gm->ms.m, true);
    return 0;
}

static int l_gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
    struct meter m;
    meter_init(&m, L);
    lua_settop(L, 2); /* the iterator keeps both strings alive as its upvalues */
    struct gmatch_state *gm = lua_newuserdatauv(L, sizeof(*gm), 0);
    if (init > ls) {
        init = ls + 1; /* past the end: no match, and no pointer overflow */
    }
    memset(gm, 0, sizeof(*gm));
    mstate_init(&gm->ms, L, s, ls, p, lp);
    gm->ms.m = m;
    gm->src = s + init;
    gm->p = p;
    gm->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* Appends repl (the string at stack index 3) for the match [s, e), expanding %0-%9 and %%. */
static void add_string(struct mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    lua_State *L = ms->L;
    const char *news = lua_tolstring(L, 3, &l);
    const char *p;
    spend(&ms->m, l / BYTES_PER_STEP);
    while ((p = memchr(news, ESC, l)) != NULL) {
        luaL_addlstring(b, news, (size_t)(p - news));
        p++; /* the character after '%' ('\0' past the end) */
        if (*p == ESC) {
            luaL_addchar(b, *p);
        } else if (*p == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*p)) {
            const char *cap;
            ptrdiff_t len = get_capture(ms, *p - '1', s, e, &cap);
            if (len == CAP_POSITION) {
                luaL_addvalue(b); /* the position get_capture pushed */
            } else {
                luaL_addlstring(b, cap, (size_t)len);
            }
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", ESC);
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

/* Appends the replacement for the match [s, e); returns whether it changed the text. */
static bool add_value(struct mstate *ms, luaL_Buffer *b, const char *s, const char *e, int tr)
{
    lua_State *L = ms->L;
    switch (tr) {
    case LUA_TFUNCTION: {
        lua_pushvalue(L, 3);
        int n = push_captures(ms, s, e);
        lua_call(L, n, 1);
        break;
    }
    case LUA_TTABLE:
        push_capture(ms, 0, s, e);
        lua_gettable(L, 3);
        break;
    default: /* a string or a number */
        add_string(ms, b, s, e);
        return true;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the match as it is */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return false;
    }
    if (!lua_isstring(L, -1)) {
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    luaL_addvalue(b);
    return true;
}

static int l_gsub(lua_State *L)
{
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *lastmatch = NULL;
    int tr = lua_type(L, 3);
    lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
    bool anchor = *p == '^';
    lua_Integer n = 0;
    bool changed = false;
    struct mstate ms;
    luaL_Buffer b;

    luaL_argexpected(
        L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
        "string/function/table");
    meter_init(&ms.m, L);
    luaL_buffinit(L, &b);
    if (anchor) {
        p++;
        lp--;
    }
    mstate_init(&ms, L, src, srcl, p, lp);
    while (n < max_s) {
        mstate_reset(&ms);
        const char *e = do_match(&ms, src, p);
        if (e && e != lastmatch) {
            n++;
            changed = add_value(&ms, &b, src, e, tr) || changed;
            src = lastmatch = e;
        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) {
            break;
        }
    }
    meter_settle(&ms.m, true);
    if (!changed) {
        lua_pushvalue(L, 1); /* the subject itself, as it was given */
    } else {
        luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

static int l_rep(lua_State *L)
{
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        /* The empty result at once: building it n times over is a loop of up to 2^63. */
        lua_pushliteral(L, "");
        return 1;
    }
    if (l + lsep < l || l + lsep > MAX_RESULT / (size_t)n) {
        return luaL_error(L, "resulting string too large");
    }
    /* The copies are as many bytes as the result, which the allocator charges (lua_host). */
    size_t total = (size_t)n * l + (size_t)(n - 1) * lsep;
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, total);
    while (n-- > 1) {
        memcpy(out, s, l);
        out += l;
        if (lsep > 0) {
            memcpy(out, sep, lsep);
            out += lsep;
        }
    }
    memcpy(out, s, l);
    luaL_pushresultsize(&b, total);
    return 1;
}

/* }====== */

void wr_lua_open_patterns(lua_State *L, int idx, struct wr_lua *lua, uint64_t max_steps)
{
    static const luaL_Reg fns[] = {
        {"find", l_find}, {"match", l_match}, {"gmatch", l_gmatch},
        {"gsub", l_gsub}, {"rep", l_rep},     {NULL, NULL},
    };
    idx = lua_absindex(L, idx);
    lua_pushlightuserdata(L, lua);
    lua_pushinteger(L, (lua_Integer)(max_steps > (uint64_t)LUA_MAXINTEGER ? 0 : max_steps));
    lua_pushvalue(L, idx);
    lua_insert(L, -3);
    luaL_setfuncs(L, fns, 2); /* sets into the table below the two upvalues */
    lua_pop(L, 1);
}
