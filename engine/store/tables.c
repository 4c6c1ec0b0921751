/*
 * tables — the journal's tables and indexes as data; see tables.h. Each table says what it is
 * for; journal.c's migrations say how a SQLite journal got here.
 */
#include "engine/store/tables.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"

/* {====== the schema (version 9) ====== */

/* What arrived: a webhook, a file's row, a schedule slot, a manual fire; idem_key and
   idem_scope make a redelivery a duplicate. */
static const struct wr_column events_columns[] = {
    {"id", WR_COL_TEXT, false, NULL, NULL},
    {"source", WR_COL_TEXT, true, NULL, NULL},
    {"idem_key", WR_COL_TEXT, false, NULL, NULL},
    {"received_at", WR_COL_INT, true, NULL, NULL},
    {"headers", WR_COL_TEXT, false, NULL, NULL},
    {"body", WR_COL_TEXT, true, NULL, NULL},
    {"status", WR_COL_TEXT, true, NULL, NULL},
    {"idem_scope", WR_COL_TEXT, false, NULL, NULL},
    {0},
};

/* One workflow's run of an event. */
static const struct wr_column runs_columns[] = {
    {"id", WR_COL_TEXT, false, NULL, NULL},
    {"event_id", WR_COL_TEXT, true, NULL, "events(id)"},
    {"workflow", WR_COL_TEXT, true, NULL, NULL},
    {"workflow_hash", WR_COL_TEXT, true, NULL, NULL},
    {"concurrency_key", WR_COL_TEXT, false, NULL, NULL},
    {"status", WR_COL_TEXT, true, "'queued'", NULL},
    {"created_at", WR_COL_INT, true, NULL, NULL},
    {"updated_at", WR_COL_INT, true, NULL, NULL},
    {"next_at", WR_COL_INT, false, NULL, NULL},
    {"error", WR_COL_TEXT, false, NULL, NULL},
    {"crashes", WR_COL_INT, true, "0", NULL},
    {"guard_released", WR_COL_INT, true, "0", NULL},
    {"owner", WR_COL_TEXT, false, NULL, NULL},      /* the instance executing it (leases) */
    {"lease_until", WR_COL_INT, false, NULL, NULL}, /* until when that claim holds */
    {0},
};

/* A run's steps: arguments, output, error, attempts. */
static const struct wr_column steps_columns[] = {
    {"run_id", WR_COL_TEXT, true, NULL, "runs(id)"},
    {"idx", WR_COL_INT, true, NULL, NULL},
    {"step_id", WR_COL_TEXT, false, NULL, NULL},
    {"status", WR_COL_TEXT, true, NULL, NULL},
    {"attempts", WR_COL_INT, true, "0", NULL},
    {"started_at", WR_COL_INT, false, NULL, NULL},
    {"finished_at", WR_COL_INT, false, NULL, NULL},
    {"args", WR_COL_TEXT, false, NULL, NULL},
    {"output", WR_COL_TEXT, false, NULL, NULL},
    {"error", WR_COL_TEXT, false, NULL, NULL},
    {"throttled_since", WR_COL_INT, false, NULL, NULL},
    {0},
};

/* Small named values: the health probe's row, the newest unscoped webhook key. */
static const struct wr_column journal_meta_columns[] = {
    {"name", WR_COL_TEXT, false, NULL, NULL},
    {"value", WR_COL_ANY, false, NULL, NULL},
    {0},
};

/* What directory triggers remember between rounds. */
static const struct wr_column trigger_state_columns[] = {
    {"scope", WR_COL_TEXT, true, NULL, NULL},
    {"name", WR_COL_TEXT, true, NULL, NULL},
    {"value", WR_COL_TEXT, true, NULL, NULL},
    {"updated_at", WR_COL_INT, true, NULL, NULL},
    {0},
};

/* The users destructive steps touched, for the guard's sliding window. */
static const struct wr_column guard_window_columns[] = {
    {"user", WR_COL_TEXT, true, NULL, NULL},
    {"run_id", WR_COL_TEXT, true, NULL, NULL},
    {"at", WR_COL_INT, true, NULL, NULL},
    {0},
};

/* An approval step's request; decision is set once. */
static const struct wr_column approvals_columns[] = {
    {"run_id", WR_COL_TEXT, true, NULL, NULL},
    {"step_idx", WR_COL_INT, true, NULL, NULL},
    {"step_id", WR_COL_TEXT, false, NULL, NULL},
    {"workflow", WR_COL_TEXT, true, NULL, NULL},
    {"message", WR_COL_TEXT, true, NULL, NULL},
    {"plan", WR_COL_TEXT, false, NULL, NULL},
    {"approvers", WR_COL_TEXT, true, NULL, NULL},
    {"nonce", WR_COL_TEXT, true, NULL, NULL},
    {"created_at", WR_COL_INT, true, NULL, NULL},
    {"expires_at", WR_COL_INT, true, NULL, NULL},
    {"decision", WR_COL_TEXT, false, NULL, NULL},
    {"decided_by", WR_COL_TEXT, false, NULL, NULL},
    {"decided_at", WR_COL_INT, false, NULL, NULL},
    {"reason", WR_COL_TEXT, false, NULL, NULL},
    {0},
};

