/*
 * test_size — unit tests for engine/base/size: every accepted form, every error message word for
 * word, json-c values, formatting and parse/format round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/base/strutil.h"
#include "engine/base/size.h"

/* Parses s, expecting success, and returns the value. */
static uint64_t parse_ok(const char *s)
{
    char err[WR_ERR_MAX] = "";
    uint64_t n = 42;

    if (wr_size_parse(s, &n, err, sizeof(err)) != 0) {
        fail_msg("'%s' should parse, got: %s", s, err);
    }
    assert_string_equal(err, "");
    return n;
}

/* Parses s, expecting exactly the error message want, and checks *out is untouched. */
static void parse_fails(const char *s, const char *want)
{
    char err[WR_ERR_MAX] = "";
    uint64_t n = 42;

    assert_int_equal(wr_size_parse(s, &n, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    assert_int_equal(n, 42);
}

static void test_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("0"), 0);
    assert_int_equal(parse_ok("4096"), 4096);
    assert_int_equal(parse_ok("512B"), 512);
    assert_int_equal(parse_ok("64KB"), 64000);
    assert_int_equal(parse_ok("3MB"), 3000000);
    assert_int_equal(parse_ok("2GB"), 2000000000ULL);
    assert_int_equal(parse_ok("1TB"), 1000000000000ULL);
    assert_int_equal(parse_ok("16KiB"), 16384);
    assert_int_equal(parse_ok("1MiB"), 1048576);
    assert_int_equal(parse_ok("256MiB"), 256ULL << 20);
    assert_int_equal(parse_ok("4GiB"), 4ULL << 30);
    assert_int_equal(parse_ok("1TiB"), WR_SIZE_MAX);
    assert_int_equal(parse_ok("007KiB"), 7168);
    assert_int_equal(parse_ok("1099511627776"), WR_SIZE_MAX);
}

static void test_errors(void **state)
{
    (void)state;
    parse_fails("", "empty size (e.g. 1MiB, 64KB or 4096)");
    parse_fails("1 MiB", "whitespace in size '1 MiB' (write e.g. 1MiB)");
    parse_fails(" 1MiB", "whitespace in size ' 1MiB' (write e.g. 1MiB)");
    parse_fails("-1KiB", "negative size '-1KiB'");
    parse_fails("MiB", "invalid size 'MiB' (expected e.g. 1MiB, 64KB or 4096)");
    parse_fails("+5", "invalid size '+5' (expected e.g. 1MiB, 64KB or 4096)");
    parse_fails("1.5MiB", "'1.5MiB' is not a whole number (write e.g. 1536KiB for 1.5MiB)");
    parse_fails("1mb", "unknown unit 'mb' in '1mb' (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
    parse_fails("1MIB",
                "unknown unit 'MIB' in '1MIB' (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
    parse_fails("1KiBKiB",
                "unknown unit 'KiBKiB' in '1KiBKiB' (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
    parse_fails("1025GiB", "size '1025GiB' is larger than 1TiB");
    parse_fails("1099511627777", "size '1099511627777' is larger than 1TiB");
    parse_fails("99999999999999999999999999TB", "size '99999999999999999999999999TB' is larger "
                                                "than 1TiB");
    parse_fails("1\x01", "unknown unit '\x01' in '1?' (use B, KB, MB, GB, TB, KiB, MiB, GiB or "
                         "TiB)");
    /* A NULL or short error buffer is fine. */
    uint64_t n = 0;
    char small[8];
    assert_int_equal(wr_size_parse("x", &n, NULL, 0), -1);
    assert_int_equal(wr_size_parse("x", &n, small, sizeof(small)), -1);
    assert_string_equal(small, "invalid");
    assert_int_equal(wr_size_parse(NULL, &n, NULL, 0), -1);
}

static void test_json_values(void **state)
{
    char err[WR_ERR_MAX];
    uint64_t n = 0;
    (void)state;

    struct json_object *v = json_object_new_int64(65536);
    assert_int_equal(wr_size_get(v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 65536);
    json_object_put(v);

    v = json_object_new_string("2MiB");
    assert_int_equal(wr_size_get(v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2 << 20);
    json_object_put(v);

    v = json_object_new_int64(-1);
    assert_int_equal(wr_size_get(v, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "negative size -1");
    json_object_put(v);

    v = json_object_new_int64((int64_t)WR_SIZE_MAX + 1);
    assert_int_equal(wr_size_get(v, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "size 1099511627777 is larger than 1TiB");
    json_object_put(v);

    v = json_object_new_array();
    assert_int_equal(wr_size_get(v, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "expected a size such as 1MiB, 64KB or 4096, got a list");
    json_object_put(v);

    v = json_object_new_double(1.5);
    assert_int_equal(wr_size_get(v, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "expected a size such as 1MiB, 64KB or 4096, got a number");
    json_object_put(v);
}

static void test_format(void **state)
{
    char buf[WR_SIZE_BUFLEN];
    (void)state;

    assert_string_equal(wr_size_format(0, buf, sizeof(buf)), "0B");
    assert_string_equal(wr_size_format(1, buf, sizeof(buf)), "1B");
    assert_string_equal(wr_size_format(1000, buf, sizeof(buf)), "1000B");
    assert_string_equal(wr_size_format(1024, buf, sizeof(buf)), "1KiB");
    assert_string_equal(wr_size_format(16384, buf, sizeof(buf)), "16KiB");
    assert_string_equal(wr_size_format(1536 * 1024, buf, sizeof(buf)), "1536KiB");
    assert_string_equal(wr_size_format(1 << 20, buf, sizeof(buf)), "1MiB");
    assert_string_equal(wr_size_format(3ULL << 30, buf, sizeof(buf)), "3GiB");
    assert_string_equal(wr_size_format(WR_SIZE_MAX, buf, sizeof(buf)), "1TiB");
    assert_string_equal(wr_size_format(UINT64_MAX, buf, sizeof(buf)), "18446744073709551615B");
    char tiny[4];
    assert_string_equal(wr_size_format(1 << 20, tiny, sizeof(tiny)), "1Mi");
    assert_null(wr_size_format(1, NULL, 0));
}

static void test_round_trip(void **state)
{
    static const uint64_t values[] = {
        0,          1,       999,     1000,     1023,       1024,       4096,
        65536,      1048575, 1048576, 10000000, 1ULL << 30, 5ULL << 30, WR_SIZE_MAX - 1,
        WR_SIZE_MAX};
    char buf[WR_SIZE_BUFLEN];
    (void)state;

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        assert_int_equal(parse_ok(wr_size_format(values[i], buf, sizeof(buf))), values[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),       cmocka_unit_test(test_errors),
        cmocka_unit_test(test_json_values), cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
