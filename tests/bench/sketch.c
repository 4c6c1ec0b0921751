/*
 * sketch — the second reference for the ingest benchmark: the least a durable webhook
 * receiver can do here. evhttp reads each POST body, one writer thread inserts the raw bodies
 * into SQLite (WAL, synchronous=FULL, one table, no index but the rowid) with group commit,
 * and each request gets its 202 only after its transaction committed. No JSON parsing, no
 * idempotency keys, no matching, no runs: what weir adds on top of this is what separates
 * weir's figure from this one, and this one from the ceiling is the price of the fsync.
 *
 * Usage: sketch DBFILE   (listens on a free port, printed as "sketch listening on PORT")
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* One request waiting for its commit. */
struct item {
    struct evhttp_request *req;
    char *body;
    size_t len;
    struct item *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct item *queue, *queue_tail; /* loop -> writer */
static struct item *done;               /* writer -> loop */
static struct event *done_ev;
static bool stopping;
static sqlite3 *db;

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct item *it = calloc(1, sizeof(*it));
    it->req = req;
    it->len = evbuffer_get_length(in);
    it->body = malloc(it->len + 1);
    evbuffer_remove(in, it->body, it->len);
    pthread_mutex_lock(&lock);
    if (queue_tail) {
        queue_tail->next = it;
    } else {
        queue = it;
    }
    queue_tail = it;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

/* Everything that queued up while the last commit was in flight shares the next one. */
static void *writer(void *arg)
{
    sqlite3_stmt *ins = arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (!queue && !stopping) {
            pthread_cond_wait(&wake, &lock);
        }
        struct item *group = queue;
        queue = queue_tail = NULL;
        pthread_mutex_unlock(&lock);
        if (!group) {
            return NULL;
        }
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        struct item *last = group;
        for (struct item *it = group; it; it = it->next) {
            sqlite3_bind_text(ins, 1, it->body, (int)it->len, SQLITE_STATIC);
            sqlite3_step(ins);
            sqlite3_reset(ins);
            last = it;
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        pthread_mutex_lock(&lock);
        last->next = done;
        done = group;
        pthread_mutex_unlock(&lock);
        event_active(done_ev, EV_READ, 0);
    }
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    pthread_mutex_lock(&lock);
    struct item *list = done;
    done = NULL;
    pthread_mutex_unlock(&lock);
    while (list) {
        struct item *it = list;
        list = it->next;
        struct evbuffer *out = evbuffer_new();
        evbuffer_add_printf(out, "{\"event_id\":\"ev_0\",\"runs\":1}\n");
        evhttp_add_header(evhttp_request_get_output_headers(it->req), "Content-Type",
                          "application/json");
        evhttp_send_reply(it->req, 202, "Accepted", out);
        evbuffer_free(out);
        free(it->body);
        free(it);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sketch DBFILE\n");
        return 2;
    }
    sqlite3_stmt *ins = NULL;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, body TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO events (body) VALUES (?)", -1, &ins, NULL) !=
            SQLITE_OK) {
        fprintf(stderr, "sketch: %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 1;
    }
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    if (!bs) {
        fprintf(stderr, "sketch: cannot listen\n");
        return 1;
    }
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
    evhttp_set_gencb(http, on_request, NULL);
    done_ev = event_new(base, -1, 0, on_done, NULL);
    pthread_t th;
    pthread_create(&th, NULL, writer, ins);
    struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
    evsignal_add(term, NULL);
    printf("sketch listening on %d\n", ntohs(sin.sin_port));
    fflush(stdout);
    event_base_dispatch(base);
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(th, NULL);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    event_free(term);
    event_free(done_ev);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
