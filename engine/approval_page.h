/*
 * approval_page — the page behind an approval link: GET /approvals/TOKEN shows the request,
 * POST decides it.
 *
 * A link is a capability: whoever holds it decides as the approver it was made for. The page
 * looks the token up by its hash (engine/store/approval), checks that it is the token the
 * key makes for that request and approver (engine/base/captoken), and then:
 *   GET/HEAD  200, a small HTML page (workflow, run, message, the approver, the plan of the
 *             steps that follow, the state) with Approve and Reject buttons while it is open.
 *             A GET never decides: mail scanners and chat unfurlers fetch links.
 *   POST      application/x-www-form-urlencoded `decision=approve|reject` and optional
 *             `reason=` (at most 4 KiB): records the decision (the first one wins), answers
 *             200 "Approved"/"Rejected" and wakes the daemon's runner.
 * Answers that name nothing: 404 for a malformed, unknown or tampered token, 410 for an
 * expired request (GET too), 409 when a decision was already recorded, 400 for a bad form, 405
 * for other methods, 500 when the journal cannot be read. Every page is HTML-escaped and sent
 * with a CSP that allows no script, X-Frame-Options: DENY, no referrer and no caching.
 *
 * The page is not a listener: an HTTP trigger kind mounts it (triggers/trigger.h,
 * wr_trigger_env.mount_prefix) and hands it every request under /approvals/.
 */
#ifndef WR_APPROVAL_PAGE_H
#define WR_APPROVAL_PAGE_H

#include <stddef.h>

struct evhttp_request;
struct wr_approval_page;

/* The path prefix the page serves. */
#define WR_APPROVAL_PAGE_PREFIX "/approvals/"

/* The most bytes of a POST body the page reads; more is refused (413). */
#define WR_APPROVAL_PAGE_MAX_BODY 4096

/*
 * Opens the page: a read-write connection on the journal at state_path (which must exist:
 * open the journal first) and the key of approval links (created when missing; see
 * engine/store/approval_key). wake(arg) (may be NULL) is called on the loop after each decision was
 * recorded. Returns the page (owned: wr_approval_page_free), or NULL with a message in err.
 */
struct wr_approval_page *wr_approval_page_new(const char *state_path, void (*wake)(void *arg),
                                              void *arg, char *err, size_t errlen);

/* Closes the connection and wipes the key. NULL is fine. */
void wr_approval_page_free(struct wr_approval_page *p);

/* The evhttp handler for every request whose path starts with WR_APPROVAL_PAGE_PREFIX; arg is
   the page (borrowed). Answers on the spot. */
void wr_approval_page_serve(struct evhttp_request *req, void *arg);

#endif
