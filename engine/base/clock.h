/*
 * clock — weir's two clocks, named: wall time (CLOCK_REALTIME, Unix epoch) for timestamps that
 * are stored or shown, and monotonic time (CLOCK_MONOTONIC) for every timeout, deadline and
 * duration, which a change of the system's clock (NTP, an admin) must not stretch or cut.
 *
 * Not a timer: the loop's timers are libevent's (which measures with its own monotonic clock).
 */
#ifndef WR_CLOCK_H
#define WR_CLOCK_H

#include <stdint.h>

/* Wall time: milliseconds / nanoseconds since the Unix epoch. For stored and shown times only. */
int64_t wr_clock_wall_ms(void);
int64_t wr_clock_wall_ns(void);

/* Monotonic time: milliseconds / nanoseconds since an unspecified start (boot). For timeouts,
   deadlines and durations; meaningless across processes. */
int64_t wr_clock_mono_ms(void);
int64_t wr_clock_mono_ns(void);

/* An injectable clock in milliseconds (tests replace a module's clock with one); arg is the
   module's, borrowed. */
typedef int64_t (*wr_clock_fn)(void *arg);

#endif
