/*
 * user — the actions on a user object itself: update-user, create-user, disable-user,
 * enable-user, delete-user and revoke-sessions. Each is a descriptor with its argument table;
 * they share nothing but the `user` argument.
 */
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"

static const struct wr_argspec user_only_args[] = {
    WR_ARGSPEC_USER,
    {0},
};

static const struct wr_argspec update_user_args[] = {
    WR_ARGSPEC_USER,
    {.name = "set",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_REQUIRED,
     .help = "Graph user properties to set; only those that differ are written"},
    {0},
};

static void update_user_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *set = NULL;
    if (json_object_object_get_ex(args, "set", &set) &&
        json_object_is_type(set, json_type_object) && json_object_object_length(set) == 0) {
        char *p = wr_path_key(path, "set");
        wr_check_error(c, p, false, "is empty: name at least one property to set");
        free(p);
    }
}

static const struct wr_argspec create_user_args[] = {
    {.name = "set",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_REQUIRED,
     .help = "the new user's properties: userPrincipalName, displayName and mailNickname "
             "required; accountEnabled defaults to true; a strong password is generated"},
    {0},
};

static void create_user_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    static const char *const required[] = {"userPrincipalName", "displayName", "mailNickname"};
    struct json_object *set = NULL;
    if (!json_object_object_get_ex(args, "set", &set) ||
        !json_object_is_type(set, json_type_object)) {
        return; /* a template, or already reported */
    }
    char *p = wr_path_key(path, "set");
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!json_object_object_get_ex(set, required[i], NULL)) {
            wr_check_error(c, p, false, "create-user needs '%s' in 'set'", required[i]);
        }
    }
    free(p);
}

const struct wr_action wr_action_update_user = {
    .name = "update-user",
    .summary = "PATCH a user's properties (PATCH /users/{id}), writing only what differs",
    .args = update_user_args,
    .validate = update_user_validate,
};

const struct wr_action wr_action_create_user = {
    .name = "create-user",
    .summary = "create a user (POST /users); an existing user with the same employeeId is success",
    .args = create_user_args,
    .validate = create_user_validate,
};

const struct wr_action wr_action_disable_user = {
    .name = "disable-user",
    .summary = "block sign-in (PATCH accountEnabled=false)",
    .args = user_only_args,
};

const struct wr_action wr_action_enable_user = {
    .name = "enable-user",
    .summary = "allow sign-in (PATCH accountEnabled=true)",
    .args = user_only_args,
};

const struct wr_action wr_action_delete_user = {
    .name = "delete-user",
    .summary = "delete a user (DELETE /users/{id}); an already deleted user is success",
    .args = user_only_args,
};

const struct wr_action wr_action_revoke_sessions = {
    .name = "revoke-sessions",
    .summary = "sign the user out everywhere (POST /users/{id}/revokeSignInSessions)",
    .args = user_only_args,
};
