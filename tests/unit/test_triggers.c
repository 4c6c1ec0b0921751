/*
 * test_triggers — unit tests for the trigger registry (triggers/registry, triggers.def) and the
 * run-time slots of every descriptor: the registry lists each line of triggers.def once, in
 * that order, and by name; each descriptor's slots are coherent (a kind that starts has a
 * noun and a free, one that prepares can commit and abort, one that listens has a key and a
 * default); and every kind that starts goes through start, ready, prepare-then-abort,
 * prepare-then-commit, stop_accepting and a drain to pending 0 on a real loop, journal and
 * ingest. The loop over kinds names none; the fixture workflows name today's three (a kind
 * added later still goes through every step, with no workflow of its own).
 */
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
#include <event2/event.h>
#include <event2/thread.h>
#include <json-c/json.h>

#include "engine/base/diag.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"
#include "engine/store/ingest.h"
#include "engine/store/journal.h"
#include "triggers/trigger.h"

/* The ids of triggers.def, in order; returns how many. */
static size_t def_lines(char ids[][32], size_t max)
{
    const char *src = getenv("WEIR_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/triggers/triggers.def", src ? src : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "WR_TRIGGER(", 11) == 0 && n < max) {
            size_t len = strcspn(line + 11, ")");
            assert_true(len < 32);
            memcpy(ids[n], line + 11, len);
            ids[n][len] = '\0';
            n++;
        }
    }
    fclose(f);
    return n;
}

static void test_registry(void **state)
{
    (void)state;
    char ids[16][32];
    size_t n = def_lines(ids, 16);
    assert_true(n > 0);
    assert_int_equal(wr_trigger_count(), n);
    assert_null(wr_trigger_at(n));
    const char *const *names = wr_trigger_names();
    for (size_t i = 0; i < n; i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        assert_non_null(k);
        /* The descriptor of line i is the kind of that name (kebab-case of the id). */
        char name[32];
        snprintf(name, sizeof(name), "%s", ids[i]);
        for (char *c = name; *c; c++) {
            *c = *c == '_' ? '-' : *c;
        }
        assert_string_equal(k->name, name);
        assert_ptr_equal(wr_trigger_find(k->name), k);
        assert_non_null(names[i]);
        if (i > 0) {
            assert_true(strcmp(names[i - 1], names[i]) < 0); /* by name, each once */
        }
    }
    assert_null(names[n]);
    assert_null(wr_trigger_find("no-such-kind"));
}

