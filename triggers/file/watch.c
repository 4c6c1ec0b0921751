/*
 * file_watch — inotify on the file-trigger directories, rows to ingest, files to done/ or
 * failed/; see file_watch.h.
 *
 * One inotify descriptor serves every directory and sits on the libevent loop. Each file being
 * handled is a job keyed by (directory, name) that goes through three states:
 *
 *   settling  closed by its writer (IN_CLOSE_WRITE) or found at start: it waits until its
 *             size and mtime have stayed the same for `settle`, so that a file written in
 *             place in several open/close cycles is read once, whole. A file renamed into the
 *             directory (IN_MOVED_TO) is complete and skips this, as does a settle of 0s.
 *   reading   on the watch's reader thread: opened without following a symlink and without
 *             blocking on a FIFO, checked to be a regular file, read, hashed, parsed, checked
 *             against the workflows' `columns:`, and turned into events (their JSON text
 *             too). The result comes back to the loop with event_active, as the journal
 *             hands back its commits; nothing of the job is touched by both threads.
 *   feeding   on the loop thread, in slices of about a millisecond per loop turn (`when:`
 *             and concurrency_key run in the workflows' Lua states, which belong to the
 *             loop): rows are matched into chunks of CHUNK_ROWS, one chunk committed at a
 *             time, so a webhook's commit never queues behind a whole file's. The answer goes
 *             back to the reader thread to be freed (see reader_dispose).
 *
 * Then the file moves to done/ (every chunk committed) or failed/ (with NAME.error). A chunk
 * whose commit failed is matched and committed again after WR_FILE_RETRY_MS. Keys are
 * "file:<sha256>:<row>", so rows committed before a crash or a stop are duplicates when the
 * file is taken again. Jobs, rules and the reader's queues are the only state that outlives
 * a callback.
 */
#include "triggers/file/watch.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "triggers/file/csv.h"
#include "triggers/trigger.h"
#include "engine/base/clock.h"
#include "engine/base/duration.h"
#include "engine/store/ingest.h"
#include "engine/base/log.h"
#include "engine/base/size.h"
#include "engine/base/strutil.h"

/* IN_CREATE: a FIFO, socket or symlink made in place is never closed after writing; a
   regular file's creation is ignored (its close is what counts). IN_MODIFY restarts a
   settling file's clock. */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_ONLYDIR)
/* Attempts at a free name in done/ or failed/ before giving up. */
#define MAX_SUFFIX 10000
/* Rows per commit: small enough that a webhook's commit waiting for a chunk's is not held up
   for long (a 256-row chunk took 4-6 ms to commit, 128 about half), large enough that a
   100,000-row file needs few fsyncs (64 made the file take noticeably longer). */
#define CHUNK_ROWS 128
/* Rows matched between looks at the clock, and the time one loop turn may spend matching. */
#define SLICE_ROWS 8
#define SLICE_US   1000
/* The reader thread's nice value (the loop's is the process's, normally 0). */
#define READER_NICE 10
/* Files refused as the rest of an earlier one, remembered per workflow: taken when they come
   back unchanged (a complete file with a new header is dropped again). */
#define REFUSED_MAX 16

/* One workflow reading a directory. */
struct rule {
    const struct wr_workflow *wf;
    const char *pattern; /* borrowed from the workflow's trigger arguments */
    const char *format_name;
    enum wr_csv_format format;
    size_t max_bytes;     /* the workflow's `max_bytes`; 0 = the watch's limit */
    size_t max_rows;      /* the workflow's `max_rows`; 0 = the watch's limit */
    int64_t settle_ms;    /* the workflow's `settle` */
    const char **columns; /* the workflow's `columns` (strings borrowed), or NULL */
    size_t ncolumns;
    char **last_header; /* the header of the last CSV file this workflow took (owned) */
    size_t last_ncols;
    char *last_file;
    char refused[REFUSED_MAX][65]; /* content hashes of files refused as continuations */
    size_t nrefused;
};

struct watch_dir {
    char *path; /* canonical (realpath) */
    char *done;
    char *failed;
    int wd; /* -1 once the directory went away */
    struct rule *rules;
    size_t nrules;
    char **dirs_seen; /* subdirectories already logged as not taken */
    size_t ndirs_seen;
};

enum job_state {
    JOB_SETTLING,
    JOB_READING,
    JOB_FEEDING,
};

/* The file as stat(2) shows it: what "unchanged" compares. */
struct snap {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct job;

/* What the reader thread is asked, and what it answers. Owned by one thread at a time. */
enum read_outcome {
    READ_OK,
    READ_GONE,        /* no such file any more */
    READ_CHANGED,     /* written to while (or since it settled and before it was) read */
    READ_NOT_REGULAR, /* a FIFO, socket, device or directory: kind says which */
    READ_SYMLINK,
    READ_TOO_BIG,
    READ_IO, /* cannot be opened or read: error says why */
    READ_BAD /* read, but refused: errors says why */
};

struct column_set {
    char *who; /* "columns: of workflow NAME" */
    char **names;
    size_t n;
};

struct read_req {
    struct job *job; /* the loop's; the reader never touches it */
    /* in */
    char *path, *name;
    enum wr_csv_format format;
    size_t max_bytes, max_rows;
    char *rows_by; /* the workflow whose max_rows applies, or NULL */
    /* "file DIR": keys are scoped by the folder, so the same file dropped into another
       workflow's folder is that workflow's event, not a duplicate of this one */
    char *scope;
    struct column_set *cols;
    size_t ncols;
    struct snap settled; /* as the file was when it settled (exists = false: not checked) */
    /* out */
    enum read_outcome outcome;
    int error;        /* READ_IO: errno */
    const char *kind; /* READ_NOT_REGULAR: wr_file_kind() */
    char *errors;     /* READ_BAD: one reason per line */
    char sha[65];
    struct wr_csv_records recs;
    struct wr_ingest_event *events; /* event and key owned; text points into the event */
    size_t nevents;
    struct read_req *next;
};

struct job {
    struct wr_file_watch *fw; /* NULL once the watch was freed during a commit */
    struct watch_dir *dir;
    char *name;
    char *path;
    char *source; /* "file PATH", for ingest */
    enum job_state state;
    bool again; /* closed, written or moved in again after it settled */
    /* settling */
    struct snap seen;
    int64_t seen_at; /* monotonic ms when seen last changed */
    /* the workflows that take it and the limits: see pick_candidates */
    const struct wr_workflow **cands;
    struct rule **rules;
    size_t ncands;
    int format;
    size_t max_bytes, max_rows;
    const char *bytes_by, *rows_by;
    int64_t settle_ms;
    /* reading and feeding */
    struct read_req *req; /* READING: the reader's; FEEDING: the job's */
    size_t next;          /* the next event to match */
    struct wr_ingest_batch *batch;
    size_t batch_start;
    bool committing;
    size_t inflight_start, inflight_n;
    size_t committed, fresh, runs;
    struct event *timer; /* settle checks, the next slice, retries */
    struct job *link;
};

struct wr_file_watch {
    struct event_base *base;
    struct wr_ingest *ingest;
    struct wr_file_limits limits;
    int fd;
    struct event *ev;   /* the inotify descriptor */
    struct event *scan; /* files present at start, on the first loop turn */
    struct watch_dir **dirs;
    size_t ndirs;
    struct job *jobs;
    size_t pending; /* chunks whose commit is in flight */
    /* the reader thread */
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;                /* under lock */
    struct read_req *todo, *done; /* under lock; todo in order, done in any */
    struct read_req *trash;       /* under lock: answers used up, for the reader to free */
    struct event *done_ev;        /* activated by the reader */
};

static void job_step(struct job *job);

/* {========================== helpers ==========================} */

/* Hidden, temporary and partial names are never taken, whatever the pattern says. */
static bool ignored(const char *name)
{
    return name[0] == '.' || wr_str_has_suffix(name, ".tmp") || wr_str_has_suffix(name, ".part");
}

static const char *arg_string(const struct wr_workflow *wf, const char *key, const char *def)
{
    struct json_object *v = NULL;
    if (wf->trigger_args && json_object_object_get_ex(wf->trigger_args, key, &v) &&
        json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return def;
}

static void sha256_hex(const char *buf, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) != 1) {
        abort(); /* SHA-256 is always available; failure means no memory */
    }
    for (unsigned int i = 0; i < n && i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    out[64] = '\0';
}

/* mkdir -p: creates path and its missing parents. Returns 0 or -errno. */
static int make_dirs(const char *path)
{
    char *p = wr_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *s = c;
            if (!c) {
                break;
            }
        }
    }
    struct stat st;
    if (rc == 0 && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        rc = -ENOTDIR;
    }
    free(p);
    return rc;
}

