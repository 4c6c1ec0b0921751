/*
 * webhook_preset — what the HR systems admins connect send, as data: one row per vendor with
 * its signature recipe (the scheme, the header, what is signed, the timestamp), the bodies it
 * posts, the event id it carries and the setup handshake it expects. `auth: {type: NAME}` in a
 * webhook trigger selects a row; triggers/webhook/auth turns the recipe into a verifier,
 * triggers/webhook/request reads the bodies and the default id, triggers/webhook/server answers
 * the handshake, and `weir help auth` prints the table.
 *
 * The rows are written from the vendors' published documentation (see the comment of each).
 */
#ifndef WR_WEBHOOK_PRESET_H
#define WR_WEBHOOK_PRESET_H

#include <stdint.h>
#include <stdio.h>

/* The body formats a webhook path may accept (`accept:`), as bits. */
enum wr_webhook_body {
    WR_WEBHOOK_BODY_JSON = 1u,
    WR_WEBHOOK_BODY_FORM = 2u,
    WR_WEBHOOK_BODY_XML = 4u,
};

/* A setup exchange a vendor performs before (or beside) real deliveries. */
enum wr_webhook_handshake {
    WR_WEBHOOK_HANDSHAKE_NONE,
    WR_WEBHOOK_HANDSHAKE_VERIFICATION_TOKEN, /* Gusto: an unsigned {"verification_token": ...} */
    WR_WEBHOOK_HANDSHAKE_PING,               /* HiBob: a signed test POST, answered, no run */
};

struct wr_webhook_preset {
    const char *name;   /* the `type:` value */
    const char *vendor; /* for messages and help */
    const char *scheme; /* the generic type it expands to: "hmac", "bearer" or "basic" */
    /* hmac only */
    const char *header;              /* where the signature is */
    const char *algorithm;           /* "sha256" or "sha512" */
    const char *encoding;            /* "hex" or "base64" */
    const char *const *signed_parts; /* `signed:` parts, NULL-terminated */
    const char *timestamp_header;    /* NULL: the vendor sends no timestamp */
    const char *timestamp_format;    /* "unix", "unix_ms" or "iso8601" */
    unsigned accept;                 /* wr_webhook_body bits when `accept:` is not given */
    const char *default_id;          /* an `id:` template over the whole body, or NULL */
    enum wr_webhook_handshake handshake;
    const char *secret_help; /* what the secret holds, for help */
};

/* The presets, ending with a row whose name is NULL. */
extern const struct wr_webhook_preset wr_webhook_presets[];

/* The preset named name (borrowed, static), or NULL when name is no preset. */
const struct wr_webhook_preset *wr_webhook_preset_find(const char *name);

/* Parses one `accept:` word ("json", "form", "xml") into its bit; 0 when unknown. */
unsigned wr_webhook_body_bit(const char *word);

/* Writes the accepted formats of mask as "json, form" into buf (always terminated). */
void wr_webhook_body_names(unsigned mask, char *buf, size_t buflen);

/* Prints what each preset means (the `weir help auth` table) to f. */
void wr_webhook_preset_help(FILE *f);

#endif
