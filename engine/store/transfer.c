/*
 * transfer — a journal as one NDJSON file, out of either back end and into either; see
 * transfer.h. Every table, column and type comes from engine/store/tables: nothing here names
 * a table.
 */
#include "engine/store/transfer.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"
#include "engine/store/approval_key.h"
#include "engine/store/db.h"
#include "engine/store/migrate.h"
#include "engine/store/tables.h"

#define EXPORT_FORMAT  1
#define LINE_MAX_BYTES (256u << 20) /* one row's line; a step's output is far smaller */

/* {====== both ====== */

/* "c1", "c2", ... of t, quoted (`user` is reserved in PostgreSQL). */
static void add_columns(struct wr_buf *b, const struct wr_table *t)
{
    for (const struct wr_column *c = t->columns; c->name; c++) {
        wr_buf_addf(b, "%s\"%s\"", c == t->columns ? "" : ", ", c->name);
    }
}

static void write_line(FILE *out, struct json_object *o)
{
    fputs(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        out);
    fputc('\n', out);
    json_object_put(o);
}

/* }====== */

/* {====== export ====== */

/* Writes every row of t; false with err. */
static bool export_table(struct wr_db *db, const struct wr_table *t, FILE *out, int64_t *rows,
                         char *err, size_t errlen)
{
    struct wr_buf sql = {0};
    wr_buf_add(&sql, "SELECT ");
    add_columns(&sql, t);
    wr_buf_addf(&sql, " FROM \"%s\"", t->name);
    if (strcmp(t->name, "journal_meta") == 0) { /* a secret: an export file grants nothing */
        wr_buf_add(&sql, " WHERE name <> '" WR_APPROVAL_KEY_ROW "'");
    }
    wr_buf_add(&sql, " ORDER BY ");
    /* the primary key: a stable order, so two exports of one journal are equal */
    wr_tables_add_names(&sql, t->primary_key, true);
    struct wr_db_stmt *st = NULL;
    bool ok = wr_db_prepare(db, wr_buf_str(&sql), &st, err, errlen) == 0;
    wr_buf_free(&sql);
    int rc = WR_DB_DONE;
    while (ok && (rc = wr_db_step(st)) == WR_DB_ROW) {
        struct json_object *row = json_object_new_object();
        int i = 0;
        for (const struct wr_column *c = t->columns; c->name; c++, i++) {
            struct json_object *v = NULL;
            if (!wr_db_column_is_null(st, i)) {
                v = c->type == WR_COL_INT ? json_object_new_int64(wr_db_column_int64(st, i))
                                          : json_object_new_string(wr_db_column_text(st, i));
            }
            json_object_object_add(row, c->name, v);
        }
        struct json_object *line = json_object_new_object();
        json_object_object_add(line, "table", json_object_new_string(t->name));
        json_object_object_add(line, "row", row);
        write_line(out, line);
        (*rows)++;
    }
    if (ok && rc != WR_DB_DONE) {
        wr_errf(err, errlen, "reading %s: %s", t->name, wr_db_errmsg(st));
        ok = false;
    }
    wr_db_finalize(st);
    return ok;
}

int wr_export(const char *state, FILE *out, int64_t *rows, char *err, size_t errlen)
{
    struct wr_db *db = NULL;
    *rows = 0;
    bool pg = wr_db_is_postgres_url(state);
    if (wr_db_open(state, pg ? WR_DB_READONLY : 0, &db, err, errlen) != 0) {
        return -1;
    }
    int rc = -1;
    char msg[WR_ERR_MAX];
    int v = wr_store_version(db, msg, sizeof(msg));
    if (v != WR_TABLES_VERSION) {
        if (v < 0) {
            wr_errf(err, errlen, "%s (is it a weir journal? `weir migrate` makes one)", msg);
        } else {
            wr_errf(err, errlen,
                    "the journal is at schema version %d, this weir exports version %d: "
                    "`weir migrate` it first",
                    v, WR_TABLES_VERSION);
        }
        goto out;
    }
    /* one moment of the journal: a snapshot for every table */
    if (wr_db_exec(db, pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", msg,
                   sizeof(msg)) != 0) {
        wr_errf(err, errlen, "%s", msg);
        goto out;
    }
    struct json_object *head = json_object_new_object();
    struct json_object *names = json_object_new_array();
    for (const struct wr_table *t = wr_tables(); t->name; t++) {
        json_object_array_add(names, json_object_new_string(t->name));
    }
    json_object_object_add(head, "weir_export", json_object_new_int(EXPORT_FORMAT));
    json_object_object_add(head, "schema", json_object_new_int(WR_TABLES_VERSION));
    json_object_object_add(head, "kind", json_object_new_string(wr_db_kind_name(db)));
    json_object_object_add(head, "tables", names);
    write_line(out, head);
    for (const struct wr_table *t = wr_tables(); t->name; t++) {
        if (!export_table(db, t, out, rows, err, errlen)) {
            goto out;
        }
    }
    struct json_object *end = json_object_new_object();
    json_object_object_add(end, "end", json_object_new_boolean(true));
    json_object_object_add(end, "rows", json_object_new_int64(*rows));
    write_line(out, end);
    if (fflush(out) != 0 || ferror(out)) {
        wr_errf(err, errlen, "writing the export failed");
        goto out;
    }
    rc = 0;
out:
    wr_db_rollback(db);
    wr_db_close(db);
    return rc;
}

