/*
 * fuzz — what the libFuzzer targets in tests/fuzz share: the entry point every target defines,
 * a scratch directory for the few loaders that only read files, and small input helpers.
 *
 * A target is one fuzz_<name>.c defining LLVMFuzzerTestOneInput. Built with WEIR_FUZZ it links
 * libFuzzer (tests/fuzz/CMakeLists.txt); in every other build it links the replay driver
 * tests/unit/test_fuzz_replay.c, which feeds it each seed and regression input once. Targets
 * are deterministic, never touch the network and write only under the scratch directory.
 * A broken invariant calls wr_fuzz_fail, which aborts: libFuzzer records that as a crash.
 */
#ifndef WR_FUZZ_H
#define WR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry point: one input, 0 always (the input is never rejected from the corpus). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The target's scratch directory: made once (mkdtemp under $TMPDIR or /tmp) on first use and
 * removed with everything in it when the process exits normally. Borrowed; aborts when it
 * cannot be made.
 */
const char *wr_fuzz_scratch_dir(void);

/*
 * Writes len bytes to name inside the scratch directory (subdirectories in name are made),
 * replacing the file. Returns the owned full path; aborts when the write fails.
 */
char *wr_fuzz_write(const char *name, const void *data, size_t len);

/* An owned NUL-terminated copy of len bytes (which may hold NULs of their own). */
char *wr_fuzz_strndup(const uint8_t *data, size_t len);

/* Prints "fuzz: invariant broken: <what>" to stderr and aborts. */
void wr_fuzz_fail(const char *what) __attribute__((noreturn));

#endif
