/*
 * clock — wall and monotonic time; see clock.h.
 */
#include "engine/base/clock.h"

#include <time.h>

static int64_t read_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t read_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t wr_clock_wall_ms(void)
{
    return read_ms(CLOCK_REALTIME);
}

int64_t wr_clock_wall_ns(void)
{
    return read_ns(CLOCK_REALTIME);
}

int64_t wr_clock_mono_ms(void)
{
    return read_ms(CLOCK_MONOTONIC);
}

int64_t wr_clock_mono_ns(void)
{
    return read_ns(CLOCK_MONOTONIC);
}
