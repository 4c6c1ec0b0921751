/*
 * daemon — `weir run`: one libevent loop with every trigger kind, the run executor and the
 * admin API over the durable journal.
 *
 * Start-up loads weir.yaml and the workflow set (any error: nothing starts), claims and opens
 * the journal, starts every trigger kind of the registry (triggers/trigger.h: the daemon names
 * none), then the Graph client, directory and executor (unless ingest-only), then the admin
 * API. SIGHUP reloads the workflows (all or nothing; in-flight work finishes on the old set).
 * SIGTERM and SIGINT stop every trigger accepting new work, let runs pause at their next
 * durable point, wait until everything already received has its commit and answer, and exit 0.
 */
#ifndef WR_DAEMON_H
#define WR_DAEMON_H

#include <stdbool.h>

/*
 * Runs until a stop signal; returns the process exit code (WR_EXIT_OK, WR_EXIT_INVALID for a bad
 * config or credentials, WR_EXIT_RUNTIME; engine/base/exit_code.h). ingest_only: store events and
 * queue runs, but execute nothing (no Graph credentials needed) — for maintenance windows and for
 * testing the ingest path alone.
 */
int wr_daemon_run(const char *config_path, bool ingest_only);

#endif
