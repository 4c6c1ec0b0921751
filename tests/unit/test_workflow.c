/*
 * test_workflow — unit tests for the workflow loader (engine/lang/workflow,
 * engine/lang/workflow_set, engine/config and the argument tables of actions/ and triggers/).
 *
 * The heart of it is the fixture runner: every file or directory in tests/fixtures/invalid is
 * loaded exactly as `weir validate` loads it and its messages are compared, word for word, to
 * the NAME.expected file next to it. A NAME.pending file instead holds the message a fixture
 * SHOULD produce once a known loader problem is fixed; the runner requires the fixture to stay
 * wrong (so a fix is noticed and the file renamed to .expected). Around that: the shipped
 * examples must validate, YAML and JSON spellings must load to equal models, truncated and
 * mutated input must never crash, and inline secrets must never be echoed.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/config.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "engine/lang/workflow_set.h"

/* The fixture runner refuses to pass with fewer, so deleting fixtures cannot make it green. */
#define MIN_INVALID_FIXTURES 45
#define MIN_VALID_PAIRS      3
#define NUM_EXAMPLES         10

/* {====== helpers ====== */

static bool dir_has_fixtures(const char *dir)
{
    char *path = wr_xasprintf("%s/tests/fixtures/invalid", dir);
    struct stat st;
    bool ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    free(path);
    return ok;
}

/*
 * The source tree: $WEIR_SOURCE_DIR (set by ctest), else found relative to the executable,
 * which CMake puts at the top of the build tree (a sibling or child of the source tree).
 * Always absolute, because the fixture runner changes directory.
 */
static const char *source_dir(void)
{
    static char dir[PATH_MAX];
    char exe[PATH_MAX];
    const char *env = getenv("WEIR_SOURCE_DIR");

    if (dir[0]) {
        return dir;
    }
    if (env && *env && realpath(env, dir)) {
        return dir;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
        }
        static const char *const ups[] = {"..", "../..", "../../.."};
        for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
            char *cand = wr_xasprintf("%s/%s", exe, ups[i]);
            bool found = dir_has_fixtures(cand) && realpath(cand, dir);
            free(cand);
            if (found) {
                return dir;
            }
        }
    }
    fail_msg("cannot find the source tree: set WEIR_SOURCE_DIR");
    return NULL;
}

/* Owned "<source>/<rel>". */
static char *src_path(const char *rel)
{
    return wr_xasprintf("%s/%s", source_dir(), rel);
}

/* Reads a whole file; fails the test when it cannot. */
static char *slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    int rc = wr_read_file(path, 16u << 20, &buf, &n);
    if (rc != 0) {
        fail_msg("cannot read %s: %s", path, strerror(-rc));
    }
    if (len) {
        *len = n;
    }
    return buf;
}

