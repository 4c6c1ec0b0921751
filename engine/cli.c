/*
 * cli — the weir command line; see cli.h.
 *
 * Each command is a row in the `commands` table: name, one-line summary, usage and long help,
 * and the function that runs it. `weir help` prints from the same table, and from the action,
 * trigger and schema tables, so help cannot drift from what the loader accepts.
 */
#include "engine/cli.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actions/action.h"
#include "engine/config.h"
#include "engine/daemon.h"
#include "engine/ingest.h"
#include "engine/journal.h"
#include "engine/log.h"
#include "engine/lua_host.h"
#include "engine/strutil.h"
#include "engine/workflow_set.h"
#include "triggers/trigger.h"

struct command {
    const char *name;
    const char *summary;
    const char *usage;
    const char *help;
    int (*run)(int argc, char **argv);
};

static int read_document(const char *path, struct json_object **out, struct wr_diags *d);
static int cmd_run(int argc, char **argv);
static int cmd_fire(int argc, char **argv);
static int cmd_validate(int argc, char **argv);
static int cmd_map(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
    {
        .name = "run",
        .summary = "run the daemon: triggers, the durable journal and the run executor",
        .usage = "weir run [-c weir.yaml] [--ingest-only] [--log-level LEVEL] "
                 "[--log-format logfmt|json]",
        .help = "Loads weir.yaml and every workflow (any error: nothing starts, exit 1), opens\n"
                "the journal (`state:`), and listens for webhooks on listen.webhook. An event\n"
                "is acknowledged (202) only after it and its matched runs are committed to the\n"
                "journal; a delivery whose idempotency key was seen in the last 7 days answers\n"
                "200 with \"duplicate\": true and starts nothing. SIGTERM or SIGINT stop\n"
                "accepting, answer what was received, and exit 0.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE   weir.yaml (default ./weir.yaml)\n"
                "      --ingest-only   store events and queue their runs, execute nothing\n"
                "                      (no Graph credentials needed)\n"
                "      --log-level L   debug, info (default), warn or error\n"
                "      --log-format F  logfmt (default) or json; logs go to standard error\n"
                "  -h, --help          this help",
        .run = cmd_run,
    },
    {
        .name = "fire",
        .summary = "store an event for one workflow by hand, through the same path as webhooks",
        .usage = "weir fire WORKFLOW --event FILE|- [-c weir.yaml] [--key KEY]",
        .help =
            "Reads the event (JSON or YAML; - is standard input), evaluates WORKFLOW's `when:`\n"
            "on it and commits the event, and a run when it matches, to the journal —\n"
            "the daemon need not be running, and may be. Prints the event id and whether\n"
            "the workflow matched.\n"
            "\n"
            "Options:\n"
            "  -e, --event FILE   the event\n"
            "  -k, --key KEY      an idempotency key: firing twice with it stores one event\n"
            "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
            "  -h, --help         this help",
        .run = cmd_fire,
    },
    {
        .name = "validate",
        .summary = "check weir.yaml and workflow files without touching Graph",
        .usage = "weir validate [-c weir.yaml] [--dump] [FILE|DIR]...",
        .help = "Checks everything that can be checked without Graph: YAML/JSON syntax, unknown\n"
                "keys, action and trigger arguments, durations, cron expressions, time zones,\n"
                "Lua expression and script syntax, duplicate workflow names and conflicting\n"
                "webhook paths. Every error is printed, each as FILE:LINE:COL: KEY.PATH: MESSAGE.\n"
                "\n"
                "With -c, weir.yaml is checked too and its `workflows:` directory is validated\n"
                "unless FILEs or DIRs are given. Without -c and without arguments, ./weir.yaml is\n"
                "used if present, else ./workflows. Relative script paths resolve against the\n"
                "directory of weir.yaml (the current directory without one).\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml to check and take the workflows directory from\n"
                "      --dump         print each workflow's loaded model as JSON\n"
                "  -h, --help         this help\n"
                "\n"
                "Prints `ok: N workflows` and exits 0, or prints every error and exits 1.",
        .run = cmd_validate,
    },
    {
        .name = "map",
        .summary = "run a Lua mapping hook on a sample event and print its output",
        .usage = "weir map SCRIPT --event FILE|- [--function NAME] [--ctx FILE] [-c weir.yaml]",
        .help = "Runs SCRIPT's hook function (default `map`) as a workflow step would — in the\n"
                "same sandbox, with the same limits — on the event in FILE (JSON or YAML; - reads\n"
                "standard input), and prints what it returns as JSON. Nothing is sent anywhere:\n"
                "this is the scripter's test loop. weir.log() lines go to standard error.\n"
                "\n"
                "Options:\n"
                "  -e, --event FILE     the event, as the hook's first argument\n"
                "  -f, --function NAME  the function to call; default map\n"
                "      --ctx FILE       the hook's second argument; default\n"
                "                       {\"workflow\": null, \"run\": {\"id\": \"weir-map\",\n"
                "                       \"dry_run\": true}, \"vars\": {}, \"steps\": {}}\n"
                "  -c, --config FILE    weir.yaml, for lua.env_allow (weir.env)\n"
                "  -h, --help           this help\n"
                "\n"
                "Exits 0 with the output, 1 with the error and a Lua traceback, 2 on usage errors.",
        .run = cmd_map,
    },
    {
        .name = "help",
        .summary = "show help for a command, an action, a trigger or a file format",
        .usage = "weir help [COMMAND|ACTION|TRIGGER|actions|triggers|workflow|config]",
        .help = "  weir help validate        a command's options\n"
                "  weir help actions         every action, one line each\n"
                "  weir help assign-license  an action's arguments\n"
                "  weir help triggers        every trigger kind\n"
                "  weir help webhook         a trigger's arguments\n"
                "  weir help workflow        the keys of a workflow file and of a step\n"
                "  weir help config          the keys of weir.yaml",
        .run = cmd_help,
    },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static void print_usage(FILE *f)
{
    fputs("weir — event-driven identity lifecycle workflows for Microsoft Graph\n"
          "\n"
          "Usage: weir [--help] [--version] COMMAND [ARGS]\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fputs("\n"
          "`weir help COMMAND` shows a command's options; `weir help actions` lists the actions\n"
          "a step can run and `weir help ACTION` their arguments.\n"
          "\n"
          "Exit codes: 0 success, 1 invalid input (a workflow or config has errors),\n"
          "            2 usage error (unknown command or option).\n",
          f);
}

static int usage_error(const char *fmt, const char *arg, const struct command *cmd)
{
    fputs("weir: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    if (cmd) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
    } else {
        fputs("Run `weir --help` for the list of commands.\n", stderr);
    }
    return WR_EXIT_USAGE;
}

/* {====== validate ====== */

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"dump", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const struct command *self = find_command("validate");
    const char *config_path = NULL;
    bool dump = false;
    struct wr_diags d = {0};
    struct wr_config *cfg = NULL;
    struct wr_workflow_set *set = NULL;
    int c, rc = WR_EXIT_OK;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'D':
            dump = true;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return usage_error("validate: unknown option '%s'", argv[optind - 1], self);
        }
    }
    const char *const *paths = (const char *const *)argv + optind;
    size_t npaths = (size_t)(argc - optind);
    const char *fallback[1];
    const char *base_dir = ".";

    if (!config_path && npaths == 0) {
        if (is_file("weir.yaml")) {
            config_path = "weir.yaml";
        } else if (is_dir("workflows")) {
            fallback[0] = "workflows";
            paths = fallback;
            npaths = 1;
        } else {
            return usage_error("validate: nothing to validate%s: give FILEs, DIRs or -c weir.yaml "
                               "(no ./weir.yaml or ./workflows here)",
                               "", self);
        }
    }
    if (config_path) {
        if (wr_config_load(config_path, &cfg, &d) != 0) {
            rc = WR_EXIT_INVALID;
            goto out;
        }
        base_dir = cfg->dir;
        if (npaths == 0) {
            fallback[0] = cfg->workflows;
            paths = fallback;
            npaths = 1;
        }
    }
    if (wr_workflow_set_load(paths, npaths, base_dir, cfg ? cfg->env_allow : NULL, &set, &d) != 0) {
        rc = WR_EXIT_INVALID;
        goto out;
    }
    if (dump) {
        for (size_t i = 0; i < set->count; i++) {
            char *json = wr_workflow_to_json(set->items[i]);
            printf("%s\n", json);
            free(json);
        }
    }
    printf("ok: %zu workflow%s\n", set->count, set->count == 1 ? "" : "s");
