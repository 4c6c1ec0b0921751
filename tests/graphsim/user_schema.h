/*
 * user_schema.h: the microsoft.graph.user property table (GENERATED, do not edit).
 *
 * Produced by gen_user_schema.py from Microsoft's Graph v1.0 CSDL (msgraph-metadata,
 * clean_v10_metadata/cleanMetadata.xml): the user EntityType and its base types
 * directoryObject and entity. Which properties weir may PATCH with application
 * permissions comes from GRAPH.md section 2. This is data only; lookups live in
 * tenant.c. It is not a full OData model: navigation properties are names only.
 */
#ifndef GS_USER_SCHEMA_H
#define GS_USER_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

/* The EDM kind of a property's (element) type. */
enum gs_edm {
    GS_EDM_STRING,
    GS_EDM_BOOLEAN,
    GS_EDM_INT32,
    GS_EDM_INT64,
    GS_EDM_DOUBLE,
    GS_EDM_GUID,
    GS_EDM_DATETIMEOFFSET,
    GS_EDM_DATE,
    GS_EDM_BINARY,
    GS_EDM_ENUM,
    GS_EDM_COMPLEX,
};

/* Who may write a property through PATCH /users/{id}. */
enum gs_access {
    GS_ACCESS_READ_ONLY,      /* computed or read-only: never writable */
    GS_ACCESS_APP_WRITABLE,   /* writable with application permissions */
    GS_ACCESS_DELEGATED_ONLY, /* writable only with delegated permissions */
};

struct gs_complex;

/* One structural property. type is the CSDL element type without Collection(). */
struct gs_prop {
    const char *name;
    const char *type;
    enum gs_edm edm;
    bool collection;
    bool nullable;
    enum gs_access access;
    const struct gs_complex *complex; /* members, when described; else NULL */
};

/* A complex type's members; open types accept members not listed. */
struct gs_complex {
    const char *name;
    bool open;
    size_t nprops;
    const struct gs_prop *props;
};

/* Indexes into gs_user_props, sorted case-insensitively by name. */
enum gs_user_prop {
    GS_U_ABOUT_ME,
    GS_U_ACCOUNT_ENABLED,
    GS_U_AGE_GROUP,
    GS_U_ASSIGNED_LICENSES,
    GS_U_ASSIGNED_PLANS,
    GS_U_AUTHORIZATION_INFO,
    GS_U_BIRTHDAY,
    GS_U_BUSINESS_PHONES,
    GS_U_CITY,
    GS_U_COMPANY_NAME,
    GS_U_CONSENT_PROVIDED_FOR_MINOR,
    GS_U_COUNTRY,
    GS_U_CREATED_DATE_TIME,
    GS_U_CREATION_TYPE,
    GS_U_CUSTOM_SECURITY_ATTRIBUTES,
    GS_U_DELETED_DATE_TIME,
    GS_U_DEPARTMENT,
    GS_U_DEVICE_ENROLLMENT_LIMIT,
    GS_U_DISPLAY_NAME,
    GS_U_EMPLOYEE_HIRE_DATE,
    GS_U_EMPLOYEE_ID,
    GS_U_EMPLOYEE_LEAVE_DATE_TIME,
    GS_U_EMPLOYEE_ORG_DATA,
    GS_U_EMPLOYEE_TYPE,
    GS_U_EXTERNAL_USER_STATE,
    GS_U_EXTERNAL_USER_STATE_CHANGE_DATE_TIME,
    GS_U_FAX_NUMBER,
    GS_U_GIVEN_NAME,
    GS_U_HIRE_DATE,
    GS_U_ID,
    GS_U_IDENTITIES,
    GS_U_IDENTITY_PARENT_ID,
    GS_U_IM_ADDRESSES,
    GS_U_INTERESTS,
    GS_U_IS_MANAGEMENT_RESTRICTED,
    GS_U_IS_RESOURCE_ACCOUNT,
    GS_U_JOB_TITLE,
    GS_U_LAST_PASSWORD_CHANGE_DATE_TIME,
    GS_U_LEGAL_AGE_GROUP_CLASSIFICATION,
    GS_U_LICENSE_ASSIGNMENT_STATES,
    GS_U_MAIL,
    GS_U_MAILBOX_SETTINGS,
    GS_U_MAIL_NICKNAME,
    GS_U_MOBILE_PHONE,
    GS_U_MY_SITE,
    GS_U_OFFICE_LOCATION,
    GS_U_ON_PREMISES_DISTINGUISHED_NAME,
    GS_U_ON_PREMISES_DOMAIN_NAME,
    GS_U_ON_PREMISES_EXTENSION_ATTRIBUTES,
    GS_U_ON_PREMISES_IMMUTABLE_ID,
    GS_U_ON_PREMISES_LAST_SYNC_DATE_TIME,
    GS_U_ON_PREMISES_PROVISIONING_ERRORS,
    GS_U_ON_PREMISES_SAM_ACCOUNT_NAME,
    GS_U_ON_PREMISES_SECURITY_IDENTIFIER,
    GS_U_ON_PREMISES_SYNC_ENABLED,
    GS_U_ON_PREMISES_USER_PRINCIPAL_NAME,
    GS_U_OTHER_MAILS,
    GS_U_PASSWORD_POLICIES,
    GS_U_PASSWORD_PROFILE,
    GS_U_PAST_PROJECTS,
    GS_U_POSTAL_CODE,
    GS_U_PREFERRED_DATA_LOCATION,
    GS_U_PREFERRED_LANGUAGE,
    GS_U_PREFERRED_NAME,
    GS_U_PRINT,
    GS_U_PROVISIONED_PLANS,
    GS_U_PROXY_ADDRESSES,
    GS_U_RESPONSIBILITIES,
    GS_U_SCHOOLS,
    GS_U_SECURITY_IDENTIFIER,
    GS_U_SERVICE_PROVISIONING_ERRORS,
    GS_U_SHOW_IN_ADDRESS_LIST,
    GS_U_SIGN_IN_ACTIVITY,
    GS_U_SIGN_IN_SESSIONS_VALID_FROM_DATE_TIME,
    GS_U_SKILLS,
    GS_U_STATE,
    GS_U_STREET_ADDRESS,
    GS_U_SURNAME,
    GS_U_USAGE_LOCATION,
    GS_U_USER_PRINCIPAL_NAME,
    GS_U_USER_TYPE,
    GS_U_COUNT
};

extern const struct gs_prop gs_user_props[GS_U_COUNT];
extern const char *const gs_user_navigation[];
extern const size_t gs_user_navigation_count;
extern const struct gs_complex gs_complex_assigned_license;
extern const struct gs_complex gs_complex_custom_security_attribute_value;
extern const struct gs_complex gs_complex_employee_org_data;
extern const struct gs_complex gs_complex_object_identity;
extern const struct gs_complex gs_complex_on_premises_extension_attributes;
extern const struct gs_complex gs_complex_password_profile;

#endif