/* The n-th candidate name for `name` in done/ or failed/: name, then stem.1.ext, stem.2.ext. */
static char *suffixed(const char *name, int n)
{
    if (n == 0) {
        return wr_xstrdup(name);
    }
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) {
        return wr_xasprintf("%s.%d", name, n);
    }
    return wr_xasprintf("%.*s.%d%s", (int)(dot - name), name, n, dot);
}

/* rename(2) that never replaces: RENAME_NOREPLACE, else link + unlink. 0 or -errno. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        return -errno;
    }
    if (link(from, to) != 0) {
        return -errno;
    }
    unlink(from);
    return 0;
}

static struct snap snap_of(const struct stat *st)
{
    struct snap s = {true, st->st_dev, st->st_ino, st->st_size, st->st_mtim};
    return s;
}

/* The file at path as lstat shows it (exists = false when it is gone). */
static struct snap snap_path(const char *path)
{
    struct stat st;
    struct snap none = {0};
    return lstat(path, &st) == 0 ? snap_of(&st) : none;
}

static bool snap_equal(const struct snap *a, const struct snap *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Reads fd to its end, at most max bytes (-EFBIG beyond). 0 or -errno; *out owned. */
static int read_fd(int fd, size_t max, char **out, size_t *len)
{
    char *data = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (cap - used < 65536) {
            cap = cap ? cap * 2 : 131072;
            data = wr_xrealloc(data, cap + 1);
        }
        ssize_t n = read(fd, data + used, cap - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            free(data);
            return -e;
        }
        if (n == 0) {
            break;
        }
        used += (size_t)n;
        if (used > max) {
            free(data);
            return -EFBIG;
        }
    }
    data[used] = '\0';
    *out = data;
    *len = used;
    return 0;
}

/* {========================== the reader thread ==========================} */

static void read_req_free(struct read_req *r)
{
    if (!r) {
        return;
    }
    free(r->path);
    free(r->name);
    free(r->rows_by);
    free(r->scope);
    for (size_t i = 0; i < r->ncols; i++) {
        free(r->cols[i].who);
        for (size_t k = 0; k < r->cols[i].n; k++) {
            free(r->cols[i].names[k]);
        }
        free(r->cols[i].names);
    }
    free(r->cols);
    free(r->errors);
    for (size_t i = 0; i < r->nevents; i++) {
        json_object_put(r->events[i].event);
        free((char *)r->events[i].key);
    }
    free(r->events);
    wr_csv_records_clear(&r->recs);
    free(r);
}

/* The reasons a file did not parse: the reader's messages, the row limit's naming the workflow
   that set it (when one did). */
static char *rows_errors(const struct read_req *r, const struct wr_csv_errors *e)
{
    struct wr_buf b = {0};
    for (size_t i = 0; i < e->count; i++) {
        wr_buf_add(&b, e->items[i].message);
        if (r->rows_by && e->items[i].line == 0 &&
            strncmp(e->items[i].message, "more than ", 10) == 0) {
            wr_buf_addf(&b, " (max_rows of workflow %s)", r->rows_by);
        }
        wr_buf_addc(&b, '\n');
    }
    if (e->more > 0) {
        wr_buf_addf(&b, "... and %zu more error%s\n", e->more, e->more == 1 ? "" : "s");
    }
    return wr_buf_take(&b);
}

/* Reads, checks and parses the file of r; fills r's outcome. Runs on the reader thread and
   touches nothing but r. */
