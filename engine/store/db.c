/*
 * db — one SQL interface over SQLite and PostgreSQL; see db.h.
 *
 * One connection type with the back end's handle inside, and each call in two halves. SQLite's
 * API is the model (prepare, bind, step, column); PostgreSQL's libpq is fitted to it: the SQL
 * is rewritten once for $n placeholders, parameters are kept as text (blobs as binary) until
 * the first step sends them, and the whole result is then walked row by row.
 */
#include "engine/store/db.h"

#include <errno.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/clock.h"
#include "engine/base/strutil.h"

#define MSG_MAX 512

struct wr_db {
    enum wr_db_kind kind;
    sqlite3 *lite;
    PGconn *pg;
    unsigned next_name;    /* PostgreSQL: prepared statements are named wr1, wr2, ... */
    unsigned gen;          /* PostgreSQL: bumped at each reconnection (the server's prepared
                              statements died with the old session) */
    int64_t retry_at;      /* PostgreSQL, connection lost: no new attempt before (monotonic ms) */
    int64_t backoff_ms;    /* the wait after the next failed attempt */
    unsigned flags;        /* wr_db_open's, applied again to a new session */
    bool readonly_pending; /* a new session is not read-only yet */
};

struct wr_db_stmt {
    struct wr_db *db;
    char msg[MSG_MAX]; /* the last error */
    int64_t changes;
    /* SQLite */
    sqlite3_stmt *lite;
    int bind_error; /* a bind failed: the next step reports it */
    /* PostgreSQL */
    char *sql;     /* rewritten with $n */
    char name[16]; /* the server's name for it, "" before it is prepared */
    unsigned gen;  /* the connection's gen when it was prepared */
    int nparams;
    char **values; /* owned copies, NULL for SQL NULL */
    int *lengths;
    int *formats;        /* 0 text, 1 binary (blobs) */
    PGresult *res;       /* the result being walked */
    int row;             /* the next row of res to hand out */
    bool done;           /* res was walked to its end (or failed): reset before stepping */
    unsigned char *blob; /* the last column read as a blob (decoded from bytea's text form;
                            libpq's memory: PQfreemem) */
};

/* {====== common ====== */

bool wr_db_is_postgres_url(const char *target)
{
    return target &&
           (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0);
}

bool wr_db_url_has_password(const char *url)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t n = strcspn(auth, "/?#"); /* the authority: [user[:password]@]host[:port][,...] */
    const char *at = memchr(auth, '@', n);
    if (at && memchr(auth, ':', (size_t)(at - auth))) {
        return true;
    }
    const char *q = strchr(url, '?');
    for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, "password=", 9) == 0) {
            return true;
        }
    }
    return false;
}

enum wr_db_kind wr_db_kind(const struct wr_db *db)
{
    return db->kind;
}

unsigned wr_db_generation(const struct wr_db *db)
{
    return db->gen;
}

struct sqlite3 *wr_db_sqlite(struct wr_db *db)
{
    return db->lite;
}

const char *wr_db_kind_name(const struct wr_db *db)
{
    return db->kind == WR_DB_POSTGRES ? "postgresql" : "sqlite";
}

/* libpq's messages end with a newline (sometimes two lines): one line for ours. */
static void copy_line(char *out, size_t len, const char *prefix, const char *msg)
{
    snprintf(out, len, "%s: %s", prefix, msg && *msg ? msg : "unknown error");
    for (char *p = out; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            if (p[1] == '\0') {
                *p = '\0';
                break;
            }
            *p = ' ';
        }
    }
}

/* }====== */

/* {====== SQLite ====== */

static int lite_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
        return 0;
    case SQLITE_CONSTRAINT:
        return WR_DB_CONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return WR_DB_BUSY;
    default:
        return WR_DB_ERROR;
    }
}