/* Every message, each followed by a newline: the format of a .expected file. */
static char *diags_join(const struct wr_diags *d)
{
    struct wr_buf b = {0};
    for (size_t i = 0; i < d->count; i++) {
        wr_buf_add(&b, d->items[i]);
        wr_buf_addc(&b, '\n');
    }
    return wr_buf_take(&b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted, owned names of a directory's entries, "." and ".." left out. */
static char **list_dir(const char *dir, size_t *n)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    *n = 0;
    if (!dh) {
        fail_msg("cannot open %s: %s", dir, strerror(errno));
    }
    while ((de = readdir(dh)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        names = wr_xrealloc(names, (*n + 1) * sizeof(*names));
        names[(*n)++] = wr_xstrdup(de->d_name);
    }
    closedir(dh);
    qsort(names, *n, sizeof(*names), cmp_str);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* }====== */

/* {====== invalid fixtures ====== */

enum fixture_kind {
    FIXTURE_WORKFLOW, /* one workflow file, loaded as a set of one */
    FIXTURE_SET,      /* a directory of workflow files, loaded as one set */
    FIXTURE_CONFIG,   /* NAME.config.yaml, loaded with wr_config_load */
};

/*
 * Loads one fixture the way `weir validate` does (base_dir ".", the path as given, so messages
 * start with it) and returns its messages joined; *errors gets their number.
 */
static char *load_fixture(const char *input, enum fixture_kind kind, int *rc, size_t *errors)
{
    struct wr_diags d = {0};
    char *text;

    if (kind == FIXTURE_CONFIG) {
        struct wr_config *cfg = NULL;
        *rc = wr_config_load(input, &cfg, &d);
        assert_true(*rc == 0 || cfg == NULL);
        wr_config_free(cfg);
    } else {
        struct wr_workflow_set *set = NULL;
        const char *paths[] = {input};
        *rc = wr_workflow_set_load(paths, 1, ".", NULL, &set, &d);
        assert_true(*rc == 0 || set == NULL);
        wr_workflow_set_free(set);
    }
    *errors = d.count;
    text = diags_join(&d);
    wr_diags_clear(&d);
    return text;
}

/* The fixture name of a directory entry, or NULL when it is not a fixture input. */
static char *fixture_name(const char *entry, enum fixture_kind *kind)
{
    size_t n = strlen(entry);
    if (is_dir(entry)) {
        *kind = FIXTURE_SET;
        return wr_xstrdup(entry);
    }
    if (wr_str_has_suffix(entry, ".config.yaml")) {
        *kind = FIXTURE_CONFIG;
        return wr_xasprintf("%.*s", (int)(n - strlen(".config.yaml")), entry);
    }
    if (wr_srcdoc_is_source_name(entry)) {
        *kind = FIXTURE_WORKFLOW;
        return wr_xasprintf("%.*s", (int)(strrchr(entry, '.') - entry), entry);
    }
    return NULL;
}

static void test_invalid_fixtures(void **state)
{
    char cwd[PATH_MAX];
    char *dir = src_path("tests/fixtures/invalid");
    size_t nentries = 0, checked = 0, failures = 0;
    struct wr_buf pending = {0};
    (void)state;

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    if (chdir(dir) != 0) {
        fail_msg("cannot chdir to %s: %s", dir, strerror(errno));
    }
    char **entries = list_dir(".", &nentries);

    for (size_t i = 0; i < nentries; i++) {
        const char *e = entries[i];
        enum fixture_kind kind;
        char *name;

        if (strcmp(e, "scripts") == 0) {
            continue; /* Lua files the script fixtures point at */
        }
        if (wr_str_has_suffix(e, ".expected") || wr_str_has_suffix(e, ".pending")) {
            /* Each must belong to exactly one input; inputs are checked below. */
            size_t base = strlen(e) - strlen(strrchr(e, '.'));
            int owners = 0;
            for (size_t j = 0; j < nentries; j++) {
                enum fixture_kind k;
                char *other = fixture_name(entries[j], &k);
                if (other && strcmp(entries[j], "scripts") != 0 && strlen(other) == base &&
                    strncmp(other, e, base) == 0) {
                    owners++;
                }
                free(other);
            }
            if (owners != 1) {
                print_error("%s: belongs to %d fixture inputs, expected exactly 1\n", e, owners);
                failures++;
            }
            continue;
        }
        name = fixture_name(e, &kind);
        if (!name) {
            print_error("%s: not a fixture (expected .yaml, .yml, .json, .config.yaml, a "
                        "directory, .expected or .pending)\n",
                        e);
            failures++;
            continue;
        }

        char *expected_path = wr_xasprintf("%s.expected", name);
        char *pending_path = wr_xasprintf("%s.pending", name);
        bool has_expected = is_file(expected_path), has_pending = is_file(pending_path);
        int rc;
        size_t errors;
        char *actual = load_fixture(e, kind, &rc, &errors);

        if (has_expected == has_pending) {
            print_error("%s: needs exactly one of %s or %s\n", e, expected_path, pending_path);
            failures++;
        } else if (has_expected) {
            char *want = slurp(expected_path, NULL);
            checked++;
            if (rc != -1 || errors == 0) {
                print_error("%s: expected at least one error, got rc=%d and %zu messages\n", e, rc,
                            errors);
                failures++;
            }
            if (strcmp(want, actual) != 0) {
                print_error("%s: messages differ\n--- %s\n%s+++ actual\n%s", e, expected_path, want,
                            actual);
                failures++;
            }
            free(want);
        } else {
            /* A known loader problem: the fixture must still produce something other than the
               wanted text. When it matches, the problem is fixed: promote the file. */
            char *want = slurp(pending_path, NULL);
            if (strcmp(want, actual) == 0) {
                print_error("%s: now gives the wanted messages: rename %s to %s\n", e, pending_path,
                            expected_path);
                failures++;
            }
            wr_buf_addf(&pending, "%s%s", pending.len ? ", " : "", name);
            free(want);
        }
        free(actual);
        free(expected_path);
        free(pending_path);
        free(name);
    }
    free_names(entries, nentries);
    if (chdir(cwd) != 0) {
        fail_msg("cannot chdir back to %s", cwd);
    }
    free(dir);
    if (pending.len) {
        print_message("pending fixtures (known loader problems, see their .pending files): %s\n",
                      wr_buf_str(&pending));
    }
    wr_buf_free(&pending);
    if (checked < MIN_INVALID_FIXTURES) {
        print_error("only %zu fixtures with .expected files; at least %d are required\n", checked,
                    MIN_INVALID_FIXTURES);
        failures++;
    }
    if (failures > 0) {
        fail_msg("%zu fixture problems (of %zu fixtures checked)", failures, checked);
    }
}

/* An inline secret must never reach a message, whatever else is wrong with the file. */
static void expect_no_secret(const char *fixture, const char *secret, enum fixture_kind kind)
{
    char *dir = src_path("tests/fixtures/invalid");
    char *path = wr_xasprintf("%s/%s", dir, fixture);
    char *text = slurp(path, NULL);
    int rc;
    size_t errors;

    /* The fixture really holds the secret, so the check below is not vacuous. */
    assert_non_null(strstr(text, secret));
    free(text);
    text = load_fixture(path, kind, &rc, &errors);
    assert_int_equal(rc, -1);
    assert_true(errors >= 1);
    assert_non_null(strstr(text, "secret"));
    if (strstr(text, secret)) {
        fail_msg("%s: the secret '%s' appears in the messages:\n%s", fixture, secret, text);
    }
    free(text);
    free(path);
    free(dir);
}

static void test_inline_secret_not_echoed(void **state)
{
    (void)state;
    expect_no_secret("webhook-inline-secret.yaml", "s3cr3t-Hunter2-do-not-print", FIXTURE_WORKFLOW);
    expect_no_secret("many-errors.yaml", "hunter2", FIXTURE_WORKFLOW);
    expect_no_secret("config-inline-secret.config.yaml",
                     "Zx8Q~not-a-real-secret-but-looks-like-one", FIXTURE_CONFIG);
}

/* }====== */

/* {====== examples and valid pairs ====== */

static void test_examples_validate(void **state)
{
    static const char *const names[NUM_EXAMPLES] = {
        "onboard-employee", "offboard-employee",     "department-change",       "csv-bulk-update",
        "license-reclaim",  "sales-license",         "entra-department-change", "prehire-welcome",
        "leaver-by-date",   "termination-cancelled",
    };
    char *dir = src_path("workflows");
    const char *paths[] = {dir};
    struct wr_workflow_set *set = NULL;
    struct wr_diags d = {0};
    (void)state;

    int rc = wr_workflow_set_load(paths, 1, source_dir(), NULL, &set, &d);
    if (rc != 0 || d.count != 0) {
        char *text = diags_join(&d);
        fail_msg("the examples in %s do not validate:\n%s", dir, text);
    }
    assert_non_null(set);
    assert_int_equal(set->count, NUM_EXAMPLES);
    for (size_t i = 0; i < NUM_EXAMPLES; i++) {
        const struct wr_workflow *wf = wr_workflow_set_find(set, names[i]);
        if (!wf) {
            fail_msg("example workflow '%s' is missing", names[i]);
        }
        assert_true(wf->nsteps > 0);
        char *json = wr_workflow_to_json(wf);
        assert_non_null(strstr(json, names[i]));
        free(json);
    }
    wr_workflow_set_free(set);
    wr_diags_clear(&d);
    free(dir);
}

/* Loads one valid fixture (scripts resolve against the source tree) and returns its model. */
static char *load_model(const char *path, struct wr_workflow **out)
{
    struct wr_diags d = {0};
    if (wr_workflow_load(path, source_dir(), NULL, out, &d) != 0) {
        char *text = diags_join(&d);
        fail_msg("%s does not load:\n%s", path, text);
    }
    wr_diags_clear(&d);
    return wr_workflow_to_json(*out);
}

static void test_yaml_json_equal(void **state)
{
    char *dir = src_path("tests/fixtures/valid");
    size_t n = 0, pairs = 0;
    char **entries = list_dir(dir, &n);
    char **models = NULL;
    bool all_kinds = false;
    (void)state;

    for (size_t i = 0; i < n; i++) {
        const char *e = entries[i];
        if (!wr_str_has_suffix(e, ".yaml")) {
            if (!wr_str_has_suffix(e, ".json")) {
                fail_msg("%s/%s: not a .yaml/.json pair member", dir, e);
            }
            continue;
        }
        char *ypath = wr_xasprintf("%s/%s", dir, e);
        char *jpath = wr_xasprintf("%s/%.*s.json", dir, (int)(strlen(e) - 5), e);
        struct wr_workflow *wy = NULL, *wj = NULL;
        if (!is_file(jpath)) {
            fail_msg("%s has no JSON twin %s", ypath, jpath);
        }
        char *my = load_model(ypath, &wy);
        char *mj = load_model(jpath, &wj);
        if (strcmp(my, mj) != 0) {
            fail_msg("%s and its JSON twin load to different models:\n--- yaml\n%s\n+++ json\n%s",
                     ypath, my, mj);
        }
        /* Does one pair cover every step kind, on_error included? */
        bool action = false, script = false, wait = false, wait_until = false;
        for (size_t s = 0; s < wy->nsteps; s++) {
            const struct wr_step *st = &wy->steps[s];
            action = action || st->kind == WR_STEP_ACTION;
            script = script || st->kind == WR_STEP_SCRIPT;
            wait = wait || (st->kind == WR_STEP_WAIT && st->wait_ms > 0);
            wait_until = wait_until || (st->kind == WR_STEP_WAIT && st->wait_until);
        }
        all_kinds = all_kinds || (action && script && wait && wait_until && wy->non_error > 0);
        models = wr_xrealloc(models, (pairs + 1) * sizeof(*models));
        models[pairs++] = my;
        free(mj);
        wr_workflow_free(wy);
        wr_workflow_free(wj);
        free(ypath);
        free(jpath);
    }
    assert_true(pairs >= MIN_VALID_PAIRS);
    assert_true(all_kinds);
    /* Distinct pairs give distinct models: the comparison above is not vacuous. */
    for (size_t i = 0; i < pairs; i++) {
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(models[i], models[j]);
        }
    }
    for (size_t i = 0; i < pairs; i++) {
        free(models[i]);
    }
    free(models);
    free_names(entries, n);
    free(dir);
}

/* }====== */

/* {====== robustness ====== */

struct robust {
    const char *base_dir;
    size_t parses, loaded;
};

/*
 * Parses len bytes of buf from an exactly sized heap copy (no terminating NUL, so the sanitizer
 * build catches any read past the end). Either a model, or -1 with at least one message.
 */
static void parse_one(struct robust *r, const char *name, const char *buf, size_t len)
{
    struct wr_diags d = {0};
    struct wr_workflow *wf = NULL;
    char *copy = wr_xmalloc(len ? len : 1);
    memcpy(copy, buf, len);

    int rc = wr_workflow_parse(name, copy, len, r->base_dir, NULL, &wf, &d);
    r->parses++;
    if (rc == 0) {
        assert_non_null(wf);
        char *json = wr_workflow_to_json(wf);
        assert_non_null(json);
        free(json);
        r->loaded++;
    } else if (rc != -1 || wf != NULL || d.count == 0) {
        fail_msg("%s (%zu bytes): rc=%d, model %p, %zu messages", name, len, rc, (void *)wf,
                 d.count);
    }
    wr_workflow_free(wf);
    wr_diags_clear(&d);
    free(copy);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return n ? (size_t)(rng_next(s) % n) : 0;
}

/* Fragments that mean something to YAML, JSON, templates or UTF-8. */
static const char *const tokens[] = {
    ":",           ": ",
    "- ",          "{",
    "}",           "[",
    "]",           ",",
    "{{",          "}}",
    "{{ }}",       "\"",
    "'",           "&a ",
    "*a",          "!!str ",
    "!t ",         "\t",
    "\n",          "\r\n",
    "#",           "|\n",
    ">-\n",        "? ",
    "---\n",       "...\n",
    "%YAML 1.2\n", "\xff",
    "\xc3",        "\xed\xa0\x80",
    "\xc0\xaf",    "\xef\xbb\xbf",
    "~",           "0x",
    "1e999",       "99999999999999999999",
    "env:",        "\\u",
    "\\ud83d",     "  ",
    "steps:",      "action: ",
    "when: ",      "-- ",
    "]]",          "\\",
    "null",        "true",
    "@",           "`",
    "%",           "\0",
};
#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

/* Applies one random edit to b. */
static void mutate(uint64_t *s, struct wr_buf *b)
{
    size_t len = b->len;
    size_t at = rng_below(s, len + 1);
    struct wr_buf out = {0};

    if (!b->data) {
        wr_buf_add(b, ""); /* never hand memcpy a NULL source */
    }

    switch (rng_below(s, 7)) {
    case 0: /* bit flip */
        if (len) {
            b->data[rng_below(s, len)] ^= (char)(1u << rng_below(s, 8));
        }
        return;
    case 1: /* random byte */
        if (len) {
            b->data[rng_below(s, len)] = (char)rng_below(s, 256);
        }
        return;
    case 2: /* insert a random byte */
        wr_buf_addn(&out, b->data, at);
        wr_buf_addc(&out, (char)rng_below(s, 256));
        wr_buf_addn(&out, b->data + at, len - at);
        break;
    case 3: { /* insert a token (with its length: "\0" is one byte) */
        size_t t = rng_below(s, NTOKENS);
        wr_buf_addn(&out, b->data, at);
        wr_buf_addn(&out, tokens[t], tokens[t][0] ? strlen(tokens[t]) : 1);
        wr_buf_addn(&out, b->data + at, len - at);
        break;
    }
    case 4: { /* delete a range */
        size_t n = rng_below(s, 16) + 1;
        n = n > len - at ? len - at : n;
        wr_buf_addn(&out, b->data, at);
        wr_buf_addn(&out, b->data + at + n, len - at - n);
        break;
    }
    case 5: { /* duplicate a range */
        size_t n = rng_below(s, 64) + 1;
        n = n > len - at ? len - at : n;
        wr_buf_addn(&out, b->data, at + n);
        wr_buf_addn(&out, b->data + at, len - at);
        break;
    }
    default: /* truncate */
        b->len = at;
        if (b->data) {
            b->data[at] = '\0';
        }
        return;
    }
    wr_buf_free(b);
    *b = out;
}

struct sample {
    char *name; /* "x.yaml" or "x.json": decides the parser */
    char *text;
    size_t len;
};

/* The examples and the valid pairs: realistic text to truncate and mutate. */
static struct sample *load_samples(size_t *n)
{
    struct sample *v = NULL;
    static const char *const dirs[] = {"workflows", "tests/fixtures/valid"};
    *n = 0;
    for (size_t d = 0; d < 2; d++) {
        char *dir = src_path(dirs[d]);
        size_t ne = 0;
        char **entries = list_dir(dir, &ne);
        for (size_t i = 0; i < ne; i++) {
            if (!wr_srcdoc_is_source_name(entries[i])) {
                continue;
            }
            char *path = wr_xasprintf("%s/%s", dir, entries[i]);
            v = wr_xrealloc(v, (*n + 1) * sizeof(*v));
            v[*n].name =
                wr_xasprintf("%s%s", dirs[d][0] == 'w' ? "example-" : "valid-", entries[i]);
            v[*n].text = slurp(path, &v[*n].len);
            (*n)++;
            free(path);
        }
        free_names(entries, ne);
        free(dir);
    }
    return v;
}

static void free_samples(struct sample *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].text);
    }
    free(v);
}

