/*
 * test_file_trigger — the file trigger end to end: a real event_base, inotify on a temporary
 * spool directory, the SQLite journal and ingest, a workflow loaded from YAML. Files are
 * dropped the way admins and scripts drop them; the test then reads the journal and the
 * done/ and failed/ directories.
 *
 * No sleeps: the loop runs until the expected file shows up in done/ or failed/, bounded by a
 * deadline timer. Graph is not involved (ingest stores runs; nothing executes them here), so
 * graphsim's path, passed by the e2e harness, is unused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/diag.h"
#include "engine/store/ingest.h"
#include "engine/store/journal.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "triggers/file/watch.h"

#define DEADLINE_MS 10000

static const char workflow_yaml[] = "name: file-e2e\n"
                                    "trigger:\n"
                                    "  file: { dir: spool, pattern: \"*.csv\" }\n"
                                    "when: event.row[\"User Name\"] ~= \"\"\n"
                                    "steps:\n"
                                    "  - action: update-user\n"
                                    "    user: '{{ event.row[\"User Name\"] }}'\n"
                                    "    set:\n"
                                    "      city: '{{ event.row[\"City\"] }}'\n";

/* BOM, CRLF, a quoted comma, a quoted CRLF line break, "" escapes, an empty user name. */
static const char users_csv[] =
    "\xEF\xBB\xBFUser Name,Display Name,Address,City\r\n"
    "ada@contoso.com,\"Lovelace, Ada\",\"12 St James's Square\r\nSt James's\",London\r\n"
    "bob@contoso.com,\"Bob \"\"The Builder\"\"\",,\"Paris\"\r\n"
    ",Nobody,,Nowhere\r\n";

struct h {
    char dir[256];
    char *spool;
    char *db;
    struct event_base *base;
    struct wr_journal *journal;
    struct wr_ingest *ingest;
    struct wr_workflow *wf;
    struct wr_file_watch *fw;
    bool timed_out;
};

/* {========================== helpers ==========================} */

static char *path_of(struct h *h, const char *rel)
{
    return wr_xasprintf("%s/%s", h->spool, rel);
}

static bool exists(struct h *h, const char *rel)
{
    char *p = path_of(h, rel);
    struct stat st;
    bool yes = stat(p, &st) == 0;
    free(p);
    return yes;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Drops a file the way the trigger's help says: written under a hidden name, then renamed. */
static void drop(struct h *h, const char *name, const char *data, size_t len)
{
    char *tmp = wr_xasprintf("%s/.%s.tmp", h->spool, name), *p = path_of(h, name);
    write_file(tmp, data, len);
    assert_int_equal(rename(tmp, p), 0);
    free(tmp);
    free(p);
}

/* Writes a file in place: created (or truncated), written, closed (IN_CLOSE_WRITE). */
static void write_in_place(struct h *h, const char *name, const char *data, size_t len)
{
    char *p = path_of(h, name);
    write_file(p, data, len);
    free(p);
}

/* Appends to a file in place: one more open/write/close cycle. */
static void append_in_place(struct h *h, const char *name, const char *data)
{
    char *p = path_of(h, name);
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(close(fd), 0);
    free(p);
}

/* Files in a subdirectory of the spool (done, failed), the .error files not counted. */
static int count_files(struct h *h, const char *sub)
{
    char *p = path_of(h, sub);
    DIR *d = opendir(p);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.' && !wr_str_has_suffix(de->d_name, ".error");
    }
    closedir(d);
    free(p);
    return n;
}

static char *slurp(struct h *h, const char *rel)
{
    char *p = path_of(h, rel), *buf = NULL;
    size_t len = 0;
    assert_int_equal(wr_read_file(p, 1 << 20, &buf, &len), 0);
    free(p);
    return buf;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct h *h = arg;
    (void)fd;
    (void)what;
    h->timed_out = true;
}

/* Runs the loop until rel exists under the spool and no commit is in flight, or fails. */
static void run_until_ms(struct h *h, const char *rel, int ms)
{
    struct event *deadline = evtimer_new(h->base, on_deadline, h);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(deadline, &tv);
    h->timed_out = false;
    while (!(exists(h, rel) && wr_file_watch_pending(h->fw) == 0) && !h->timed_out) {
        event_base_loop(h->base, EVLOOP_ONCE);
    }
    event_free(deadline);
    if (h->timed_out) {
        fail_msg("%s did not appear within %d ms", rel, ms);
    }
}