static int lite_open(struct wr_db *db, const char *path, unsigned flags, char *err, size_t errlen)
{
    int f = SQLITE_OPEN_NOMUTEX;
    f |= (flags & WR_DB_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if ((flags & WR_DB_CREATE) && !(flags & WR_DB_READONLY)) {
        f |= SQLITE_OPEN_CREATE;
    }
    int rc = sqlite3_open_v2(path, &db->lite, f, NULL);
    if (rc != SQLITE_OK) {
        wr_errf(err, errlen, "sqlite: cannot open %s: %s", path,
                db->lite ? sqlite3_errmsg(db->lite) : sqlite3_errstr(rc));
        return lite_code(rc) == 0 ? WR_DB_ERROR : lite_code(rc);
    }
    sqlite3_extended_result_codes(db->lite, 1);
    sqlite3_busy_timeout(db->lite, 10000);
    return 0;
}

static int lite_exec(struct wr_db *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->lite, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        copy_line(err, errlen, "sqlite", msg ? msg : sqlite3_errmsg(db->lite));
        sqlite3_free(msg);
        return lite_code(rc) == 0 ? WR_DB_ERROR : lite_code(rc);
    }
    return 0;
}

/* }====== */

/* {====== PostgreSQL ====== */

/* The class of a failed result (or of the connection, without one). */
static int pg_code(const struct wr_db *db, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(db->pg) != CONNECTION_OK) {
        return WR_DB_GONE;
    }
    if (!state) {
        return WR_DB_ERROR;
    }
    if (strncmp(state, "23", 2) == 0) {
        return WR_DB_CONSTRAINT;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
        return WR_DB_BUSY;
    }
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
        strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0) {
        return WR_DB_GONE;
    }
    return WR_DB_ERROR;
}

static void pg_message(const struct wr_db *db, const PGresult *res, char *out, size_t len)
{
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    copy_line(out, len, "postgresql", m ? m : PQerrorMessage(db->pg));
}

/* The server's notices ("table ... does not exist, skipping") are not errors, and library code
   never prints: libpq's default would write them to standard error. */
static void pg_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_open(struct wr_db *db, const char *url, unsigned flags, char *err, size_t errlen)
{
    db->flags = flags;
    db->pg = PQconnectdb(url);
    if (!db->pg) {
        wr_errf(err, errlen, "postgresql: out of memory");
        return WR_DB_ERROR;
    }
    if (PQstatus(db->pg) != CONNECTION_OK) {
        /* libpq's connection messages name host, port and user, never the password */
        copy_line(err, errlen, "postgresql: cannot connect", PQerrorMessage(db->pg));
        return WR_DB_GONE;
    }
    PQsetNoticeProcessor(db->pg, pg_ignore_notice, NULL);
    if (PQsetClientEncoding(db->pg, "UTF8") != 0) {
        copy_line(err, errlen, "postgresql: client encoding", PQerrorMessage(db->pg));
        return WR_DB_ERROR;
    }
    if (flags & WR_DB_READONLY) {
        return wr_db_exec(db, "SET default_transaction_read_only = on", err, errlen);
    }
    return 0;
}

/* A read-only connection's new session is made read-only before any other statement. */
static int pg_readonly(struct wr_db *db, char *err, size_t errlen)
{
    if (!db->readonly_pending) {
        return 0;
    }
    PGresult *res = PQexec(db->pg, "SET default_transaction_read_only = on");
    bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        pg_message(db, res, err, errlen);
    }
    PQclear(res);
    db->readonly_pending = !ok;
    return ok ? 0 : WR_DB_GONE;
}

/* Reconnection backoff: the first retry at once, then doubling up to the cap. */
#define RECONNECT_FIRST_MS 100
#define RECONNECT_MAX_MS   5000

/*
 * A lost connection (the server restarted, a network cut) is opened again before the next
 * statement, outside a transaction only (the transaction died with the session: its caller
 * sees the failure and starts over). Attempts back off, so a server that stays down costs one
 * quick refusal per call, not a connect timeout each. 0 when the connection is usable.
 */
