/*
 * file_watch — inotify on the file-trigger directories, rows to ingest, files to done/ or
 * failed/; see file_watch.h.
 *
 * One inotify descriptor serves every directory and sits on the libevent loop. Each file being
 * handled is a job keyed by (directory, name): a second notification for a file whose commit
 * is in flight is remembered, not started twice, and a job whose commit failed waits on its
 * timer and is tried again. Jobs are the only state that outlives a callback.
 */
#include "triggers/file_watch.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/csv.h"
#include "engine/ingest.h"
#include "engine/log.h"
#include "engine/size.h"
#include "engine/strutil.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR)
/* Attempts at a free name in done/ or failed/ before giving up. */
#define MAX_SUFFIX 10000

/* One workflow reading a directory. */
struct rule {
    const struct wr_workflow *wf;
    const char *pattern; /* borrowed from the workflow's trigger arguments */
    const char *format_name;
    enum wr_csv_format format;
    size_t max_bytes; /* the workflow's `max_bytes`; 0 = the watch's limit */
    size_t max_rows;  /* the workflow's `max_rows`; 0 = the watch's limit */
};

struct watch_dir {
    char *path; /* canonical (realpath) */
    char *done;
    char *failed;
    int wd; /* -1 once the directory went away */
    struct rule *rules;
    size_t nrules;
};

struct job {
    struct wr_file_watch *fw; /* NULL once the watch was freed during the commit */
    struct watch_dir *dir;
    char *name;
    char *path;
    char sha[65];
    bool committing;
    bool again;                       /* closed or moved in again while committing */
    const struct wr_workflow **cands; /* borrowed by ingest until the commit's callback */
    size_t ncands;
    size_t rows;
    /* The limits for this file, the smallest of its readers', and the workflow that set each
       (NULL: the watch's). */
    size_t max_bytes, max_rows;
    const char *bytes_by, *rows_by;
    struct event *timer; /* retry, or a restart on a later loop turn */
    struct job *next;
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
    size_t pending;
};

static void run_job(struct job *job);

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

/* {========================== jobs ==========================} */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_job(arg);
}

static struct job *job_new(struct wr_file_watch *fw, struct watch_dir *d, const char *name)
{
    struct job *job = wr_xcalloc(1, sizeof(*job));
    job->fw = fw;
    job->dir = d;
    job->name = wr_xstrdup(name);
    job->path = wr_xasprintf("%s/%s", d->path, name);
    job->timer = evtimer_new(fw->base, on_timer, job);
    if (!job->timer) {
        abort(); /* libevent allocation failure: out of memory */
    }
    job->next = fw->jobs;
    fw->jobs = job;
    return job;
}

static void job_free(struct job *job)
{
    if (job->timer) {
        event_free(job->timer);
    }
    free(job->cands);
    free(job->name);
    free(job->path);
    free(job);
}

/* The job is over (file moved, gone or not ours): unlinks and frees it. */
static void job_drop(struct job *job)
{
    for (struct job **p = &job->fw->jobs; *p; p = &(*p)->next) {
        if (*p == job) {
            *p = job->next;
            break;
        }
    }
    job_free(job);
}

static struct job *job_find(struct wr_file_watch *fw, struct watch_dir *d, const char *name)
{
    for (struct job *job = fw->jobs; job; job = job->next) {
        if (job->dir == d && strcmp(job->name, name) == 0) {
            return job;
        }
    }
    return NULL;
}

