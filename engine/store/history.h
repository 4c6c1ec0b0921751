/*
 * history — what ran: the runs, their trigger events and their steps, read back from the
 * journal for `weir runs`, `weir show`, `weir retry`, `weir cancel` and the admin API.
 *
 * Queries return json-c trees (the admin API serves them as they are); the format functions
 * turn those trees into the CLI's text. The store is SQLite or PostgreSQL, read and written
 * through engine/store/db. Retry and cancel are the only writes: each is one short write
 * transaction on the caller's connection (SQLite's BEGIN IMMEDIATE, waiting out the daemon's
 * commits through the busy timeout; PostgreSQL's row lock on the run, waiting out the daemon's
 * change of it), never the journal's writer thread. The run executor is what acts on those
 * writes; this module only changes rows the way it reads them.
 *
 * Not here: the executor itself, the daemon, the HTTP side of the admin API.
 *
 * Times are Unix milliseconds throughout. Functions that depend on the clock take `now`, so
 * tests pin it.
 */
#ifndef WR_HISTORY_H
#define WR_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct wr_db;
struct wr_workflow_set;

/* Error codes: each comes with a message for the admin in err. */
#define WR_HISTORY_EDB        (-1) /* the store failed (busy for too long, I/O, connection) */
#define WR_HISTORY_ENOTFOUND  (-2) /* no run has that id (or, for resolve, that prefix) */
#define WR_HISTORY_EAMBIGUOUS (-3) /* the prefix matches several runs (listed in err) */
#define WR_HISTORY_ESTATE     (-4) /* retry or cancel refused: the run is in the wrong state */

#define WR_HISTORY_DEFAULT_LIMIT 20
/* The most runs one page of a list holds: a larger limit is served as this. */
#define WR_HISTORY_MAX_LIMIT 200
/* Bytes of a run's error, of its last step's and of its concurrency key in a list item: more
   is cut at a UTF-8 boundary with "… (N bytes more)" (wr_history_show has the rest, up to
   WR_STORED_ERROR_MAX). Bounds a page to about WR_HISTORY_MAX_LIMIT * 2 KiB. */
#define WR_HISTORY_SUMMARY_MAX 512
/* Room for a cursor (wr_history_list_page's next). */
#define WR_HISTORY_CURSOR_MAX 128

/* The NULL-terminated list of run states, in lifecycle order (queued ... cancelled). */
const char *const *wr_history_run_statuses(void);

/* True when s is one of wr_history_run_statuses(). */
bool wr_history_status_valid(const char *s);

/* Which runs wr_history_list() returns. Zero-initialised = the newest 20 of every run. */
struct wr_history_filter {
    const char *workflow; /* NULL: every workflow; else its exact name */
    const char *status;   /* NULL: every status; else one of wr_history_run_statuses() */
    int64_t since_ms;     /* > 0: only runs created within since_ms before `now` */
    int limit;            /* <= 0: WR_HISTORY_DEFAULT_LIMIT; over WR_HISTORY_MAX_LIMIT: that */
    const char *cursor;   /* NULL: from the newest; else the next of an earlier page */
    int64_t until_ms;     /* > 0: only runs created more than until_ms before `now` */
    /* NULL: every trigger; else a kind: runs whose event's source is it, starts with it and a
       space ("webhook /hooks/hr") or with it and a colon */
    const char *trigger;
    /* NULL: no text; else runs where it is a substring (ASCII case ignored, taken literally) of
       the run id, the event id, the concurrency key or the event's user (see list_page) */
    const char *text;
};

/* True when cursor has the form of a wr_history_list_page next ("<created_at>.<run id>"). */
bool wr_history_cursor_valid(const char *cursor);

