/*
 * license — assign-license and remove-all-licenses. SKUs are named by skuPartNumber
 * (SPE_E3) or skuId; resolving them against /subscribedSkus happens at run time.
 */
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"

static const struct wr_argspec assign_license_args[] = {
    WR_ARGSPEC_USER,
    {.name = "add", .type = WR_ARG_STRINGS, .help = "SKUs to assign (skuPartNumber or skuId)"},
    {.name = "remove", .type = WR_ARG_STRINGS, .help = "SKUs to remove (skuPartNumber or skuId)"},
    {.name = "disabled_plans",
     .type = WR_ARG_STRINGS,
     .help = "service plan ids to leave off in the added SKUs"},
    {.name = "usage_location",
     .type = WR_ARG_STRING,
     .help = "two-letter country code set first when the user has none"},
    {0},
};

static void assign_license_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *add = NULL, *remove = NULL, *ul = NULL;
    bool has_add = json_object_object_get_ex(args, "add", &add);
    bool has_remove = json_object_object_get_ex(args, "remove", &remove);

    if (!has_add && !has_remove) {
        wr_check_error(c, path, false, "assign-license needs 'add' or 'remove' (or both)");
    }
    if (has_add && has_remove && json_object_is_type(add, json_type_array) &&
        json_object_is_type(remove, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(add); i++) {
            const char *a = json_object_get_string(json_object_array_get_idx(add, i));
            for (size_t j = 0; a && j < json_object_array_length(remove); j++) {
                const char *r = json_object_get_string(json_object_array_get_idx(remove, j));
                if (r && strcmp(a, r) == 0) {
                    char *p = wr_path_key(path, "remove");
                    wr_check_error(c, p, false, "'%s' is both added and removed", a);
                    free(p);
                }
            }
        }
    }
    if (json_object_object_get_ex(args, "usage_location", &ul) &&
        json_object_is_type(ul, json_type_string)) {
        const char *s = json_object_get_string(ul);
        if (!strstr(s, "{{") &&
            (strlen(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')) {
            char *p = wr_path_key(path, "usage_location");
            wr_check_error(c, p, false, "'%s' is not a two-letter country code (e.g. DE, US)", s);
            free(p);
        }
    }
}

const struct wr_action wr_action_assign_license = {
    .name = "assign-license",
    .summary = "add and remove licenses (POST /users/{id}/assignLicense), only what differs",
    .args = assign_license_args,
    .validate = assign_license_validate,
};

static const struct wr_argspec user_only_args[] = {
    WR_ARGSPEC_USER,
    {0},
};

const struct wr_action wr_action_remove_all_licenses = {
    .name = "remove-all-licenses",
    .summary = "remove every license the user holds (assignLicense with all SKUs removed)",
    .args = user_only_args,
};