static void job_later(struct job *job, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
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

static void on_committed(void *arg, const struct wr_ingest_result *res)
{
    struct job *job = arg;
    struct wr_file_watch *fw = job->fw;

    free(job->cands); /* ingest's borrow ends here */
    job->cands = NULL;
    if (!fw) {
        job_free(job); /* the watch is gone; the file stays for the next start */
        return;
    }
    fw->pending--;
    job->committing = false;
    if (res->rc != 0) {
        wr_log(WR_LOG_WARN, "storing a file's rows failed; trying again in 5 s", "file", job->path,
               "error", res->error ? res->error : "unknown", NULL);
        job_later(job, WR_FILE_RETRY_MS);
        return;
    }
    size_t fresh = 0, runs = 0;
    for (size_t i = 0; i < res->count; i++) {
        fresh += !res->items[i].duplicate;
        runs += (size_t)res->items[i].runs;
    }
    if (job->again) {
        /* Written or moved in again while we committed: move it only if it is still what we
           committed; otherwise it is a new file, taken on a later turn (never from inside
           ingest's callback). */
        char *buf = NULL, sha[65];
        size_t len = 0;
        int rc = wr_read_file(job->path, job->max_bytes, &buf, &len);
        if (rc == 0) {
            sha256_hex(buf, len, sha);
        }
        free(buf);
        job->again = false;
        if (rc == -ENOENT) {
            job_drop(job);
            return;
        }
        if (rc != 0 || strcmp(sha, job->sha) != 0) {
            job_later(job, 0);
            return;
        }
    }
    char rows[32], nfresh[32], nruns[32];
    snprintf(rows, sizeof(rows), "%zu", job->rows);
    snprintf(nfresh, sizeof(nfresh), "%zu", fresh);
    snprintf(nruns, sizeof(nruns), "%zu", runs);
    wr_log(WR_LOG_INFO, "file committed", "file", job->path, "rows", rows, "new", nfresh, "runs",
           nruns, NULL);
    move_done(job);
    job_drop(job);
}

/*
 * The workflows of d whose pattern matches the job's name, into job->cands, and the file's
 * limits: the smallest among them (each workflow's own, else the watch's). Returns the format
 * they agree on, or -1 (with a reason in why) when they disagree.
 */
static int pick_candidates(struct job *job, char *why, size_t whylen)
{
    struct watch_dir *d = job->dir;
    const struct rule *first = NULL;
    free(job->cands);
    job->cands = wr_xcalloc(d->nrules ? d->nrules : 1, sizeof(*job->cands));
    job->ncands = 0;
    job->max_bytes = job->fw->limits.max_bytes;
    job->max_rows = job->fw->limits.max_rows;
    job->bytes_by = job->rows_by = NULL;
    bool bytes_set = false, rows_set = false;
    for (size_t i = 0; i < d->nrules; i++) {
        const struct rule *r = &d->rules[i];
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
        if (first && r->format != first->format) {
            snprintf(why, whylen,
                     "workflows %s (format %s) and %s (format %s) both match this file; "
                     "give them patterns that tell their files apart",
                     first->wf->name, first->format_name, r->wf->name, r->format_name);
            return -1;
        }
        first = first ? first : r;
        job->cands[job->ncands++] = r->wf;
    }
    return first ? (int)first->format : (int)WR_CSV_FORMAT_CSV;
}

/*
 * The text of the job's .error file for a file that did not parse: the reader's messages, the
 * row limit's naming the workflow that set it (when one did).
 */
static char *rows_errors(const struct job *job, const struct wr_csv_errors *e)
{
    struct wr_buf b = {0};
    for (size_t i = 0; i < e->count; i++) {
        wr_buf_add(&b, e->items[i].message);
        if (job->rows_by && e->items[i].line == 0 &&
            strncmp(e->items[i].message, "more than ", 10) == 0) {
            wr_buf_addf(&b, " (max_rows of workflow %s)", job->rows_by);
        }
        wr_buf_addc(&b, '\n');
    }
    if (e->more > 0) {
        wr_buf_addf(&b, "... and %zu more error%s\n", e->more, e->more == 1 ? "" : "s");
    }
    return wr_buf_take(&b);
}

/*
 * Reads, checks and submits the job's file, or finishes the job. The file is read and parsed on
 * the loop thread: the size limit bounds the work, and for now that is acceptable (reading on a
 * worker thread would keep the loop responsive while a 64 MiB file is parsed).
 */
static void run_job(struct job *job)
{
    struct wr_file_watch *fw = job->fw;
    char *buf = NULL, *source = NULL, *scope = NULL, why[512];
    size_t len = 0;
    struct wr_csv_records recs = {0};
    struct wr_ingest_event *events = NULL;
    struct stat st;

    if (lstat(job->path, &st) != 0 || !S_ISREG(st.st_mode)) {
        job_drop(job); /* gone, or a directory, symlink, fifo: not a file we take */
        return;
    }
    int format = pick_candidates(job, why, sizeof(why));
    if (format < 0) {
        fail_job(job, why);
        return;
    }
    if (job->ncands == 0) {
        job_drop(job);
        return;
    }
    int rc = wr_read_file(job->path, job->max_bytes, &buf, &len);
    if (rc == -EFBIG) {
        /* The limit and where it comes from: the workflow's max_bytes, or the watch's. */
        int n = snprintf(why, sizeof(why), "the file is larger than %zu bytes, the limit per file",
                         job->max_bytes);
        if (job->bytes_by && n > 0 && (size_t)n < sizeof(why)) {
            snprintf(why + n, sizeof(why) - (size_t)n, " (max_bytes of workflow %s)",
                     job->bytes_by);
        }
        fail_job(job, why);
        goto out;
    }
    if (rc == -ENOENT) {
        job_drop(job);
        goto out;
    }
    if (rc < 0) {
        /* Left in place: permissions can be fixed, and the next close or start takes it. */
        wr_log(WR_LOG_ERROR, "cannot read a dropped file", "file", job->path, "error",
               strerror(-rc), NULL);
        job_drop(job);
        goto out;
    }
    sha256_hex(buf, len, job->sha);
    if (wr_csv_read((enum wr_csv_format)format, buf, len, job->max_rows, &recs) != 0) {
        char *text = rows_errors(job, &recs.errors);
        fail_job(job, text);
        free(text);
        goto out;
    }
    job->rows = recs.count;
    if (recs.count == 0) {
        wr_log(WR_LOG_INFO, "file has no rows", "file", job->path, NULL);
        move_done(job);
        job_drop(job);
        goto out;
    }

    events = wr_xcalloc(recs.count, sizeof(*events));
    /* Keys are scoped by the folder: the same file dropped into another workflow's folder is
       that workflow's event, not a duplicate of this one. */
    scope = wr_xasprintf("file %s", job->dir->path);
    for (size_t i = 0; i < recs.count; i++) {
        struct json_object *ev = json_object_new_object();
        json_object_object_add(ev, "row", json_object_get(recs.items[i].row));
        json_object_object_add(ev, "file", json_object_new_string(job->name));
        json_object_object_add(ev, "line", json_object_new_int64((int64_t)recs.items[i].line));
        events[i].event = ev;
        /* Content hash + row number: the same content under any name is the same events. */
        events[i].key = wr_xasprintf("file:%s:%zu", job->sha, i + 1);
        events[i].scope = scope;
    }
    source = wr_xasprintf("file %s", job->path);
    /* ingest copies the events and keys before returning; the candidates stay with the job. */
    if (wr_ingest_submit(fw->ingest, source, NULL, job->cands, job->ncands, events, recs.count,
                         on_committed, job) != 0) {
        wr_log(WR_LOG_WARN, "cannot queue a file's rows; trying again in 5 s", "file", job->path,
               NULL);
        job_later(job, WR_FILE_RETRY_MS);
        goto out;
    }
    job->committing = true;
    fw->pending++;
out:
    for (size_t i = 0; events && i < recs.count; i++) {
        json_object_put(events[i].event);
        free((char *)events[i].key);
    }
    free(events);
    free(source);
    free(scope);
    wr_csv_records_clear(&recs);
    free(buf);
}

/* A name seen in d (notification or listing). */
static void take(struct wr_file_watch *fw, struct watch_dir *d, const char *name)
{
    if (ignored(name)) {
        return;
    }
    struct job *job = job_find(fw, d, name);
    if (job) {
        if (job->committing) {
            job->again = true;
            return;
        }
        event_del(job->timer); /* waiting for a retry: now is as good */
    } else {
        bool wanted = false;
        for (size_t i = 0; i < d->nrules && !wanted; i++) {
            wanted = fnmatch(d->rules[i].pattern, name, 0) == 0;
        }
        if (!wanted) {
            return;
        }
        job = job_new(fw, d, name);
    }
    run_job(job);
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
        take(fw, d, list[i]->d_name);
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
            if ((ie->mask & IN_ISDIR) || ie->len == 0) {
                continue;
            }
            if (ie->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
                take(fw, d, ie->name);
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
    struct rule r = {wf, arg_string(wf, "pattern", "*"), arg_string(wf, "format", "csv"), 0, 0, 0};
    struct json_object *v = NULL;
    uint64_t max_bytes = 0;
    /* Checked at load (triggers/file.c): a size within WR_FILE_MAX_BYTES_LIMIT, rows >= 1. */
    if (json_object_object_get_ex(wf->trigger_args, "max_bytes", &v) &&
        wr_size_get(v, &max_bytes, NULL, 0) == 0 && max_bytes <= WR_FILE_MAX_BYTES_LIMIT) {
        r.max_bytes = (size_t)max_bytes;
    }
    if (json_object_object_get_ex(wf->trigger_args, "max_rows", &v) &&
        json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0) {
        r.max_rows = (size_t)json_object_get_int64(v);
    }
    char *path = NULL, canon[PATH_MAX];
    int rc = -1;

    if (!dir || wr_csv_format_parse(r.format_name, &r.format) != 0) {
        snprintf(err, errlen, "workflow %s: the file trigger has no valid dir/format", wf->name);
        return -1;
    }
    path = wr_path_join(base_dir && *base_dir ? base_dir : NULL, dir);
    int e = make_dirs(path);
    if (e != 0 || !realpath(path, canon)) {
        snprintf(err, errlen, "workflow %s: file trigger dir %s: %s", wf->name, path,
                 strerror(e ? -e : errno));
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
        if ((e = make_dirs(d->done)) != 0 || (e = make_dirs(d->failed)) != 0) {
            snprintf(err, errlen, "workflow %s: cannot create %s/done and failed/: %s", wf->name,
                     canon, strerror(-e));
            goto out;
        }
    }
    d->rules = wr_xrealloc(d->rules, (d->nrules + 1) * sizeof(*d->rules));
    d->rules[d->nrules++] = r;
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

    for (size_t i = 0; i < n; i++) {
        const struct wr_workflow *wf = workflows[i];
        if (!wf->enabled || !wf->trigger || strcmp(wf->trigger->name, "file") != 0) {
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
    if (!fw->ev || !fw->scan || event_add(fw->ev, NULL) != 0) {
        snprintf(err, errlen, "cannot register the inotify descriptor with the event loop");
        goto err;
    }
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
    while (fw->jobs) {
        struct job *job = fw->jobs;
        fw->jobs = job->next;
        if (job->committing) {
            /* ingest still holds it: on_committed frees it, touching nothing else. */
            event_free(job->timer);
            job->timer = NULL;
            job->fw = NULL;
            job->dir = NULL;
        } else {
            job_free(job);
        }
    }
    if (fw->ev) {
        event_free(fw->ev);
    }
    if (fw->scan) {
        event_free(fw->scan);
    }
    if (fw->fd >= 0) {
        close(fw->fd);
    }
    for (size_t i = 0; i < fw->ndirs; i++) {
        dir_free(fw->dirs[i]);
    }
    free(fw->dirs);
    free(fw);
}
