/*
 * curl_loop — weir's one bridge between libcurl and libevent: a single curl multi handle
 * driven by the event loop (libcurl's multi_socket API, the pattern of curl's hiperfifo
 * example), so every HTTP client in the process shares one connection pool.
 *
 * The Graph client (engine/graph/graph.c) and the http-request action
 * (actions/http_request.c) both hand their easy handles to the same loop: the Graph client
 * owns one unless it is given one (wr_graph_options.curl), and actions reach the Graph
 * client's through wr_action_curl_loop. A connection a transfer leaves open is kept for the
 * next transfer to the same destination with compatible settings (host, port, scheme, TLS
 * options, proxy), whoever made it. A caller that must judge where its request goes (the SSRF
 * guard of http-request) therefore checks on every request, not only when a socket is opened:
 * a reused connection skips CURLOPT_OPENSOCKETFUNCTION, so it also uses
 * CURLOPT_PREREQFUNCTION, which libcurl calls for new and reused connections alike.
 *
 * Connection limits: CURLMOPT_MAXCONNECTS (the idle connections the pool keeps) is the sum of
 * what the users reserved with wr_curl_loop_reserve_connections; with no reservation it is
 * libcurl's default. The Graph client reserves its max_concurrency + 4, as it set for its own
 * multi before the pool was shared; http-request reserves nothing, so its idle connections
 * take places in that same pool: when more connections are idle than the pool keeps, libcurl
 * closes the oldest idle one, whichever client opened it. No limit is set per host or in
 * total (libcurl's defaults: none); the Graph client caps its own transfers in flight itself.
 *
 * It does not know HTTP, retries or what a transfer is for; it never logs. Completion is
 * reported per easy handle, always from one of the loop's own libevent callbacks (so on a
 * later loop turn than wr_curl_loop_add, and never from inside libcurl).
 */
#ifndef WR_CURL_LOOP_H
#define WR_CURL_LOOP_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct wr_curl_loop;

/*
 * Called once when easy's transfer is over, with its result. easy has already been removed
 * from the loop and is the caller's again (free it, or add it again). The callback may add
 * and remove other handles; it must not free the loop.
 */
typedef void (*wr_curl_loop_done_fn)(void *arg, CURL *easy, CURLcode result);

/*
 * A loop on base (borrowed; it must outlive the loop). Owned; NULL with a message in err when
 * libcurl or libevent cannot be set up.
 */
struct wr_curl_loop *wr_curl_loop_new(struct event_base *base, char *err, size_t errlen);

/*
 * Frees the loop and closes its connections. Transfers still added are removed without their
 * callbacks being called; their easy handles stay the callers' to free. NULL is fine.
 */
void wr_curl_loop_free(struct wr_curl_loop *l);

/* The event base the loop runs on (borrowed). */
struct event_base *wr_curl_loop_base(const struct wr_curl_loop *l);

/*
 * Starts easy's transfer (easy borrowed until done is called or it is removed). The loop uses
 * easy's CURLOPT_PRIVATE while it is added: the caller must not set or read it. done is
 * called exactly once, on a later loop turn, unless easy is removed or the loop freed first.
 * Returns 0, or -1 when libcurl refuses the handle (done is not called).
 */
int wr_curl_loop_add(struct wr_curl_loop *l, CURL *easy, wr_curl_loop_done_fn done, void *arg);

/*
 * Stops easy's transfer and gives easy back without calling its done. Nothing happens when
 * easy is not added (or was already reported done).
 */
void wr_curl_loop_remove(struct wr_curl_loop *l, CURL *easy);

/*
 * Adds n (negative to give a reservation back) to the idle connections the pool keeps
 * (CURLMOPT_MAXCONNECTS is the sum of the reservations; 0 = libcurl's default).
 */
void wr_curl_loop_reserve_connections(struct wr_curl_loop *l, long n);

/*
 * Connections opened so far by the loop's finished or removed transfers (CURLINFO_NUM_CONNECTS
 * summed): a reused connection counts nothing. For tests and benchmarks.
 */
uint64_t wr_curl_loop_connections(const struct wr_curl_loop *l);

#endif