out:
    if (d.count > 0) {
        wr_diags_print(&d, stderr);
        fprintf(stderr, "weir: %zu error%s\n", d.count, d.count == 1 ? "" : "s");
    }
    wr_diags_clear(&d);
    wr_workflow_set_free(set);
    wr_config_free(cfg);
    return rc;
}

/* }====== */

/* {====== run and fire ====== */

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'F'},
        {"ingest-only", no_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const struct command *self = find_command("run");
    const char *config_path = "weir.yaml";
    bool ingest_only = false;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'L':
            if (wr_log_set_level(optarg) != 0) {
                return usage_error("run: unknown log level '%s' (debug, info, warn, error)", optarg,
                                   self);
            }
            break;
        case 'I':
            ingest_only = true;
            break;
        case 'F':
            if (wr_log_set_format(optarg) != 0) {
                return usage_error("run: unknown log format '%s' (logfmt, json)", optarg, self);
            }
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return usage_error("run: unknown option or missing value '%s'", argv[optind - 1], self);
        }
    }
    if (optind != argc) {
        return usage_error("run: unexpected argument '%s'", argv[optind], self);
    }
    return wr_daemon_run(config_path, ingest_only);
}

struct fire_wait {
    struct event_base *base;
    int rc;
    char event_id[40];
    bool duplicate;
    int runs;
    char error[300];
};

