/*
 * log — weir's log lines: one line per record, logfmt (key=value) by default or JSON, on
 * standard error, with a level filter.
 *
 * wr_log(WR_LOG_INFO, "webhook listener ready", "addr", "127.0.0.1:8080", NULL) prints
 * `ts=2026-11-27T07:12:00.123Z level=info msg="webhook listener ready" addr=127.0.0.1:8080`.
 * Values are quoted when they need it; control characters are escaped (\n, \t, \r, \u001b), so
 * one record is one line. Registered secrets (engine/base/secret) are masked in every value, then a
 * value (and msg) longer than WR_LOG_VALUE_MAX bytes is cut at a UTF-8 boundary and ends in
 * "… (N bytes more)": a record is bounded by its number of fields, whatever a field holds.
 * Never pass a secret that is not registered: nothing here can tell one.
 */
#ifndef WR_LOG_H
#define WR_LOG_H

#include <stdbool.h>

/* The most bytes of one value (or of msg) in a log line. */
#define WR_LOG_VALUE_MAX 2048

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
