/*
 * group — add-to-group and remove-from-group (POST/DELETE /groups/{id}/members/$ref). The
 * group is named by displayName or object id, resolved at run time.
 */
#include "actions/action.h"

static const struct wr_argspec group_args[] = {
    WR_ARGSPEC_USER,
    {.name = "group",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "group displayName or object id"},
    {0},
};

const struct wr_action wr_action_add_to_group = {
    .name = "add-to-group",
    .summary = "add the user to a group; already a member is success",
    .args = group_args,
};

const struct wr_action wr_action_remove_from_group = {
    .name = "remove-from-group",
    .summary = "remove the user from a group; not a member is success",
    .args = group_args,
};
