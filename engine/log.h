/*
 * log — weir's log lines: one line per record, logfmt (key=value) by default or JSON, on
 * standard error, with a level filter.
 *
 * wr_log(WR_LOG_INFO, "webhook listener ready", "addr", "127.0.0.1:8080", NULL) prints
 * `ts=2026-11-27T07:12:00.123Z level=info msg="webhook listener ready" addr=127.0.0.1:8080`.
 * Values are quoted when they need it. Never pass a secret: nothing here can tell one.
 */
#ifndef WR_LOG_H
#define WR_LOG_H

#include <stdbool.h>

enum wr_log_level {
    WR_LOG_DEBUG,
    WR_LOG_INFO,
    WR_LOG_WARN,
    WR_LOG_ERROR,
};

/* Sets the minimum level printed and the format. Returns 0, or -1 for an unknown name. */
int wr_log_set_level(const char *name);
int wr_log_set_format(const char *name); /* "logfmt" or "json" */

/* Prints one record: msg, then key/value string pairs, NULL-terminated. */
void wr_log(enum wr_log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
