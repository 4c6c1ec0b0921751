/*
 * ingest — the one path every event takes into weir: match, journal, acknowledge.
 *
 * A trigger or `weir fire` hands over the events of one delivery —
 * one webhook body, the rows of one CSV file, one schedule slot — together with the
 * workflows that could want them. Ingest evaluates each candidate's `when:` on each event
 * (on the loop thread, in the workflow's Lua sandbox), then submits the events and their
 * matched runs to the journal as ONE transaction, and calls back on the loop thread once that
 * transaction is durable (fsync'd). Only then may the trigger acknowledge the delivery
 * (the webhook's 2xx, moving the file to done/). An event whose idempotency key was seen
 * within the retention window (in its scope: the path, folder, schedule or workflow it came
 * from) is reported as a duplicate with the original event's id and starts no run. Ingest does not
 * run workflows; the run executor picks the runs up.
 */
#ifndef WR_INGEST_H
#define WR_INGEST_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/lang/workflow.h"

struct event_base;
struct wr_journal;
struct wr_journal_batch;

struct wr_ingest_event {
    struct json_object *event; /* the event value workflows see as `event` (borrowed) */
    const char *key;           /* idempotency key, or NULL for none */
    /* Where key is unique (NULL: the submission's source): the trigger instance it came from
       and, for a webhook, the header or `id:` template — "webhook /hooks/hr (webhook-id)",
       "file /spool/hr", "schedule nightly", "manual onboard". The same key in another scope is
       another event. legacy_scope: see wr_journal_event_scope (may be NULL). */
    const char *scope;
    const char *legacy_scope;
    const char *text; /* optional: event's JSON text as received (stored verbatim) */
    size_t text_len;
};

/* The outcome of one submitted event. */
struct wr_ingest_item {
    char event_id[40]; /* the stored event's id (the original one for a duplicate) */
    bool duplicate;    /* seen before within the retention window: nothing new stored */
    int runs;          /* runs created for it (0 for a duplicate or an unmatched event) */
};

struct wr_ingest_result {
    int rc;            /* 0 = committed; negative = nothing was stored */
    const char *error; /* rc < 0: why (storage failure, a `when:` that failed to evaluate) */
    size_t count;
    const struct wr_ingest_item *items; /* count entries, in submission order */
};

typedef void (*wr_ingest_done_fn)(void *arg, const struct wr_ingest_result *res);

struct wr_ingest;

/* Creates the ingest path over an open journal. Borrowed; both must outlive it. */
struct wr_ingest *wr_ingest_new(struct event_base *base, struct wr_journal *journal);
void wr_ingest_free(struct wr_ingest *in);

/* Calls fn(arg) on the loop thread after each commit that stored new runs (the executor's
   cue to look for them now rather than at its next poll). */
void wr_ingest_on_runs(struct wr_ingest *in, void (*fn)(void *arg), void *arg);

/*
 * Matches and stores the n events of one delivery. source names the trigger for audit and
 * history ("webhook /hooks/hr", "file /spool/hr/2026-11.csv", "schedule nightly",
 * "manual"); headers (borrowed, may be NULL) are kept for audit and must already be free of
 * secrets. candidates are the enabled workflows of the trigger (borrowed until `done`).
 * Everything else (source, headers, the events and their keys) is copied before this
 * returns: the caller may free it at once.
 * `done` runs on the loop thread after the commit, never inside this call. Returns 0, or -1
 * when nothing could be queued (then `done` is not called).
 */
int wr_ingest_submit(struct wr_ingest *in, const char *source, struct json_object *headers,
                     const struct wr_workflow *const *candidates, size_t ncandidates,
                     const struct wr_ingest_event *events, size_t n, wr_ingest_done_fn done,
                     void *arg);

/*
 * The same in pieces, for a delivery too large to match in one loop turn (the rows of a big
 * file): a batch is made, events are added (each matched against the candidates at once, on
 * the loop thread) over as many calls and loop turns as the caller likes, then the batch is
 * submitted as one transaction. wr_ingest_submit is new + add + submit.
 *
 * wr_ingest_batch_new copies source and headers (borrowed, may be NULL); the result is owned.
 * wr_ingest_batch_add copies the events and keys; candidates are borrowed for the call only.
 * wr_ingest_batch_count says how many events the batch holds.
 * wr_ingest_batch_submit takes the batch (consumed even on failure) and returns 0, `done`
 * running on the loop thread after the commit, or -1 when nothing could be queued.
 * wr_ingest_batch_free releases a batch never submitted; NULL is fine.
 */
struct wr_ingest_batch;
struct wr_ingest_batch *wr_ingest_batch_new(const char *source, struct json_object *headers);
void wr_ingest_batch_add(struct wr_ingest_batch *b, const struct wr_workflow *const *candidates,
                         size_t ncandidates, const struct wr_ingest_event *events, size_t n);
size_t wr_ingest_batch_count(const struct wr_ingest_batch *b);
int wr_ingest_batch_submit(struct wr_ingest *in, struct wr_ingest_batch *b, wr_ingest_done_fn done,
                           void *arg);
void wr_ingest_batch_free(struct wr_ingest_batch *b);

/* The journal batch under b (borrowed, b's until submitted): for the store's own writes that
   must commit with b's events, such as engine/store/trigger_state. */
struct wr_journal_batch *wr_ingest_batch_journal(struct wr_ingest_batch *b);

#endif
