/*
 * guard — the mass-change brake's arithmetic: which users destructive steps changed within a
 * sliding window, and whether one more may be changed now.
 *
 * The window is kept in memory by the executor (engine/exec/run.c), loaded from the journal's
 * guard_window rows at start and noted as steps are admitted (the executor stores each note with
 * the step's "running" record). Users are counted once however many runs or steps changed them.
 * This module decides; it stores nothing, logs nothing and reads no clock: `now` comes in.
 */
#ifndef WR_GUARD_H
#define WR_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/lang/workflow.h"

struct wr_guard;

/* An empty window (owned: wr_guard_free). */
struct wr_guard *wr_guard_new(void);

/* Frees g. NULL is fine. */
void wr_guard_free(struct wr_guard *g);

/* Notes that run run_id (borrowed, copied) changed user (borrowed, copied) at `at` (Unix ms). */
void wr_guard_note(struct wr_guard *g, const char *user, const char *run_id, int64_t at);

/* Forgets notes older than now - WR_GUARD_MAX_WINDOW_MS. */
void wr_guard_prune(struct wr_guard *g, int64_t now);

/* Distinct users noted within (now - window_ms, now]. */
int64_t wr_guard_count(const struct wr_guard *g, int64_t now, int64_t window_ms);

/*
 * The limit that applies: the lower of l->max and l->percent of users (rounded down, at least
 * 1; users < 0 = unknown, then max alone), and which one it is ("max" or "percent") in *which
 * (static). -1 when neither applies (no max and the count unknown).
 */
int64_t wr_guard_limit(const struct wr_guard_limits *l, int64_t users, const char **which);

enum wr_guard_verdict {
    WR_GUARD_PASS,  /* nothing new to count: go on */
    WR_GUARD_COUNT, /* go on, and note (user, run) — the caller stores and wr_guard_note()s it */
    WR_GUARD_HOLD,  /* hold the run before the step; why says so */
};

/*
 * Whether run run_id may change user (both borrowed) with a destructive step now, under l,
 * the tenant's users (-1 unknown) and held, the runs held now (the brake is on while any
 * is). A user this run already changed passes; a user another run changed within the window
 * counts once (COUNT, so this run's later steps pass too); with the brake on, everything new
 * is held. On HOLD, why (whylen bytes) holds the reason for history ("3 users changed by
 * destructive steps in the last 1h, limit 3 (guard.destructive.max)"), and *limit and *count
 * what it compared (also set for COUNT).
 */
enum wr_guard_verdict wr_guard_decide(const struct wr_guard *g, const struct wr_guard_limits *l,
                                      const char *user, const char *run_id, int64_t now,
                                      int64_t users, int64_t held, int64_t *limit, int64_t *count,
                                      const char **which, char *why, size_t whylen);

#endif