static void test_truncations(void **state)
{
    struct robust r = {.base_dir = source_dir()};
    size_t n = 0;
    struct sample *v = load_samples(&n);
    (void)state;

    assert_true(n >= NUM_EXAMPLES + 2 * MIN_VALID_PAIRS);
    for (size_t i = 0; i < n; i++) {
        for (size_t len = 0; len <= v[i].len; len++) {
            parse_one(&r, v[i].name, v[i].text, len);
        }
    }
    /* Whole files load; most prefixes do not: both paths were exercised. */
    assert_true(r.loaded >= n);
    assert_true(r.parses - r.loaded > r.parses / 2);
    print_message("%zu truncations parsed, %zu loaded\n", r.parses, r.loaded);
    free_samples(v, n);
}

static void test_mutations(void **state)
{
    struct robust r = {.base_dir = source_dir()};
    size_t n = 0;
    struct sample *v = load_samples(&n);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    (void)state;

    for (int iter = 0; iter < 8000; iter++) {
        const struct sample *s = &v[iter % n];
        struct wr_buf b = {0};
        wr_buf_addn(&b, s->text, s->len);
        int edits = 1 + (int)rng_below(&seed, 8);
        for (int k = 0; k < edits; k++) {
            mutate(&seed, &b);
        }
        parse_one(&r, s->name, b.data ? b.data : "", b.len);
        /* The same bytes through the other parser. */
        if (iter % 4 == 0) {
            parse_one(&r, wr_str_has_suffix(s->name, ".json") ? "m.yaml" : "m.json",
                      b.data ? b.data : "", b.len);
        }
        wr_buf_free(&b);
    }
    print_message("%zu mutations parsed, %zu loaded\n", r.parses, r.loaded);
    /* Some mutations keep the file valid, most do not: both paths were exercised. */
    assert_true(r.loaded > 0 && r.loaded < r.parses);
    free_samples(v, n);
}

