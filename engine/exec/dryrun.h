/*
 * dryrun — `weir fire --dry-run`: runs one workflow on one event without touching the tenant,
 * and reports what it would have done.
 *
 * The run goes through the real executor over a throw-away journal in a temporary directory
 * (removed afterwards), with a read-only Graph client (nothing but GETs can leave) and actions
 * in dry-run mode (lookups made, mutations planned, waits not waited). The report lists each
 * step's status, arguments, planned request and output. Not the CLI: reading weir.yaml and the
 * credentials, and exit codes, are the caller's.
 */
#ifndef WR_DRYRUN_H
#define WR_DRYRUN_H

#include <stddef.h>
#include <stdio.h>

struct event_base;
struct json_object;
struct wr_directory;
struct wr_graph;
struct wr_graph_options;
struct wr_workflow;

/* How long a dry run may take before it is given up. */
#define WR_DRYRUN_TIMEOUT_MS 120000

/*
 * Runs wf on event (both borrowed) with a Graph client made from graph (borrowed; its
 * read_only is forced on), and prints the report to out: the run's outcome and each step, or
 * that wf does not match the event. Returns 0 once the report is printed; -1 when the dry run
 * could not be carried out (nothing printed), with the reason in err (which may be empty when
 * the store would not take the event). mail_from (borrowed, may be NULL) is weir.yaml
 * mail.from, for send-mail steps that name no sender.
 */
struct wr_guard_limits;
int wr_dryrun(const struct wr_graph_options *graph, const struct wr_workflow *wf,
              struct json_object *event, const struct wr_guard_limits *guard,
              const char *guard_state, const char *mail_from, FILE *out, char *err, size_t errlen);

/*
 * The read-only Graph client a dry run reads with (read_only forced on: nothing but GETs can
 * leave), made from graph (borrowed) on base, and a directory on it: the set-up of wr_dryrun,
 * for the other commands that only read the tenant (`weir fire --user`, `weir scope`).
 * Returns the directory (owned; free it after *g, which is owned too), or NULL with why in
 * err and *g NULL.
 */
struct wr_directory *wr_dryrun_directory(struct event_base *base,
                                         const struct wr_graph_options *graph, struct wr_graph **g,
                                         char *err, size_t errlen);

#endif
