/*
 * daemon — `weir run`: one libevent loop with the listeners and triggers of the loaded
 * workflows over the durable journal.
 *
 * Start-up loads weir.yaml and the workflow set (any error: nothing starts), opens the
 * journal, and starts the webhook listener. SIGTERM and SIGINT stop accepting new requests,
 * wait until every request already received has its commit and answer, and exit 0. Until the
 * run executor exists, matched events are stored as queued runs.
 */
#ifndef WR_DAEMON_H
#define WR_DAEMON_H

#include <stdbool.h>

/*
 * Runs until a stop signal; returns the process exit code (0, 1 bad config, 3 runtime).
 * ingest_only: store events and queue runs, but execute nothing (no Graph credentials
 * needed) — for maintenance windows and for testing the ingest path alone.
 */
int wr_daemon_run(const char *config_path, bool ingest_only);

#endif