static void on_fired(void *arg, const struct wr_ingest_result *res)
{
    struct fire_wait *w = arg;
    w->rc = res->rc;
    if (res->rc != 0) {
        snprintf(w->error, sizeof(w->error), "%s", res->error ? res->error : "storage error");
    } else if (res->count == 1) {
        snprintf(w->event_id, sizeof(w->event_id), "%s", res->items[0].event_id);
        w->duplicate = res->items[0].duplicate;
        w->runs = res->items[0].runs;
    }
    event_base_loopexit(w->base, NULL);
}

static int cmd_fire(int argc, char **argv)
{
    static const struct option opts[] = {
        {"event", required_argument, NULL, 'e'},
        {"key", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const struct command *self = find_command("fire");
    const char *config_path = "weir.yaml", *event_path = NULL, *key = NULL;
    struct wr_diags d = {0};
    struct wr_config *cfg = NULL;
    struct wr_workflow_set *set = NULL;
    struct json_object *event = NULL;
    struct event_base *base = NULL;
    struct wr_journal *journal = NULL;
    struct wr_ingest *ingest = NULL;
    char err[512];
    int c, rc = WR_EXIT_INVALID;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "e:k:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            event_path = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return usage_error("fire: unknown option or missing value '%s'", argv[optind - 1],
                               self);
        }
    }
    if (optind != argc - 1) {
        return usage_error("fire: give exactly one WORKFLOW name%s", "", self);
    }
    if (!event_path) {
        return usage_error("fire: --event FILE is required%s", "", self);
    }
    const char *name = argv[optind];
    if (wr_config_load(config_path, &cfg, &d) != 0) {
        goto out;
    }
    const char *dir = cfg->workflows;
    if (wr_workflow_set_load(&dir, 1, cfg->dir, cfg->env_allow, &set, &d) != 0) {
        goto out;
    }
    const struct wr_workflow *wf = wr_workflow_set_find(set, name);
    if (!wf) {
        const char **names = wr_xcalloc(set->count + 1, sizeof(*names));
        for (size_t i = 0; i < set->count; i++) {
            names[i] = set->items[i]->name;
        }
        const char *sug = wr_suggest(name, names);
        wr_diags_add(&d, NULL, 0, 0, NULL, "no workflow named '%s'%s%s%s", name,
                     sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
        free(names);
        goto out;
    }
    if (read_document(event_path, &event, &d) != 0) {
        goto out;
    }
    evthread_use_pthreads();
    base = event_base_new();
    journal = base ? wr_journal_open(base, cfg->state, 0, err, sizeof(err)) : NULL;
    if (!journal) {
        wr_diags_add(&d, NULL, 0, 0, NULL, "%s", base ? err : "cannot create an event loop");
        rc = 3;
        goto out;
    }
    ingest = wr_ingest_new(base, journal);
    struct wr_ingest_event ev = {event, key};
    struct fire_wait w = {base, -1, "", false, 0, ""};
    if (wr_ingest_submit(ingest, "manual", NULL, &wf, 1, &ev, 1, on_fired, &w) != 0) {
        wr_diags_add(&d, NULL, 0, 0, NULL, "the journal is closing");
        rc = 3;
        goto out;
    }
    /* The commit is announced from the writer thread: keep looping while nothing is pending. */
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    if (w.rc != 0) {
        wr_diags_add(&d, NULL, 0, 0, NULL, "the event could not be stored: %s", w.error);
        rc = 3;
        goto out;
    }
    if (w.duplicate) {
        printf("duplicate: key '%s' was already used by event %s; nothing stored\n", key,
               w.event_id);
    } else if (w.runs > 0) {
        printf("stored event %s: workflow %s matched; %d run queued\n", w.event_id, name, w.runs);
    } else {
        printf("stored event %s: workflow %s did not match (its when: is false for this "
               "event)\n",
               w.event_id, name);
    }
    rc = WR_EXIT_OK;
out:
    wr_diags_print(&d, stderr);
    wr_diags_clear(&d);
    wr_ingest_free(ingest);
    wr_journal_close(journal);
    if (base) {
        event_base_free(base);
    }
    json_object_put(event);
    wr_workflow_set_free(set);
    wr_config_free(cfg);
    return rc;
}

