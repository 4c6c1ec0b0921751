/*
 * fuzz — the helpers the targets share; see fuzz.h. Plain C over libc: it knows nothing of
 * weir's modules, so every target and the replay driver can link it.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[4096];

void wr_fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz: invariant broken: %s\n", what);
    abort();
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void scratch_cleanup(void)
{
    if (scratch[0] != '\0') {
        nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

const char *wr_fuzz_scratch_dir(void)
{
    if (scratch[0] == '\0') {
        const char *tmp = getenv("TMPDIR");

        if (tmp == NULL || *tmp == '\0') {
            tmp = "/tmp";
        }
        snprintf(scratch, sizeof(scratch), "%s/weir-fuzz-XXXXXX", tmp);
        if (mkdtemp(scratch) == NULL) {
            fprintf(stderr, "fuzz: cannot make a scratch directory under %s: %s\n", tmp,
                    strerror(errno));
            abort();
        }
        atexit(scratch_cleanup);
    }
    return scratch;
}

/* Makes every directory leading to the file at path (the scratch directory exists). */
static void make_parents(char *path)
{
    size_t base = strlen(wr_fuzz_scratch_dir());

    for (char *p = path + base + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "fuzz: mkdir %s: %s\n", path, strerror(errno));
            abort();
        }
        *p = '/';
    }
}

char *wr_fuzz_write(const char *name, const void *data, size_t len)
{
    const char *dir = wr_fuzz_scratch_dir();
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(n);
    FILE *f;

    if (path == NULL) {
        abort();
    }
    snprintf(path, n, "%s/%s", dir, name);
    make_parents(path);
    f = fopen(path, "wb");
    if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    return path;
}

char *wr_fuzz_strndup(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);

    if (s == NULL) {
        abort();
    }
    if (len > 0) {
        memcpy(s, data, len);
    }
    s[len] = '\0';
    return s;
}
