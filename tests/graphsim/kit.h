/*
 * kit.h: what weir's action kit (issue 18) needs of a tenant beyond the directory: Temporary
 * Access Pass methods under a TAP policy, and users' OneDrives with their root's sharing
 * permissions.
 *
 * The state (passes, permissions) belongs to the current tenant and is dropped when the tenant
 * changes (/_sim/reset). The policy and the users without OneDrive are behaviour switches in
 * struct gs_kit_model (part of struct gs_model, set through /_sim/faults).
 */
#ifndef GS_KIT_H
#define GS_KIT_H

#include <json-c/json.h>
#include <stdbool.h>

#define GS_KIT_MAX_LIST 16

/* A zeroed model is the default policy: enabled, lifetimes 60..480 minutes (default 60),
   multi-use passes allowed, nobody excluded; every user has a OneDrive. */
struct gs_kit_model {
    bool tap_disabled;                       /* the TAP policy's state is "disabled" */
    long tap_min;                            /* minimumLifetimeInMinutes; 0 = 60 */
    long tap_max;                            /* maximumLifetimeInMinutes; 0 = 480 */
    long tap_default;                        /* defaultLifetimeInMinutes; 0 = tap_min */
    bool tap_once_only;                      /* isUsableOnce: only one-time passes */
    char tap_excluded[GS_KIT_MAX_LIST][128]; /* user ids or UPNs the policy excludes */
    int ntap_excluded;
    char no_drive[GS_KIT_MAX_LIST][128]; /* user ids or UPNs without a OneDrive */
    int nno_drive;
    bool drive_forbidden; /* OneDrive requests answer 403 accessDenied (no Files permission) */
};

struct gs_ctx;
struct gs_req;
struct gs_resp;
struct gs_user;

/* Applies /_sim/faults member key ("tap_policy", "no_onedrive", "onedrive_forbidden") to m.
 * Returns false (m unchanged) for another key or an invalid value. */
bool gs_kit_model_set(struct gs_kit_model *m, const char *key, json_object *val);

/* Adds the kit's settings to a /_sim/faults answer (obj, borrowed). */
void gs_kit_model_json(const struct gs_kit_model *m, json_object *obj);

/* /users/{id}/authentication/... (req->seg[2] == "authentication") for visible user u (NULL:
 * not found). */
void gs_kit_user_authentication(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                                struct gs_user *u);

/* GET /users/{id}/drive for visible user u (NULL: not found). */
void gs_kit_user_drive(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                       struct gs_user *u);

/* /drives/... (req->seg[0] == "drives"). */
void gs_kit_drives(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp);

#endif