/* }====== */

/* {====== import ====== */

struct importer {
    struct wr_db *db;
    const char *name; /* the file, for messages */
    long line;
    struct wr_db_stmt *insert[32]; /* one per table of the description, made when first used */
    int64_t rows;
};

static const struct wr_table *find_table(const char *name, size_t *index)
{
    size_t i = 0;
    for (const struct wr_table *t = wr_tables(); t->name; t++, i++) {
        if (strcmp(t->name, name) == 0) {
            *index = i;
            return t;
        }
    }
    return NULL;
}

/* Inserts one {"table", "row"} line; false with err naming the line. */
static bool import_row(struct importer *im, struct json_object *o, char *err, size_t errlen)
{
    struct json_object *tn = NULL, *row = NULL;
    size_t ti = 0;
    const struct wr_table *t = NULL;
    if (!json_object_object_get_ex(o, "table", &tn) || !json_object_is_type(tn, json_type_string) ||
        !(t = find_table(json_object_get_string(tn), &ti)) || ti >= 32) {
        wr_errf(err, errlen, "%s:%ld: not a row of a journal table", im->name, im->line);
        return false;
    }
    if (!json_object_object_get_ex(o, "row", &row) || !json_object_is_type(row, json_type_object)) {
        wr_errf(err, errlen, "%s:%ld: %s: \"row\" is not an object", im->name, im->line, t->name);
        return false;
    }
    int ncols = 0;
    for (const struct wr_column *c = t->columns; c->name; c++) {
        ncols++;
    }
    if (json_object_object_length(row) != ncols) {
        wr_errf(err, errlen, "%s:%ld: %s: %d columns, expected %d", im->name, im->line, t->name,
                json_object_object_length(row), ncols);
        return false;
    }
    char msg[WR_ERR_MAX];
    if (!im->insert[ti]) {
        struct wr_buf sql = {0};
        wr_buf_addf(&sql, "INSERT INTO \"%s\" (", t->name);
        add_columns(&sql, t);
        wr_buf_add(&sql, ") VALUES (");
        for (int i = 0; i < ncols; i++) {
            wr_buf_add(&sql, i ? ", ?" : "?");
        }
        wr_buf_add(&sql, ")");
        int rc = wr_db_prepare(im->db, wr_buf_str(&sql), &im->insert[ti], msg, sizeof(msg));
        wr_buf_free(&sql);
        if (rc != 0) {
            wr_errf(err, errlen, "%s:%ld: %s", im->name, im->line, msg);
            return false;
        }
    }
    struct wr_db_stmt *st = im->insert[ti];
    int i = 1;
    for (const struct wr_column *c = t->columns; c->name; c++, i++) {
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(row, c->name, &v)) {
            wr_errf(err, errlen, "%s:%ld: %s.%s is missing", im->name, im->line, t->name, c->name);
            return false;
        }
        if (!v) {
            wr_db_bind_null(st, i);
        } else if (json_object_is_type(v, json_type_int) && c->type != WR_COL_TEXT) {
            wr_db_bind_int64(st, i, json_object_get_int64(v));
        } else if (json_object_is_type(v, json_type_string) && c->type != WR_COL_INT) {
            wr_db_bind_text(st, i, json_object_get_string(v), json_object_get_string_len(v));
        } else {
            wr_errf(err, errlen, "%s:%ld: %s.%s must be %s or null", im->name, im->line, t->name,
                    c->name, c->type == WR_COL_INT ? "an integer" : "a string");
            return false;
        }
    }
    int rc = wr_db_step(st);
    if (rc != WR_DB_DONE) {
        wr_errf(err, errlen, "%s:%ld: %s: %s", im->name, im->line, t->name, wr_db_errmsg(st));
        wr_db_reset(st);
        return false;
    }
    wr_db_reset(st);
    im->rows++;
    return true;
}

