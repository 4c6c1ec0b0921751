/*
 * test_fuzz_replay — the driver that replays a libFuzzer target without libFuzzer: linked with
 * one tests/fuzz/fuzz_<name>.c, it feeds LLVMFuzzerTestOneInput every file of the directories
 * it is given (the target's seed corpus and its crash reproducers), each once, in name order.
 *
 * This is how the normal and sanitizer builds keep every seed and every fixed crash passing
 * (tests/CMakeLists.txt registers one fuzz_replay_<name> test per target, label fuzz). A
 * target signals a failure by aborting, so reaching the end means every input passed. A
 * missing directory is fine (a target may have no regressions yet); no input at all is not.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a whole file into an exact-size heap buffer (so ASan sees reads past its end). */
static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    struct stat st;

    if (f == NULL || fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        goto err;
    }
    *len = (size_t)st.st_size;
    buf = malloc(*len > 0 ? *len : 1);
    if (buf == NULL || (*len > 0 && fread(buf, 1, *len, f) != *len)) {
        goto err;
    }
    fclose(f);
    return buf;
err:
    fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
    free(buf);
    if (f != NULL) {
        fclose(f);
    }
    return NULL;
}

/* Replays every regular file in dir; returns how many, or -1 on a read error. */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    long done = 0;

    if (d == NULL) {
        if (errno == ENOENT) {
            printf("replay: %s: none\n", dir);
            return 0;
        }
        fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
            if (names == NULL) {
                abort();
            }
        }
        names[n] = strdup(e->d_name);
        if (names[n] == NULL) {
            abort();
        }
        n++;
    }
    closedir(d);
    if (n > 0) {
        qsort(names, n, sizeof(*names), by_name);
    }
    for (size_t i = 0; i < n && done >= 0; i++) {
        size_t plen = strlen(dir) + 1 + strlen(names[i]) + 1, len = 0;
        char *path = malloc(plen);
        struct stat st;
        uint8_t *data;

        if (path == NULL) {
            abort();
        }
        snprintf(path, plen, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            printf("replay: %s\n", path);
            fflush(stdout); /* the name is out before a crash */
            data = read_all(path, &len);
            if (data == NULL) {
                done = -1;
            } else {
                LLVMFuzzerTestOneInput(data, len);
                free(data);
                done++;
            }
        }
        free(path);
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return done;
}

int main(int argc, char **argv)
{
    long total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        long n = replay_dir(argv[i]);

        if (n < 0) {
            return 1;
        }
        total += n;
    }
    printf("replay: %ld inputs passed\n", total);
    if (total == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    return 0;
}
