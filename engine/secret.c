/*
 * secret — env:/file: references; see secret.h.
 */
#include "engine/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/strutil.h"

int wr_secret_resolve(const char *ref, const char *base_dir, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (strncmp(ref, "env:", 4) == 0) {
        const char *v = getenv(ref + 4);
        if (!v || !*v) {
            snprintf(err, errlen, "%s: the environment variable %s is not set", ref, ref + 4);
            return -1;
        }
        *out = wr_xstrdup(v);
        return 0;
    }
    if (strncmp(ref, "file:", 5) != 0 || !ref[5]) {
        snprintf(err, errlen, "a secret must be env:NAME or file:PATH");
        return -1;
    }
    char *path = wr_path_join(base_dir, ref + 5);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", ref, strerror(errno));
        free(path);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen, "%s: readable by group or others (mode %03o); chmod 600 it", ref,
                 (unsigned)(st.st_mode & 0777));
        free(path);
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = wr_read_file(path, 64 * 1024, &buf, &len);
    free(path);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", ref, strerror(-rc));
        return -1;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        buf[--len] = '\0';
    }
    if (len == 0 || memchr(buf, '\0', len)) {
        snprintf(err, errlen, "%s: the file is empty or not text", ref);
        wr_secret_free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

void wr_secret_free(char *value)
{
    if (value) {
        /* volatile: the compiler must not drop the wipe of memory about to be freed. */
        volatile char *p = value;
        while (*p) {
            *p++ = '\0';
        }
        free(value);
    }
}
