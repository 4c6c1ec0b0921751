/*
 * action — the descriptor every action kind exports, and the registry that lists them.
 *
 * An action is a static const struct wr_action at the bottom of its file in actions/: its
 * name as written in workflows (kebab-case), a one-line summary, its argument table and an
 * optional cross-argument check. The workflow loader validates a step's arguments through the
 * descriptor, and `weir help ACTION` prints it. Actions never see the registry or each other;
 * executing them against Graph arrives with the Graph client.
 */
#ifndef WR_ACTION_H
#define WR_ACTION_H

#include <json-c/json.h>

#include "engine/argspec.h"

struct wr_action {
    const char *name;              /* as written after `action:` */
    const char *summary;           /* one line for `weir help` */
    const struct wr_argspec *args; /* argument table, NULL-name terminated */
    /*
     * Checks that span several arguments (e.g. "add or remove"), after the table check passed
     * for each key. Reports through c; may be NULL.
     */
    void (*validate)(struct wr_check *c, struct json_object *args, const char *path);
};

/* Looks an action up by name; NULL when unknown. */
const struct wr_action *wr_action_find(const char *name);

/* NULL-terminated list of every action name (static storage), for suggestions and help. */
const char *const *wr_action_names(void);

/* Shared argument-table entries: the user reference every user action takes. */
#define WR_ARGSPEC_USER                                                                            \
    {                                                                                              \
        .name = "user", .type = WR_ARG_STRING, .flags = WR_ARG_REQUIRED,                           \
        .help = "object id, userPrincipalName, mail or employeeId:VALUE"                           \
    }

#endif
