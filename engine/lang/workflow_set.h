/*
 * workflow_set — every workflow weir serves, loaded together and checked against each other.
 *
 * A set is built from files and directories (a directory contributes its *.yaml, *.yml and
 * *.json files, sorted by name, hidden files skipped). Each file is loaded by workflow.c;
 * this module adds the rules that span files: unique workflow names, and workflows that share
 * a webhook path must agree on how requests to it are verified and keyed. A set is all or
 * nothing: one bad file rejects the set, which is what lets a reload keep the old set.
 */
#ifndef WR_WORKFLOW_SET_H
#define WR_WORKFLOW_SET_H

#include <stddef.h>

#include "engine/base/diag.h"
#include "engine/lang/workflow.h"

struct wr_workflow_set {
    struct wr_workflow **items; /* owned, in load order */
    size_t count;
};

/*
 * Loads every workflow found in paths (files or directories). base_dir resolves relative
 * script paths; env_allow (may be NULL) lists what weir.env() may read. On success returns 0 and an
 * owned set; on failure returns -1, adds every error found (in all files) to d and sets *out to
 * NULL.
 */
int wr_workflow_set_load(const char *const *paths, size_t npaths, const char *base_dir,
                         const char *const *env_allow, struct wr_workflow_set **out,
                         struct wr_diags *d);

/* Borrowed workflow by name, or NULL. */
const struct wr_workflow *wr_workflow_set_find(const struct wr_workflow_set *set, const char *name);

void wr_workflow_set_free(struct wr_workflow_set *set);

#endif
