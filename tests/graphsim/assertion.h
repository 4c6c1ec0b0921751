/*
 * assertion.h: certificates registered on the simulated app, and the verification of the JWT
 * client assertions signed with them (the certificate variant of the client-credentials grant,
 * GRAPH.md section 1).
 *
 * A registered certificate is kept as its public key and its two thumbprints (x5t = base64url
 * SHA-1 of the DER, x5t#S256 = base64url SHA-256). gs_assertion_check decides whether an
 * assertion is acceptable and, when it is not, which identity-platform error it earns; server.c
 * turns that into the HTTP answer. Nothing here speaks HTTP or knows the tenant.
 */
#ifndef GS_ASSERTION_H
#define GS_ASSERTION_H

#include <stdbool.h>
#include <stddef.h>

struct gs_cert;

/* Parses one PEM certificate. Returns an owned certificate, or NULL with a reason in err. */
struct gs_cert *gs_cert_new(const char *pem, char *err, size_t errlen);

/* Frees a certificate; NULL is accepted. */
void gs_cert_free(struct gs_cert *c);

/* The certificate's x5t (base64url SHA-1 thumbprint of its DER); borrowed. */
const char *gs_cert_x5t(const struct gs_cert *c);

/* The certificate's x5t#S256 (base64url SHA-256 thumbprint); borrowed. */
const char *gs_cert_x5t_s256(const struct gs_cert *c);

/* Why an assertion was refused: the OAuth error, the AADSTS code and the message after it. */
struct gs_assertion_error {
    int status;        /* HTTP status: 401 */
    const char *error; /* "invalid_client" */
    int code;          /* 700027, 700024, 700021 or 50027 */
    char message[512];
};

/*
 * Verifies jwt as a client assertion for client_id presented at token_url ("http://host:port
 * /tenant/oauth2/v2.0/token", what the request was sent to) at wall-clock time now (Unix
 * seconds), against the ncerts registered certificates. Checks, in this order: three base64url
 * parts with JSON objects for header and claims (else 50027), alg PS256 or RS256 (50027), x5t
 * and/or x5t#S256 naming one registered certificate (700027, key not found), the signature
 * (RSASSA-PSS with SHA-256 and a 32-byte salt for PS256, PKCS#1 v1.5 for RS256) with that
 * certificate's public key (700027), aud equal to token_url compared as scheme, host, port
 * and path (50027), iss = sub = client_id (700021), exp in the future and at most one day ahead,
 * nbf (when present) at most five minutes ahead (700024). Returns true when acceptable;
 * otherwise false with out filled.
 */
bool gs_assertion_check(const char *jwt, struct gs_cert *const *certs, size_t ncerts,
                        const char *client_id, const char *token_url, double now,
                        struct gs_assertion_error *out);

#endif