static void read_req_run(struct read_req *r)
{
    char *buf = NULL;
    size_t len = 0;
    struct stat st, after;
    /* O_NOFOLLOW: a symlink is refused, not followed (it could point at anything weir may
       read). O_NONBLOCK: a FIFO swapped in since it was looked at must not block the open. */
    int fd = open(r->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            r->outcome = READ_GONE;
        } else if (e == ELOOP && lstat(r->path, &st) == 0 && S_ISLNK(st.st_mode)) {
            r->outcome = READ_SYMLINK;
        } else if (e == ENXIO && lstat(r->path, &st) == 0 && !S_ISREG(st.st_mode)) {
            r->outcome = READ_NOT_REGULAR; /* a socket cannot be opened at all */
            r->kind = wr_file_kind(st.st_mode);
        } else {
            r->outcome = READ_IO;
            r->error = e;
        }
        return;
    }
    if (fstat(fd, &st) != 0) {
        r->outcome = READ_IO;
        r->error = errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r->outcome = READ_NOT_REGULAR;
        r->kind = wr_file_kind(st.st_mode);
        goto out;
    }
    struct snap now = snap_of(&st);
    if (r->settled.exists && !snap_equal(&now, &r->settled)) {
        r->outcome = READ_CHANGED;
        goto out;
    }
    int rc = read_fd(fd, r->max_bytes, &buf, &len);
    if (rc == -EFBIG) {
        r->outcome = READ_TOO_BIG;
        goto out;
    }
    if (rc != 0) {
        r->outcome = READ_IO;
        r->error = -rc;
        goto out;
    }
    /* Written to while we read: what we have may be half of it. */
    struct snap then = fstat(fd, &after) == 0 ? snap_of(&after) : (struct snap){0};
    if (!snap_equal(&now, &then) || (off_t)len != st.st_size) {
        r->outcome = READ_CHANGED;
        goto out;
    }
    sha256_hex(buf, len, r->sha);
    if (wr_csv_read(r->format, buf, len, r->max_rows, &r->recs) != 0) {
        r->outcome = READ_BAD;
        r->errors = rows_errors(r, &r->recs.errors);
        goto out;
    }
    for (size_t i = 0; i < r->ncols; i++) {
        if (wr_csv_require(&r->recs, (const char *const *)r->cols[i].names, r->cols[i].n,
                           r->cols[i].who) != 0) {
            r->outcome = READ_BAD;
            r->errors = rows_errors(r, &r->recs.errors);
            goto out;
        }
    }
    /* The events, with their JSON text: serialising 100,000 rows is work the loop is spared.
       The text belongs to the event object and stays valid while nothing serialises it again
       (ingest reads the event, it does not print it). */
    r->nevents = r->recs.count;
    r->events = wr_xcalloc(r->nevents ? r->nevents : 1, sizeof(*r->events));
    for (size_t i = 0; i < r->nevents; i++) {
        struct json_object *ev = json_object_new_object();
        json_object_object_add(ev, "row", json_object_get(r->recs.items[i].row));
        json_object_object_add(ev, "file", json_object_new_string(r->name));
        json_object_object_add(ev, "line", json_object_new_int64((int64_t)r->recs.items[i].line));
        r->events[i].event = ev;
        /* Content hash + row number: the same content under any name is the same events. */
        r->events[i].key = wr_xasprintf("file:%s:%zu", r->sha, i + 1);
        r->events[i].scope = r->scope;
        size_t tl = 0;
        r->events[i].text = json_object_to_json_string_length(
            ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &tl);
        r->events[i].text_len = tl;
    }
    /* The rows live on in the events; the list goes now, here, not on the loop. */
    for (size_t i = 0; i < r->recs.count; i++) {
        json_object_put(r->recs.items[i].row);
    }
    free(r->recs.items);
    r->recs.items = NULL;
    r->recs.count = 0;
    r->outcome = READ_OK;
out:
    close(fd);
    free(buf);
}

static void *reader_main(void *arg)
{
    struct wr_file_watch *fw = arg;
    /* Background work: on a busy machine the loop (acks) and the journal's writer come first.
       Parsing a 100,000-row file is a second of CPU; at the default priority it takes that
       from the loop, whose acks then wait. (Raising one's own nice needs no privilege.) */
    setpriority(PRIO_PROCESS, (id_t)gettid(), READER_NICE);
    pthread_mutex_lock(&fw->lock);
    for (;;) {
        while (!fw->todo && !fw->trash && !fw->stopping) {
            pthread_cond_wait(&fw->wake, &fw->lock);
        }
        if (fw->stopping) {
            break;
        }
        if (fw->trash) {
            struct read_req *t = fw->trash;
            fw->trash = NULL;
            pthread_mutex_unlock(&fw->lock);
            while (t) {
                struct read_req *next = t->next;
                read_req_free(t);
                t = next;
            }
            pthread_mutex_lock(&fw->lock);
            continue;
        }
        struct read_req *r = fw->todo;
        fw->todo = r->next;
        pthread_mutex_unlock(&fw->lock);
        read_req_run(r);
        pthread_mutex_lock(&fw->lock);
        r->next = fw->done;
        fw->done = r;
        event_active(fw->done_ev, EV_READ, 1);
    }
    pthread_mutex_unlock(&fw->lock);
    return NULL;
}

static void reader_queue(struct wr_file_watch *fw, struct read_req *r)
{
    pthread_mutex_lock(&fw->lock);
    struct read_req **p = &fw->todo;
    while (*p) {
        p = &(*p)->next;
    }
    r->next = NULL;
    *p = r;
    pthread_cond_signal(&fw->wake);
    pthread_mutex_unlock(&fw->lock);
}

/*
 * Gives an answer the loop is done with back to the reader thread to free. Its millions of
 * small blocks were allocated there, in that thread's malloc arena: freed on the loop they pile
 * up in that arena's free lists, and the next large free there consolidates them all at once —
 * a 300 ms stall of the loop after a 100,000-row file, measured.
 */
static void reader_dispose(struct wr_file_watch *fw, struct read_req *r)
{
    if (!r) {
        return;
    }
    pthread_mutex_lock(&fw->lock);
    r->next = fw->trash;
    fw->trash = r;
    pthread_cond_signal(&fw->wake);
    pthread_mutex_unlock(&fw->lock);
}

static void on_read_done(evutil_socket_t fd, short what, void *arg);

/* {========================== jobs ==========================} */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    job_step(arg);
}

static struct job *job_new(struct wr_file_watch *fw, struct watch_dir *d, const char *name)
{
    struct job *job = wr_xcalloc(1, sizeof(*job));
    job->fw = fw;
    job->dir = d;
    job->name = wr_xstrdup(name);
    job->path = wr_xasprintf("%s/%s", d->path, name);
    job->source = wr_xasprintf("file %s", job->path);
    job->timer = evtimer_new(fw->base, on_timer, job);
    if (!job->timer) {
        abort(); /* libevent allocation failure: out of memory */
    }
    job->link = fw->jobs;
    fw->jobs = job;
    return job;
}

/* Forgets what reading and feeding left (the events, a batch being built). */
static void job_reset(struct job *job)
{
    if (job->fw) {
        reader_dispose(job->fw, job->req);
    } else {
        read_req_free(job->req); /* the watch and its reader are gone */
    }
    job->req = NULL;
    wr_ingest_batch_free(job->batch);
    job->batch = NULL;
    job->next = job->batch_start = job->committed = job->fresh = job->runs = 0;
}

static void job_free(struct job *job)
{
    if (job->timer) {
        event_free(job->timer);
    }
    job_reset(job);
    free(job->cands);
    free(job->rules);
    free(job->name);
    free(job->path);
    free(job->source);
    free(job);
}

/* The job is over (file moved, gone or not ours): unlinks and frees it. */
static void job_drop(struct job *job)
{
    for (struct job **p = &job->fw->jobs; *p; p = &(*p)->link) {
        if (*p == job) {
            *p = job->link;
            break;
        }
    }
    job_free(job);
}

static struct job *job_find(struct wr_file_watch *fw, struct watch_dir *d, const char *name)
{
    for (struct job *job = fw->jobs; job; job = job->link) {
        if (job->dir == d && strcmp(job->name, name) == 0) {
            return job;
        }
    }
    return NULL;
}

