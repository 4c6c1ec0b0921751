/*
 * webhook_setup — what an HR system does besides delivering events: the setup handshakes
 * (Gusto's unsigned verification_token POST, HiBob's test ping) and `weir webhooks`, which
 * lists the webhook paths of the loaded workflows with how each is verified, what it accepts
 * and which verification tokens arrived and still wait for the admin.
 *
 * A verification token is remembered in the journal's trigger_state (scope "webhook PATH",
 * name "verification"; the newest one per path), committed before the 200 that acknowledges
 * it. It stays "pending" until a secret of that path equals it. This module neither logs nor
 * answers: the server does, with what it returns.
 */
#ifndef WR_WEBHOOK_SETUP_H
#define WR_WEBHOOK_SETUP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct wr_trigger_env;
struct wr_webhook_preset;
struct wr_workflow_set;

/* The longest verification token taken (Gusto's are short; a long one is not a token). */
#define WR_WEBHOOK_TOKEN_MAX 256

/*
 * Whether a request (its signature header's value sig, NULL when absent, and its raw body) is
 * preset p's verification handshake: p expects one, the request is not signed, and the body is
 * a JSON object holding only "verification_token", a printable string of 1 to
 * WR_WEBHOOK_TOKEN_MAX bytes. On true *token is that token (owned).
 */
bool wr_webhook_verification(const struct wr_webhook_preset *p, const char *sig, const char *body,
                             size_t len, char **token);

/* Whether an authenticated request's body is preset p's test ping ({}, an empty body, or an
   object whose "type" is "ping", "test" or "webhook.test"). */
bool wr_webhook_ping(const struct wr_webhook_preset *p, const char *body, size_t len);

/* The trigger_state scope of path's setup records (owned). */
char *wr_webhook_setup_scope(const char *path);

/* The record of one verification token (owned JSON text): token, peer, received_at. */
char *wr_webhook_verification_record(const char *token, const char *peer, int64_t received_at);

/* `weir webhooks`: see trigger.h (describe and print_description). */
int wr_webhook_describe(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                        struct json_object **out, char *err, size_t errlen);
void wr_webhook_print_description(struct json_object *d, FILE *f);

#endif
