/*
 * approval_key — the key of approval links, per back end; see approval_key.h.
 */
#include "engine/store/approval_key.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"
#include "engine/store/db.h"

/* 64 hex digits into 32 bytes; false when text is not exactly that. */
static bool from_hex(const char *text, unsigned char key[WR_CAPTOKEN_KEY_LEN])
{
    if (!text || strlen(text) != 2 * WR_CAPTOKEN_KEY_LEN) {
        return false;
    }
    for (size_t i = 0; i < WR_CAPTOKEN_KEY_LEN; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = text[2 * i + (size_t)k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16;
            if (d == 16) {
                return false;
            }
            v = v * 16 + d;
        }
        key[i] = (unsigned char)v;
    }
    return true;
}

/* Offers a new key (taken only when the row is missing), then reads the row that holds. */
static int pg_load(struct wr_db *db, unsigned char key[WR_CAPTOKEN_KEY_LEN], char *err,
                   size_t errlen)
{
    unsigned char fresh[WR_CAPTOKEN_KEY_LEN];
    char hex[2 * WR_CAPTOKEN_KEY_LEN + 1];
    char msg[WR_ERR_MAX];
    struct wr_db_stmt *ins = NULL, *sel = NULL;
    int rc = -1;
    wr_captoken_new_key(fresh);
    for (size_t i = 0; i < WR_CAPTOKEN_KEY_LEN; i++) {
        snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
    }
    if (wr_db_prepare(db,
                      "INSERT INTO journal_meta (name, value) VALUES ('" WR_APPROVAL_KEY_ROW
                      "', ?) ON CONFLICT (name) DO NOTHING",
                      &ins, msg, sizeof(msg)) != 0 ||
        wr_db_prepare(db, "SELECT value FROM journal_meta WHERE name = '" WR_APPROVAL_KEY_ROW "'",
                      &sel, msg, sizeof(msg)) != 0) {
        wr_errf(err, errlen, "the approval key: %s", msg);
        goto out;
    }
    wr_db_bind_text(ins, 1, hex, -1);
    int step = wr_db_step(ins);
    if (step < 0) {
        wr_errf(err, errlen, "the approval key: %s", wr_db_errmsg(ins));
        goto out;
    }
    step = wr_db_step(sel);
    if (step != WR_DB_ROW) {
        wr_errf(err, errlen, "the approval key: %s", step < 0 ? wr_db_errmsg(sel) : "not stored");
        goto out;
    }
    if (!from_hex(wr_db_column_text(sel, 0), key)) {
        wr_errf(err, errlen,
                "the approval key (journal_meta row '" WR_APPROVAL_KEY_ROW
                "') is not 64 hex digits: delete the row to make a new one (links already sent "
                "stop working)");
        goto out;
    }
    rc = 0;
out:
    wr_db_finalize(ins);
    wr_db_finalize(sel);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    OPENSSL_cleanse(hex, sizeof(hex));
    return rc;
}

int wr_approval_key_load(const char *state, unsigned char key[WR_CAPTOKEN_KEY_LEN], char *err,
                         size_t errlen)
{
    if (!wr_db_is_postgres_url(state)) {
        char *path = wr_xasprintf("%s.approval-key", state);
        int rc = wr_captoken_key_load(path, key, err, errlen);
        free(path);
        return rc;
    }
    struct wr_db *db = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_open(state, 0, &db, msg, sizeof(msg)) != 0) {
        wr_errf(err, errlen, "the approval key: %s", msg);
        return -1;
    }
    int rc = pg_load(db, key, err, errlen);
    wr_db_close(db);
    return rc;
}
