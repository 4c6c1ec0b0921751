/*
 * manager — set-manager (PUT /users/{id}/manager/$ref). Both ends are user references.
 */
#include "actions/action.h"

static const struct wr_argspec set_manager_args[] = {
    WR_ARGSPEC_USER,
    {.name = "manager",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "the manager: object id, userPrincipalName, mail or employeeId:VALUE"},
    {0},
};

const struct wr_action wr_action_set_manager = {
    .name = "set-manager",
    .summary = "set the user's manager; the same manager already set is success",
    .args = set_manager_args,
};
