/*
 * file_watch — the file trigger at run time: inotify on the `dir` of every enabled
 * file-trigger workflow, one event per row of each file dropped there.
 *
 * A file is taken when it is complete. One renamed into the directory (IN_MOVED_TO) is read at
 * once: write-then-rename is the contract `weir help file` documents. One written in place is
 * read once its writer closed it (IN_CLOSE_WRITE) and its size and mtime then stayed the same
 * for the workflow's `settle` (default 2 s; written to again, the clock starts over), so a
 * file written in several open/close cycles is read once, whole. Files already present at
 * start are taken too, in name order (at once when unchanged for longer than settle). Hidden
 * names (".*"), "*.tmp", "*.part" and names that match no workflow's `pattern` are left alone;
 * so are directories (logged once). A FIFO, socket, device or symbolic link (never followed)
 * goes to failed/ with the reason: nothing blocks on it.
 *
 * A taken file is read, hashed (SHA-256) and parsed per `format` (triggers/file/csv) on a reader
 * thread, then its rows go to ingest — `when:` and the rest evaluated on the loop thread a
 * slice at a time, committed in chunks — keyed "file:<sha256>:<row>", so the same content
 * dropped again starts nothing new and rows committed before a crash are duplicates when the
 * file is taken again. Once every row is committed the file moves to dir/done/. A file that
 * cannot be taken whole — it does not parse, is over the limits, lacks the workflow's
 * `columns`, or is a CSV whose first line looks like the rest of the previous file rather than
 * a header — moves to dir/failed/ with NAME.error beside it naming each problem, and nothing
 * of it is committed; a commit that failed is retried. A name that is taken in done/ or
 * failed/ gets a numeric suffix (users.1.csv): nothing there is overwritten.
 */
#ifndef WR_FILE_WATCH_H
#define WR_FILE_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "engine/lang/workflow.h"

struct event_base;
struct wr_ingest;
struct wr_trigger_kind;

/* The file trigger's descriptor (triggers/file/file.c). */
extern const struct wr_trigger_kind wr_trigger_file;

#define WR_FILE_DEFAULT_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define WR_FILE_DEFAULT_MAX_ROWS  ((size_t)200000)
#define WR_FILE_RETRY_MS          5000 /* after a failed commit */

/* The most a workflow's `max_bytes` may say. */
#define WR_FILE_MAX_BYTES_LIMIT ((uint64_t)1 << 30)

/* `settle`: how long a file closed by its writer must stay unchanged; the default, the most. */
#define WR_FILE_DEFAULT_SETTLE_MS 2000
#define WR_FILE_MAX_SETTLE_MS     (60 * 60 * 1000)

/*
 * Per-file limits against hostile or runaway input; 0 takes the default. A workflow's own
 * `max_bytes` and `max_rows` trigger arguments take precedence; when several workflows read
 * one file, the smallest limit among them applies.
 */
struct wr_file_limits {
    size_t max_bytes; /* larger files go to failed/ unread */
    size_t max_rows;  /* files with more rows go to failed/ */
};

struct wr_file_watch;

/*
 * Watches the directory of every enabled workflow among workflows[0..n) whose trigger is
 * `file` (others are skipped; several workflows may share a directory). A relative `dir`
 * resolves against base_dir (the directory of weir.yaml; NULL or "" = the current one). Each
 * directory, and its done/ and failed/, is created when missing. Files already present are
 * taken on the first turn of base's loop; base must have been made after
 * evthread_use_pthreads() (the reader thread wakes the loop). The workflows (borrowed) must
 * outlive the watch and its commits in flight; ingest is borrowed; limits may be NULL
 * (defaults). Returns the watch (which watches nothing when no workflow has a file trigger),
 * or NULL with a message in err.
 */
struct wr_file_watch *wr_file_watch_new(struct event_base *base, struct wr_ingest *ingest,
                                        const struct wr_workflow *const *workflows, size_t n,
                                        const char *base_dir, const struct wr_file_limits *limits,
                                        char *err, size_t errlen);

/* Number of chunks of rows whose commit is in flight. */
size_t wr_file_watch_pending(const struct wr_file_watch *fw);

/*
 * Stops watching and frees the watch. The reader thread finishes the file it is reading (the
 * size limit bounds that) and is joined. A commit still in flight is cancelled safely: its
 * callback, when ingest delivers it, only frees its own state and leaves the file in place
 * (it is taken again at the next start, where its committed rows are duplicates). So free the
 * watch before draining the journal, or drain until wr_file_watch_pending() is 0 first. A file
 * partly committed stays in place the same way. NULL is fine.
 */
void wr_file_watch_free(struct wr_file_watch *fw);

#endif
