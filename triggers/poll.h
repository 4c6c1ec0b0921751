/*
 * poll — the rhythm the directory trigger kinds share (user-date, user-change,
 * group-membership): one round per workflow every `every`, never two at once, each round's
 * outcome counted for /metrics and shown in /readyz (engine/base/metrics).
 *
 * A round is the kind's own (read Graph, compare, submit what it found with its state in one
 * ingest batch); this module only starts it and hears how it ended. The next round is due
 * `every` after the last one began — or at once when the round took longer — so a slow Graph
 * never makes rounds overlap, and a failed round (Graph down, 403) is simply tried again at
 * the next interval, nothing fired from it.
 *
 * On the loop thread only. Not a trigger kind: triggers/ holds it beside the registry because
 * three kinds share it (no kind includes another).
 */
#ifndef WR_TRIGGER_POLL_H
#define WR_TRIGGER_POLL_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct wr_poll;

/* Starts one round; the kind calls wr_poll_ended when it is over (on a later loop turn). */
typedef void (*wr_poll_round_fn)(void *arg);

/*
 * A poll for workflow (copied) of trigger kind `kind` (a static name), a round every every_ms
 * (>= 1 ms). Nothing happens before wr_poll_begin. Owned: wr_poll_free. round(arg) starts a
 * round; arg is borrowed and must outlive the poll.
 */
struct wr_poll *wr_poll_new(struct event_base *base, const char *kind, const char *workflow,
                            int64_t every_ms, wr_poll_round_fn round, void *arg);

/* Starts the first round on the next loop turn, then one every every_ms. */
void wr_poll_begin(struct wr_poll *p);

/*
 * The round started by round() ended: ok or failed (error: one line with Graph's answer, copied),
 * after reading pages pages. Arms the next round. A failure is counted and kept for /readyz
 * until a round succeeds. Calling it when no round is running does nothing.
 */
void wr_poll_ended(struct wr_poll *p, bool ok, int pages, const char *error);

/* The users a kind waits to fire for (a gauge in /metrics). */
void wr_poll_set_pending(struct wr_poll *p, uint64_t n);

/* Runs a round at once unless one is running (a test or an admin asking now). */
void wr_poll_now(struct wr_poll *p);

/* True between round() and wr_poll_ended. */
bool wr_poll_running(const struct wr_poll *p);

/* No more rounds start (a running one may still end). */
void wr_poll_stop(struct wr_poll *p);

/* Rounds ended so far (ok or not). */
uint64_t wr_poll_rounds(const struct wr_poll *p);

/* Frees the poll; its metric series go too when forget is true (a workflow a reload removed).
   NULL is fine. The kind must not call wr_poll_ended on it afterwards. */
void wr_poll_free(struct wr_poll *p, bool forget);

#endif