/* One capability token per approver, as its SHA-256. */
static const struct wr_column approval_tokens_columns[] = {
    {"hash", WR_COL_TEXT, false, NULL, NULL},
    {"run_id", WR_COL_TEXT, true, NULL, NULL},
    {"step_idx", WR_COL_INT, true, NULL, NULL},
    {"approver", WR_COL_TEXT, true, NULL, NULL},
    {0},
};

static const struct wr_table tables[] = {
    {"events", events_columns, "id", false, false},
    {"runs", runs_columns, "id", false, true},
    {"steps", steps_columns, "run_id, idx", false, false},
    {"journal_meta", journal_meta_columns, "name", false, false},
    {"trigger_state", trigger_state_columns, "scope, name", true, false},
    {"guard_window", guard_window_columns, "user, run_id", true, false},
    {"approvals", approvals_columns, "run_id, step_idx", true, false},
    {"approval_tokens", approval_tokens_columns, "hash", true, false},
    {0},
};

static const struct wr_index indexes[] = {
    {"events_received", "events", "received_at", false, NULL},
    {"events_idem", "events", "idem_scope, idem_key", true, "idem_key IS NOT NULL"},
    {"runs_status", "runs", "status, next_at", false, NULL},
    {"runs_event", "runs", "event_id", false, NULL},
    {"runs_ckey", "runs", "concurrency_key, status", false, "concurrency_key IS NOT NULL"},
    {"runs_created", "runs", "created_at, id", false, NULL},
    {"guard_window_at", "guard_window", "at", false, NULL},
    {"approval_tokens_run", "approval_tokens", "run_id, step_idx", false, NULL},
    {0},
};

/* }====== */

const struct wr_table *wr_tables(void)
{
    return tables;
}

const struct wr_index *wr_table_indexes(void)
{
    return indexes;
}

/* {====== DDL ====== */

void wr_tables_add_names(struct wr_buf *b, const char *list, bool quote)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n > 0) {
            wr_buf_addf(b, quote ? "\"%.*s\"" : "%.*s", (int)n, p);
        }
        p += n;
        while (*p == ',' || *p == ' ') {
            if (*p == ',') {
                wr_buf_add(b, ", ");
            }
            p++;
        }
    }
}

static const char *type_sql(enum wr_column_type t, bool pg)
{
    switch (t) {
    case WR_COL_INT:
        return pg ? "BIGINT" : "INTEGER";
    case WR_COL_ANY:
        return pg ? "TEXT" : NULL;
    case WR_COL_TEXT:
        break;
    }
    return "TEXT";
}

char *wr_tables_ddl(enum wr_db_kind kind)
{
    bool pg = kind == WR_DB_POSTGRES;
    struct wr_buf b = {0};
    for (const struct wr_table *t = tables; t->name; t++) {
        wr_buf_add(&b, "CREATE TABLE ");
        wr_tables_add_names(&b, t->name, pg);
        wr_buf_add(&b, " (");
        for (const struct wr_column *c = t->columns; c->name; c++) {
            const char *type = type_sql(c->type, pg);
            wr_buf_add(&b, c == t->columns ? "" : ", ");
            wr_tables_add_names(&b, c->name, pg);
            if (type) {
                wr_buf_addf(&b, " %s", type);
            }
            if (pg && strcmp(type, "TEXT") == 0) {
                /* byte order, as SQLite's BINARY: ids, cursors and prefixes sort the same on
                   both, whatever the database's locale */
                wr_buf_add(&b, " COLLATE \"C\"");
            }
            if (c->not_null) {
                wr_buf_add(&b, " NOT NULL");
            }
            if (c->default_sql) {
                wr_buf_addf(&b, " DEFAULT %s", c->default_sql);
            }
            if (c->references) {
                size_t n = strcspn(c->references, "(");
                wr_buf_add(&b, " REFERENCES ");
                wr_buf_addf(&b, pg ? "\"%.*s\"(" : "%.*s(", (int)n, c->references);
                char *cols =
                    wr_xstrndup(c->references + n + 1, strcspn(c->references + n + 1, ")"));
                wr_tables_add_names(&b, cols, pg);
                free(cols);
                wr_buf_add(&b, ")");
            }
        }
        if (t->rowid && pg) {
            wr_buf_add(&b, ", rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE");
        }
        wr_buf_add(&b, ", PRIMARY KEY (");
        wr_tables_add_names(&b, t->primary_key, pg);
        wr_buf_add(&b, "))");
        wr_buf_add(&b, t->without_rowid && !pg ? " WITHOUT ROWID;\n" : ";\n");
    }
    for (const struct wr_index *x = indexes; x->name; x++) {
        wr_buf_add(&b, x->unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ");
        wr_tables_add_names(&b, x->name, pg);
        wr_buf_add(&b, " ON ");
        wr_tables_add_names(&b, x->table, pg);
        wr_buf_add(&b, " (");
        wr_tables_add_names(&b, x->columns, pg);
        wr_buf_add(&b, ")");
        if (x->where) {
            wr_buf_addf(&b, " WHERE %s", x->where);
        }
        wr_buf_add(&b, ";\n");
    }
    return wr_buf_take(&b);
}

/* }====== */