/*
 * Lists one page of the runs matching f, newest first (by created_at, then id), into *out: an
 * owned JSON array of run summaries {id, short_id, workflow, workflow_hash, status, event_id,
 * concurrency_key, created_at, updated_at, next_at, error, trigger, user, steps_recorded,
 * last_step}, at most WR_HISTORY_MAX_LIMIT of them; trigger is the event's source ("webhook
 * /hooks/hr", "user-date onboard", "manual") and user the event's user (body.user when a
 * string, else body.user.userPrincipalName or .id), each null when there is none; error and
 * concurrency_key (and last_step's error) are cut to WR_HISTORY_SUMMARY_MAX bytes, so a page's size
 * is bounded whatever the store holds; a failed run whose error is its step's (see wr_history_show)
 * shows that step's. When more runs match, next (nextlen bytes; may be NULL with nextlen 0)
 * receives the cursor that continues after this page, else "". An unparsable f->cursor is
 * WR_HISTORY_ENOTFOUND. short_id is the shortest prefix of id, but at least 17 characters ("run_"
 * and the creation millisecond, so it stays unique as runs are added), that no other run in the
 * store shares. last_step is the step the run reached, as {idx, step_id, status, error}, or null
 * when no step row exists: among the workflow's `steps` (idx < 1000) the first one not finished
 * (pending, running, retrying, waiting), else the furthest one; among the `on_error` steps the same
 * way only when no main step row exists. A failed run thus shows the step that failed, not its
 * on_error handler. Returns 0, or WR_HISTORY_EDB with err set and *out NULL.
 */
int wr_history_list_page(struct wr_db *db, const struct wr_history_filter *f, int64_t now,
                         struct json_object **out, char *next, size_t nextlen, char *err,
                         size_t errlen);

/*
 * Counts the runs matching f as wr_history_list_page would list them, but for f->status,
 * f->cursor and f->limit (every page, every status), by status into *out: an owned object with
 * every status of wr_history_run_statuses() as a key (0 when none). Returns 0, or
 * WR_HISTORY_EDB with err set and *out NULL.
 */
int wr_history_count_matching(struct wr_db *db, const struct wr_history_filter *f, int64_t now,
                              struct json_object **out, char *err, size_t errlen);

/*
 * The newest run of each workflow that has one, into *out: an owned object workflow name ->
 * {"id", "status", "at": created_at}. Returns 0, or WR_HISTORY_EDB with err and *out NULL.
 */
int wr_history_last_runs(struct wr_db *db, struct json_object **out, char *err, size_t errlen);

/*
 * Adds short_id (as wr_history_list_page has it) to each run object of the array runs (borrowed,
 * each with an "id"). 0 or WR_HISTORY_EDB with err.
 */
int wr_history_add_short_ids(struct wr_db *db, struct json_object *runs, char *err, size_t errlen);

/* wr_history_list_page without the cursor of the next page. */
int wr_history_list(struct wr_db *db, const struct wr_history_filter *f, int64_t now,
                    struct json_object **out, char *err, size_t errlen);

/* Sets *n to the number of runs in the store (to tell "no runs yet" from "none match"). */
int wr_history_count(struct wr_db *db, int64_t *n, char *err, size_t errlen);

/*
 * Whether the store answers a read (one row of runs): true, or false with the back end's
 * message in err. For /readyz.
 */
bool wr_history_readable(struct wr_db *db, char *err, size_t errlen);

/*
 * Calls fn(arg, workflow, status, n) for each workflow and status with the number of runs
 * stored in it, ordered by workflow then status; the strings are borrowed for the call only.
 * Returns 0, or WR_HISTORY_EDB with the back end's message in err when the count cannot start
 * (its statement is refused, or fails before its first row).
 */
typedef void (*wr_history_count_fn)(void *arg, const char *workflow, const char *status, int64_t n);
int wr_history_count_by_state(struct wr_db *db, wr_history_count_fn fn, void *arg, char *err,
                              size_t errlen);

/*
 * Resolves a run id or a unique prefix of one (like git) into id (NUL-terminated, truncated
 * to idlen). Returns 0; WR_HISTORY_ENOTFOUND when no run matches; WR_HISTORY_EAMBIGUOUS when
 * several do (err lists up to 10 of them with workflow and status); WR_HISTORY_EDB.
 *
 * Prefixes are for people at the command line: the CLI resolves what it is given, then calls
 * show, retry or cancel with the full id. Those take full ids only, so a program (the admin
 * API) never acts on a run it did not name.
 */
int wr_history_resolve(struct wr_db *db, const char *prefix, char *id, size_t idlen, char *err,
                       size_t errlen);