static void job_later(struct job *job, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(job->timer, &tv);
}

/* {========================== done/ and failed/ ==========================} */

/* Moves the file into done/ under a free name. */
static void move_done(struct job *job)
{
    for (int n = 0; n < MAX_SUFFIX; n++) {
        char *cand = suffixed(job->name, n);
        char *to = wr_xasprintf("%s/%s", job->dir->done, cand);
        int rc = rename_noreplace(job->path, to);
        free(cand);
        free(to);
        if (rc == 0) {
            return;
        }
        if (rc != -EEXIST) {
            /* It stays in place; taken again at the next start, its rows are duplicates. */
            wr_log(WR_LOG_ERROR, "cannot move a committed file to done/", "file", job->path,
                   "error", strerror(-rc), NULL);
            return;
        }
    }
    wr_log(WR_LOG_ERROR, "no free name in done/", "file", job->path, NULL);
}

/* Writes text to a new file at path (never replacing one). 0 or -errno. */
static int write_new(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    size_t len = strlen(text), off = 0;
    int rc = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    return rc;
}

/*
 * Moves the file into failed/ under a free name F, with F.error holding the reason (the
 * errors, one per line). The .error file is written first so that whoever watches failed/
 * finds the reason next to the file.
 */
static void move_failed(struct job *job, const char *reason)
{
    char *text = wr_xasprintf("%s: not taken, nothing of it was committed\n%s", job->name, reason);
    size_t len = strlen(text);
    if (len > 0 && text[len - 1] != '\n') {
        char *t = wr_xasprintf("%s\n", text);
        free(text);
        text = t;
    }
    int rc = -EEXIST;
    for (int n = 0; n < MAX_SUFFIX && rc == -EEXIST; n++) {
        char *cand = suffixed(job->name, n);
        char *to = wr_xasprintf("%s/%s", job->dir->failed, cand);
        char *errpath = wr_xasprintf("%s.error", to);
        struct stat st;
        if (lstat(to, &st) == 0) {
            rc = -EEXIST;
        } else if ((rc = write_new(errpath, text)) == 0) {
            rc = rename_noreplace(job->path, to);
            if (rc != 0) {
                unlink(errpath);
            }
        }
        free(cand);
        free(to);
        free(errpath);
    }
    if (rc != 0) {
        wr_log(WR_LOG_ERROR, "cannot move a bad file to failed/", "file", job->path, "error",
               strerror(-rc), NULL);
    }
    free(text);
}

/* {========================== taking a file ==========================} */

/* A file that will never go in: logged, moved to failed/ with the reason, job over. */
static void fail_job(struct job *job, const char *reason)
{
    size_t len = strlen(reason);
    char *oneline =
        wr_xasprintf("%.*s", (int)(len > 0 && reason[len - 1] == '\n' ? len - 1 : len), reason);
    wr_log(WR_LOG_WARN, "file rejected: moved to failed/", "file", job->path, "reason", oneline,
           NULL);
    free(oneline);
    move_failed(job, reason);
    job_drop(job);
}

/*
 * The workflows of the job's directory whose pattern matches its name, into job->cands and
 * job->rules, and the file's limits: the smallest size and row limits among them (each
 * workflow's own, else the watch's) and the longest settle. Returns the format they agree on,
 * or -1 (with a reason in why) when they disagree.
 */
static int pick_candidates(struct job *job, char *why, size_t whylen)
{
    struct watch_dir *d = job->dir;
    const struct rule *first = NULL;
    free(job->cands);
    free(job->rules);
    job->cands = wr_xcalloc(d->nrules ? d->nrules : 1, sizeof(*job->cands));
    job->rules = wr_xcalloc(d->nrules ? d->nrules : 1, sizeof(*job->rules));
    job->ncands = 0;
    job->max_bytes = job->fw->limits.max_bytes;
    job->max_rows = job->fw->limits.max_rows;
    job->bytes_by = job->rows_by = NULL;
    job->settle_ms = 0;
    bool bytes_set = false, rows_set = false;
    for (size_t i = 0; i < d->nrules; i++) {
        struct rule *r = &d->rules[i];
        if (fnmatch(r->pattern, job->name, 0) != 0) {
            continue;
        }
        size_t mb = r->max_bytes ? r->max_bytes : job->fw->limits.max_bytes;
        size_t mr = r->max_rows ? r->max_rows : job->fw->limits.max_rows;
        if (!bytes_set || mb < job->max_bytes) {
            job->max_bytes = mb;
            job->bytes_by = r->max_bytes ? r->wf->name : NULL;
            bytes_set = true;
        }
        if (!rows_set || mr < job->max_rows) {
            job->max_rows = mr;
            job->rows_by = r->max_rows ? r->wf->name : NULL;
            rows_set = true;
        }
        job->settle_ms = r->settle_ms > job->settle_ms ? r->settle_ms : job->settle_ms;
        if (first && r->format != first->format) {
            snprintf(why, whylen,
                     "workflows %s (format %s) and %s (format %s) both match this file; "
                     "give them patterns that tell their files apart",
                     first->wf->name, first->format_name, r->wf->name, r->format_name);
            return -1;
        }
        first = first ? first : r;
        job->rules[job->ncands] = r;
        job->cands[job->ncands++] = r->wf;
    }
    return first ? (int)first->format : (int)WR_CSV_FORMAT_CSV;
}

/* Hands the job's file to the reader thread. */
static void start_reading(struct job *job)
{
    struct read_req *r = wr_xcalloc(1, sizeof(*r));
    job_reset(job);
    r->job = job;
    r->path = wr_xstrdup(job->path);
    r->scope = wr_xasprintf("file %s", job->dir->path);
    r->name = wr_xstrdup(job->name);
    r->format = (enum wr_csv_format)job->format;
    r->max_bytes = job->max_bytes;
    r->max_rows = job->max_rows;
    r->rows_by = job->rows_by ? wr_xstrdup(job->rows_by) : NULL;
    r->settled = job->state == JOB_SETTLING ? job->seen : (struct snap){0};
    r->cols = wr_xcalloc(job->ncands ? job->ncands : 1, sizeof(*r->cols));
    for (size_t i = 0; i < job->ncands; i++) {
        const struct rule *rule = job->rules[i];
        if (!rule->ncolumns) {
            continue;
        }
        struct column_set *c = &r->cols[r->ncols++];
        c->who = wr_xasprintf("columns: of workflow %s", rule->wf->name);
        c->names = wr_xcalloc(rule->ncolumns, sizeof(*c->names));
        for (size_t k = 0; k < rule->ncolumns; k++) {
            c->names[c->n++] = wr_xstrdup(rule->columns[k]);
        }
    }
    job->again = false;
    job->state = JOB_READING;
    job->req = r;
    reader_queue(job->fw, r);
}

