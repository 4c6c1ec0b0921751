/*
 * trigger — the descriptor every trigger kind exports, and the registry that lists them.
 *
 * A workflow's `trigger:` mapping holds exactly one key, the kind (webhook, file, schedule),
 * whose value is checked against that kind's argument table. Listening, watching and ticking
 * arrive with the ingest work; in this module a kind declares what it accepts.
 */
#ifndef WR_TRIGGER_H
#define WR_TRIGGER_H

#include <json-c/json.h>

#include "engine/lang/argspec.h"

struct wr_trigger_kind {
    const char *name;              /* the key under `trigger:` */
    const char *summary;           /* one line for `weir help` */
    const struct wr_argspec *args; /* argument table, NULL-name terminated */
    const char *notes;             /* more for `weir help KIND`, after the arguments; or NULL */
    /* Checks across arguments after the table check; may be NULL. */
    void (*validate)(struct wr_check *c, struct json_object *args, const char *path);
    /*
     * Several workflows may share one route (a webhook path). When route_arg is set, workflows
     * whose route values are equal must also agree on every argument in shared_args
     * (NULL-terminated), else the set is rejected.
     */
    const char *route_arg;
    const char *const *shared_args;
};

/* Looks a kind up by name; NULL when unknown. */
const struct wr_trigger_kind *wr_trigger_find(const char *name);

/* NULL-terminated list of every kind name (static storage). */
const char *const *wr_trigger_names(void);

#endif