static int pg_revive(struct wr_db *db, char *err, size_t errlen)
{
    if (PQstatus(db->pg) == CONNECTION_OK) {
        return pg_readonly(db, err, errlen);
    }
    int64_t now = wr_clock_mono_ms();
    if (now < db->retry_at) {
        wr_errf(err, errlen, "postgresql: the connection is lost (next attempt in %lld ms)",
                (long long)(db->retry_at - now));
        return WR_DB_GONE;
    }
    PQreset(db->pg);
    if (PQstatus(db->pg) != CONNECTION_OK) {
        db->backoff_ms = db->backoff_ms ? db->backoff_ms * 2 : RECONNECT_FIRST_MS;
        db->backoff_ms = db->backoff_ms > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : db->backoff_ms;
        db->retry_at = wr_clock_mono_ms() + db->backoff_ms;
        copy_line(err, errlen, "postgresql: cannot reconnect", PQerrorMessage(db->pg));
        return WR_DB_GONE;
    }
    PQsetNoticeProcessor(db->pg, pg_ignore_notice, NULL);
    db->gen++;
    db->backoff_ms = 0;
    db->retry_at = 0;
    db->readonly_pending = (db->flags & WR_DB_READONLY) != 0;
    return pg_readonly(db, err, errlen);
}

static int pg_exec(struct wr_db *db, const char *sql, char *err, size_t errlen)
{
    int gone = pg_revive(db, err, errlen);
    if (gone != 0) {
        return gone;
    }
    PGresult *res = PQexec(db->pg, sql);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY) {
        pg_message(db, res, err, errlen);
        rc = pg_code(db, res);
    }
    PQclear(res);
    return rc;
}

char *wr_db_pg_sql(const char *sql, int *nparams)
{
    struct wr_buf b = {0};
    int n = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'' || *p == '"') { /* a literal or identifier; '' and "" stay inside */
            char q = *p;
            const char *e = p + 1;
            while (*e && !(*e == q && e[1] != q)) {
                e += (*e == q) ? 2 : 1;
            }
            wr_buf_addn(&b, p, (size_t)(e - p) + (*e ? 1 : 0));
            p = *e ? e : e - 1;
        } else if (p[0] == '-' && p[1] == '-') {
            size_t len = strcspn(p, "\n");
            wr_buf_addn(&b, p, len);
            p += len - 1;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            size_t len = e ? (size_t)(e + 2 - p) : strlen(p);
            wr_buf_addn(&b, p, len);
            p += len - 1;
        } else if (*p == '?' && p[1] >= '1' && p[1] <= '9') { /* ?NNN, as SQLite numbers it */
            char *end = NULL;
            long num = strtol(p + 1, &end, 10);
            num = num > 32766 ? 32766 : num; /* past SQLite's limit: the server refuses it */
            wr_buf_addf(&b, "$%ld", num);
            n = num > n ? (int)num : n;
            p = end - 1;
        } else if (*p == '?') { /* one more than the largest number so far, as in SQLite */
            wr_buf_addf(&b, "$%d", ++n);
        } else {
            wr_buf_addc(&b, *p);
        }
    }
    *nparams = n;
    return wr_buf_take(&b);
}

/* }====== */

/* {====== connections ====== */

