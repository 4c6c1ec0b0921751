/*
 * log — logfmt or JSON records on standard error; see log.h.
 */
#include "engine/log.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/secret.h"
#include "engine/strutil.h"

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

static void logfmt_value(struct wr_buf *b, const char *v)
{
    bool quote = !*v || strpbrk(v, " =\"\t\n\\") != NULL;
    if (!quote) {
        wr_buf_add(b, v);
        return;
    }
    wr_buf_addc(b, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            wr_buf_addc(b, '\\');
            wr_buf_addc(b, *p);
        } else if (*p == '\n') {
            wr_buf_add(b, "\\n");
        } else if (*p == '\t') {
            wr_buf_add(b, "\\t");
        } else {
            wr_buf_addc(b, *p);
        }
    }
    wr_buf_addc(b, '"');
}

/* Writes one line, with any secret value in it masked (a template may have copied one). */
static void emit(const char *line)
{
    char *masked = wr_secret_mask(line);
    fprintf(stderr, "%s\n", masked ? masked : line);
    free(masked);
}

void wr_log(enum wr_log_level level, const char *msg, ...)
{
    if (level < min_level) {
        return;
    }
    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);

    va_list ap;
    va_start(ap, msg);
    if (json_format) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "ts", json_object_new_string(when));
        json_object_object_add(o, "level", json_object_new_string(level_names[level]));
        json_object_object_add(o, "msg", json_object_new_string(msg));
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            json_object_object_add(o, k, json_object_new_string(v ? v : ""));
        }
        emit(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        struct wr_buf b = {0};
        wr_buf_addf(&b, "ts=%s level=%s msg=", when, level_names[level]);
        logfmt_value(&b, msg);
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            wr_buf_addf(&b, " %s=", k);
            logfmt_value(&b, v ? v : "");
        }
        emit(wr_buf_str(&b));
        wr_buf_free(&b);
    }
    va_end(ap);
}
