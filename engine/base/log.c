/*
 * log — logfmt or JSON records on standard error; see log.h.
 */
#include "engine/base/log.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/base/secret.h"
#include "engine/base/strutil.h"

static enum wr_log_level min_level = WR_LOG_INFO;
static bool json_format;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int wr_log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            min_level = (enum wr_log_level)i;
            return 0;
        }
    }
    return -1;
}

int wr_log_set_format(const char *name)
{
    if (strcmp(name, "logfmt") == 0 || strcmp(name, "json") == 0) {
        json_format = strcmp(name, "json") == 0;
        return 0;
    }
    return -1;
}

/* Whether a logfmt value needs quotes: empty, or holding a blank, '=', '"', '\\' or a control
   character. */
static bool needs_quotes(const char *v)
{
    if (!*v) {
        return true;
    }
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f) {
            return true;
        }
    }
    return false;
}

static void logfmt_value(struct wr_buf *b, const char *v)
{
    if (!needs_quotes(v)) {
        wr_buf_add(b, v);
        return;
    }
    wr_buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            wr_buf_addc(b, '\\');
            wr_buf_addc(b, (char)*p);
        } else if (*p == '\n') {
            wr_buf_add(b, "\\n");
        } else if (*p == '\t') {
            wr_buf_add(b, "\\t");
        } else if (*p == '\r') {
            wr_buf_add(b, "\\r");
        } else if (*p < 0x20 || *p == 0x7f) {
            /* Never a raw control byte: it could forge a line or drive a terminal. */
            wr_buf_addf(b, "\\u%04x", *p);
        } else {
            wr_buf_addc(b, (char)*p);
        }
    }
    wr_buf_addc(b, '"');
}

/*
 * v as it may be logged, owned: every secret masked first (so that a cut never leaves part of
 * one unmasked), then cut to WR_LOG_VALUE_MAX bytes with "… (N bytes more)".
 */
static char *loggable(const char *v)
{
    char *masked = wr_secret_mask(v);
    const char *m = masked ? masked : v;
    size_t len = strlen(m);
    char *out = len <= WR_LOG_VALUE_MAX ? (masked ? masked : wr_xstrdup(v)) : NULL;
    if (!out) {
        struct wr_buf b = {0};
        wr_buf_add_capped(&b, m, len, WR_LOG_VALUE_MAX);
        out = wr_buf_take(&b);
        free(masked);
    }
    return out;
}

static void emit(const char *line)
{
    fprintf(stderr, "%s\n", line);
}

void wr_log(enum wr_log_level level, const char *msg, ...)
{
    if (level < min_level) {
        return;
    }
    struct tm tm;
    char when[40];
    int64_t ns = wr_clock_wall_ns();
    time_t sec = (time_t)(ns / 1000000000);
    gmtime_r(&sec, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03ldZ", (long)(ns % 1000000000 / 1000000));

    va_list ap;
    va_start(ap, msg);
    char *m = loggable(msg);
    if (json_format) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "ts", json_object_new_string(when));
        json_object_object_add(o, "level", json_object_new_string(level_names[level]));
        json_object_object_add(o, "msg", json_object_new_string(m));
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *raw = va_arg(ap, const char *);
            char *v = loggable(raw ? raw : "");
            json_object_object_add(o, k, json_object_new_string(v));
            free(v);
        }
        emit(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        struct wr_buf b = {0};
        wr_buf_addf(&b, "ts=%s level=%s msg=", when, level_names[level]);
        logfmt_value(&b, m);
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *raw = va_arg(ap, const char *);
            char *v = loggable(raw ? raw : "");
            wr_buf_addf(&b, " %s=", k);
            logfmt_value(&b, v);
            free(v);
        }
        emit(wr_buf_str(&b));
        wr_buf_free(&b);
    }
    free(m);
    va_end(ap);
}
