/*
 * test_secret — env:/file: references and the masking of secret values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/base/strutil.h"
#include "engine/base/secret.h"

static void want_mask(const char *in, const char *want)
{
    char *got = wr_secret_mask(in);
    if (!want) {
        if (got) {
            fail_msg("'%s' masked to '%s', want unchanged", in, got);
        }
        return;
    }
    if (!got || strcmp(got, want) != 0) {
        fail_msg("'%s' masked to '%s', want '%s'", in, got ? got : "(unchanged)", want);
    }
    free(got);
}

static void test_mask(void **state)
{
    (void)state;
    wr_secret_reset();
    want_mask("nothing registered", NULL);
    wr_secret_register("s3cr3t-Value");
    wr_secret_register("DE"); /* too short to mask */
    wr_secret_register(NULL);
    want_mask("no secret here, DE", NULL);
    want_mask("url=https://x/?k=s3cr3t-Value&again=s3cr3t-Value",
              "url=https://x/?k=[redacted]&again=[redacted]");
    want_mask("s3cr3t-Value", "[redacted]");
    want_mask("s3cr3t-Valu", NULL);
    /* the JSON-escaped form of a value with quotes or backslashes is masked too */
    wr_secret_register("pa\"ss\\word");
    want_mask("{\"h\":\"pa\\\"ss\\\\word\"}", "{\"h\":\"[redacted]\"}");
    want_mask("raw pa\"ss\\word", "raw [redacted]");
    /* tokens: only the last few are kept */
    wr_secret_register_token("token-number-0");
    want_mask("Bearer token-number-0", "Bearer [redacted]");
    for (int i = 1; i <= 4; i++) {
        char t[32];
        snprintf(t, sizeof(t), "token-number-%d", i);
        wr_secret_register_token(t);
    }
    want_mask("Bearer token-number-0", NULL);
    want_mask("Bearer token-number-4", "Bearer [redacted]");
    wr_secret_reset();
    want_mask("s3cr3t-Value", NULL);
}

static void test_resolve_registers(void **state)
{
    (void)state;
    char err[WR_ERR_MAX], *v = NULL;
    wr_secret_reset();
    setenv("WEIR_TEST_SECRET_ENV", "env-secret-123", 1);
    assert_int_equal(wr_secret_resolve("env:WEIR_TEST_SECRET_ENV", ".", &v, err, sizeof(err)), 0);
    assert_string_equal(v, "env-secret-123");
    wr_secret_free(v);
    want_mask("x env-secret-123 y", "x [redacted] y");

    char dir[] = "/tmp/weir-secret-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/key", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("file-secret-456\n", f);
    fclose(f);
    chmod(path, 0640);
    /* readable by group: refused, and the message names the reference, not the value */
    assert_int_equal(wr_secret_resolve("file:key", dir, &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "readable by group or others"));
    assert_null(strstr(err, "file-secret-456"));
    chmod(path, 0600);
    assert_int_equal(wr_secret_resolve("file:key", dir, &v, err, sizeof(err)), 0);
    assert_string_equal(v, "file-secret-456");
    wr_secret_free(v);
    want_mask("file-secret-456", "[redacted]");
    /* an unset variable: the message names it and holds no value */
    assert_int_equal(wr_secret_resolve("env:WEIR_TEST_UNSET_X", ".", &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WEIR_TEST_UNSET_X"));
    unlink(path);
    rmdir(dir);
    wr_secret_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_resolve_registers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
