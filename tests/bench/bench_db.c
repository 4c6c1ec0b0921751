/*
 * bench_db — durable commits through engine/store/db on each back end, in the same run: the
 * floor under what a journal on SQLite or on PostgreSQL can acknowledge (issue 21).
 *
 * Each back end gets an events table shaped like the journal's (engine/store/tables' DDL) and
 * N transactions: "1 row" commits one event per transaction (an ack with nothing to share its
 * commit), "64 rows" commits 64 per transaction (a busy group commit). SQLite runs as the
 * journal does (WAL, synchronous=FULL); PostgreSQL as the throw-away cluster of tests/pg runs
 * (fsync on, synchronous_commit on, a Unix socket). Latencies are per transaction. Rows for
 * scripts/bench's table are printed as Markdown (PostgreSQL as "weir", SQLite as the reference).
 *
 * Usage: bench_db [--quick] PG_URL_FILE   (the file tests/pg/pg_cluster writes)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/strutil.h"
#include "engine/store/db.h"
#include "engine/store/tables.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_db: %s: %s\n", what, err);
    exit(1);
}

static void exec_or_die(struct wr_db *db, const char *sql)
{
    char err[512];
    if (wr_db_exec(db, sql, err, sizeof(err)) != 0) {
        die(sql, err);
    }
}

struct result {
    double per_s, p50, p99; /* rows per second; transaction latency, ms */
};

/* n transactions of `rows` inserted events each. */
static struct result run(struct wr_db *db, int n, int rows, int *seq)
{
    char err[512];
    struct wr_db_stmt *ins = NULL;
    if (wr_db_prepare(db,
                      "INSERT INTO events (id, source, idem_scope, idem_key, received_at, "
                      "headers, body, status) VALUES (?, 'webhook /hooks/hr', 'webhook /hooks/hr', "
                      "?, ?, NULL, ?, 'stored')",
                      &ins, err, sizeof(err)) != 0) {
        die("prepare", err);
    }
    static const char body[] = "{\"event\":\"employee.hired\",\"user\":\"adele.vance@contoso."
                               "onmicrosoft.com\",\"department\":\"Sales\",\"title\":\"Account "
                               "Executive\",\"manager\":\"megan.bowen@contoso.onmicrosoft.com\"}";
    double *lat = wr_xcalloc((size_t)n, sizeof(double));
    double start = now_ms();
    for (int t = 0; t < n; t++) {
        double t0 = now_ms();
        if (wr_db_begin(db, true, err, sizeof(err)) != 0) {
            die("begin", err);
        }
        for (int r = 0; r < rows; r++) {
            char id[32], key[32];
            int k = ++*seq;
            snprintf(id, sizeof(id), "ev_%08d", k);
            snprintf(key, sizeof(key), "msg_%08d", k);
            wr_db_bind_text(ins, 1, id, -1);
            wr_db_bind_text(ins, 2, key, -1);
            wr_db_bind_int64(ins, 3, 1765000000000 + k);
            wr_db_bind_text(ins, 4, body, -1);
            if (wr_db_step(ins) != WR_DB_DONE) {
                die("insert", wr_db_errmsg(ins));
            }
            wr_db_reset(ins);
        }
        if (wr_db_commit(db, err, sizeof(err)) != 0) {
            die("commit", err);
        }
        lat[t] = now_ms() - t0;
    }
    double total = now_ms() - start;
    wr_db_finalize(ins);
    qsort(lat, (size_t)n, sizeof(double), cmp_double);
    struct result r = {
        .per_s = (double)n * rows / (total / 1e3),
        .p50 = lat[n / 2],
        .p99 = lat[(size_t)((n - 1) * 0.99)],
    };
    free(lat);
    return r;
}

static struct wr_db *open_fresh(const char *target, bool pg)
{
    struct wr_db *db = NULL;
    char err[512];
    if (wr_db_open(target, WR_DB_CREATE, &db, err, sizeof(err)) != 0) {
        die(target, err);
    }
    if (pg) {
        exec_or_die(db, "DROP SCHEMA IF EXISTS bench_db CASCADE; CREATE SCHEMA bench_db; "
                        "SET search_path TO bench_db");
    } else {
        exec_or_die(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
    }
    char *ddl = wr_tables_ddl(wr_db_kind(db));
    if (wr_db_exec(db, ddl, err, sizeof(err)) != 0) {
        die("schema", err);
    }
    free(ddl);
    return db;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (argc != 2 + quick) {
        fprintf(stderr, "usage: bench_db [--quick] PG_URL_FILE\n");
        return 2;
    }
    char url[2048];
    FILE *f = fopen(argv[1 + quick], "r");
    if (!f || !fgets(url, sizeof(url), f)) {
        fprintf(stderr, "bench_db: cannot read the PostgreSQL URL from %s\n", argv[1 + quick]);
        return 2;
    }
    fclose(f);
    url[strcspn(url, "\r\n")] = '\0';
    char dir[] = "/tmp/weir-bench-db-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    char *path = wr_xasprintf("%s/bench.db", dir);
    int n1 = quick ? 50 : 2000, n64 = quick ? 10 : 300;
    struct wr_db *lite = open_fresh(path, false);
    struct wr_db *pg = open_fresh(url, true);
    int seq_l = 0, seq_p = 0;
    /* interleaved, so a noisy moment of the machine lands on both */
    struct result l1 = run(lite, n1, 1, &seq_l), p1 = run(pg, n1, 1, &seq_p);
    struct result l64 = run(lite, n64, 64, &seq_l), p64 = run(pg, n64, 64, &seq_p);
    /* rows of scripts/bench's table: figure | weir | reference | ratio | goal */
    printf("| durable commits through engine/store/db on PostgreSQL 15 (fsync on, Unix socket), 1 "
           "event per transaction, %d: events/s, commit p50 / p99 | %.0f, %.2f / %.2f ms | %.0f, "
           "%.2f / %.2f ms (SQLite, WAL, synchronous=FULL) | %.2f | |\n",
           n1, p1.per_s, p1.p50, p1.p99, l1.per_s, l1.p50, l1.p99, p1.per_s / l1.per_s);
    printf("| the same, 64 events per transaction (a group commit), %d | %.0f, %.2f / %.2f ms | "
           "%.0f, %.2f / %.2f ms (SQLite) | %.2f | |\n",
           n64, p64.per_s, p64.p50, p64.p99, l64.per_s, l64.p50, l64.p99, p64.per_s / l64.per_s);
    exec_or_die(pg, "DROP SCHEMA bench_db CASCADE");
    wr_db_close(lite);
    wr_db_close(pg);
    char *cmd = wr_xasprintf("rm -rf '%s'", dir);
    int rc = system(cmd);
    free(cmd);
    free(path);
    return rc == 0 ? 0 : 1;
}