static void run_until(struct h *h, const char *rel)
{
    run_until_ms(h, rel, DEADLINE_MS);
}

/* Events in the journal from the given file name (any, when name is NULL). */
static int count_events(struct h *h, const char *name)
{
    char err[WR_ERR_MAX];
    sqlite3 *db = NULL;
    (void)err;
    assert_int_equal(sqlite3_open_v2(h->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_non_null(db);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM events WHERE ?1 IS NULL OR "
                                        "source = 'file ' || ?2 || '/' || ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    char *real = realpath(h->spool, NULL);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, real, -1, SQLITE_TRANSIENT);
    free(real);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int count_runs(struct h *h)
{
    char err[WR_ERR_MAX];
    sqlite3 *db = NULL;
    (void)err;
    assert_int_equal(sqlite3_open_v2(h->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_non_null(db);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM runs", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The i-th event's (0-based, in store order) body and key. */
static struct json_object *event_at(struct h *h, int i, char **key)
{
    char err[WR_ERR_MAX];
    sqlite3 *db = NULL;
    (void)err;
    assert_int_equal(sqlite3_open_v2(h->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_non_null(db);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT body, idem_key FROM events ORDER BY rowid "
                                        "LIMIT 1 OFFSET ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(st, 1, i);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    struct json_object *body = json_tokener_parse((const char *)sqlite3_column_text(st, 0));
    *key = wr_xstrdup((const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_non_null(body);
    return body;
}

static const char *get_str(struct json_object *o, const char *k1, const char *k2)
{
    struct json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, k1, &v));
    if (k2) {
        assert_true(json_object_object_get_ex(v, k2, &v));
    }
    return json_object_get_string(v);
}

/* Starts the watch (files present are taken on the first loop turn, run here). */
static void start_watch(struct h *h, const struct wr_file_limits *limits)
{
    char err[WR_ERR_MAX] = "";
    const struct wr_workflow *wfs[] = {h->wf};
    h->fw = wr_file_watch_new(h->base, h->ingest, wfs, 1, h->dir, limits, err, sizeof(err));
    if (!h->fw) {
        fail_msg("wr_file_watch_new: %s", err);
    }
    event_base_loop(h->base, EVLOOP_NONBLOCK);
}

static int setup(void **state)
{
    struct h *h = wr_xcalloc(1, sizeof(*h));
    char err[WR_ERR_MAX];
    struct wr_diags d = {0};

    snprintf(h->dir, sizeof(h->dir), "%s/weir-file-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(h->dir));
    h->spool = wr_xasprintf("%s/spool", h->dir);
    h->db = wr_xasprintf("%s/var/weir.db", h->dir);
    h->base = event_base_new();
    assert_non_null(h->base);
    h->journal = wr_journal_open(h->base, h->db, 0, err, sizeof(err));
    if (!h->journal) {
        fail_msg("wr_journal_open: %s", err);
    }
    h->ingest = wr_ingest_new(h->base, h->journal);
    char *yaml = wr_xasprintf("%s/file-e2e.yaml", h->dir);
    write_file(yaml, workflow_yaml, strlen(workflow_yaml));
    if (wr_workflow_load(yaml, h->dir, NULL, &h->wf, &d) != 0) {
        wr_diags_print(&d, stderr);
        fail_msg("workflow did not load");
    }
    free(yaml);
    *state = h;
    return 0;
}

/* Replaces the test's workflow by the one in yaml (before start_watch). */
static void use_workflow(struct h *h, const char *yaml_text)
{
    struct wr_diags d = {0};
    char *yaml = wr_xasprintf("%s/other.yaml", h->dir);
    write_file(yaml, yaml_text, strlen(yaml_text));
    wr_workflow_free(h->wf);
    h->wf = NULL;
    if (wr_workflow_load(yaml, h->dir, NULL, &h->wf, &d) != 0) {
        wr_diags_print(&d, stderr);
        fail_msg("workflow did not load");
    }
    free(yaml);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct h *h = *state;
    /* Commits in flight (none after a passing test) are drained before the journal closes. */
    while (wr_journal_pending(h->journal) > 0) {
        event_base_loop(h->base, EVLOOP_ONCE);
    }
    wr_file_watch_free(h->fw);
    wr_journal_close(h->journal);
    wr_ingest_free(h->ingest);
    wr_workflow_free(h->wf);
    event_base_free(h->base);
    nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(h->spool);
    free(h->db);
    free(h);
    return 0;
}

/* {========================== tests ==========================} */

static void test_rows_to_events(void **state)
{
    struct h *h = *state;
    start_watch(h, NULL);
    assert_true(exists(h, "done"));
    assert_true(exists(h, "failed"));

    drop(h, "users.csv", users_csv, sizeof(users_csv) - 1);
    run_until(h, "done/users.csv");
    assert_false(exists(h, "users.csv"));
    assert_int_equal(count_events(h, "users.csv"), 3);
    assert_int_equal(count_runs(h), 2); /* the row without a user name matches no workflow */

    char *key = NULL;
    struct json_object *ev = event_at(h, 0, &key);
    assert_string_equal(get_str(ev, "row", "User Name"), "ada@contoso.com");
    assert_string_equal(get_str(ev, "row", "Display Name"), "Lovelace, Ada");
    assert_string_equal(get_str(ev, "row", "Address"), "12 St James's Square\r\nSt James's");
    assert_string_equal(get_str(ev, "row", "City"), "London");
    assert_string_equal(get_str(ev, "file", NULL), "users.csv");
    assert_string_equal(get_str(ev, "line", NULL), "2");
    assert_int_equal(strlen(key), strlen("file:") + 64 + strlen(":1"));
    assert_true(strncmp(key, "file:", 5) == 0 && wr_str_has_suffix(key, ":1"));
    json_object_put(ev);
    free(key);

    ev = event_at(h, 1, &key);
    assert_string_equal(get_str(ev, "row", "Display Name"), "Bob \"The Builder\"");
    assert_string_equal(get_str(ev, "row", "Address"), "");
    assert_string_equal(get_str(ev, "row", "City"), "Paris");
    assert_string_equal(get_str(ev, "line", NULL), "4"); /* after the two-line address */
    assert_true(wr_str_has_suffix(key, ":2"));
    json_object_put(ev);
    free(key);

    ev = event_at(h, 2, &key);
    assert_string_equal(get_str(ev, "row", "User Name"), "");
    assert_string_equal(get_str(ev, "line", NULL), "5");
    json_object_put(ev);
    free(key);

    /* the same content under another name: only duplicates, still moved to done/ */
    drop(h, "users-again.csv", users_csv, sizeof(users_csv) - 1);
    run_until(h, "done/users-again.csv");
    assert_int_equal(count_events(h, NULL), 3);
    assert_int_equal(count_runs(h), 2);

    /* and under the same name: done/ keeps both, the second with a suffix */
    drop(h, "users.csv", users_csv, sizeof(users_csv) - 1);
    run_until(h, "done/users.1.csv");
    assert_true(exists(h, "done/users.csv"));
    assert_int_equal(count_events(h, NULL), 3);
}

static void test_present_at_start(void **state)
{
    struct h *h = *state;
    assert_int_equal(mkdir(h->spool, 0755), 0);
    drop(h, "b.csv", "User Name\nb@contoso.com\n", 24);
    drop(h, "a.csv", "User Name\na@contoso.com\n", 24);
    /* unchanged for longer than settle: taken at once, in name order */
    struct timespec old[2] = {{time(NULL) - 60, 0}, {time(NULL) - 60, 0}};
    char *a = path_of(h, "a.csv"), *b = path_of(h, "b.csv");
    assert_int_equal(utimensat(AT_FDCWD, a, old, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, b, old, 0), 0);
    free(a);
    free(b);
    start_watch(h, NULL);
    run_until(h, "done/b.csv");
    run_until(h, "done/a.csv");
    assert_int_equal(count_events(h, NULL), 2);
    /* taken in name order */
    char *key = NULL;
    struct json_object *ev = event_at(h, 0, &key);
    assert_string_equal(get_str(ev, "row", "User Name"), "a@contoso.com");
    json_object_put(ev);
    free(key);
}

struct halves {
    struct h *h;
    int fd;
    const char *rest;
    bool checked;
};

/* Mid-write: nothing may have been taken yet; then the rest is written and the file closed. */
static void on_second_half(evutil_socket_t fd, short what, void *arg)
{
    struct halves *hv = arg;
    (void)fd;
    (void)what;
    assert_int_equal(count_events(hv->h, NULL), 0);
    assert_true(exists(hv->h, "half.csv"));
    assert_false(exists(hv->h, "failed/half.csv"));
    size_t len = strlen(hv->rest);
    assert_int_equal(write(hv->fd, hv->rest, len), (ssize_t)len);
    assert_int_equal(close(hv->fd), 0);
    hv->checked = true;
}

static void test_half_written(void **state)
{
    struct h *h = *state;
    start_watch(h, NULL);
    static const char first[] = "User Name,City\r\na@contoso.com,\"Lon";
    char *p = path_of(h, "half.csv");
    struct halves hv = {h, open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644),
                        "don\"\r\nb@contoso.com,Paris\r\nc@contoso.com,Rome\r\n", false};
    free(p);
    assert_true(hv.fd >= 0);
    assert_int_equal(write(hv.fd, first, strlen(first)), (ssize_t)strlen(first));

    struct event *later = evtimer_new(h->base, on_second_half, &hv);
    struct timeval tv = {0, 200 * 1000};
    evtimer_add(later, &tv);
    run_until(h, "done/half.csv");
    event_free(later);
    assert_true(hv.checked);
    assert_int_equal(count_events(h, "half.csv"), 3);
    char *key = NULL;
    struct json_object *ev = event_at(h, 0, &key);
    assert_string_equal(get_str(ev, "row", "City"), "London");
    json_object_put(ev);
    free(key);
}

static void test_bad_csv(void **state)
{
    struct h *h = *state;
    start_watch(h, NULL);
    static const char bad[] = "User Name,City\n"
                              "a@contoso.com,London\n"
                              "b@contoso.com\n"
                              "c@contoso.com,Paris\n"
                              "d@contoso.com,Rome,extra\n"
                              "e@contoso.com,\"unterminated\n";
    drop(h, "bad.csv", bad, sizeof(bad) - 1);
    run_until(h, "failed/bad.csv");
    assert_false(exists(h, "bad.csv"));
    char *text = slurp(h, "failed/bad.csv.error");
    assert_string_equal(text, "bad.csv: not taken, nothing of it was committed\n"
                              "line 3: 1 field, the header has 2\n"
                              "line 5: 3 fields, the header has 2\n"
                              "line 6: field 2: the quoted field is never closed\n");
    free(text);
    assert_int_equal(count_events(h, NULL), 0); /* nothing of it, not even the good rows */

    /* a bad file under a name failed/ already has: a suffix, both kept */
    drop(h, "bad.csv", "x\n\xFF\n", 4);
    run_until(h, "failed/bad.1.csv");
    text = slurp(h, "failed/bad.1.csv.error");
    assert_string_equal(text, "bad.csv: not taken, nothing of it was committed\n"
                              "line 2: not valid UTF-8 (in Excel, save as \"CSV UTF-8\")\n");
    free(text);
}

static void test_ignored_names(void **state)
{
    struct h *h = *state;
    start_watch(h, NULL);
    drop(h, "users.csv.tmp", users_csv, sizeof(users_csv) - 1);
    drop(h, "users.csv.part", users_csv, sizeof(users_csv) - 1);
    drop(h, ".users.csv", users_csv, sizeof(users_csv) - 1);
    drop(h, "users.txt", users_csv, sizeof(users_csv) - 1);
    /* a temporary name renamed into place is the safe way to drop a file: taken once */
    drop(h, "last.csv.tmp", "User Name\nz@contoso.com\n", 24);
    char *from = path_of(h, "last.csv.tmp"), *to = path_of(h, "last.csv");
    assert_int_equal(rename(from, to), 0);
    free(from);
    free(to);
    run_until(h, "done/last.csv");
    assert_true(exists(h, "users.csv.tmp"));
    assert_true(exists(h, "users.csv.part"));
    assert_true(exists(h, ".users.csv"));
    assert_true(exists(h, "users.txt"));
    assert_int_equal(count_events(h, NULL), 1);
}

static void test_limits(void **state)
{
    struct h *h = *state;
    struct wr_file_limits limits = {.max_bytes = 64, .max_rows = 2};
    start_watch(h, &limits);
    drop(h, "big.csv", users_csv, sizeof(users_csv) - 1);
    run_until(h, "failed/big.csv");
    char *text = slurp(h, "failed/big.csv.error");
    assert_string_equal(text, "big.csv: not taken, nothing of it was committed\n"
                              "the file is larger than 64 bytes, the limit per file\n");
    free(text);
    drop(h, "rows.csv", "a\n1\n2\n3\n", 8);
    run_until(h, "failed/rows.csv");
    text = slurp(h, "failed/rows.csv.error");
    assert_string_equal(text, "rows.csv: not taken, nothing of it was committed\n"
                              "more than 2 rows: the limit per file\n");
    free(text);
    assert_int_equal(count_events(h, NULL), 0);
}

static void test_free_while_committing(void **state)
{
    struct h *h = *state;
    start_watch(h, NULL);
    drop(h, "users.csv", users_csv, sizeof(users_csv) - 1);
    h->timed_out = false;
    struct event *deadline = evtimer_new(h->base, on_deadline, h);
    struct timeval tv = {DEADLINE_MS / 1000, 0};
    evtimer_add(deadline, &tv);
    while (wr_file_watch_pending(h->fw) == 0 && !h->timed_out) {
        event_base_loop(h->base, EVLOOP_ONCE);
    }
    event_free(deadline);
    assert_false(h->timed_out);
    /* the commit is in flight: freeing the watch cancels it safely */
    wr_file_watch_free(h->fw);
    h->fw = NULL;
    while (wr_journal_pending(h->journal) > 0) {
        event_base_loop(h->base, EVLOOP_ONCE);
    }
    /* stored, but not acknowledged: the file stays and is taken at the next start */
    assert_int_equal(count_events(h, NULL), 3);
    assert_true(exists(h, "users.csv"));
    assert_false(exists(h, "done/users.csv"));
    start_watch(h, NULL);
    run_until(h, "done/users.csv");
    assert_int_equal(count_events(h, NULL), 3);
}

/* {========================== issue #13 ==========================} */

static const char settle_yaml[] = "name: file-settle\n"
                                  "trigger:\n"
                                  "  file: { dir: spool, pattern: \"*.csv\", settle: %s }\n"
                                  "steps:\n"
                                  "  - action: disable-user\n"
                                  "    user: '{{ event.row[\"User Name\"] }}'\n";

static void use_settle(struct h *h, const char *settle)
{
    char yaml[512];
    snprintf(yaml, sizeof(yaml), settle_yaml, settle);
    use_workflow(h, yaml);
}

struct pieces {
    struct h *h;
    const char *const *parts;
    size_t i;
    struct event *ev;
};

/* The next open/append/close cycle, 100 ms after the last (well within the settle time). */
static void on_piece(evutil_socket_t fd, short what, void *arg)
{
    struct pieces *pc = arg;
    (void)fd;
    (void)what;
    append_in_place(pc->h, "pieces.csv", pc->parts[pc->i++]);
    if (pc->parts[pc->i]) {
        struct timeval tv = {0, 100 * 1000};
        evtimer_add(pc->ev, &tv);
    }
}

/*
 * Issue #13 (5): a CSV written in place in several open/close cycles. Each close used to be
 * a new file: the header alone went to done/ with no rows, then the rows came as files of
 * their own whose first row was read as a header — 0 events, three files in done/. Now the
 * file settles first and is read once, whole.
 */
static void test_written_in_pieces(void **state)
{
    struct h *h = *state;
    use_settle(h, "3s");
    start_watch(h, NULL);
    static const char *const parts[] = {"User Name,City\n", "a@contoso.com,London\n",
                                        "b@contoso.com,Paris\nc@contoso.com,Rome\n", NULL};
    struct pieces pc = {h, parts, 0, NULL};
    pc.ev = evtimer_new(h->base, on_piece, &pc);
    on_piece(-1, 0, &pc);
    run_until(h, "done/pieces.csv");
    event_free(pc.ev);
    assert_int_equal(pc.i, 3);
    assert_int_equal(count_events(h, "pieces.csv"), 3);
    assert_int_equal(count_files(h, "done"), 1);
    assert_int_equal(count_files(h, "failed"), 0);
    char *key = NULL;
    struct json_object *ev = event_at(h, 2, &key);
    assert_string_equal(get_str(ev, "row", "City"), "Rome");
    json_object_put(ev);
    free(key);
}

/*
 * A writer that pauses longer than settle: the header goes in alone (a warning: no rows), and
 * the rest, whose first line is a row, is never taken as a file of its own — it goes to
 * failed/ with the reason. Dropped again unchanged, it is taken (a complete file with a new
 * header).
 */
static void test_continuation(void **state)
{
    struct h *h = *state;
    use_settle(h, "0s");
    start_watch(h, NULL);
    write_in_place(h, "p.csv", "User Name,City\n", 15);
    run_until(h, "done/p.csv");
    static const char rest[] = "a@contoso.com,London\nb@contoso.com,Paris\n";
    write_in_place(h, "p.csv", rest, sizeof(rest) - 1);
    run_until(h, "failed/p.csv");
    char *text = slurp(h, "failed/p.csv.error");
    assert_non_null(strstr(text, "line 1: \"a@contoso.com,London\" does not look like a header: "
                                 "it has as many fields as the header of p.csv, the file "
                                 "workflow file-settle took before (\"User Name,City\")"));
    free(text);
    assert_int_equal(count_events(h, NULL), 0);
    /* moved back unchanged: taken (its first row is its header, as the admin wants) */
    char *from = path_of(h, "failed/p.csv"), *to = path_of(h, "p.csv");
    assert_int_equal(rename(from, to), 0);
    free(from);
    free(to);
    run_until(h, "done/p.1.csv");
    assert_int_equal(count_events(h, NULL), 1);
    /* a file with the same header as before is no continuation */
    drop(h, "q.csv", "a@contoso.com,London\nc@contoso.com,Rome\n", 40);
    run_until(h, "done/q.csv");
    assert_int_equal(count_events(h, NULL), 2);
}

/* `columns:` names what a file must have: a file without them goes to failed/. */
static void test_columns(void **state)
{
    struct h *h = *state;
    use_workflow(h, "name: file-columns\n"
                    "trigger:\n"
                    "  file: { dir: spool, pattern: \"*.csv\", columns: [User Name, City] }\n"
                    "steps:\n"
                    "  - action: disable-user\n"
                    "    user: '{{ event.row[\"User Name\"] }}'\n");
    start_watch(h, NULL);
    drop(h, "ok.csv", "City,User Name,Extra\nLondon,a@contoso.com,x\n", 43);
    run_until(h, "done/ok.csv");
    drop(h, "rows.csv", "a@contoso.com,London\nb@contoso.com,Paris\n", 41);
    run_until(h, "failed/rows.csv");
    char *text = slurp(h, "failed/rows.csv.error");
    assert_string_equal(text, "rows.csv: not taken, nothing of it was committed\n"
                              "line 1: the header lacks the columns \"User Name\", \"City\" that "
                              "columns: of workflow file-columns lists; the line reads "
                              "\"a@contoso.com,London\" (is this the rest of a file written in "
                              "several pieces?)\n");
    free(text);
    assert_int_equal(count_events(h, NULL), 1);
}

/* Issue #13 (9): FIFOs, sockets, symlinks and directories in the spool: never a hang. */
static void test_special_files(void **state)
{
    struct h *h = *state;
    assert_int_equal(mkdir(h->spool, 0755), 0);
    char *fifo0 = path_of(h, "early.csv");
    assert_int_equal(mkfifo(fifo0, 0644), 0); /* present at start */
    free(fifo0);
    start_watch(h, NULL);
    run_until(h, "failed/early.csv");
    char *fifo = path_of(h, "pipe.csv"), *slink = path_of(h, "link.csv");
    char *dir = path_of(h, "dir.csv");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    run_until(h, "failed/pipe.csv");
    char *text = slurp(h, "failed/pipe.csv.error");
    assert_string_equal(text, "pipe.csv: not taken, nothing of it was committed\n"
                              "a FIFO (named pipe), not a regular file: weir reads regular files "
                              "only (write the file under a temporary name, then rename it into "
                              "the directory)\n");
    free(text);
    assert_int_equal(symlink("/etc/passwd", slink), 0);
    run_until(h, "failed/link.csv");
    text = slurp(h, "failed/link.csv.error");
    assert_non_null(strstr(text, "a symbolic link: weir does not follow links"));
    free(text);
    struct stat st;
    assert_int_equal(lstat(slink, &st), -1); /* the link itself moved, never followed */
    char *moved = path_of(h, "failed/link.csv");
    assert_int_equal(lstat(moved, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    free(moved);
    /* a hard link into the spool is a complete file, as a rename is */
    char *outside = wr_xasprintf("%s/linked.csv", h->dir), *inside = path_of(h, "linked.csv");
    write_file(outside, "User Name\nl@contoso.com\n", 24);
    assert_int_equal(link(outside, inside), 0);
    run_until(h, "done/linked.csv");
    free(outside);
    free(inside);
    /* a directory is left alone; a file after it is still taken */
    assert_int_equal(mkdir(dir, 0755), 0);
    drop(h, "after.csv", "User Name\na@contoso.com\n", 24);
    run_until(h, "done/after.csv");
    assert_true(exists(h, "dir.csv"));
    assert_int_equal(count_events(h, NULL), 2);
    free(fifo);
    free(slink);
    free(dir);
}

/* Issue #13 (16) through the trigger: a UTF-16 export fails with one line, not one per row. */
static void test_utf16(void **state)
{
    struct h *h = *state;
    start_watch(h, NULL);
    static const char text8[] = "User Name,City\r\na@contoso.com,London\r\nb@contoso.com,Paris\r\n";
    char buf[256];
    size_t n = 0;
    buf[n++] = '\xFF';
    buf[n++] = '\xFE';
    for (const char *c = text8; *c; c++) {
        buf[n++] = *c;
        buf[n++] = '\0';
    }
    drop(h, "u16.csv", buf, n);
    run_until(h, "failed/u16.csv");
    char *text = slurp(h, "failed/u16.csv.error");
    assert_string_equal(text, "u16.csv: not taken, nothing of it was committed\n"
                              "the file is UTF-16 (little-endian, with a byte order mark), which "
                              "weir does not read: save it as UTF-8 (in Excel, save as \"CSV "
                              "UTF-8\")\n");
    free(text);
}

/*
 * A big file is read off the loop thread and matched in slices: its 20,000 rows are committed
 * in many chunks — each delivered, and the next one built, on later loop turns — not in one
 * transaction that every other commit would queue behind.
 */
static void test_big_file_in_slices(void **state)
{
    struct h *h = *state;
    start_watch(h, NULL);
    struct wr_buf b = {0};
    wr_buf_add(&b, "User Name,City\n");
    for (int i = 0; i < 20000; i++) {
        wr_buf_addf(&b, "u%05d@contoso.com,City %d\n", i, i % 7);
    }
    struct wr_journal_stats before, after;
    wr_journal_get_stats(h->journal, &before);
    drop(h, "big.csv", b.data, b.len);
    run_until_ms(h, "done/big.csv", 120000); /* sanitizer builds on a busy machine are slow */
    wr_journal_get_stats(h->journal, &after);
    assert_int_equal(count_events(h, "big.csv"), 20000);
    assert_int_equal(count_runs(h), 20000);
    /* 128 rows a chunk: at least 157 commits, one in flight at a time */
    assert_true(after.commits - before.commits >= 20000 / 128);
    wr_buf_free(&b);
}

int main(void)
{
    /* The journal's writer thread delivers results with event_active. */
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_to_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_present_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignored_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_committing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_written_in_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continuation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf16, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_file_in_slices, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
