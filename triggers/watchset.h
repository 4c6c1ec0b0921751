/*
 * watchset — the per-workflow runtimes ("watchers") of a polling trigger kind (user-change,
 * group-membership), driven through the kind's run-time slots: start, ready, prepare/commit/
 * abort of a reload, stop_accepting, pending, busy and free.
 *
 * A reload keeps the watcher of a workflow whose name and trigger arguments are unchanged (its
 * memory and its rhythm go on; it is only pointed at the new set's workflow). A watcher whose
 * workflow was removed or changed is stopped and parked until it is idle (no read and no commit
 * in flight), then freed; a changed workflow's new watcher begins only once the old one is
 * gone, so two watchers never write one workflow's state at once.
 *
 * On the loop thread only. Not a trigger kind: a helper beside the registry, like poll.h.
 */
#ifndef WR_TRIGGER_WATCHSET_H
#define WR_TRIGGER_WATCHSET_H

#include <stdbool.h>
#include <stddef.h>

struct wr_trigger_env;
struct wr_trigger_kind;
struct wr_workflow;
struct wr_workflow_set;

/* What a kind supplies: its descriptor (to find its workflows) and its watcher's life. */
struct wr_watch_ops {
    const struct wr_trigger_kind *kind;
    /* Builds the watcher of wf (borrowed until rebind or free) from env (borrowed, outlives
       it), starting nothing. Returns it (owned), or NULL with why in err. */
    void *(*make)(const struct wr_trigger_env *env, const struct wr_workflow *wf, char *err,
                  size_t errlen);
    /* Loads the watcher's memory and starts its rounds (nothing when env->dir is NULL). */
    void (*begin)(void *w);
    /* A reload kept the workflow: wf (borrowed) replaces the one it was made with. */
    void (*rebind)(void *w, const struct wr_workflow *wf);
    /* No more rounds; a read in flight is dropped when it ends, a commit finishes. */
    void (*stop)(void *w);
    /* No read and no commit in flight. */
    bool (*idle)(const void *w);
    /* Commits in flight (the daemon's drain waits for them). */
    size_t (*commits)(const void *w);
    /* Frees an idle watcher; forget: its workflow is gone (its metric series go too). */
    void (*free)(void *w, bool forget);
};

struct wr_watchset;

/* Makes and begins a watcher for every enabled workflow of set (borrowed) with ops->kind as its
   trigger. env is copied (the watchers get the copy); ops is borrowed and outlives the set.
   NULL with err when one cannot be made. */
struct wr_watchset *wr_watchset_start(const struct wr_watch_ops *ops,
                                      const struct wr_trigger_env *env,
                                      const struct wr_workflow_set *set, char *err, size_t errlen);

/* The ready line's text: "2 workflows" or "2 workflows, not polling (--ingest-only: no
   Graph)"; false when the kind has no workflow. */
bool wr_watchset_ready(const struct wr_watchset *ws, char *addr, size_t addrlen);

/* Reload: prepare builds the watchers set (borrowed) needs, begins nothing (0, or -1 + err);
   commit switches to them; abort drops what prepare built. See the top of this file. */
int wr_watchset_prepare(struct wr_watchset *ws, const struct wr_workflow_set *set, char *err,
                        size_t errlen);
void wr_watchset_commit(struct wr_watchset *ws, const struct wr_workflow_set *set);
void wr_watchset_abort(struct wr_watchset *ws);

/* Stopping: no watcher starts another round. */
void wr_watchset_stop_accepting(struct wr_watchset *ws);

/* Commits in flight over every watcher, parked ones included; frees parked idle ones. */
size_t wr_watchset_pending(struct wr_watchset *ws);

/* True while a parked watcher (of a workflow set a reload replaced) still has work in flight. */
bool wr_watchset_busy(const struct wr_watchset *ws);

/* The environment the watchers were made with (the set's copy; borrowed). */
const struct wr_trigger_env *wr_watchset_env(const struct wr_watchset *ws);

/* The watcher serving the workflow named name (borrowed), or NULL (none, or parked). */
void *wr_watchset_find(const struct wr_watchset *ws, const char *name);

/* Frees every watcher (drain first). NULL is fine. */
void wr_watchset_free(struct wr_watchset *ws);

/*
 * The run-time slots of a kind whose runtime is the watchset itself (its start slot returns
 * wr_watchset_start's result): each is the function above, typed for struct wr_trigger_kind.
 */
bool wr_watchset_slot_ready(const void *ws, char *addr, size_t addrlen);
bool wr_watchset_slot_busy(const void *ws);
int wr_watchset_slot_prepare(void *ws, const struct wr_workflow_set *set, char *err, size_t errlen);
void wr_watchset_slot_commit(void *ws, const struct wr_workflow_set *set);
void wr_watchset_slot_abort(void *ws);
void wr_watchset_slot_stop_accepting(void *ws);
size_t wr_watchset_slot_pending(void *ws);
void wr_watchset_slot_free(void *ws);

#endif
