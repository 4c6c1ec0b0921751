/*
 * test_strutil — unit tests for engine/base/strutil's error formatting: wr_errf_marked keeps a
 * message that fits and cuts one that does not at a UTF-8 boundary, with a visible "…"; a
 * WR_ERR_MAX buffer holds a message of WR_ERR_MAX - 1 bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/base/strutil.h"

static void test_errf_fits(void **state)
{
    char err[16];
    (void)state;

    assert_int_equal(wr_errf_marked(err, sizeof(err), "%s: %d", "short", 7), -1);
    assert_string_equal(err, "short: 7");
    /* Exactly full (15 bytes and the NUL): nothing is cut. */
    wr_errf_marked(err, sizeof(err), "%s", "abcdefghijklmno");
    assert_string_equal(err, "abcdefghijklmno");
}

static void test_errf_cut(void **state)
{
    char err[10];
    (void)state;

    wr_errf_marked(err, sizeof(err), "%s", "abcdefghijkl");
    assert_string_equal(err, "abcdef…");
    /* The cut would split the second byte of é from its first: the character goes whole. */
    wr_errf_marked(err, sizeof(err), "%s", "abcde\xc3\xa9\xc3\xa9\xc3\xa9");
    assert_string_equal(err, "abcde…");
    /* Too small for the marker: plain truncation. */
    wr_errf_marked(err, 3, "%s", "abcdef");
    assert_string_equal(err, "ab");
    /* wr_errf itself cuts plainly (callers' tests rely on it for small buffers). */
    wr_errf(err, sizeof(err), "%s", "abcdefghijkl");
    assert_string_equal(err, "abcdefghi");
}

static void test_errf_no_buffer(void **state)
{
    char err[4] = "xyz";
    (void)state;

    assert_int_equal(wr_errf_marked(NULL, 10, "%s", "ignored"), -1);
    assert_int_equal(wr_errf_marked(err, 0, "%s", "ignored"), -1);
    assert_string_equal(err, "xyz");
}

static void test_err_max_holds_long_messages(void **state)
{
    char err[WR_ERR_MAX], want[WR_ERR_MAX];
    (void)state;

    memset(want, 'x', sizeof(want) - 1);
    want[sizeof(want) - 1] = '\0';
    wr_errf_marked(err, sizeof(err), "%s", want);
    assert_string_equal(err, want);
}

/* wr_utf8_prec: a quote of at most max bytes never ends inside a character, and never reads
   past max + 1 bytes (the buffers below are not terminated after them). */
static void test_utf8_prec(void **state)
{
    (void)state;
    assert_int_equal(wr_utf8_prec("abc", 80), 3);
    assert_int_equal(wr_utf8_prec("abcdef", 4), 4);
    assert_int_equal(wr_utf8_prec("a\xc3\xa9z", 2), 1);               /* "aé": the é goes whole */
    assert_int_equal(wr_utf8_prec("a\xc3\xa9z", 3), 3);               /* "aé" fits */
    assert_int_equal(wr_utf8_prec("\xe2\x80\xa6\xe2\x80\xa6", 5), 3); /* "……": one of two */
    assert_int_equal(wr_utf8_prec("", 0), 0);
    const char unterminated[4] = {'a', 'b', 'c', 'd'};
    assert_int_equal(wr_utf8_prec(unterminated, 3), 3);
    char out[16];
    snprintf(out, sizeof(out), "'%.*s'", wr_utf8_prec("x\xc3\xa9", 2), "x\xc3\xa9");
    assert_string_equal(out, "'x'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errf_fits),      cmocka_unit_test(test_errf_cut),
        cmocka_unit_test(test_errf_no_buffer), cmocka_unit_test(test_err_max_holds_long_messages),
        cmocka_unit_test(test_utf8_prec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
