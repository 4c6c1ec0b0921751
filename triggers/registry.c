/*
 * registry — the table of every trigger kind, built from triggers.def, and the set of their
 * runtimes the daemon drives through the slots of trigger.h.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "triggers/trigger.h"

#define WR_TRIGGER(id) extern const struct wr_trigger_kind wr_trigger_##id;
#include "triggers/triggers.def"
#undef WR_TRIGGER

static const struct wr_trigger_kind *const kinds[] = {
#define WR_TRIGGER(id) &wr_trigger_##id,
#include "triggers/triggers.def"
#undef WR_TRIGGER
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

const struct wr_trigger_kind *wr_trigger_find(const char *name)
{
    for (size_t i = 0; i < NKINDS; i++) {
        if (strcmp(kinds[i]->name, name) == 0) {
            return kinds[i];
        }
    }
    return NULL;
}

/* Appends v to b: a string as it is, anything else as JSON. */
static void add_value(struct wr_buf *b, struct json_object *v)
{
    if (json_object_is_type(v, json_type_string)) {
        wr_buf_add(b, json_object_get_string(v));
    } else {
        wr_buf_add(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
    }
}

char *wr_trigger_summary(const struct wr_workflow *wf, const struct wr_trigger_summary_part *parts)
{
    struct wr_buf b = {0};
    wr_buf_add(&b, wf->trigger ? wf->trigger->name : "?");
    for (const struct wr_trigger_summary_part *p = parts; p && p->key; p++) {
        struct json_object *v = NULL;
        if (!wf->trigger_args || !json_object_object_get_ex(wf->trigger_args, p->key, &v) || !v) {
            continue;
        }
        wr_buf_add(&b, " ");
        if (p->label) {
            wr_buf_addf(&b, "%s ", p->label);
        }
        if (json_object_is_type(v, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                if (i > 0) {
                    wr_buf_add(&b, ", ");
                }
                add_value(&b, json_object_array_get_idx(v, i));
            }
        } else {
            add_value(&b, v);
        }
    }
    return wr_buf_take(&b);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *const *wr_trigger_names(void)
{
    static const char *names[NKINDS + 1];
    if (!names[0]) {
        for (size_t i = 0; i < NKINDS; i++) {
            names[i] = kinds[i]->name;
        }
        /* triggers.def is in start order; help and suggestions list kinds by name. */
        qsort(names, NKINDS, sizeof(names[0]), by_name);
    }
    return names;
}

const char *wr_trigger_names_text(void)
{
    static char text[NKINDS * 40 + 8];
    if (!text[0]) {
        const char *const *names = wr_trigger_names();
        size_t used = 0;
        for (size_t i = 0; names[i]; i++) {
            const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
            used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s", sep, names[i]);
            if (used >= sizeof(text)) {
                break; /* a kind name longer than 30 characters: cut, still terminated */
            }
        }
    }
    return text;
}

size_t wr_trigger_count(void)
{
    return NKINDS;
}

const struct wr_trigger_kind *wr_trigger_at(size_t i)
{
    return i < NKINDS ? kinds[i] : NULL;
}

/* {====== the runtimes, walked in registry order ====== */

struct wr_triggers {
    void *rt[NKINDS];          /* kinds[i]'s runtime, or NULL (no start slot, or not leading) */
    bool leaving[NKINDS];      /* a leader_only runtime draining after a step down */
    struct wr_trigger_env env; /* for the kinds started later (wr_triggers_lead) */
    wr_trigger_listen_fn listen;
    void *listen_arg;
};

/* Starts kinds[i]; 0, or -1 with *failed and err. */
static int start_kind(struct wr_triggers *ts, size_t i, const struct wr_workflow_set *set,
                      const struct wr_trigger_kind **failed, char *err, size_t errlen)
{
    const struct wr_trigger_kind *k = kinds[i];
    struct wr_trigger_env e = ts->env;
    e.listen = ts->listen ? ts->listen(ts->listen_arg, k) : NULL;
    ts->rt[i] = k->start(&e, set, err, errlen);
    if (!ts->rt[i]) {
        *failed = k;
        return -1;
    }
    return 0;
}

struct wr_triggers *wr_triggers_start(const struct wr_trigger_env *env, wr_trigger_listen_fn listen,
                                      void *arg, const struct wr_workflow_set *set, bool lead,
                                      const struct wr_trigger_kind **failed, char *err,
                                      size_t errlen)
{
    struct wr_triggers *ts = wr_xcalloc(1, sizeof(*ts));
    ts->env = *env;
    ts->listen = listen;
    ts->listen_arg = arg;
    for (size_t i = 0; i < NKINDS; i++) {
        if (!kinds[i]->start || (kinds[i]->leader_only && !lead)) {
            continue;
        }
        if (start_kind(ts, i, set, failed, err, errlen) != 0) {
            wr_triggers_free(ts);
            return NULL;
        }
    }
    return ts;
}

int wr_triggers_lead(struct wr_triggers *ts, const struct wr_workflow_set *set,
                     const struct wr_trigger_kind **failed, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < NKINDS; i++) {
        if (kinds[i]->start && kinds[i]->leader_only && !ts->rt[i] &&
            start_kind(ts, i, set, failed, err, errlen) != 0) {
            rc = -1;
        }
    }
    return rc;
}

bool wr_triggers_step_down(struct wr_triggers *ts)
{
    bool none = true;
    for (size_t i = 0; i < NKINDS; i++) {
        const struct wr_trigger_kind *k = kinds[i];
        if (!k->leader_only || !ts->rt[i]) {
            continue;
        }
        if (!ts->leaving[i]) {
            ts->leaving[i] = true;
            if (k->stop_accepting) {
                k->stop_accepting(ts->rt[i]);
            }
        }
        if ((k->pending && k->pending(ts->rt[i]) > 0) || (k->busy && k->busy(ts->rt[i]))) {
            none = false;
            continue;
        }
        if (k->free) {
            k->free(ts->rt[i]);
        }
        ts->rt[i] = NULL;
        ts->leaving[i] = false;
    }
    return none;
}

size_t wr_triggers_pending(struct wr_triggers *ts)
{
    size_t n = 0;
    for (size_t i = 0; ts && i < NKINDS; i++) {
        n += ts->rt[i] && kinds[i]->pending ? kinds[i]->pending(ts->rt[i]) : 0;
    }
    return n;
}

bool wr_triggers_busy(const struct wr_triggers *ts)
{
    for (size_t i = 0; ts && i < NKINDS; i++) {
        if (ts->rt[i] && kinds[i]->busy && kinds[i]->busy(ts->rt[i])) {
            return true;
        }
    }
    return false;
}

bool wr_triggers_reload_wait(const struct wr_triggers *ts)
{
    for (size_t i = 0; ts && i < NKINDS; i++) {
        if (ts->rt[i] && kinds[i]->reload_wait && kinds[i]->reload_wait(ts->rt[i])) {
            return true;
        }
    }
    return false;
}

int wr_triggers_reload(struct wr_triggers *ts, const struct wr_workflow_set *set,
                       const struct wr_trigger_kind **failed, char *err, size_t errlen)
{
    /* Prepared kinds make nothing visible, so any of them can still be dropped. */
    for (size_t i = 0; i < NKINDS; i++) {
        const struct wr_trigger_kind *k = kinds[i];
        if (ts->rt[i] && k->prepare && k->prepare(ts->rt[i], set, err, errlen) != 0) {
            *failed = k;
            for (size_t j = 0; j < i; j++) {
                if (ts->rt[j] && kinds[j]->abort) {
                    kinds[j]->abort(ts->rt[j]);
                }
            }
            return -1;
        }
    }
    for (size_t i = 0; i < NKINDS; i++) {
        if (ts->rt[i] && kinds[i]->commit) {
            kinds[i]->commit(ts->rt[i], set);
        }
    }
    return 0;
}

void wr_triggers_stop_accepting(struct wr_triggers *ts)
{
    for (size_t i = 0; ts && i < NKINDS; i++) {
        if (ts->rt[i] && kinds[i]->stop_accepting) {
            kinds[i]->stop_accepting(ts->rt[i]);
        }
    }
}

void wr_triggers_ready(const struct wr_triggers *ts,
                       void (*each)(void *arg, const struct wr_trigger_kind *kind,
                                    const char *addr),
                       void *arg)
{
    char addr[300];
    for (size_t i = 0; ts && i < NKINDS; i++) {
        if (ts->rt[i] && kinds[i]->ready && kinds[i]->ready(ts->rt[i], addr, sizeof(addr))) {
            each(arg, kinds[i], addr);
        }
    }
}

/* A verdict delivered on a later loop turn (the gate's contract: never inside the call). */
struct later_verdict {
    wr_run_gate_done_fn done;
    void *token;
};

static void deliver_later(evutil_socket_t fd, short what, void *arg)
{
    struct later_verdict *v = arg;
    (void)fd;
    (void)what;
    v->done(v->token, WR_GATE_LATER,
            "its trigger re-checks a run before its first step on the leader only (several "
            "instances on one store): it waits for the leader to take it");
    free(v);
}

bool wr_triggers_gate(void *arg, const struct wr_workflow *wf, struct json_object *event,
                      wr_run_gate_done_fn done, void *token)
{
    struct wr_triggers *ts = arg;
    for (size_t i = 0; ts && i < NKINDS; i++) {
        if (kinds[i] != wf->trigger || !kinds[i]->gate) {
            continue;
        }
        if (ts->rt[i]) {
            return kinds[i]->gate(ts->rt[i], wf, event, done, token);
        }
        if (kinds[i]->leader_only && ts->env.base) {
            /* Not the leader: the gate's runtime (and what it knows) is the leader's. The run
               is deferred, and some instance takes it again; the leader checks it. */
            struct later_verdict *v = wr_xcalloc(1, sizeof(*v));
            *v = (struct later_verdict){done, token};
            const struct timeval now = {0, 0};
            if (event_base_once(ts->env.base, -1, EV_TIMEOUT, deliver_later, v, &now) == 0) {
                return true;
            }
            free(v);
        }
        return false;
    }
    return false;
}

void wr_triggers_free(struct wr_triggers *ts)
{
    if (!ts) {
        return;
    }
    for (size_t i = NKINDS; i-- > 0;) {
        if (ts->rt[i] && kinds[i]->free) {
            kinds[i]->free(ts->rt[i]);
        }
    }
    free(ts);
}

/* }====== */
