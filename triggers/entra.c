/*
 * entra — what the directory trigger kinds share; see entra.h.
 */
#include "triggers/entra.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "engine/base/duration.h"
#include "engine/base/strutil.h"

/*
 * The Edm.DateTimeOffset properties of EntityType user in Graph's v1.0 metadata
 * (/work/shared/graph/cleanMetadata.xml). directoryObject's deletedDateTime is left out on
 * purpose: /users lists no deleted user, so a trigger on it would never fire. Whether Graph
 * accepts ge/le on a property in a $filter is Graph's call (employeeHireDate,
 * employeeLeaveDateTime and createdDateTime do); a refusal is a 400 at the first poll.
 */
const char *const wr_entra_user_dates[] = {
    "employeeHireDate",
    "employeeLeaveDateTime",
    "createdDateTime",
    "birthday",
    "hireDate",
    "externalUserStateChangeDateTime",
    "lastPasswordChangeDateTime",
    "onPremisesLastSyncDateTime",
    "signInSessionsValidFromDateTime",
    NULL,
};

/* Every Property of EntityType entity, directoryObject and user in the same metadata, in its
   order: what `select:` may name. */
const char *const wr_entra_user_properties[] = {
    "id",
    "deletedDateTime",
    "aboutMe",
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "assignedPlans",
    "authorizationInfo",
    "birthday",
    "businessPhones",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "createdDateTime",
    "creationType",
    "customSecurityAttributes",
    "department",
    "deviceEnrollmentLimit",
    "displayName",
    "employeeHireDate",
    "employeeId",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "employeeType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "faxNumber",
    "givenName",
    "hireDate",
    "identities",
    "identityParentId",
    "imAddresses",
    "interests",
    "isManagementRestricted",
    "isResourceAccount",
    "jobTitle",
    "lastPasswordChangeDateTime",
    "legalAgeGroupClassification",
    "licenseAssignmentStates",
    "mail",
    "mailboxSettings",
    "mailNickname",
    "mobilePhone",
    "mySite",
    "officeLocation",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "passwordPolicies",
    "passwordProfile",
    "pastProjects",
    "postalCode",
    "preferredDataLocation",
    "preferredLanguage",
    "preferredName",
    "print",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "securityIdentifier",
    "serviceProvisioningErrors",
    "showInAddressList",
    "signInActivity",
    "signInSessionsValidFromDateTime",
    "skills",
    "state",
    "streetAddress",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
    NULL,
};

const char *const wr_entra_user_fixed[] = {
    "id", "userPrincipalName", "displayName", "mail", "employeeId", "accountEnabled", NULL,
};

static bool listed(const char *const *list, const char *name)
{
    for (size_t k = 0; list[k]; k++) {
        if (strcmp(list[k], name) == 0) {
            return true;
        }
    }
    return false;
}

void wr_entra_check_properties(struct wr_check *c, struct json_object *args, const char *path,
                               const char *key, const char *also, bool need_one)
{
    struct json_object *list = NULL;
    if (!json_object_object_get_ex(args, key, &list) ||
        !json_object_is_type(list, json_type_array)) {
        return; /* absent or not a list: the table said so */
    }
    char *lp = wr_path_key(path, key);
    if (need_one && json_object_array_length(list) == 0) {
        wr_check_error(c, lp, false, "needs at least one user property");
    }
    const char *const also_list[] = {also, NULL};
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *e = json_object_array_get_idx(list, i);
        const char *name =
            json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
        if (!name || listed(wr_entra_user_properties, name) || (also && strcmp(name, also) == 0)) {
            continue; /* not a string: the table said so */
        }
        char *p = wr_path_index(lp, i);
        const char *sug = wr_suggest(name, wr_entra_user_properties);
        if (!sug && also) {
            sug = wr_suggest(name, also_list);
        }
        if (sug) {
            wr_check_error(c, p, false, "unknown user property '%s' (did you mean '%s'?)", name,
                           sug);
        } else {
            wr_check_error(c, p, false, "unknown user property '%s' (see Graph's user resource)",
                           name);
        }
        free(p);
    }
    free(lp);
}

void wr_entra_check_every(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *v = NULL;
    int64_t ms = 0;
    if (json_object_object_get_ex(args, "every", &v) && json_object_is_type(v, json_type_string) &&
        wr_duration_parse(json_object_get_string(v), &ms, NULL, 0) == 0 &&
        ms < WR_ENTRA_EVERY_MIN_MS) {
        char *p = wr_path_key(path, "every");
        wr_check_error(c, p, false, "must be at least 1s");
        free(p);
    }
}

#ifdef __GLIBC__
static void trim(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    malloc_trim(0);
}
#endif

void wr_entra_give_back(struct event_base *base, int pages)
{
#ifdef __GLIBC__
    struct timeval now = {0, 0};
    if (pages >= 20) {
        event_base_once(base, -1, EV_TIMEOUT, trim, NULL, &now);
    }
#else
    (void)base;
    (void)pages;
#endif
}

struct preview {
    struct json_object *p;
    char *error;
    void (*done)(void *arg, struct json_object *preview, const char *error);
    void *arg;
};

static void on_preview(evutil_socket_t fd, short what, void *arg)
{
    struct preview *pv = arg;
    (void)fd;
    (void)what;
    pv->done(pv->arg, pv->p, pv->error);
    json_object_put(pv->p);
    free(pv->error);
    free(pv);
}

int wr_entra_preview_later(struct event_base *base, struct json_object *preview, const char *error,
                           void (*done)(void *arg, struct json_object *preview, const char *error),
                           void *arg, char *err, size_t errlen)
{
    struct preview *pv = wr_xcalloc(1, sizeof(*pv));
    pv->p = preview;
    pv->error = preview ? NULL : wr_xstrdup(error ? error : "no preview");
    pv->done = done;
    pv->arg = arg;
    struct timeval now = {0, 0};
    if (event_base_once(base, -1, EV_TIMEOUT, on_preview, pv, &now) != 0) {
        json_object_put(pv->p);
        free(pv->error);
        free(pv);
        snprintf(err, errlen, "cannot schedule the preview");
        return -1;
    }
    return 0;
}
