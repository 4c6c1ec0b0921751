/*
 * test_captoken — engine/base/captoken: tokens are HMAC-SHA256 of what they grant (checked
 * against a vector computed independently, with Python's hmac), differ in every bound field,
 * have the shape well_formed accepts (and nothing else passes it), hash to hex SHA-256; the
 * key file is created 0600 once and refused when others may read it or its size is wrong.
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

#include "engine/base/captoken.h"
#include "engine/base/strutil.h"

#define NONCE "00112233445566778899aabbccddeeff"
/* python3: base64.urlsafe_b64encode(hmac.new(bytes(range(32)), b'run_1\0' b'2\0'
   b'it-lead@contoso.com\0' NONCE, sha256).digest()).rstrip(b'=') */
#define VECTOR      "zGpHLF6TDWWN1QfhihrkszI9_DkglPD9ib-n7XI2D0k"
#define VECTOR_HASH "fe25aaf105006b17f7c7f34e8f6b47fcef32901a3508ede6ca5ba9f700198bb6"

static void test_key(unsigned char key[WR_CAPTOKEN_KEY_LEN])
{
    for (int i = 0; i < WR_CAPTOKEN_KEY_LEN; i++) {
        key[i] = (unsigned char)i;
    }
}

static void test_make(void **state)
{
    (void)state;
    unsigned char key[WR_CAPTOKEN_KEY_LEN];
    char t[WR_CAPTOKEN_LEN + 1], u[WR_CAPTOKEN_LEN + 1];
    test_key(key);

    wr_captoken_make(key, "run_1", 2, "it-lead@contoso.com", NONCE, t);
    assert_string_equal(t, VECTOR);
    assert_int_equal(strlen(t), WR_CAPTOKEN_LEN);
    assert_true(wr_captoken_well_formed(t));
    /* deterministic */
    wr_captoken_make(key, "run_1", 2, "it-lead@contoso.com", NONCE, u);
    assert_string_equal(t, u);
    /* every bound field changes it */
    wr_captoken_make(key, "run_2", 2, "it-lead@contoso.com", NONCE, u);
    assert_string_not_equal(t, u);
    wr_captoken_make(key, "run_1", 3, "it-lead@contoso.com", NONCE, u);
    assert_string_not_equal(t, u);
    wr_captoken_make(key, "run_1", 2, "manager@contoso.com", NONCE, u);
    assert_string_not_equal(t, u);
    wr_captoken_make(key, "run_1", 2, "it-lead@contoso.com", "ffeeddccbbaa99887766554433221100", u);
    assert_string_not_equal(t, u);
    /* the separators bind: ("run_1", 12) is not ("run_11", 2) */
    wr_captoken_make(key, "run_1", 12, "x", NONCE, t);
    wr_captoken_make(key, "run_11", 2, "x", NONCE, u);
    assert_string_not_equal(t, u);
    /* and the key */
    key[0] ^= 1;
    wr_captoken_make(key, "run_1", 2, "it-lead@contoso.com", NONCE, u);
    assert_string_not_equal(u, VECTOR);
    /* a large step index */
    wr_captoken_make(key, "run_1", INT64_MAX, "a", NONCE, u);
    assert_true(wr_captoken_well_formed(u));
}

static void test_hash_and_nonce(void **state)
{
    (void)state;
    char h[65], n1[33], n2[33];
    wr_captoken_hash(VECTOR, h);
    assert_string_equal(h, VECTOR_HASH);
    assert_int_equal(strlen(h), 64);
    wr_captoken_nonce(n1);
    wr_captoken_nonce(n2);
    assert_int_equal(strlen(n1), 32);
    assert_int_equal(strspn(n1, "0123456789abcdef"), 32);
    assert_string_not_equal(n1, n2);
}

static void test_well_formed(void **state)
{
    (void)state;
    char t[64];
    assert_true(wr_captoken_well_formed(VECTOR));
    assert_false(wr_captoken_well_formed(NULL));
    assert_false(wr_captoken_well_formed(""));
    /* one short, one long */
    snprintf(t, sizeof(t), "%.42s", VECTOR);
    assert_false(wr_captoken_well_formed(t));
    snprintf(t, sizeof(t), "%sA", VECTOR);
    assert_false(wr_captoken_well_formed(t));
    /* outside the base64url alphabet: standard base64's + and /, padding, a space, '.' */
    const char *bad = "+/= .%";
    for (const char *c = bad; *c; c++) {
        snprintf(t, sizeof(t), "%s", VECTOR);
        t[10] = *c;
        assert_false(wr_captoken_well_formed(t));
    }
    /* a last character that 256 bits cannot end in (its 2 padding bits set) */
    snprintf(t, sizeof(t), "%s", VECTOR);
    t[42] = 'l'; /* 37 */
    assert_false(wr_captoken_well_formed(t));
    t[42] = 'E'; /* 4 */
    assert_true(wr_captoken_well_formed(t));
    /* one character changed inside: still the shape of a token (the lookup refuses it) */
    snprintf(t, sizeof(t), "%s", VECTOR);
    t[5] = t[5] == 'A' ? 'B' : 'A';
    assert_true(wr_captoken_well_formed(t));
}

static void test_key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_captoken.XXXXXX";
    unsigned char k1[WR_CAPTOKEN_KEY_LEN], k2[WR_CAPTOKEN_KEY_LEN];
    char err[WR_ERR_MAX];
    struct stat st;
    assert_non_null(mkdtemp(dir));
    char *path = wr_path_join(dir, "state.db.approval-key");

    /* created on first use: 32 bytes, 0600 */
    assert_int_equal(wr_captoken_key_load(path, k1, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, WR_CAPTOKEN_KEY_LEN);
    /* read back the same, never made anew */
    assert_int_equal(wr_captoken_key_load(path, k2, err, sizeof(err)), 0);
    assert_memory_equal(k1, k2, sizeof(k1));
    unsigned char zero[WR_CAPTOKEN_KEY_LEN] = {0};
    assert_memory_not_equal(k1, zero, sizeof(k1));

    /* readable by others: refused, the path named */
    chmod(path, 0644);
    assert_int_equal(wr_captoken_key_load(path, k2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "0644"));
    chmod(path, 0640);
    assert_int_equal(wr_captoken_key_load(path, k2, err, sizeof(err)), -1);
    chmod(path, 0600);
    assert_int_equal(wr_captoken_key_load(path, k2, err, sizeof(err)), 0);

    /* the wrong size */
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputc('x', f);
    fclose(f);
    assert_int_equal(wr_captoken_key_load(path, k2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "32 bytes"));
    unlink(path);

    /* not a regular file */
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(wr_captoken_key_load(path, k2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    rmdir(path);

    /* a directory that does not exist: an error naming it, no crash */
    char *missing = wr_path_join(dir, "no/such/key");
    assert_int_equal(wr_captoken_key_load(missing, k2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, dir));
    free(missing);

    free(path);
    assert_int_equal(rmdir(dir), 0); /* nothing left behind (no temporary file) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make),
        cmocka_unit_test(test_hash_and_nonce),
        cmocka_unit_test(test_well_formed),
        cmocka_unit_test(test_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