/* }====== */

/* {====== map ====== */

/* Reads a JSON or YAML document from path ("-" = standard input) into an owned tree. */
static int read_document(const char *path, struct json_object **out, struct wr_diags *d)
{
    char *buf = NULL;
    size_t len = 0;
    struct wr_srcdoc *doc = NULL;
    bool json;
    int rc;

    *out = NULL;
    if (strcmp(path, "-") == 0) {
        struct wr_buf b = {0};
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
            wr_buf_addn(&b, chunk, n);
            if (b.len > WR_SRCDOC_MAX_BYTES) {
                break;
            }
        }
        len = b.len;
        buf = wr_buf_take(&b);
        /* Standard input has no extension: JSON when it looks like JSON, else YAML. */
        size_t i = 0;
        while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')) {
            i++;
        }
        json = i < len && (buf[i] == '{' || buf[i] == '[');
        path = "<stdin>";
    } else {
        rc = wr_read_file(path, WR_SRCDOC_MAX_BYTES, &buf, &len);
        if (rc != 0) {
            wr_diags_add(d, path, 0, 0, NULL, "cannot read: %s", strerror(-rc));
            return -1;
        }
        json = !wr_str_has_suffix(path, ".yaml") && !wr_str_has_suffix(path, ".yml");
    }
    rc = wr_srcdoc_parse(path, buf, len, json, &doc, d);
    free(buf);
    if (rc != 0) {
        return -1;
    }
    *out = json_object_get(doc->root);
    wr_srcdoc_free(doc);
    return 0;
}

static void map_log(void *arg, const char *level, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s: %s\n", level, msg);
}

static int cmd_map(int argc, char **argv)
{
    static const struct option opts[] = {
        {"event", required_argument, NULL, 'e'}, {"function", required_argument, NULL, 'f'},
        {"ctx", required_argument, NULL, 'C'},   {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},        {0},
    };
    const struct command *self = find_command("map");
    const char *event_path = NULL, *function = "map", *ctx_path = NULL, *config_path = NULL;
    struct wr_diags d = {0};
    struct wr_config *cfg = NULL;
    struct wr_lua *lua = NULL;
    struct json_object *event = NULL, *ctx = NULL, *out = NULL;
    char err[2048];
    char *trace = NULL;
    int c, rc = WR_EXIT_INVALID;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "e:f:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            event_path = optarg;
            break;
        case 'f':
            function = optarg;
            break;
        case 'C':
            ctx_path = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return usage_error("map: unknown option or missing value '%s'", argv[optind - 1], self);
        }
    }
    if (optind != argc - 1) {
        return usage_error("map: give exactly one SCRIPT%s", "", self);
    }
    if (!event_path) {
        return usage_error("map: --event FILE is required%s", "", self);
    }
    const char *script = argv[optind];
    if (config_path && wr_config_load(config_path, &cfg, &d) != 0) {
        goto out;
    }
    if (read_document(event_path, &event, &d) != 0) {
        goto out;
    }
    if (ctx_path) {
        if (read_document(ctx_path, &ctx, &d) != 0) {
            goto out;
        }
    } else {
        ctx = json_tokener_parse("{\"workflow\": null, \"run\": {\"id\": \"weir-map\", "
                                 "\"dry_run\": true}, \"vars\": {}, \"steps\": {}}");
    }
    lua = wr_lua_new(NULL, cfg ? cfg->env_allow : NULL);
    if (!lua) {
        wr_diags_add(&d, NULL, 0, 0, NULL, "cannot create a Lua state (out of memory)");
        goto out;
    }
    wr_lua_set_log(lua, map_log, NULL);
    int hook = wr_lua_load_hook(lua, script, function, err, sizeof(err));
    if (hook < 0) {
        wr_diags_add(&d, NULL, 0, 0, NULL, "%s", err);
        goto out;
    }
    if (wr_lua_call_hook(lua, hook, event, ctx, &out, err, sizeof(err), &trace) != 0) {
        /* The traceback starts with the message itself. */
        wr_diags_add_raw(&d, trace ? trace : err);
        goto out;
    }
    printf("%s\n",
           json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    rc = WR_EXIT_OK;
out:
    wr_diags_print(&d, stderr);
    wr_diags_clear(&d);
    free(trace);
    json_object_put(out);
    json_object_put(event);
    json_object_put(ctx);
    wr_lua_free(lua);
    wr_config_free(cfg);
    return rc;
}