static void test_random_buffers(void **state)
{
    struct robust r = {.base_dir = "."};
    uint64_t seed = 42;
    static const char alphabet[] = "abc:-{}[]\"' \n\t#&*!|>?,.0123456789~%@`\\";
    (void)state;

    for (int iter = 0; iter < 3000; iter++) {
        size_t len = rng_below(&seed, 600);
        char *buf = wr_xmalloc(len + 1);
        for (size_t i = 0; i < len; i++) {
            buf[i] = iter % 2 ? (char)rng_below(&seed, 256)
                              : alphabet[rng_below(&seed, sizeof(alphabet) - 1)];
        }
        parse_one(&r, iter % 3 == 0 ? "r.json" : "r.yaml", buf, len);
        free(buf);
    }
}

/* A buffer of `count` copies of `unit` between `head` and `tail`, parsed as `name`. */
static void parse_repeated(struct robust *r, const char *name, const char *head, const char *unit,
                           size_t count, const char *tail)
{
    struct wr_buf b = {0};
    wr_buf_add(&b, head);
    for (size_t i = 0; i < count; i++) {
        wr_buf_add(&b, unit);
    }
    wr_buf_add(&b, tail);
    parse_one(r, name, b.data, b.len);
    wr_buf_free(&b);
}

static void test_hostile_shapes(void **state)
{
    struct robust r = {.base_dir = "."};
    struct wr_buf b = {0};
    (void)state;

    /* Very deep nesting, in both syntaxes and both flow and block style. */
    parse_repeated(&r, "deep.yaml", "", "[", 10000, "");
    parse_repeated(&r, "deep.json", "", "[", 10000, "");
    parse_repeated(&r, "deep.yaml", "", "{", 10000, "");
    parse_repeated(&r, "deep.json", "", "{\"a\":", 10000, "1");
    parse_repeated(&r, "deep.yaml", "", "- ", 10000, "x\n");
    parse_repeated(&r, "deep.yaml", "vars: ", "{a: [", 5000, "");
    for (int i = 0; i < 1000; i++) {
        wr_buf_addf(&b, "%*sa:\n", i, "");
    }
    parse_one(&r, "deep-block.yaml", b.data, b.len);
    wr_buf_free(&b);

    /* Long lines and long keys; over the size limit. */
    parse_repeated(&r, "long.yaml", "name: ", "x", 900000, "\n");
    parse_repeated(&r, "long.yaml", "description: \"", "\\u00e9", 100000, "\"\n");
    parse_repeated(&r, "longkey.yaml", "", "k", 5000, ": 1\n");
    parse_repeated(&r, "longkey.json", "{\"", "k", 5000, "\": 1}");
    parse_repeated(&r, "huge.yaml", "# ", "x", WR_SRCDOC_MAX_BYTES, "\n");

    /* Many nodes, many keys, many steps. */
    parse_repeated(&r, "nodes.yaml", "[", "1,", WR_SRCDOC_MAX_NODES + 10, "1]");
    parse_repeated(&r, "steps.yaml", "name: many\ntrigger: {webhook: {path: /x}}\nsteps:\n",
                   "  - {action: disable-user, user: a@b.c, retry: {attempts: 0}}\n", 2000, "");
    parse_repeated(&r, "anchors.yaml", "vars:\n", "  - &a [*a, *a]\n", 100, "");

    /* Invalid UTF-8 in every place that matters. */
    static const char *const bad_utf8[] = {
        "\xff\xfe", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82",     "\xf4\x90\x80\x80",
        "\x80",     "\xfe",     "\xc3",         "\xef\xbf\xbe",
    };
    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
        const char *u = bad_utf8[i];
        char *t[] = {
            wr_xasprintf("%sname: x\n", u),
            wr_xasprintf("name: x%s\ntrigger: {webhook: {path: /x}}\nsteps: [{wait: 1s}]\n", u),
            wr_xasprintf("name: x\n%s: 1\n", u),
            wr_xasprintf("{\"name\": \"x%s\"}", u),
            wr_xasprintf("name: x\nwhen: \"a == '%s'\"\ntrigger: {webhook: {path: /x}}\n"
                         "steps: [{wait: 1s}]\n",
                         u),
        };
        for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
            parse_one(&r, "utf8.yaml", t[k], strlen(t[k]));
            parse_one(&r, "utf8.json", t[k], strlen(t[k]));
            free(t[k]);
        }
    }

    /* Templates and expressions at the edges of the syntax. */
    static const char *const exprs[] = {
        "{{",        "}}",         "{{{{}}}}",
        "{{ ]] }}",  "{{ --[[ }}", "{{ \"\\",
        "{{ a }}}",  "{{ ( }}",    "{{ function() end }}",
        "{{ ... }}",
    };
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        char *t = wr_xasprintf("name: x\ntrigger: {webhook: {path: /x, id: '%s'}}\n"
                               "when: '%s'\nsteps: [{action: disable-user, user: '%s'}]\n",
                               exprs[i], exprs[i] + 2, exprs[i]);
        parse_one(&r, "expr.yaml", t, strlen(t));
        free(t);
    }

    /* Empty and whitespace-only input. */
    parse_one(&r, "empty.yaml", "", 0);
    parse_one(&r, "empty.json", "", 0);
    parse_one(&r, "ws.yaml", " \n\t\n", 4);
    parse_one(&r, "ws.json", " \n\t\n", 4);
    parse_one(&r, "nul.yaml", "\0", 1);
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_fixtures),  cmocka_unit_test(test_inline_secret_not_echoed),
        cmocka_unit_test(test_examples_validate), cmocka_unit_test(test_yaml_json_equal),
        cmocka_unit_test(test_truncations),       cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_random_buffers),    cmocka_unit_test(test_hostile_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
