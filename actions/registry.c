/*
 * registry — the table of every action, built from actions.def. Nothing else in weir lists
 * actions by hand.
 */
#include <string.h>

#include "actions/action.h"

#define WR_ACTION(id) extern const struct wr_action wr_action_##id;
#include "actions/actions.def"
#undef WR_ACTION

static const struct wr_action *const actions[] = {
#define WR_ACTION(id) &wr_action_##id,
#include "actions/actions.def"
#undef WR_ACTION
};

#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

const struct wr_action *wr_action_find(const char *name)
{
    for (size_t i = 0; i < NACTIONS; i++) {
        if (strcmp(actions[i]->name, name) == 0) {
            return actions[i];
        }
    }
    return NULL;
}

const char *const *wr_action_names(void)
{
    static const char *names[NACTIONS + 1];
    if (!names[0]) {
        for (size_t i = 0; i < NACTIONS; i++) {
            names[i] = actions[i]->name;
        }
    }
    return names;
}

bool wr_action_destructive(const struct wr_action *a, struct json_object *args)
{
    switch (a->destructive) {
    case WR_DESTRUCTIVE_NO:
        return false;
    case WR_DESTRUCTIVE_YES:
        return true;
    case WR_DESTRUCTIVE_BY_ARGS:
        return args == NULL || a->is_destructive == NULL || a->is_destructive(args);
    case WR_DESTRUCTIVE_UNDECLARED:
    default:
        return true;
    }
}