int wr_db_open(const char *target, unsigned flags, struct wr_db **out, char *err, size_t errlen)
{
    struct wr_db *db = wr_xcalloc(1, sizeof(*db));
    int rc;
    *out = NULL;
    if (wr_db_is_postgres_url(target)) {
        db->kind = WR_DB_POSTGRES;
        rc = pg_open(db, target, flags, err, errlen);
    } else {
        db->kind = WR_DB_SQLITE;
        rc = lite_open(db, target, flags, err, errlen);
    }
    if (rc != 0) {
        wr_db_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

void wr_db_close(struct wr_db *db)
{
    if (!db) {
        return;
    }
    if (db->lite) {
        sqlite3_close(db->lite);
    }
    if (db->pg) {
        PQfinish(db->pg);
    }
    free(db);
}

int wr_db_exec(struct wr_db *db, const char *sql, char *err, size_t errlen)
{
    return db->kind == WR_DB_POSTGRES ? pg_exec(db, sql, err, errlen)
                                      : lite_exec(db, sql, err, errlen);
}

int wr_db_begin(struct wr_db *db, bool write, char *err, size_t errlen)
{
    if (db->kind == WR_DB_POSTGRES) {
        return pg_exec(db, "BEGIN", err, errlen);
    }
    return lite_exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", err, errlen);
}

int wr_db_commit(struct wr_db *db, char *err, size_t errlen)
{
    if (db->kind == WR_DB_POSTGRES && PQtransactionStatus(db->pg) == PQTRANS_INERROR) {
        /* PostgreSQL answers COMMIT of a failed transaction with a quiet ROLLBACK */
        wr_db_rollback(db);
        wr_errf(err, errlen, "postgresql: the transaction failed earlier and was rolled back");
        return WR_DB_ERROR;
    }
    return wr_db_exec(db, "COMMIT", err, errlen);
}

int wr_db_rollback(struct wr_db *db)
{
    char err[MSG_MAX];
    if (!wr_db_in_transaction(db)) {
        return 0;
    }
    return wr_db_exec(db, "ROLLBACK", err, sizeof(err));
}

bool wr_db_in_transaction(const struct wr_db *db)
{
    if (db->kind == WR_DB_POSTGRES) {
        PGTransactionStatusType t = PQtransactionStatus(db->pg);
        return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
    }
    return !sqlite3_get_autocommit(db->lite);
}

/* }====== */

/* {====== statements ====== */

int wr_db_prepare(struct wr_db *db, const char *sql, struct wr_db_stmt **out, char *err,
                  size_t errlen)
{
    struct wr_db_stmt *st = wr_xcalloc(1, sizeof(*st));
    st->db = db;
    *out = NULL;
    if (db->kind == WR_DB_SQLITE) {
        int rc = sqlite3_prepare_v2(db->lite, sql, -1, &st->lite, NULL);
        if (rc != SQLITE_OK) {
            copy_line(err, errlen, "sqlite", sqlite3_errmsg(db->lite));
            free(st);
            return lite_code(rc) == 0 ? WR_DB_ERROR : lite_code(rc);
        }
    } else {
        st->sql = wr_db_pg_sql(sql, &st->nparams);
        size_t n = st->nparams > 0 ? (size_t)st->nparams : 1;
        st->values = wr_xcalloc(n, sizeof(*st->values));
        st->lengths = wr_xcalloc(n, sizeof(*st->lengths));
        st->formats = wr_xcalloc(n, sizeof(*st->formats));
    }
    *out = st;
    return 0;
}

static void pg_clear_result(struct wr_db_stmt *st)
{
    PQclear(st->res);
    st->res = NULL;
    st->row = 0;
    st->done = false;
    PQfreemem(st->blob);
    st->blob = NULL;
}

void wr_db_finalize(struct wr_db_stmt *st)
{
    if (!st) {
        return;
    }
    if (st->lite) {
        sqlite3_finalize(st->lite);
    }
    if (st->db->kind == WR_DB_POSTGRES) {
        pg_clear_result(st);
        /* the server's copy: dropped when it can be (not inside a failed transaction) */
        if (st->name[0] && st->gen == st->db->gen && PQstatus(st->db->pg) == CONNECTION_OK &&
            PQtransactionStatus(st->db->pg) != PQTRANS_INERROR) {
            char sql[32], err[MSG_MAX];
            snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
            pg_exec(st->db, sql, err, sizeof(err));
        }
        for (int i = 0; i < st->nparams; i++) {
            free(st->values[i]);
        }
        free(st->values);
        free(st->lengths);
        free(st->formats);
        free(st->sql);
    }
    free(st);
}

/* PostgreSQL: slot i (1-based) to hold a copy of p[0..len), or NULL; false when out of range. */
static bool pg_bind(struct wr_db_stmt *st, int i, const void *p, size_t len, int format)
{
    if (i < 1 || i > st->nparams) {
        snprintf(st->msg, sizeof(st->msg), "postgresql: parameter %d out of range (1-%d)", i,
                 st->nparams);
        st->bind_error = WR_DB_ERROR;
        return false;
    }
    free(st->values[i - 1]);
    st->values[i - 1] = NULL;
    st->lengths[i - 1] = 0;
    st->formats[i - 1] = format;
    if (p) {
        char *copy = wr_xmalloc(len + 1);
        memcpy(copy, p, len);
        copy[len] = '\0';
        st->values[i - 1] = copy;
        st->lengths[i - 1] = (int)len;
    }
    return true;
}

static int lite_bind_rc(struct wr_db_stmt *st, int rc)
{
    if (rc != SQLITE_OK) {
        copy_line(st->msg, sizeof(st->msg), "sqlite", sqlite3_errmsg(st->db->lite));
        st->bind_error = WR_DB_ERROR;
        return WR_DB_ERROR;
    }
    return 0;
}

int wr_db_bind_int64(struct wr_db_stmt *st, int i, int64_t v)
{
    if (st->lite) {
        return lite_bind_rc(st, sqlite3_bind_int64(st->lite, i, v));
    }
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", (long long)v);
    return pg_bind(st, i, num, (size_t)n, 0) ? 0 : WR_DB_ERROR;
}

int wr_db_bind_text(struct wr_db_stmt *st, int i, const char *s, int len)
{
    if (!s) {
        return wr_db_bind_null(st, i);
    }
    size_t n = len < 0 ? strlen(s) : (size_t)len;
    if (st->lite) {
        return lite_bind_rc(st,
                            sqlite3_bind_text64(st->lite, i, s, n, SQLITE_TRANSIENT, SQLITE_UTF8));
    }
    return pg_bind(st, i, s, n, 0) ? 0 : WR_DB_ERROR;
}

int wr_db_bind_blob(struct wr_db_stmt *st, int i, const void *p, size_t len)
{
    if (st->lite) {
        return lite_bind_rc(st,
                            sqlite3_bind_blob64(st->lite, i, p ? p : "", len, SQLITE_TRANSIENT));
    }
    return pg_bind(st, i, p ? p : "", len, 1) ? 0 : WR_DB_ERROR;
}

int wr_db_bind_null(struct wr_db_stmt *st, int i)
{
    if (st->lite) {
        return lite_bind_rc(st, sqlite3_bind_null(st->lite, i));
    }
    return pg_bind(st, i, NULL, 0, 0) ? 0 : WR_DB_ERROR;
}

void wr_db_clear_bindings(struct wr_db_stmt *st)
{
    st->bind_error = 0;
    if (st->lite) {
        sqlite3_clear_bindings(st->lite);
        return;
    }
    for (int i = 0; i < st->nparams; i++) {
        free(st->values[i]);
        st->values[i] = NULL;
        st->lengths[i] = 0;
        st->formats[i] = 0;
    }
}

static int lite_step(struct wr_db_stmt *st)
{
    int rc = sqlite3_step(st->lite);
    if (rc == SQLITE_ROW) {
        return WR_DB_ROW;
    }
    if (rc == SQLITE_DONE) {
        st->changes = sqlite3_changes64(st->db->lite);
        return WR_DB_DONE;
    }
    copy_line(st->msg, sizeof(st->msg), "sqlite", sqlite3_errmsg(st->db->lite));
    return lite_code(rc) == 0 ? WR_DB_ERROR : lite_code(rc);
}

/* Sends st (preparing it on the server the first time) and keeps the whole result. */
static int pg_send(struct wr_db_stmt *st)
{
    struct wr_db *db = st->db;
    PGresult *res;
    int gone = pg_revive(db, st->msg, sizeof(st->msg));
    if (gone != 0) {
        return gone;
    }
    if (st->gen != db->gen) {
        st->name[0] = '\0'; /* prepared on a session that is gone */
    }
    if (!st->name[0]) {
        char name[16];
        snprintf(name, sizeof(name), "wr%u", ++db->next_name);
        res = PQprepare(db->pg, name, st->sql, st->nparams, NULL);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
            pg_message(db, res, st->msg, sizeof(st->msg));
            int rc = pg_code(db, res);
            PQclear(res);
            return rc;
        }
        PQclear(res);
        memcpy(st->name, name, sizeof(name));
        st->gen = db->gen;
    }
    res = PQexecPrepared(db->pg, st->name, st->nparams, (const char *const *)st->values,
                         st->lengths, st->formats, 0);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        pg_message(db, res, st->msg, sizeof(st->msg));
        int rc = pg_code(db, res);
        PQclear(res);
        return rc;
    }
    st->res = res;
    st->row = 0;
    const char *n = PQcmdTuples(res);
    st->changes = n && *n ? strtoll(n, NULL, 10) : 0;
    return 0;
}