/* Checks the first line; false with err. */
static bool import_head(struct importer *im, struct json_object *o, char *err, size_t errlen)
{
    struct json_object *f = NULL, *s = NULL;
    if (!json_object_object_get_ex(o, "weir_export", &f) ||
        json_object_get_int(f) != EXPORT_FORMAT) {
        wr_errf(err, errlen, "%s:1: not a weir export (its first line names the format)", im->name);
        return false;
    }
    if (!json_object_object_get_ex(o, "schema", &s) ||
        json_object_get_int(s) != WR_TABLES_VERSION) {
        wr_errf(err, errlen,
                "%s:1: an export of schema version %d; this weir imports version %d (export it "
                "again with this weir after `weir migrate`)",
                im->name, s ? json_object_get_int(s) : 0, WR_TABLES_VERSION);
        return false;
    }
    return true;
}

/* Reads every line after the transaction began; false with err. */
static bool import_lines(struct importer *im, FILE *in, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    bool ended = false, ok = true;
    while (ok && (len = getline(&buf, &cap, in)) >= 0) {
        im->line++;
        if ((size_t)len > LINE_MAX_BYTES) {
            wr_errf(err, errlen, "%s:%ld: a line over %u MiB", im->name, im->line,
                    LINE_MAX_BYTES >> 20);
            ok = false;
            break;
        }
        if (ended) {
            wr_errf(err, errlen, "%s:%ld: a line after the export's end", im->name, im->line);
            ok = false;
            break;
        }
        enum json_tokener_error jerr = json_tokener_success;
        struct json_object *o = json_tokener_parse_verbose(buf, &jerr);
        if (!o || !json_object_is_type(o, json_type_object)) {
            wr_errf(err, errlen, "%s:%ld: not a JSON object (%s)", im->name, im->line,
                    o ? "another value" : json_tokener_error_desc(jerr));
            json_object_put(o);
            ok = false;
            break;
        }
        struct json_object *end = NULL, *n = NULL;
        if (im->line == 1) {
            ok = import_head(im, o, err, errlen);
        } else if (json_object_object_get_ex(o, "end", &end)) {
            ended = true;
            if (!json_object_object_get_ex(o, "rows", &n) || json_object_get_int64(n) != im->rows) {
                wr_errf(err, errlen, "%s:%ld: the export says %lld rows, %lld were read", im->name,
                        im->line, (long long)json_object_get_int64(n), (long long)im->rows);
                ok = false;
            }
        } else {
            ok = import_row(im, o, err, errlen);
        }
        json_object_put(o);
    }
    free(buf);
    if (ok && ferror(in)) {
        wr_errf(err, errlen, "%s: reading failed", im->name);
        ok = false;
    }
    if (ok && !ended) {
        wr_errf(err, errlen, "%s:%ld: the export ends early (no end line): nothing imported",
                im->name, im->line);
        ok = false;
    }
    return ok;
}

int wr_import(const char *state, FILE *in, const char *name, int64_t *rows, char *err,
              size_t errlen)
{
    struct wr_migrate_result m;
    char msg[WR_ERR_MAX];
    *rows = 0;
    if (wr_store_migrate(state, &m, msg, sizeof(msg)) != 0) {
        wr_errf(err, errlen, "%s", msg);
        return -1;
    }
    struct importer im = {.name = name};
    if (wr_db_open(state, 0, &im.db, err, errlen) != 0) {
        return -1;
    }
    int rc = -1;
    struct wr_db_stmt *st = NULL;
    if (wr_db_prepare(im.db, "SELECT count(*) FROM events", &st, msg, sizeof(msg)) != 0 ||
        wr_db_step(st) != WR_DB_ROW) {
        wr_errf(err, errlen, "%s", st ? wr_db_errmsg(st) : msg);
        goto out;
    }
    if (wr_db_column_int64(st, 0) > 0) {
        wr_errf(err, errlen, "the journal already holds %lld events: import only into an empty one",
                (long long)wr_db_column_int64(st, 0));
        goto out;
    }
    wr_db_finalize(st);
    st = NULL;
    if (wr_db_begin(im.db, true, msg, sizeof(msg)) != 0) {
        wr_errf(err, errlen, "%s", msg);
        goto out;
    }
    if (!import_lines(&im, in, err, errlen)) {
        goto out;
    }
    if (wr_db_commit(im.db, msg, sizeof(msg)) != 0) {
        wr_errf(err, errlen, "%s", msg);
        goto out;
    }
    *rows = im.rows;
    rc = 0;
out:
    wr_db_finalize(st);
    for (size_t i = 0; i < sizeof(im.insert) / sizeof(im.insert[0]); i++) {
        wr_db_finalize(im.insert[i]);
    }
    wr_db_rollback(im.db);
    wr_db_close(im.db);
    return rc;
}

/* }====== */