static void test_slots_coherent(void **state)
{
    (void)state;
    for (size_t i = 0; i < wr_trigger_count(); i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        assert_non_null(k->summary);
        assert_non_null(k->args);
        if (k->start) {
            assert_non_null(k->what);
            assert_non_null(k->free);
        } else {
            /* Nothing runs, so nothing can be asked of a runtime. */
            assert_null(k->ready);
            assert_null(k->busy);
            assert_null(k->reload_wait);
            assert_null(k->prepare);
            assert_null(k->commit);
            assert_null(k->stop_accepting);
            assert_null(k->pending);
        }
        if (k->prepare) {
            assert_non_null(k->commit);
            assert_non_null(k->abort);
        }
        if (k->listen) {
            assert_non_null(k->listen->name);
            assert_int_equal(k->listen->type, WR_ARG_LISTEN);
            assert_non_null(k->listen_default);
            assert_non_null(strrchr(k->listen_default, ':'));
            assert_non_null(k->start);
        } else {
            assert_null(k->listen_default);
        }
    }
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = wr_path_join(dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void loop_for(struct event_base *base, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static void test_lifecycle(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/weir-test-triggers-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *wfdir = wr_path_join(tmpl, "workflows");
    assert_int_equal(mkdir(wfdir, 0700), 0);
    /* One workflow of each of today's kinds, so that their runtimes have work to prepare. */
    static const char *const files[][2] = {
        {"a.yaml", "name: a\ntrigger: {webhook: {path: /a}}\nsteps: [{wait: 1s}]\n"},
        {"b.yaml", "name: b\ntrigger: {schedule: {every: 1h}}\nsteps: [{wait: 1s}]\n"},
        {"c.yaml", "name: c\ntrigger: {file: {dir: drop}}\nsteps: [{wait: 1s}]\n"},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        write_file(wfdir, files[i][0], files[i][1]);
    }
    struct wr_diags diags = {0};
    struct wr_workflow_set *set = NULL, *next = NULL;
    const char *dir = wfdir;
    assert_int_equal(wr_workflow_set_load(&dir, 1, tmpl, NULL, &set, &diags), 0);
    assert_int_equal(wr_workflow_set_load(&dir, 1, tmpl, NULL, &next, &diags), 0);

    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    char err[WR_ERR_MAX];
    char *db = wr_path_join(tmpl, "weir.db");
    struct wr_journal *journal = wr_journal_open(base, db, 0, err, sizeof(err));
    assert_non_null(journal);
    struct wr_ingest *ingest = wr_ingest_new(base, journal);
    void *rts[16] = {0};
    size_t n = wr_trigger_count();
    assert_true(n <= 16);

    for (size_t i = 0; i < n; i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        if (!k->start) {
            continue;
        }
        struct wr_trigger_env env = {
            .base = base,
            .ingest = ingest,
            .journal = journal,
            .base_dir = tmpl,
            .listen = k->listen ? "127.0.0.1:0" : NULL,
        };
        rts[i] = k->start(&env, set, err, sizeof(err));
        assert_non_null(rts[i]);
        char addr[300] = "";
        if (k->ready && k->ready(rts[i], addr, sizeof(addr))) {
            assert_true(strncmp(addr, "127.0.0.1:", 10) == 0);
            assert_true(atoi(addr + 10) > 0); /* the port bound, not the 0 asked for */
        }
        if (k->abort) {
            k->abort(rts[i]); /* nothing prepared: nothing to drop */
        }
    }
    /* Prepared, not committed: every kind drops what it built, and still runs the old set. */
    for (size_t i = 0; i < n; i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        if (rts[i] && k->prepare) {
            size_t before = k->pending ? k->pending(rts[i]) : 0;
            assert_int_equal(k->prepare(rts[i], next, err, sizeof(err)), 0);
            /* Prepared is not visible: it submitted nothing. */
            assert_int_equal(k->pending ? k->pending(rts[i]) : 0, before);
            k->abort(rts[i]);
        }
    }
    loop_for(base, 300); /* the start's work (a schedule's catch-up slot) is committed */
    for (size_t i = 0; i < n; i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        if (rts[i] && k->pending) {
            assert_int_equal(k->pending(rts[i]), 0);
        }
        if (rts[i] && k->reload_wait) {
            assert_false(k->reload_wait(rts[i]));
        }
        if (rts[i] && k->busy) {
            assert_false(k->busy(rts[i]));
        }
    }
    /* A reload that goes through: prepare every kind, then commit every kind. */
    for (size_t i = 0; i < n; i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        if (rts[i] && k->prepare) {
            assert_int_equal(k->prepare(rts[i], next, err, sizeof(err)), 0);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        if (rts[i] && k->commit) {
            k->commit(rts[i], next);
        }
    }
    /* Stopping: no new work, and what was taken drains to nothing pending. */
    for (size_t i = 0; i < n; i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        if (rts[i] && k->stop_accepting) {
            k->stop_accepting(rts[i]);
        }
    }
    size_t pending = 1;
    for (int tries = 0; tries < 200 && pending > 0; tries++) {
        loop_for(base, 10);
        pending = 0;
        for (size_t i = 0; i < n; i++) {
            const struct wr_trigger_kind *k = wr_trigger_at(i);
            pending += rts[i] && k->pending ? k->pending(rts[i]) : 0;
        }
    }
    assert_int_equal(pending, 0);
    for (size_t i = n; i-- > 0;) {
        if (rts[i]) {
            wr_trigger_at(i)->free(rts[i]);
        }
    }
    wr_ingest_free(ingest);
    wr_journal_close(journal);
    event_base_free(base);
    wr_workflow_set_free(next);
    wr_workflow_set_free(set);
    wr_diags_clear(&diags);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    assert_int_equal(system(cmd), 0);
    free(db);
    free(wfdir);
}

static const char *listen_any(void *arg, const struct wr_trigger_kind *kind)
{
    (void)arg;
    return kind->listen ? "127.0.0.1:0" : NULL;
}

static void count_ready(void *arg, const struct wr_trigger_kind *kind, const char *addr)
{
    (void)kind;
    assert_true(strncmp(addr, "127.0.0.1:", 10) == 0);
    assert_true(atoi(addr + 10) > 0);
    (*(int *)arg)++;
}

/* A gate's verdict (wr_run_gate_done_fn) into the struct gate_seen token. */
struct gate_seen {
    int calls;
    enum wr_run_gate_verdict verdict;
    char reason[256];
};

static void on_gate_verdict(void *token, enum wr_run_gate_verdict verdict, const char *reason)
{
    struct gate_seen *g = token;
    g->calls++;
    g->verdict = verdict;
    snprintf(g->reason, sizeof(g->reason), "%s", reason ? reason : "");
}

/* Another instance leads: a user-date run (whose gate re-checks its date on the leader's
   runtime) is deferred — WR_GATE_LATER, on a later loop turn, never inside the call — and a
   webhook run, which has no gate, starts at once. */
static void test_follower_gate(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/weir-test-triggers-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *wfdir = wr_path_join(tmpl, "workflows");
    assert_int_equal(mkdir(wfdir, 0700), 0);
    write_file(wfdir, "a.yaml", "name: a\ntrigger: {webhook: {path: /a}}\nsteps: [{wait: 1s}]\n");
    write_file(wfdir, "d.yaml",
               "name: d\ntrigger: {user-date: {attribute: employeeLeaveDateTime, at: \"17:00\", "
               "zone: Europe/Berlin}}\nsteps: [{wait: 1s}]\n");
    struct wr_diags diags = {0};
    struct wr_workflow_set *set = NULL;
    const char *dir = wfdir;
    assert_int_equal(wr_workflow_set_load(&dir, 1, tmpl, NULL, &set, &diags), 0);
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    char err[512];
    char *db = wr_path_join(tmpl, "weir.db");
    struct wr_journal *journal = wr_journal_open(base, db, 0, err, sizeof(err));
    assert_non_null(journal);
    struct wr_ingest *ingest = wr_ingest_new(base, journal);
    struct wr_trigger_env env = {
        .base = base, .ingest = ingest, .journal = journal, .base_dir = tmpl};
    const struct wr_trigger_kind *failed = NULL;
    struct wr_triggers *ts =
        wr_triggers_start(&env, listen_any, NULL, set, false, &failed, err, sizeof(err));
    assert_non_null(ts);

    struct gate_seen g = {0};
    struct json_object *event = json_object_new_object();
    assert_true(wr_triggers_gate(ts, wr_workflow_set_find(set, "d"), event, on_gate_verdict, &g));
    assert_int_equal(g.calls, 0); /* not inside the call */
    loop_for(base, 20);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.verdict, WR_GATE_LATER);
    assert_non_null(strstr(g.reason, "on the leader only"));
    assert_false(wr_triggers_gate(ts, wr_workflow_set_find(set, "a"), event, on_gate_verdict, &g));
    json_object_put(event);

    wr_triggers_stop_accepting(ts);
    loop_for(base, 20);
    wr_triggers_free(ts);
    wr_ingest_free(ingest);
    wr_journal_close(journal);
    event_base_free(base);
    wr_workflow_set_free(set);
    wr_diags_clear(&diags);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    assert_int_equal(system(cmd), 0);
    free(db);
    free(wfdir);
}

/* The set the daemon drives (wr_triggers_*): a kind that cannot start or prepare a set is
   named, the kinds started before it are freed (the sanitizer build checks), a failed reload
   leaves every kind on its old set, and a good one goes through. */
static void test_set(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/weir-test-triggers-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *wfdir = wr_path_join(tmpl, "workflows");
    char *baddir = wr_path_join(tmpl, "bad");
    assert_int_equal(mkdir(wfdir, 0700), 0);
    assert_int_equal(mkdir(baddir, 0700), 0);
    write_file(wfdir, "a.yaml", "name: a\ntrigger: {webhook: {path: /a}}\nsteps: [{wait: 1s}]\n");
    write_file(wfdir, "c.yaml", "name: c\ntrigger: {file: {dir: drop}}\nsteps: [{wait: 1s}]\n");
    write_file(baddir, "a.yaml", "name: a\ntrigger: {webhook: {path: /a}}\nsteps: [{wait: 1s}]\n");
    /* Its dir is a regular file: the file kind cannot watch it. */
    write_file(baddir, "c.yaml", "name: c\ntrigger: {file: {dir: blocked}}\nsteps: [{wait: 1s}]\n");
    write_file(tmpl, "blocked", "not a directory\n");
    struct wr_diags diags = {0};
    struct wr_workflow_set *set = NULL, *bad = NULL, *next = NULL;
    const char *dir = wfdir, *bdir = baddir;
    assert_int_equal(wr_workflow_set_load(&dir, 1, tmpl, NULL, &set, &diags), 0);
    assert_int_equal(wr_workflow_set_load(&bdir, 1, tmpl, NULL, &bad, &diags), 0);
    assert_int_equal(wr_workflow_set_load(&dir, 1, tmpl, NULL, &next, &diags), 0);

    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    char err[512];
    char *db = wr_path_join(tmpl, "weir.db");
    struct wr_journal *journal = wr_journal_open(base, db, 0, err, sizeof(err));
    assert_non_null(journal);
    struct wr_ingest *ingest = wr_ingest_new(base, journal);
    struct wr_trigger_env env = {
        .base = base, .ingest = ingest, .journal = journal, .base_dir = tmpl};
    const struct wr_trigger_kind *failed = NULL;

    assert_null(wr_triggers_start(&env, listen_any, NULL, bad, true, &failed, err, sizeof(err)));
    assert_ptr_equal(failed, wr_trigger_find("file"));
    assert_non_null(strstr(err, "blocked"));

    /* Not the leader (several instances on PostgreSQL): no leader_only kind starts, so the bad
       file trigger is not even looked at — until this instance leads. */
    failed = NULL;
    struct wr_triggers *follower =
        wr_triggers_start(&env, listen_any, NULL, bad, false, &failed, err, sizeof(err));
    assert_non_null(follower);
    assert_null(failed);
    assert_int_equal(wr_triggers_lead(follower, bad, &failed, err, sizeof(err)), -1);
    assert_ptr_equal(failed, wr_trigger_find("file"));
    assert_true(wr_triggers_step_down(follower));
    wr_triggers_free(follower);

    failed = NULL;
    struct wr_triggers *ts =
        wr_triggers_start(&env, listen_any, NULL, set, true, &failed, err, sizeof(err));
    assert_non_null(ts);
    assert_null(failed);
    int ready = 0;
    wr_triggers_ready(ts, count_ready, &ready);
    assert_true(ready >= 1);

    assert_int_equal(wr_triggers_reload(ts, bad, &failed, err, sizeof(err)), -1);
    assert_ptr_equal(failed, wr_trigger_find("file"));
    loop_for(base, 100);
    assert_int_equal(wr_triggers_pending(ts), 0);
    assert_false(wr_triggers_busy(ts));
    assert_false(wr_triggers_reload_wait(ts));
    assert_int_equal(wr_triggers_reload(ts, next, &failed, err, sizeof(err)), 0);

    /* Stepping down drains the leader_only kinds and frees them; leading starts them again. */
    bool gone = false;
    for (int tries = 0; tries < 200 && !gone; tries++) {
        gone = wr_triggers_step_down(ts);
        loop_for(base, 10);
    }
    assert_true(gone);
    assert_int_equal(wr_triggers_lead(ts, next, &failed, err, sizeof(err)), 0);

    wr_triggers_stop_accepting(ts);
    size_t pending = 1;
    for (int tries = 0; tries < 200 && pending > 0; tries++) {
        loop_for(base, 10);
        pending = wr_triggers_pending(ts);
    }
    assert_int_equal(pending, 0);
    wr_triggers_free(ts);
    wr_triggers_free(NULL);
    wr_ingest_free(ingest);
    wr_journal_close(journal);
    event_base_free(base);
    wr_workflow_set_free(next);
    wr_workflow_set_free(bad);
    wr_workflow_set_free(set);
    wr_diags_clear(&diags);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    assert_int_equal(system(cmd), 0);
    free(db);
    free(baddir);
    free(wfdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),      cmocka_unit_test(test_slots_coherent),
        cmocka_unit_test(test_lifecycle),     cmocka_unit_test(test_set),
        cmocka_unit_test(test_follower_gate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