/* }====== */

/* {====== help ====== */

static void print_names(const char *title, const char *const *names,
                        const char *(*summary)(const char *))
{
    printf("%s\n", title);
    for (size_t i = 0; names[i]; i++) {
        printf("  %-20s %s\n", names[i], summary(names[i]));
    }
}

static const char *action_summary(const char *name)
{
    return wr_action_find(name)->summary;
}

static const char *trigger_summary(const char *name)
{
    return wr_trigger_find(name)->summary;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stdout);
        return WR_EXIT_OK;
    }
    if (argc > 2) {
        return usage_error("help: one topic at a time (got '%s' and more)", argv[1],
                           find_command("help"));
    }
    const char *topic = argv[1];
    const struct command *cmd = find_command(topic);
    const struct wr_action *act = wr_action_find(topic);
    const struct wr_trigger_kind *trig = wr_trigger_find(topic);

    if (cmd) {
        printf("usage: %s\n\n%s\n", cmd->usage, cmd->help);
    } else if (strcmp(topic, "actions") == 0) {
        print_names("Actions (weir help ACTION for arguments):", wr_action_names(), action_summary);
    } else if (strcmp(topic, "triggers") == 0) {
        print_names("Triggers (weir help TRIGGER for arguments):", wr_trigger_names(),
                    trigger_summary);
    } else if (act) {
        printf("%s — %s\n\nArguments:\n", act->name, act->summary);
        wr_argspec_print(act->args, stdout, 2);
        printf("\nEvery step also takes: id, name, when, retry, continue_on_error.\n");
    } else if (trig) {
        printf("trigger: { %s: {...} } — %s\n\nArguments:\n", trig->name, trig->summary);
        wr_argspec_print(trig->args, stdout, 2);
    } else if (strcmp(topic, "workflow") == 0) {
        printf("A workflow file (YAML or JSON, one workflow per file):\n");
        wr_argspec_print(wr_workflow_spec(), stdout, 2);
        printf("\nEvery step takes these keys, and exactly one of action (with the action's\n"
               "arguments, see `weir help actions`), script, wait or wait_until:\n");
        wr_argspec_print(wr_workflow_step_spec(), stdout, 2);
        static const char *const kinds[] = {"script", "wait", "wait_until"};
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
            printf("\nA %s step:\n", kinds[i]);
            wr_argspec_print(wr_workflow_step_kind_spec(kinds[i]), stdout, 2);
        }
    } else if (strcmp(topic, "config") == 0) {
        printf("weir.yaml (relative paths resolve against its directory):\n");
        wr_argspec_print(wr_config_spec(), stdout, 2);
    } else {
        size_t n = 0;
        const char *all[64];
        for (size_t i = 0; i < NCOMMANDS; i++) {
            all[n++] = commands[i].name;
        }
        for (const char *const *a = wr_action_names(); *a && n < 50; a++) {
            all[n++] = *a;
        }
        for (const char *const *t = wr_trigger_names(); *t && n < 60; t++) {
            all[n++] = *t;
        }
        all[n++] = "actions";
        all[n++] = "triggers";
        all[n++] = "workflow";
        all[n] = "config";
        all[n + 1] = NULL;
        const char *sug = wr_suggest(topic, all);
        fprintf(stderr, "weir: no help topic '%s'", topic);
        if (sug) {
            fprintf(stderr, " (did you mean '%s'?)", sug);
        }
        fputs("\nRun `weir help` for the list of topics.\n", stderr);
        return WR_EXIT_USAGE;
    }
    return WR_EXIT_OK;
}

/* }====== */

int wr_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return WR_EXIT_USAGE;
    }
    const char *arg = argv[1];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        print_usage(stdout);
        return WR_EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
        printf("weir %s\n", WEIR_VERSION);
        return WR_EXIT_OK;
    }
    const struct command *cmd = find_command(arg);
    if (!cmd) {
        const char *names[NCOMMANDS + 1];
        for (size_t i = 0; i < NCOMMANDS; i++) {
            names[i] = commands[i].name;
        }
        names[NCOMMANDS] = NULL;
        const char *sug = arg[0] == '-' ? NULL : wr_suggest(arg, names);
        fprintf(stderr, "weir: unknown %s '%s'", arg[0] == '-' ? "option" : "command", arg);
        if (sug) {
            fprintf(stderr, " (did you mean '%s'?)", sug);
        }
        fputs("\nRun `weir --help` for the list of commands.\n", stderr);
        return WR_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