/* Waits for the file to stay unchanged for settle_ms (from now, when restart). */
static void settle(struct job *job, bool restart)
{
    struct snap now = snap_path(job->path);
    int64_t t = wr_clock_mono_ms();
    if (restart || !snap_equal(&now, &job->seen)) {
        job->seen = now;
        job->seen_at = t;
    }
    job->state = JOB_SETTLING;
    if (!now.exists) {
        job_drop(job); /* gone before it settled */
        return;
    }
    int64_t left = job->seen_at + job->settle_ms - t;
    if (left <= 0) {
        start_reading(job);
        return;
    }
    job_later(job, left);
}

/* Frees a row header copy. */
static void header_free(char **h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i]);
    }
    free(h);
}

/*
 * Whether a CSV file's first line looks like the rest of an earlier file rather than a header:
 * for a workflow without `columns:` that took a CSV before, the line has as many fields as
 * that file's header and no name in common with it. A file written in place in pieces, whose
 * first piece (the header) was taken alone, arrives like that. Writes the reason into *why
 * (owned) and remembers the file, so that the same content dropped again is taken.
 */
static bool looks_continued(struct job *job, const struct wr_csv_records *recs, char **why)
{
    for (size_t i = 0; i < job->ncands; i++) {
        struct rule *r = job->rules[i];
        if (r->ncolumns || !r->last_header || r->last_ncols != recs->ncols) {
            continue;
        }
        bool common = false;
        for (size_t a = 0; a < recs->ncols && !common; a++) {
            for (size_t b = 0; b < r->last_ncols && !common; b++) {
                common = strcmp(recs->header[a], r->last_header[b]) == 0;
            }
        }
        if (common) {
            continue;
        }
        for (size_t k = 0; k < r->nrefused; k++) {
            if (strcmp(r->refused[k], job->req->sha) == 0) {
                /* Refused once and dropped again unchanged: a complete file after all. */
                memmove(r->refused[k], r->refused[k + 1], (r->nrefused - k - 1) * 65);
                r->nrefused--;
                return false;
            }
        }
        struct wr_buf line = {0}, prev = {0};
        for (size_t a = 0; a < recs->ncols && line.len < 200; a++) {
            wr_buf_addf(&line, "%s%s", a ? "," : "", recs->header[a]);
        }
        for (size_t b = 0; b < r->last_ncols && prev.len < 200; b++) {
            wr_buf_addf(&prev, "%s%s", b ? "," : "", r->last_header[b]);
        }
        *why = wr_xasprintf(
            "line %zu: \"%.*s\" does not look like a header: it has as many fields as the "
            "header of %s, the file workflow %s took before (\"%.*s\"), and no column name in "
            "common with it. It looks like the rest of a file written in several pieces, whose "
            "first piece was taken alone: write a file under a temporary name (.NAME, NAME.tmp, "
            "NAME.part) and rename it into the directory when it is complete. If this is a "
            "complete file with a new header, drop it again: it is then taken.\n",
            recs->header_line, wr_utf8_prec(wr_buf_str(&line), 200), wr_buf_str(&line),
            r->last_file, r->wf->name, wr_utf8_prec(wr_buf_str(&prev), 200), wr_buf_str(&prev));
        wr_buf_free(&line);
        wr_buf_free(&prev);
        if (r->nrefused == REFUSED_MAX) {
            memmove(r->refused[0], r->refused[1], (REFUSED_MAX - 1) * 65);
            r->nrefused--;
        }
        memcpy(r->refused[r->nrefused++], job->req->sha, 65);
        return true;
    }
    return false;
}

/* The file's CSV header, remembered by every workflow that takes it. */
static void remember_header(struct job *job, const struct wr_csv_records *recs)
{
    for (size_t i = 0; i < job->ncands && recs->header; i++) {
        struct rule *r = job->rules[i];
        header_free(r->last_header, r->last_ncols);
        free(r->last_file);
        r->last_header = wr_xcalloc(recs->ncols ? recs->ncols : 1, sizeof(char *));
        for (size_t k = 0; k < recs->ncols; k++) {
            r->last_header[k] = wr_xstrdup(recs->header[k]);
        }
        r->last_ncols = recs->ncols;
        r->last_file = wr_xstrdup(job->name);
    }
}

/* Every row is stored (or there were none): done/, or once more if it changed meanwhile. */
static void finish(struct job *job)
{
    if (job->again) {
        /* Written or moved in again since it was read: read it again (rows already stored
           are duplicates), never from inside ingest's callback. */
        job_reset(job);
        job->state = JOB_SETTLING;
        job->seen = (struct snap){0};
        job_later(job, 0);
        return;
    }
    char rows[32], nfresh[32], nruns[32];
    snprintf(rows, sizeof(rows), "%zu", job->req ? job->req->nevents : 0);
    snprintf(nfresh, sizeof(nfresh), "%zu", job->fresh);
    snprintf(nruns, sizeof(nruns), "%zu", job->runs);
    wr_log(WR_LOG_INFO, "file committed", "file", job->path, "rows", rows, "new", nfresh, "runs",
           nruns, NULL);
    move_done(job);
    job_drop(job);
}

static void submit_chunk(struct job *job);

static void on_chunk(void *arg, const struct wr_ingest_result *res)
{
    struct job *job = arg;
    struct wr_file_watch *fw = job->fw;
    if (!fw) {
        job_free(job); /* the watch is gone; the file stays for the next start */
        return;
    }
    fw->pending--;
    job->committing = false;
    if (res->rc != 0) {
        wr_log(WR_LOG_WARN, "storing a file's rows failed; trying again in 5 s", "file", job->path,
               "error", res->error ? res->error : "unknown", NULL);
        /* The chunk is matched again (and any built after it too), from its first row. */
        wr_ingest_batch_free(job->batch);
        job->batch = NULL;
        job->next = job->inflight_start;
        job_later(job, WR_FILE_RETRY_MS);
        return;
    }
    job->committed += job->inflight_n;
    for (size_t i = 0; i < res->count; i++) {
        job->fresh += !res->items[i].duplicate;
        job->runs += (size_t)res->items[i].runs;
    }
    /* The rest on a later loop turn: never from inside ingest's callback. */
    job_later(job, 0);
}

static void submit_chunk(struct job *job)
{
    struct wr_ingest_batch *b = job->batch;
    size_t n = wr_ingest_batch_count(b);
    job->batch = NULL;
    if (wr_ingest_batch_submit(job->fw->ingest, b, on_chunk, job) != 0) {
        wr_log(WR_LOG_WARN, "cannot queue a file's rows; trying again in 5 s", "file", job->path,
               NULL);
        job->next = job->batch_start;
        job_later(job, WR_FILE_RETRY_MS);
        return;
    }
    job->committing = true;
    job->inflight_start = job->batch_start;
    job->inflight_n = n;
    job->fw->pending++;
}

