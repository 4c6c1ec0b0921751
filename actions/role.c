/*
 * role — set-role and remove-role: directory role assignments through unified RBAC
 * (/roleManagement/directory/roleAssignments). The role is named by displayName ("User
 * Administrator"), role definition id or template id; resolved at run time.
 */
#include "actions/action.h"

static const struct wr_argspec role_args[] = {
    WR_ARGSPEC_USER,
    {.name = "role",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "role displayName, definition id or template id"},
    {.name = "scope",
     .type = WR_ARG_STRING,
     .help = "directoryScopeId of the assignment; default / (the whole tenant)"},
    {0},
};

const struct wr_action wr_action_set_role = {
    .name = "set-role",
    .summary = "assign a directory role (POST roleAssignments); already assigned is success",
    .args = role_args,
};

const struct wr_action wr_action_remove_role = {
    .name = "remove-role",
    .summary = "remove a directory role assignment; not assigned is success",
    .args = role_args,
};