int wr_db_step(struct wr_db_stmt *st)
{
    if (st->bind_error) {
        return st->bind_error;
    }
    if (st->lite) {
        return lite_step(st);
    }
    if (st->done) {
        snprintf(st->msg, sizeof(st->msg),
                 "postgresql: statement stepped after its end "
                 "(reset it first)");
        return WR_DB_ERROR;
    }
    if (!st->res) {
        int rc = pg_send(st);
        if (rc != 0) {
            st->done = true;
            return rc;
        }
    } else {
        PQfreemem(st->blob);
        st->blob = NULL;
        st->row++;
    }
    if (PQresultStatus(st->res) == PGRES_TUPLES_OK && st->row < PQntuples(st->res)) {
        return WR_DB_ROW;
    }
    st->done = true;
    return WR_DB_DONE;
}

void wr_db_reset(struct wr_db_stmt *st)
{
    if (st->lite) {
        sqlite3_reset(st->lite);
        return;
    }
    pg_clear_result(st);
}

int64_t wr_db_changes(const struct wr_db_stmt *st)
{
    return st->changes;
}

const char *wr_db_errmsg(const struct wr_db_stmt *st)
{
    return st->msg;
}

/* }====== */

/* {====== columns ====== */

/* PostgreSQL: the current row has column i. */
static bool pg_has(const struct wr_db_stmt *st, int i)
{
    return st->res && st->row < PQntuples(st->res) && i >= 0 && i < PQnfields(st->res);
}