/*
 * One slice of feeding: matches rows into the chunk being built for about SLICE_US, submits
 * the chunk when it is complete and none is in flight, and comes back on the next loop turn
 * while there is more to do and room to do it.
 */
static void feed(struct job *job)
{
    struct read_req *r = job->req;
    int64_t t0 = wr_clock_mono_ns() / 1000;
    while (job->next < r->nevents &&
           !(job->batch && wr_ingest_batch_count(job->batch) >= CHUNK_ROWS)) {
        if (!job->batch) {
            job->batch = wr_ingest_batch_new(job->source, NULL);
            job->batch_start = job->next;
        }
        size_t n = r->nevents - job->next;
        size_t room = CHUNK_ROWS - wr_ingest_batch_count(job->batch);
        n = n < SLICE_ROWS ? n : SLICE_ROWS;
        n = n < room ? n : room;
        wr_ingest_batch_add(job->batch, job->cands, job->ncands, r->events + job->next, n);
        job->next += n;
        if (wr_clock_mono_ns() / 1000 - t0 >= SLICE_US) {
            break;
        }
    }
    bool complete =
        job->batch && (wr_ingest_batch_count(job->batch) >= CHUNK_ROWS || job->next == r->nevents);
    if (complete && !job->committing) {
        submit_chunk(job);
        complete = false;
    }
    if (!job->committing && !job->batch && job->committed == r->nevents) {
        finish(job);
        return;
    }
    if (job->next < r->nevents && !complete && !evtimer_pending(job->timer, NULL)) {
        job_later(job, 0); /* yields to the listeners: timers run after the loop polls */
    }
}

/* The reader's answer for a job. */
static void read_done(struct job *job)
{
    struct read_req *r = job->req;
    char why[WR_ERR_MAX];
    switch (r->outcome) {
    case READ_GONE:
        job_drop(job);
        return;
    case READ_CHANGED:
        job_reset(job);
        job->state = JOB_SETTLING;
        settle(job, true);
        return;
    case READ_NOT_REGULAR:
        snprintf(why, sizeof(why),
                 "%s, not a regular file: weir reads regular files only (write the file under a "
                 "temporary name, then rename it into the directory)",
                 r->kind);
        fail_job(job, why);
        return;
    case READ_SYMLINK:
        fail_job(job, "a symbolic link: weir does not follow links in a watched directory (one "
                      "can point at any file weir may read); move or copy the file itself in");
        return;
    case READ_TOO_BIG: {
        /* The limit and where it comes from: the workflow's max_bytes, or the watch's. */
        int n = snprintf(why, sizeof(why), "the file is larger than %zu bytes, the limit per file",
                         job->max_bytes);
        if (job->bytes_by && n > 0 && (size_t)n < sizeof(why)) {
            snprintf(why + n, sizeof(why) - (size_t)n, " (max_bytes of workflow %s)",
                     job->bytes_by);
        }
        fail_job(job, why);
        return;
    }
    case READ_IO:
        /* Left in place: permissions can be fixed, and the next close or start takes it. */
        wr_log(WR_LOG_ERROR, "cannot read a dropped file", "file", job->path, "error",
               strerror(r->error), NULL);
        job_drop(job);
        return;
    case READ_BAD:
        fail_job(job, r->errors);
        return;
    case READ_OK:
        break;
    }
    char *cont = NULL;
    if (r->recs.header && looks_continued(job, &r->recs, &cont)) {
        fail_job(job, cont);
        free(cont);
        return;
    }
    remember_header(job, &r->recs);
    if (r->nevents == 0) {
        if (r->recs.header) {
            wr_log(WR_LOG_WARN,
                   "file has a header and no rows (if it was still being written, write it "
                   "under a temporary name and rename it into the directory when complete)",
                   "file", job->path, NULL);
        } else {
            wr_log(WR_LOG_INFO, "file has no rows", "file", job->path, NULL);
        }
        finish(job);
        return;
    }
    job->state = JOB_FEEDING;
    feed(job);
}

static void on_read_done(evutil_socket_t fd, short what, void *arg)
{
    struct wr_file_watch *fw = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&fw->lock);
    struct read_req *list = NULL, *r = fw->done;
    fw->done = NULL;
    pthread_mutex_unlock(&fw->lock);
    while (r) { /* the reader pushes onto the front: back to the order files were read in */
        struct read_req *next = r->next;
        r->next = list;
        list = r;
        r = next;
    }
    while (list) {
        r = list;
        list = r->next;
        r->next = NULL;
        read_done(r->job);
    }
}

/* The job's timer: the next settle check, the next slice, a retry. */
static void job_step(struct job *job)
{
    switch (job->state) {
    case JOB_SETTLING:
        if (!job->seen.exists) {
            /* (again) after a finished read: look afresh */
            char why[WR_ERR_MAX];
            int format = pick_candidates(job, why, sizeof(why));
            if (format < 0) {
                fail_job(job, why);
                return;
            }
            job->format = format;
            settle(job, true);
            return;
        }
        settle(job, false);
        return;
    case JOB_FEEDING:
        feed(job);
        return;
    case JOB_READING:
        return; /* the reader answers */
    }
}

/* The directory's subdirectory name, logged once: directories are not taken. */
static void note_directory(struct watch_dir *d, const char *name)
{
    if (strcmp(name, "done") == 0 || strcmp(name, "failed") == 0) {
        return;
    }
    for (size_t i = 0; i < d->ndirs_seen; i++) {
        if (strcmp(d->dirs_seen[i], name) == 0) {
            return;
        }
    }
    d->dirs_seen = wr_xrealloc(d->dirs_seen, (d->ndirs_seen + 1) * sizeof(char *));
    d->dirs_seen[d->ndirs_seen++] = wr_xstrdup(name);
    char *path = wr_xasprintf("%s/%s", d->path, name);
    wr_log(WR_LOG_WARN, "a directory in a watched directory is not taken (only files are)", "dir",
           path, NULL);
    free(path);
}

/* How a name showed up. */
enum seen_how {
    SEEN_CLOSED,   /* IN_CLOSE_WRITE: a writer closed it */
    SEEN_RENAMED,  /* IN_MOVED_TO: complete, read at once */
    SEEN_CREATED,  /* IN_CREATE: a FIFO, socket, symlink, directory or hard link counts */
    SEEN_MODIFIED, /* IN_MODIFY: a settling file's clock starts again */
    SEEN_LISTED,   /* present at start, or after an inotify overflow */
};

