/*
 * notify — telling the service manager how the daemon is doing: systemd's notification socket
 * protocol (sd_notify(3)), written here so weir needs no libsystemd.
 *
 * The manager names a Unix datagram socket in $NOTIFY_SOCKET: an absolute path, or an abstract
 * address written with a leading '@'. Each message is one datagram of newline-separated
 * VARIABLE=VALUE assignments ("READY=1\nSTATUS=..."). Without $NOTIFY_SOCKET (weir started by
 * hand, by a test, under another supervisor) every call does nothing and succeeds.
 *
 * Not a logger and not a watchdog: failures are returned to the caller, which decides whether
 * they are worth a log line; nothing here keeps state between calls.
 */
#ifndef WR_NOTIFY_H
#define WR_NOTIFY_H

#include <stddef.h>

/* The longest message sent: systemd reads at most this much of one datagram (PIPE_BUF). */
#define WR_NOTIFY_MAX 4096

/*
 * Sends state (borrowed; newline-separated assignments, at most WR_NOTIFY_MAX bytes, not
 * empty) to the socket named by $NOTIFY_SOCKET. Never blocks: a manager whose queue is full
 * is an error, not a stall. Returns 0 when sent or when $NOTIFY_SOCKET is unset or empty, or
 * -1 with a message in err (the address is named, quoted and capped; state never is).
 */
int wr_notify(const char *state, char *err, size_t errlen);

/* wr_notify to the address addr (borrowed; "/path" or "@abstract"; NULL or "" does nothing
   and returns 0) instead of $NOTIFY_SOCKET's. */
int wr_notify_to(const char *addr, const char *state, char *err, size_t errlen);

/*
 * wr_notify with "RELOADING=1" and "MONOTONIC_USEC=" the CLOCK_MONOTONIC time of the call in
 * microseconds (how systemd tells this reload from the next), then extra (borrowed, may be
 * NULL: more assignments, such as "STATUS=..."). Same returns as wr_notify.
 */
int wr_notify_reloading(const char *extra, char *err, size_t errlen);

#endif