int wr_db_column_count(const struct wr_db_stmt *st)
{
    if (st->lite) {
        return sqlite3_column_count(st->lite);
    }
    return st->res ? PQnfields(st->res) : 0;
}

bool wr_db_column_is_null(const struct wr_db_stmt *st, int i)
{
    if (st->lite) {
        return sqlite3_column_type(st->lite, i) == SQLITE_NULL;
    }
    return !pg_has(st, i) || PQgetisnull(st->res, st->row, i);
}

int64_t wr_db_column_int64(const struct wr_db_stmt *st, int i)
{
    if (st->lite) {
        return sqlite3_column_int64(st->lite, i);
    }
    if (wr_db_column_is_null(st, i)) {
        return 0;
    }
    const char *v = PQgetvalue(st->res, st->row, i);
    if (strcmp(v, "t") == 0 || strcmp(v, "f") == 0) { /* a boolean expression */
        return v[0] == 't';
    }
    return strtoll(v, NULL, 10);
}

const char *wr_db_column_text(const struct wr_db_stmt *st, int i)
{
    if (st->lite) {
        return (const char *)sqlite3_column_text(st->lite, i);
    }
    return wr_db_column_is_null(st, i) ? NULL : PQgetvalue(st->res, st->row, i);
}

int wr_db_column_bytes(const struct wr_db_stmt *st, int i)
{
    if (st->lite) {
        return sqlite3_column_bytes(st->lite, i);
    }
    return wr_db_column_is_null(st, i) ? 0 : PQgetlength(st->res, st->row, i);
}

const void *wr_db_column_blob(struct wr_db_stmt *st, int i, size_t *len)
{
    *len = 0;
    if (st->lite) {
        const void *p = sqlite3_column_blob(st->lite, i);
        *len = (size_t)sqlite3_column_bytes(st->lite, i);
        return p;
    }
    if (wr_db_column_is_null(st, i)) {
        return NULL;
    }
    /* bytea comes in its text form ("\x0a1b..."): decoded into st->blob */
    PQfreemem(st->blob);
    st->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, i), len);
    if (!st->blob) {
        *len = 0;
    }
    return st->blob;
}

/* }====== */