/* A name seen in d. */
static void take(struct wr_file_watch *fw, struct watch_dir *d, const char *name, enum seen_how how)
{
    if (ignored(name)) {
        return;
    }
    struct job *job = job_find(fw, d, name);
    if (job) {
        if (how == SEEN_LISTED || how == SEEN_CREATED) {
            return;
        }
        if (job->state != JOB_SETTLING) {
            job->again = true; /* changed since it settled: read again once this is over */
            return;
        }
        if (how == SEEN_RENAMED) {
            event_del(job->timer);
            start_reading(job);
        } else {
            settle(job, true);
        }
        return;
    }
    if (how == SEEN_MODIFIED) {
        return; /* a file still being written: its close is what counts */
    }
    bool wanted = false;
    for (size_t i = 0; i < d->nrules && !wanted; i++) {
        wanted = fnmatch(d->rules[i].pattern, name, 0) == 0;
    }
    if (!wanted) {
        return;
    }
    char *path = wr_xasprintf("%s/%s", d->path, name);
    struct stat st;
    int rc = lstat(path, &st);
    free(path);
    if (rc != 0) {
        return; /* gone already */
    }
    if (S_ISDIR(st.st_mode)) {
        note_directory(d, name);
        return;
    }
    if (how == SEEN_CREATED && S_ISREG(st.st_mode) && st.st_nlink == 1) {
        return; /* being written: taken when closed */
    }
    job = job_new(fw, d, name);
    char why[WR_ERR_MAX];
    int format = pick_candidates(job, why, sizeof(why));
    if (format < 0) {
        fail_job(job, why);
        return;
    }
    job->format = format;
    job->state = JOB_SETTLING;
    int64_t now = wr_clock_wall_ns(); /* against the file's mtime: wall time */
    int64_t age_ms = (now / 1000000000 - st.st_mtim.tv_sec) * 1000 +
                     (now % 1000000000 - st.st_mtim.tv_nsec) / 1000000;
    /* A rename (or a hard link) brings a complete file; anything but a regular file has
       nothing to settle; a file found unchanged for longer than settle is done being written. */
    if (how == SEEN_RENAMED || how == SEEN_CREATED || !S_ISREG(st.st_mode) || job->settle_ms == 0 ||
        (how == SEEN_LISTED && age_ms >= job->settle_ms)) {
        start_reading(job);
        return;
    }
    settle(job, true);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Takes every file in d, in name order. */
static void scan_dir(struct wr_file_watch *fw, struct watch_dir *d)
{
    struct dirent **list = NULL;
    int n = scandir(d->path, &list, NULL, by_name);
    if (n < 0) {
        wr_log(WR_LOG_ERROR, "cannot list a watched directory", "dir", d->path, "error",
               strerror(errno), NULL);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0) {
            take(fw, d, list[i]->d_name, SEEN_LISTED);
        }
        free(list[i]);
    }
    free(list);
}

static void on_scan(evutil_socket_t fd, short what, void *arg)
{
    struct wr_file_watch *fw = arg;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < fw->ndirs; i++) {
        scan_dir(fw, fw->dirs[i]);
    }
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
    struct wr_file_watch *fw = arg;
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool overflow = false;
    (void)what;

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN) {
                wr_log(WR_LOG_ERROR, "reading inotify failed", "error", strerror(errno), NULL);
            }
            break;
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ie = (const struct inotify_event *)(void *)p;
            p += sizeof(*ie) + ie->len;
            if (ie->mask & IN_Q_OVERFLOW) {
                overflow = true;
                continue;
            }
            struct watch_dir *d = NULL;
            for (size_t i = 0; i < fw->ndirs && !d; i++) {
                d = fw->dirs[i]->wd == ie->wd ? fw->dirs[i] : NULL;
            }
            if (!d) {
                continue;
            }
            if (ie->mask & IN_IGNORED) {
                wr_log(WR_LOG_ERROR,
                       "a watched directory went away; files dropped there are "
                       "no longer taken until restart",
                       "dir", d->path, NULL);
                d->wd = -1;
                continue;
            }
            if (ie->len == 0) {
                continue;
            }
            if (ie->mask & IN_MOVED_TO) {
                take(fw, d, ie->name, SEEN_RENAMED);
            } else if (ie->mask & IN_CLOSE_WRITE) {
                take(fw, d, ie->name, SEEN_CLOSED);
            } else if (ie->mask & IN_CREATE) {
                take(fw, d, ie->name, SEEN_CREATED);
            } else if ((ie->mask & IN_MODIFY) && !(ie->mask & IN_ISDIR)) {
                take(fw, d, ie->name, SEEN_MODIFIED);
            }
        }
    }
    if (overflow) {
        /* Notifications were lost: list the directories instead. */
        wr_log(WR_LOG_WARN, "inotify queue overflowed; rescanning the watched directories", NULL);
        on_scan(-1, 0, fw);
    }
}

/* {========================== setup ==========================} */

static void dir_free(struct watch_dir *d)
{
    if (!d) {
        return;
    }
    for (size_t i = 0; i < d->nrules; i++) {
        free(d->rules[i].columns);
        header_free(d->rules[i].last_header, d->rules[i].last_ncols);
        free(d->rules[i].last_file);
    }
    for (size_t i = 0; i < d->ndirs_seen; i++) {
        free(d->dirs_seen[i]);
    }
    free(d->dirs_seen);
    free(d->path);
    free(d->done);
    free(d->failed);
    free(d->rules);
    free(d);
}