/*
 * Reads the run with exactly this id (no prefix) into *out: an owned object with the fields of a
 * list item (without short_id, steps_recorded and last_step) plus `event` {id, source, idem_key,
 * idem_scope, received_at, headers, body, status} (null if the event row is missing) and
 * `steps`, every step row in idx order as {idx, step_id, status, attempts, started_at,
 * finished_at, args, output, error, graph_error}; graph_error is Graph's answer found in error
 * ({status (null without an HTTP answer), code, message, request_id}) or null. headers, body, args
 * and output are JSON trees (text that does not parse is kept as a string); error is the text the
 * executor stored (Graph's answer, or a hook's message and traceback), cut to WR_STORED_ERROR_MAX
 * bytes with "… (N bytes more)" (stores written before that cap may hold longer ones). A failed
 * run's error is stored once, in the row of the step that failed: when the run row has none,
 * `error` is that step's. Returns 0 or a WR_HISTORY_E* code with err set and *out NULL.
 */
int wr_history_show(struct wr_db *db, const char *id, struct json_object **out, char *err,
                    size_t errlen);

/*
 * Queues the failed or succeeded_with_errors run with exactly this id again, in one
 * transaction: status 'queued', next_at and error cleared, updated_at now, and every failed
 * or retrying step row set back to 'pending' with its attempts kept; the executor resumes at
 * the first step that is not succeeded or skipped. With same_version the run keeps its
 * workflow_hash (it reruns the version it started with); without it workflow_hash becomes ''
 * and the executor uses the workflow's current version. out (may be NULL) receives the run as
 * wr_history_show() reads it after the commit. Returns 0; WR_HISTORY_ESTATE (err says the
 * state) for a run in any other state; or another WR_HISTORY_E* code. Nothing changes on error.
 */
int wr_history_retry(struct wr_db *db, const char *id, bool same_version, int64_t now,
                     struct json_object **out, char *err, size_t errlen);

/*
 * Cancels the run with exactly this id when it has not finished (queued, running, retrying,
 * waiting): status
 * 'cancelled', error 'cancelled by weir cancel', updated_at now. The step rows are left as
 * they are: they record what happened. out (may be NULL) receives the run after the commit.
 * Returns 0; WR_HISTORY_ESTATE for a finished run; or another WR_HISTORY_E* code.
 */
int wr_history_cancel(struct wr_db *db, const char *id, int64_t now, struct json_object **out,
                      char *err, size_t errlen);

/*
 * Adds what only the workflow files know to a list item or a shown run (in place): when set
 * holds the run's workflow at the version the run uses (the same hash, or '' = current),
 * `steps_total` and `on_error_total`, and in each step object (`steps` items and
 * `last_step`) `action` — the action name, "script" or "wait". Leaves the object alone
 * otherwise: an older version's steps may not line up with today's file. set may be NULL.
 */
void wr_history_annotate(struct json_object *run, const struct wr_workflow_set *set);

/*
 * Formats runs (a wr_history_list() array) as the aligned table of `weir runs`: RUN (the
 * short id), WORKFLOW, STATUS, TRIGGER (the kind: the first word of the event's source,
 * such as webhook or manual), USER (the event's user, "-" without one), STARTED (local
 * time, to the minute), DURATION (up to now for runs not finished), STEP (the step reached,
 * "3/8 assign-license", "on_error 1/2 notify"), ERROR (the first line of the run's error, or
 * of the step's for a run still retrying). ERROR is cut to keep lines within width columns;
 * when that leaves it fewer than 16, STEP, USER and then WORKFLOW are cut (to 12 at least)
 * first, and only then may a line run longer. Returns an
 * owned string, one line per run after the header, each ending in a newline.
 */
char *wr_history_format_table(struct json_object *runs, int64_t now, int width);

/* The layout of a table printed a page at a time: fixed by its first page. */
struct wr_history_table {
    int width;
    bool started;     /* the header and the first page are out */
    size_t widths[8]; /* RUN .. STEP */
    size_t room;      /* columns for ERROR */
};

/* Starts a table of lines within width columns (as wr_history_format_table). */
void wr_history_table_init(struct wr_history_table *t, int width);

/*
 * Formats one page of runs (a wr_history_list_page() array) as wr_history_format_table does;
 * the first call fixes the column widths and adds the header, later ones keep them (WORKFLOW
 * and STEP cells cut with "…" to fit), so a list of any length prints page by page. Returns
 * an owned string.
 */
char *wr_history_format_table_page(struct wr_history_table *t, struct json_object *runs,
                                   int64_t now);

/*
 * Formats a wr_history_show() object for `weir show`: the run's header, its trigger event
 * as pretty JSON, then each step with status, attempts, timing, arguments, output and error
 * (a traceback's lines indented under the message). Returns an owned string.
 */
char *wr_history_format_run(struct json_object *run, int64_t now);

#endif
