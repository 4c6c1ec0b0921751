/*
 * fail_limit — failed sign-ins counted per client address, so a token cannot be guessed at
 * the speed of the network: after `max` failures from one address within `window_ms`, that
 * address is refused (even with the right token) until the window has passed again. A fixed
 * table of the most recent addresses: an address pushed out of it starts afresh, so memory
 * stays bounded whoever calls.
 */
#ifndef WR_FAIL_LIMIT_H
#define WR_FAIL_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/base/clock.h"

#define WR_FAIL_LIMIT_SLOTS 256 /* addresses remembered at once */

struct wr_fail_limit;

/* A limiter (owned: wr_fail_limit_free) allowing max failures per window_ms per address, on
   clock (NULL: the monotonic clock; clock_arg its argument). */
struct wr_fail_limit *wr_fail_limit_new(int max, int64_t window_ms, wr_clock_fn clock,
                                        void *clock_arg);

void wr_fail_limit_free(struct wr_fail_limit *l);

/* Whether addr (borrowed) is refused now; then *retry_ms says for how long yet. */
bool wr_fail_limit_blocked(struct wr_fail_limit *l, const char *addr, int64_t *retry_ms);

/* Counts a failure of addr (borrowed). True when this one made it refused (once per lockout:
   the caller logs it). */
bool wr_fail_limit_fail(struct wr_fail_limit *l, const char *addr);

#endif