/* Adds wf's directory (resolved, created) and its rule. Returns 0 or -1 with err set. */
static int add_workflow(struct wr_file_watch *fw, const struct wr_workflow *wf,
                        const char *base_dir, char *err, size_t errlen)
{
    const char *dir = arg_string(wf, "dir", NULL);
    struct rule r = {.wf = wf,
                     .pattern = arg_string(wf, "pattern", "*"),
                     .format_name = arg_string(wf, "format", "csv"),
                     .settle_ms = WR_FILE_DEFAULT_SETTLE_MS};
    struct json_object *v = NULL;
    uint64_t max_bytes = 0;
    int64_t settle = 0;
    /* Checked at load (triggers/file/file.c): a size within WR_FILE_MAX_BYTES_LIMIT, rows >= 1, a
       duration within WR_FILE_MAX_SETTLE_MS, a list of strings. */
    if (json_object_object_get_ex(wf->trigger_args, "max_bytes", &v) &&
        wr_size_get(v, &max_bytes, NULL, 0) == 0 && max_bytes <= WR_FILE_MAX_BYTES_LIMIT) {
        r.max_bytes = (size_t)max_bytes;
    }
    if (json_object_object_get_ex(wf->trigger_args, "max_rows", &v) &&
        json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0) {
        r.max_rows = (size_t)json_object_get_int64(v);
    }
    if (json_object_object_get_ex(wf->trigger_args, "settle", &v) &&
        json_object_is_type(v, json_type_string) &&
        wr_duration_parse(json_object_get_string(v), &settle, NULL, 0) == 0 &&
        settle <= WR_FILE_MAX_SETTLE_MS) {
        r.settle_ms = settle;
    }
    if (json_object_object_get_ex(wf->trigger_args, "columns", &v) &&
        json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0) {
        size_t n = json_object_array_length(v);
        r.columns = wr_xcalloc(n, sizeof(*r.columns));
        for (size_t i = 0; i < n; i++) {
            struct json_object *c = json_object_array_get_idx(v, i);
            if (json_object_is_type(c, json_type_string)) {
                r.columns[r.ncolumns++] = json_object_get_string(c);
            }
        }
    }
    char *path = NULL, canon[PATH_MAX];
    int rc = -1;

    if (!dir || wr_csv_format_parse(r.format_name, &r.format) != 0) {
        snprintf(err, errlen, "workflow %s: the file trigger has no valid dir/format", wf->name);
        free(r.columns);
        return -1;
    }
    path = wr_path_join(base_dir && *base_dir ? base_dir : NULL, dir);
    int e = make_dirs(path);
    if (e != 0 || !realpath(path, canon)) {
        snprintf(err, errlen, "workflow %s: file trigger dir %s: %s", wf->name, path,
                 strerror(e ? -e : errno));
        free(r.columns);
        goto out;
    }
    struct watch_dir *d = NULL;
    for (size_t i = 0; i < fw->ndirs && !d; i++) {
        d = strcmp(fw->dirs[i]->path, canon) == 0 ? fw->dirs[i] : NULL;
    }
    if (!d) {
        d = wr_xcalloc(1, sizeof(*d));
        d->path = wr_xstrdup(canon);
        d->done = wr_xasprintf("%s/done", canon);
        d->failed = wr_xasprintf("%s/failed", canon);
        d->wd = -1;
        fw->dirs = wr_xrealloc(fw->dirs, (fw->ndirs + 1) * sizeof(*fw->dirs));
        fw->dirs[fw->ndirs++] = d;
    }
    d->rules = wr_xrealloc(d->rules, (d->nrules + 1) * sizeof(*d->rules));
    d->rules[d->nrules++] = r;
    if ((e = make_dirs(d->done)) != 0 || (e = make_dirs(d->failed)) != 0) {
        snprintf(err, errlen, "workflow %s: cannot create %s/done and failed/: %s", wf->name, canon,
                 strerror(-e));
        goto out;
    }
    rc = 0;
out:
    free(path);
    return rc;
}

struct wr_file_watch *wr_file_watch_new(struct event_base *base, struct wr_ingest *ingest,
                                        const struct wr_workflow *const *workflows, size_t n,
                                        const char *base_dir, const struct wr_file_limits *limits,
                                        char *err, size_t errlen)
{
    struct wr_file_watch *fw = wr_xcalloc(1, sizeof(*fw));
    fw->base = base;
    fw->ingest = ingest;
    fw->fd = -1;
    fw->limits.max_bytes =
        limits && limits->max_bytes ? limits->max_bytes : WR_FILE_DEFAULT_MAX_BYTES;
    fw->limits.max_rows = limits && limits->max_rows ? limits->max_rows : WR_FILE_DEFAULT_MAX_ROWS;
    pthread_mutex_init(&fw->lock, NULL);
    pthread_cond_init(&fw->wake, NULL);

    for (size_t i = 0; i < n; i++) {
        const struct wr_workflow *wf = workflows[i];
        if (!wf->enabled || wf->trigger != &wr_trigger_file) {
            continue;
        }
        if (add_workflow(fw, wf, base_dir, err, errlen) != 0) {
            goto err;
        }
    }
    if (fw->ndirs == 0) {
        return fw;
    }
    fw->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fw->fd < 0) {
        snprintf(err, errlen, "inotify: %s", strerror(errno));
        goto err;
    }
    for (size_t i = 0; i < fw->ndirs; i++) {
        struct watch_dir *d = fw->dirs[i];
        d->wd = inotify_add_watch(fw->fd, d->path, WATCH_MASK);
        if (d->wd < 0) {
            snprintf(err, errlen, "cannot watch %s: %s%s", d->path, strerror(errno),
                     errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
            goto err;
        }
    }
    fw->ev = event_new(base, fw->fd, EV_READ | EV_PERSIST, on_inotify, fw);
    fw->scan = evtimer_new(base, on_scan, fw);
    fw->done_ev = event_new(base, -1, 0, on_read_done, fw);
    if (!fw->ev || !fw->scan || !fw->done_ev || event_add(fw->ev, NULL) != 0) {
        snprintf(err, errlen, "cannot register the inotify descriptor with the event loop");
        goto err;
    }
    if (pthread_create(&fw->reader, NULL, reader_main, fw) != 0) {
        snprintf(err, errlen, "cannot start the file trigger's reader thread");
        goto err;
    }
    fw->reader_started = true;
    /* The watches are in place before the listing, so no file falls between the two; a file
       both listed and notified is one job. */
    event_active(fw->scan, EV_TIMEOUT, 1);
    return fw;
err:
    wr_file_watch_free(fw);
    return NULL;
}

size_t wr_file_watch_pending(const struct wr_file_watch *fw)
{
    return fw ? fw->pending : 0;
}

void wr_file_watch_free(struct wr_file_watch *fw)
{
    if (!fw) {
        return;
    }
    /* The reader first: it finishes the file it is on (bounded by max_bytes), then stops. */
    if (fw->reader_started) {
        pthread_mutex_lock(&fw->lock);
        fw->stopping = true;
        pthread_cond_signal(&fw->wake);
        pthread_mutex_unlock(&fw->lock);
        pthread_join(fw->reader, NULL);
    }
    for (struct read_req *lists[2] = {fw->todo, fw->done}, **l = lists; l < lists + 2; l++) {
        while (*l) {
            struct read_req *r = *l;
            *l = r->next;
            r->job->req = NULL;
            read_req_free(r);
        }
    }
    while (fw->trash) {
        struct read_req *r = fw->trash;
        fw->trash = r->next;
        read_req_free(r);
    }
    while (fw->jobs) {
        struct job *job = fw->jobs;
        fw->jobs = job->link;
        if (job->committing) {
            /* ingest still holds it: on_chunk frees it, touching nothing else. */
            event_free(job->timer);
            job->timer = NULL;
            job->fw = NULL;
            job->dir = NULL;
            free(job->rules); /* they point into the directory freed below */
            job->rules = NULL;
        } else {
            job->fw = NULL; /* its answer is freed here: the reader is gone */
            job_free(job);
        }
    }
    if (fw->ev) {
        event_free(fw->ev);
    }
    if (fw->scan) {
        event_free(fw->scan);
    }
    if (fw->done_ev) {
        event_free(fw->done_ev);
    }
    if (fw->fd >= 0) {
        close(fw->fd);
    }
    for (size_t i = 0; i < fw->ndirs; i++) {
        dir_free(fw->dirs[i]);
    }
    free(fw->dirs);
    pthread_mutex_destroy(&fw->lock);
    pthread_cond_destroy(&fw->wake);
    free(fw);
}
