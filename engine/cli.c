/*
 * cli — the weir command line; see cli.h.
 *
 * Each command is a row in the `commands` table: name, one-line summary, usage and long help,
 * and the function that runs it. `weir help` prints from the same table, and from the action,
 * trigger and schema tables, so help cannot drift from what the loader accepts.
 */
#include "engine/base/json.h"
#include "engine/cli.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <errno.h>
#include <getopt.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actions/action.h"
#include "engine/config.h"
#include "engine/daemon.h"
#include "engine/base/clock.h"
#include "engine/base/duration.h"
#include "engine/exec/undo.h"
#include "engine/store/held.h"
#include "engine/store/approval.h"
#include "engine/store/history.h"
#include "engine/store/ingest.h"
#include "engine/store/journal.h"
#include "engine/store/migrate.h"
#include "engine/store/transfer.h"
#include "engine/base/log.h"
#include "engine/exec/dryrun.h"
#include "engine/base/secret.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/lua/lua_host.h"
#include "engine/base/strutil.h"
#include "engine/lua/template.h"
#include "engine/lang/schema.h"
#include "engine/lang/workflow_set.h"
#include "engine/man.h"
#include "triggers/trigger.h"

struct command {
    const char *name;
    const char *summary;
    const char *usage;
    const char *help;
    int (*run)(int argc, char **argv);
};

static int read_document(const char *path, struct json_object **out, struct wr_diags *d);
static int read_event(const char *path, struct json_object **out, struct wr_diags *d);
static int cmd_run(int argc, char **argv);
static int cmd_fire(int argc, char **argv);
static int cmd_runs(int argc, char **argv);
static int cmd_show(int argc, char **argv);
static int cmd_retry(int argc, char **argv);
static int cmd_cancel(int argc, char **argv);
static int cmd_approve(int argc, char **argv);
static int cmd_held(int argc, char **argv);
static int cmd_undo(int argc, char **argv);
static int cmd_release(int argc, char **argv);
static int cmd_reject(int argc, char **argv);
static int cmd_validate(int argc, char **argv);
static int cmd_map(int argc, char **argv);
static int cmd_scope(int argc, char **argv);
static int cmd_schema(int argc, char **argv);
static int cmd_migrate(int argc, char **argv);
static int cmd_export(int argc, char **argv);
static int cmd_import(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static const struct wr_trigger_kind *kind_command(const char *name);
static int cmd_kind(const struct wr_trigger_kind *k, int argc, char **argv);

static const struct command commands[] = {
    {
        .name = "run",
        .summary = "run the daemon: triggers, the durable journal and the run executor",
        .usage = "weir run [-c weir.yaml] [--ingest-only] [--log-level LEVEL] "
                 "[--log-format logfmt|json]",
        .help = "Loads weir.yaml and every workflow (any error: nothing starts, exit 1), opens\n"
                "the journal (`state:`), and listens for webhooks on listen.webhook. An event\n"
                "is acknowledged (202) only after it and its matched runs are committed to the\n"
                "journal; a delivery whose idempotency key was seen in the last 7 days on the\n"
                "same path (and in the same header) answers 200 with \"duplicate\": true and\n"
                "starts nothing. One daemon per journal: a second `weir run` on the same\n"
                "`state:` exits 3 naming the file and the running one's pid (`weir fire`,\n"
                "`weir runs` and the others work beside it). While the journal cannot commit\n"
                "(removed, read-only, disk full) webhooks get 503 with Retry-After, /readyz\n"
                "says why and one log line says so (another when it recovers); a journal that\n"
                "cannot be written at start is refused (exit 3). SIGTERM or SIGINT stop\n"
                "accepting, answer what was received, and exit 0. Under systemd\n"
                "(Type=notify: $NOTIFY_SOCKET set) it says READY=1 once every listener\n"
                "accepts, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 as\n"
                "it drains (weir.service, installed with weir, runs it so).\n"
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
        .usage = "weir fire WORKFLOW --event FILE|- | --user UPN|ID [-c weir.yaml] [--key KEY] "
                 "[--dry-run]",
        .help =
            "Reads the event (JSON or YAML; - is standard input), evaluates WORKFLOW's `when:`\n"
            "on it and commits the event, and a run when it matches, to the journal —\n"
            "the daemon need not be running, and may be. Prints the event id and whether\n"
            "the workflow matched.\n"
            "\n"
            "Options:\n"
            "  -e, --event FILE   the event\n"
            "  -u, --user REF     instead of --event, for a workflow with a directory trigger\n"
            "                     (user-date): read the user (object id, userPrincipalName,\n"
            "                     mail or employeeId:VALUE) from Graph now and build the event\n"
            "                     the trigger would, with \"on_demand\": true — a run for one\n"
            "                     user now, whatever its date says\n"
            "  -k, --key KEY      an idempotency key: firing WORKFLOW twice with it stores\n"
            "                     one event (keys are per workflow: another workflow, or a\n"
            "                     webhook, may use the same key for its own event)\n"
            "  -n, --dry-run      store nothing and change nothing: run the workflow with\n"
            "                     lookups only and print each step, its resolved arguments\n"
            "                     and the exact Graph requests it would send; a step the\n"
            "                     guard would hold (weir.yaml guard:, read against the\n"
            "                     daemon's window) ends it \"would be held\"; an approval\n"
            "                     asks nobody and is planned as approved\n"
            "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
            "  -h, --help         this help",
        .run = cmd_fire,
    },
    {
        .name = "runs",
        .summary = "list runs, newest first: status, timing, the step reached, the error",
        .usage = "weir runs [-c weir.yaml] [--workflow W] [--status S] [--since DURATION] "
                 "[--limit N] [--json]",
        .help = "Lists runs from the journal (`state:` in weir.yaml), newest first. It only\n"
                "reads, so it works while the daemon runs.\n"
                "\n"
                "Columns: RUN (the shortest unique prefix of the run's id; `weir show` takes it),\n"
                "WORKFLOW, STATUS, STARTED (local time), DURATION (so far, for a run not\n"
                "finished), STEP (the step the run reached: its position and id, such as\n"
                "3/8 assign-license) and ERROR (the first line of the run's error; for a run\n"
                "still retrying, of its step's last attempt).\n"
                "\n"
                "Statuses: queued, running, retrying (waiting for a step's next attempt),\n"
                "waiting (in a wait: step or for an approval), held (by the guard, before a\n"
                "destructive step: weir held), succeeded, failed, succeeded_with_errors (a step\n"
                "with continue_on_error failed), cancelled.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE     weir.yaml (default ./weir.yaml)\n"
                "  -w, --workflow NAME   only this workflow's runs\n"
                "  -s, --status STATUS   only runs in this state\n"
                "      --since DURATION  only runs created within DURATION (30m, 2h, 7d)\n"
                "  -n, --limit N         at most N runs (default 20)\n"
                "      --json            a JSON array: full ids, times in Unix milliseconds\n"
                "  -h, --help            this help",
        .run = cmd_runs,
    },
    {
        .name = "show",
        .summary = "show one run: its trigger event and every step's arguments, output, error",
        .usage = "weir show RUN [-c weir.yaml] [--json]",
        .help = "Shows one run: workflow and version, status, times and error; the event that\n"
                "triggered it; then each step that ran, with its status, attempts and timing,\n"
                "the arguments it was given (templates resolved, secrets masked), its output\n"
                "and its error — what Graph answered, or a hook's message and Lua traceback.\n"
                "\n"
                "RUN is a run id or a unique prefix of one, as `weir runs` prints it.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "      --json         the run, its event and its steps as one JSON object\n"
                "  -h, --help         this help",
        .run = cmd_show,
    },
    {
        .name = "scope",
        .summary = "preview whom a directory trigger would process and when; reads only",
        .usage = "weir scope WORKFLOW [--days N] [-c weir.yaml] [--json]",
        .help = "Reads the tenant the way WORKFLOW's trigger does and lists whom it would\n"
                "process and when, without writing anything to Graph or to the journal (the\n"
                "daemon need not be running, and may be).\n"
                "\n"
                "For a trigger on a date of each user: every user due from `catch_up` ago to\n"
                "N days ahead, by due time, each with its STATE (\"due now\": due within the\n"
                "catch-up window, the next poll fires it; \"later\": fires at its due time;\n"
                "\"fired\": the journal says it already ran for this date; \"unreadable\": the\n"
                "date does not read, DETAIL says why), its due time in the workflow's zone,\n"
                "and the user. The query is the trigger's own advanced query.\n"
                "\n"
                "Works for workflows triggered by a kind with a preview (`weir help triggers`);\n"
                "any other is refused. Graph is read with the credentials of weir.yaml through a\n"
                "client that can send nothing but GETs.\n"
                "\n"
                "Options:\n"
                "  -d, --days N       how far ahead to look, 1..366 days; default 7\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "      --json         the preview as JSON: workflow, trigger, summary, counts and\n"
                "                     users [{id, userPrincipalName, displayName, state, date,\n"
                "                     due (UTC), due_local, detail}]\n"
                "  -h, --help         this help\n"
                "\n"
                "Exits 0 with the preview, 1 for a workflow without one, 3 when Graph fails.",
        .run = cmd_scope,
    },
    {
        .name = "retry",
        .summary = "queue a failed run again, from the step that failed",
        .usage = "weir retry RUN [-c weir.yaml] [--same-version]",
        .help = "Queues a failed or succeeded_with_errors run again: its failed steps are set\n"
                "back to pending (their attempt counts kept) and the daemon resumes the run at\n"
                "the first step that neither succeeded nor was skipped. Steps that succeeded are\n"
                "not run again.\n"
                "\n"
                "By default the run goes on with the workflow's current version — the file the\n"
                "daemon has loaded now — so a fix to the workflow takes effect. With\n"
                "--same-version it keeps the version it started with (its recorded content\n"
                "hash, shown by `weir show`).\n"
                "\n"
                "A run in any other state is refused (exit 1): one in progress retries by\n"
                "itself, and `weir cancel` stops it.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE   weir.yaml (default ./weir.yaml)\n"
                "      --same-version  keep the workflow version the run started with\n"
                "  -h, --help          this help",
        .run = cmd_retry,
    },
    {
        .name = "cancel",
        .summary = "cancel a run that has not finished",
        .usage = "weir cancel RUN [-c weir.yaml]",
        .help = "Cancels a run that has not finished (queued, running, retrying or waiting):\n"
                "its status becomes cancelled, with the error \"cancelled by weir cancel\", and\n"
                "the daemon does not go on with it. The steps it recorded stay as they are.\n"
                "A finished run cannot be cancelled (exit 1).\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "  -h, --help         this help",
        .run = cmd_cancel,
    },
    {
        .name = "approve",
        .summary = "decide a run's open approval step (approve, or reject)",
        .usage = "weir approve RUN [--reject] --as NAME [--reason TEXT] [-c weir.yaml]",
        .help = "Decides the open approval request of a run waiting at an `approval:` step, as\n"
                "the approver NAME (recorded in history, like a decision on the page behind an\n"
                "approval link). Approved, the run goes on; rejected, the step fails with\n"
                "\"rejected by NAME[: reason]\". The first decision wins: a request already\n"
                "decided (here, on its page or through the admin API), an expired one, or a\n"
                "run with no open request is refused (exit 1). The daemon picks the run up at\n"
                "its next poll.\n"
                "\n"
                "Options:\n"
                "      --as NAME      who decides (required)\n"
                "      --reject       reject instead of approve\n"
                "      --reason TEXT  why, stored with the decision\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "  -h, --help         this help",
        .run = cmd_approve,
    },
    {
        .name = "undo",
        .summary = "put back what a finished run changed, from what its steps recorded",
        .usage = "weir undo RUN [-c weir.yaml] [--dry-run | --yes] [--json]",
        .help = "Builds the reverse plan of a finished run: every step that changed something\n"
                "recorded what it replaced and the steps that put it back (re-enable, restore\n"
                "the old properties, re-add licences with their disabled plans, groups, roles,\n"
                "the manager, restore a deleted user from Graph's deleted items). The plan runs\n"
                "the steps from the last one back: a deleted user is restored first (with what\n"
                "it had when it was deleted), then what earlier steps removed is re-added. Steps\n"
                "that\n"
                "cannot be undone (a sent mail, revoked sessions, a Temporary Access Pass) are\n"
                "listed as such, as are steps that recorded nothing.\n"
                "\n"
                "Without --yes it only prints the plan. With --yes the plan runs as a new run of\n"
                "weir.undo (trigger \"undo of RUN\"), through the same executor as every run:\n"
                "durable, retried, held by the guard like any destructive step; each reverse\n"
                "step goes on after a failure. Every reverse step reads, compares and writes only\n"
                "what differs, so undoing twice changes nothing the second time.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "  -n, --dry-run      print the Graph requests the plan would send (reads only)\n"
                "  -y, --yes          queue the plan as a run\n"
                "      --json         the plan as JSON {undo_of, workflow, steps, impossible,\n"
                "                     unrecorded}\n"
                "  -h, --help         this help\n"
                "\n"
                "Exits 0 with the plan (and the queued run), 1 for a run not finished or unknown.",
        .run = cmd_undo,
    },
    {
        .name = "held",
        .summary = "list the runs the guard holds before a destructive step",
        .usage = "weir held [-c weir.yaml] [--json]",
        .help = "Lists the runs the mass-change brake (weir.yaml guard.destructive, or a\n"
                "workflow's own guard:) holds, grouped by workflow: each with the user its held\n"
                "step would change, the steps from there on that may take something away, and\n"
                "why it is held (which limit, how many users in the window). A held run stopped\n"
                "before its first destructive step that would pass the limit; everything before\n"
                "it ran. While any run is held the brake is on: every further destructive run is\n"
                "held too, until `weir release` or `weir reject` has decided them all.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "      --json         {count, workflows: [{workflow, runs: [{id, user, reason,\n"
                "                     held_at, step {idx, step_id, action, args},\n"
                "                     destructive_steps}]}]}\n"
                "  -h, --help         this help",
        .run = cmd_held,
    },
    {
        .name = "release",
        .summary = "let held runs go on past the guard",
        .usage = "weir release RUN... | --all [-c weir.yaml]",
        .help = "Releases held runs: each goes on from the step it was held before, and its\n"
                "destructive steps pass the guard without counting against the window again.\n"
                "Exactly the runs named (ids or unique prefixes), or every held run with --all.\n"
                "A run that is not held refuses the whole command (exit 1; nothing changes).\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "      --all          every held run\n"
                "  -h, --help         this help",
        .run = cmd_release,
    },
    {
        .name = "reject",
        .summary = "end held runs as cancelled",
        .usage = "weir reject RUN... | --all [--reason TEXT] [-c weir.yaml]",
        .help = "Rejects held runs: each ends cancelled with the error \"rejected by weir\n"
                "reject: TEXT\"; its held step and the steps after it never run.\n"
                "Exactly the runs named (ids or unique prefixes), or every held run with --all.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "      --all          every held run\n"
                "      --reason TEXT  why, kept in the run's history\n"
                "  -h, --help         this help",
        .run = cmd_reject,
    },
    {
        .name = "migrate",
        .summary = "bring the journal (SQLite, or a PostgreSQL database) to this weir's schema",
        .usage = "weir migrate [-c weir.yaml]",
        .help = "Brings the store weir.yaml's `state:` names to the schema this weir knows, and\n"
                "says from which version. `weir run` does the same whenever it opens the store,\n"
                "one transaction per step, so this is only needed to do it ahead of time. A\n"
                "PostgreSQL database (`state: postgresql://...`, the password in PGPASSWORD or a\n"
                "passfile, never in the URL) gets the whole schema and its version row (table\n"
                "weir_schema) in one transaction, under an advisory lock, so two instances never\n"
                "migrate at once. Running it again changes nothing; a store written by a newer\n"
                "weir is refused. The history commands (`weir runs`, `show`...) read either\n"
                "back end; on a database without the schema they say to run this first.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "  -h, --help         this help\n"
                "\n"
                "Exits 0 when the store is at this weir's version, 1 for a weir.yaml with\n"
                "errors, 3 when the store cannot be reached or migrated.",
        .run = cmd_migrate,
    },
    {
        .name = "export",
        .summary = "write the whole journal to one portable file (NDJSON), from either back end",
        .usage = "weir export [-c weir.yaml] [-o FILE]",
        .help = "Writes every event, run, step, approval and what triggers remember, from the\n"
                "journal `state:` names (SQLite or PostgreSQL), as one moment of it (one read\n"
                "transaction: the daemon may be running), to FILE or standard output. With\n"
                "`weir import` it moves a journal from SQLite into PostgreSQL, or back.\n"
                "\n"
                "The file is NDJSON: a first line naming the format and schema version, one\n"
                "line per row ({\"table\", \"row\"}), and an end line with the row count.\n"
                "Secrets are not in it (the journal keeps none), but HR payloads are: keep it\n"
                "as private as the journal.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "  -o, --output FILE  write to FILE (written whole, then renamed into place)\n"
                "  -h, --help         this help",
        .run = cmd_export,
    },
    {
        .name = "import",
        .summary = "load a file `weir export` wrote into an empty journal, of either back end",
        .usage = "weir import FILE|- [-c weir.yaml]",
        .help = "Loads an export into the journal `state:` names, SQLite or PostgreSQL: the\n"
                "store is migrated first (`weir migrate`) and must hold no events. Everything\n"
                "goes in one transaction: a line that does not read (the message names it), a\n"
                "file cut short (no end line) or a row the store refuses imports nothing. Stop\n"
                "the daemons that use the target first.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                "  -h, --help         this help",
        .run = cmd_import,
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
        .name = "schema",
        .summary = "print the JSON Schema of workflow files or of weir.yaml, for editors",
        .usage = "weir schema workflow|config [-o FILE]",
        .help =
            "Prints the JSON Schema (draft 2020-12) of a workflow file (`workflow`) or of\n"
            "weir.yaml (`config`), built from the same tables the loader checks with and\n"
            "`weir help` prints: every trigger's and action's arguments with their\n"
            "descriptions, choices and required keys. Editors complete and check files with\n"
            "it (VS Code: the YAML extension and a `# yaml-language-server: $schema=PATH`\n"
            "first line); workflows/schema/ in the source tree holds both.\n"
            "\n"
            "A file the schema accepts may still be refused by `weir validate`, which also\n"
            "compiles Lua, reads cron fields, finds scripts and compares workflows.\n"
            "\n"
            "Options:\n"
            "  -o, --output FILE  write it to FILE (replaced whole) instead of standard output\n"
            "  -h, --help         this help",
        .run = cmd_schema,
    },
    {
        .name = "help",
        .summary = "show help for a command, an action, a trigger or a file format",
        .usage = "weir help [COMMAND|ACTION|TRIGGER|actions|triggers|workflow|templates|config|"
                 "--man]",
        .help = "  weir help validate        a command's options\n"
                "  weir help actions         every action, one line each\n"
                "  weir help assign-license  an action's arguments\n"
                "  weir help triggers        every trigger kind\n"
                "  weir help webhook         a trigger's arguments\n"
                "  weir help workflow        the keys of a workflow file and of a step\n"
                "  weir help templates       {{ }}, nil and weir.null, numbers, timestamps, JSON\n"
                "  weir help config          the keys of weir.yaml\n"
                "  weir help --man           this help, all of it, as the manual page weir(1)\n"
                "                            (roff: `weir help --man | man -l -`)",
        .run = cmd_help,
    },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Not inlined: GCC's -Wstring-compare (-O3) takes an inlined constant name for a fixed-size
   array and warns about a comparison that is fine. */
__attribute__((noinline)) static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

/* What weir is, in one line: `weir --help`'s first and weir(1)'s NAME. */
static const char tagline[] = "event-driven identity lifecycle workflows for Microsoft Graph";

static void print_usage(FILE *f)
{
    fprintf(f, "weir — %s\n", tagline);
    fputs("\n"
          "Usage: weir [--help] [--version] COMMAND [ARGS]\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    for (const char *const *t = wr_trigger_names(); *t; t++) {
        const struct wr_trigger_kind *k = wr_trigger_find(*t);
        if (k->command) {
            fprintf(f, "  %-10s %s\n", k->command, k->command_summary);
        }
    }
    fputs("\n"
          "`weir help COMMAND` shows a command's options; `weir help actions` lists the actions\n"
          "a step can run and `weir help ACTION` their arguments; `weir help triggers` lists\n"
          "what starts a workflow (webhooks, files, clocks, and dates, changes and group\n"
          "members read from Entra) and `weir help TRIGGER` its arguments; `weir help auth`\n"
          "how webhooks are verified, with the HR vendors' presets (BambooHR, HiBob, Gusto,\n"
          "Deel, Rippling, SuccessFactors, Workday). `weir help --man` prints all of it as\n"
          "the manual page weir(1).\n"
          "\n"
          "While `weir run` runs, its admin listener (default http://127.0.0.1:8081) serves\n"
          "the web console at /ui/: runs with their steps and Graph's errors, retry and\n"
          "cancel, held runs and approvals, workflows and health.\n"
          "\n"
          "Exit codes: 0 success, 1 invalid input (a workflow or config has errors),\n"
          "            2 usage error (unknown command or option),\n"
          "            3 runtime failure (the journal cannot be opened, a port is taken).\n",
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
        wr_lua_set_defaults(&cfg->lua_limits);
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

/*
 * Reads the Graph credentials of cfg into *cred (cleared by the caller) and fills *go
 * (borrowing cfg and cred) for a read-only client. Returns WR_EXIT_OK, or WR_EXIT_INVALID with
 * what failed and why Graph is needed in d.
 */
static int read_graph_options(struct wr_config *cfg, struct wr_config_credentials *cred,
                              struct wr_graph_options *go, const char *why, struct wr_diags *d)
{
    char err[WR_ERR_MAX];
    if (wr_config_read_credentials(cfg, cred, err, sizeof(err)) != 0) {
        wr_diags_add(d, NULL, 0, 0, NULL, "%s: %s (%s)", cred->failed ? cred->failed : "graph", err,
                     why);
        wr_config_credentials_clear(cred);
        return WR_EXIT_INVALID;
    }
    *go = (struct wr_graph_options){
        .authority = cfg->graph.authority,
        .tenant = cfg->graph.tenant,
        .client_id = cfg->graph.client_id,
        .client_secret = cred->client_secret,
        .client_certificate_pem = cred->certificate_pem,
        .client_key_pem = cred->key_pem,
        .base_url = cfg->graph.base_url,
        .scope = cfg->graph.scope,
        .read_only = true,
    };
    return WR_EXIT_OK;
}

/*
 * Runs wf on event without touching the tenant (engine/exec/dryrun.h): reads the credentials
 * (a dry run still signs in, for its lookups) and prints the report.
 */
static int fire_dry_run(struct wr_config *cfg, const struct wr_workflow *wf,
                        struct json_object *event, struct wr_diags *d)
{
    char err[WR_ERR_MAX];
    struct wr_config_credentials cred = {0};
    struct wr_graph_options go;
    int rc =
        read_graph_options(cfg, &cred, &go, "a dry run still reads from Graph for its lookups", d);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    rc = wr_dryrun(&go, wf, event, &cfg->guard, cfg->state, cfg->mail_from, stdout, err,
                   sizeof(err));
    wr_config_credentials_clear(&cred);
    if (rc != 0) {
        if (err[0]) {
            wr_diags_add(d, NULL, 0, 0, NULL, "%s", err);
        }
        return WR_EXIT_RUNTIME;
    }
    return WR_EXIT_OK;
}

/* {====== reading the tenant: fire --user and scope ====== */

/* The read-only Graph client and directory of a command that reads the tenant, as a dry run
   makes them (wr_dryrun_directory), on a loop of its own. */
struct tenant {
    struct event_base *base;
    struct wr_config_credentials cred;
    struct wr_graph *g;
    struct wr_directory *dir;
};

/* Opens t for cfg; WR_EXIT_OK, or an exit code with why in d. why says what Graph is for. */
static int tenant_open(struct wr_config *cfg, struct tenant *t, const char *why, struct wr_diags *d)
{
    struct wr_graph_options go;
    char err[WR_ERR_MAX];
    memset(t, 0, sizeof(*t));
    int rc = read_graph_options(cfg, &t->cred, &go, why, d);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    evthread_use_pthreads();
    if (!(t->base = event_base_new())) {
        wr_diags_add(d, NULL, 0, 0, NULL, "cannot create an event loop");
        return WR_EXIT_RUNTIME;
    }
    if (!(t->dir = wr_dryrun_directory(t->base, &go, &t->g, err, sizeof(err)))) {
        wr_diags_add(d, NULL, 0, 0, NULL, "graph: %s", err);
        return WR_EXIT_INVALID;
    }
    return WR_EXIT_OK;
}

static void tenant_close(struct tenant *t)
{
    wr_graph_free(t->g); /* first: it drops the directory's pending callbacks */
    wr_directory_free(t->dir);
    if (t->base) {
        event_base_free(t->base);
    }
    wr_config_credentials_clear(&t->cred);
    memset(t, 0, sizeof(*t));
}

/* "Graph 404 Request_ResourceNotFound: MESSAGE (request-id R, client-request-id C)", or "". */
static char *graph_part(const struct wr_graph_result *g)
{
    if (!g) {
        return wr_xstrdup("");
    }
    char *ids = wr_graph_result_ids(g);
    char *text = wr_xasprintf("Graph %ld %s: %s%s", g->status, g->error_code ? g->error_code : "?",
                              g->error_message ? g->error_message : "", ids);
    free(ids);
    return text;
}

/* The names of the kinds that have the given slot, for messages, or "none yet" (static). */
static const char *kinds_with(bool scope)
{
    static char buf[2][256];
    char *out = buf[scope];
    out[0] = '\0';
    for (size_t i = 0; i < wr_trigger_count(); i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        if (scope ? k->scope != NULL : (k->user_select && k->user_event)) {
            size_t len = strlen(out);
            snprintf(out + len, sizeof(buf[0]) - len, "%s%s", len ? ", " : "", k->name);
        }
    }
    return out[0] ? out : "none yet";
}

struct user_wait {
    struct event_base *base;
    const struct wr_workflow *wf;
    const char *ref;
    struct json_object *event; /* owned: the on-demand event */
    char *error;               /* owned: why there is none */
};

static void on_user(void *arg, const struct wr_directory_result *r)
{
    struct user_wait *w = arg;
    char err[WR_ERR_MAX];
    if (!r->ok) {
        char *graph = graph_part(r->graph);
        /* r->error names the user ("user 'x' not found"); Graph's answer follows it. */
        char *what =
            r->error ? wr_xstrdup(r->error) : wr_xasprintf("user %s cannot be read", w->ref);
        w->error = wr_xasprintf("%s%s%s", what, graph[0] ? ": " : "", graph);
        free(what);
        free(graph);
    } else if (!(w->event = w->wf->trigger->user_event(w->wf, r->object, err, sizeof(err)))) {
        w->error = wr_xstrdup(err);
    }
    event_base_loopexit(w->base, NULL);
}

/*
 * `fire --user REF`: reads the user through the directory (the kind's $select) and builds the
 * on-demand event of wf for it into *event (owned). Returns WR_EXIT_OK, or an exit code with
 * why in d.
 */
static int user_event(struct wr_config *cfg, const struct wr_workflow *wf, const char *ref,
                      struct json_object **event, struct wr_diags *d)
{
    struct tenant t;
    int rc = tenant_open(cfg, &t, "--user reads the user from Graph", d);
    char *select = rc == WR_EXIT_OK ? wf->trigger->user_select(wf) : NULL;
    struct user_wait w = {t.base, wf, ref, NULL, NULL};
    if (rc != WR_EXIT_OK) {
        goto out;
    }
    if (!select) {
        wr_diags_add(d, NULL, 0, 0, NULL, "workflow %s: its trigger arguments do not read",
                     wf->name);
        rc = WR_EXIT_INVALID;
        goto out;
    }
    if (wr_directory_user(t.dir, ref, select, on_user, &w) != 0) {
        wr_diags_add(d, NULL, 0, 0, NULL,
                     "--user '%s' is not a user reference (an object id, a userPrincipalName "
                     "or mail, or employeeId:VALUE)",
                     ref);
        rc = WR_EXIT_INVALID;
        goto out;
    }
    event_base_loop(t.base, EVLOOP_NO_EXIT_ON_EMPTY);
    if (!w.event) {
        wr_diags_add(d, NULL, 0, 0, NULL, "%s", w.error ? w.error : "the user was not read");
        rc = WR_EXIT_RUNTIME;
        goto out;
    }
    *event = w.event;
    w.event = NULL;
out:
    free(select);
    free(w.error);
    json_object_put(w.event);
    tenant_close(&t);
    return rc;
}

/* }====== */

struct fire_wait {
    struct event_base *base;
    int rc;
    char event_id[40];
    bool duplicate;
    int runs;
    char error[WR_ERR_MAX];
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

/*
 * Stores event (borrowed) for wf (borrowed) as `source` through the ingest path every trigger
 * takes (key and scope may be NULL), with the daemon running or not. The outcome lands in *w.
 * Returns WR_EXIT_OK, or WR_EXIT_RUNTIME with the reason added to d.
 */
static int store_event(const struct wr_config *cfg, const struct wr_workflow *wf,
                       struct json_object *event, const char *source, const char *key,
                       const char *scope, struct fire_wait *w, struct wr_diags *d)
{
    char err[WR_ERR_MAX];
    struct wr_ingest *ingest = NULL;
    int rc = WR_EXIT_RUNTIME;
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    struct wr_journal *journal =
        base ? wr_journal_open(base, cfg->state, 0, err, sizeof(err)) : NULL;
    if (!journal) {
        wr_diags_add(d, NULL, 0, 0, NULL, "%s", base ? err : "cannot create an event loop");
        goto out;
    }
    ingest = wr_ingest_new(base, journal);
    struct wr_ingest_event ev = {.event = event, .key = key, .scope = scope};
    *w = (struct fire_wait){base, -1, "", false, 0, ""};
    if (wr_ingest_submit(ingest, source, NULL, &wf, 1, &ev, 1, on_fired, w) != 0) {
        wr_diags_add(d, NULL, 0, 0, NULL, "the journal is closing");
        goto out;
    }
    /* The commit is announced from the writer thread: keep looping while nothing is pending. */
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    if (w->rc != 0) {
        wr_diags_add(d, NULL, 0, 0, NULL, "the event could not be stored: %s", w->error);
        goto out;
    }
    rc = WR_EXIT_OK;
out:
    wr_ingest_free(ingest);
    wr_journal_close(journal);
    if (base) {
        event_base_free(base);
    }
    return rc;
}

/*
 * Loads config_path into *cfg and its workflows into *set (both owned by the caller, also on
 * failure), and checks that one is named name (a suggestion when not). Returns 0, or -1 with
 * why in d.
 */
static int load_workflow(const char *config_path, const char *name, struct wr_config **cfg,
                         struct wr_workflow_set **set, struct wr_diags *d)
{
    if (wr_config_load(config_path, cfg, d) != 0) {
        return -1;
    }
    wr_lua_set_defaults(&(*cfg)->lua_limits);
    const char *dir = (*cfg)->workflows;
    if (wr_workflow_set_load(&dir, 1, (*cfg)->dir, (*cfg)->env_allow, set, d) != 0) {
        return -1;
    }
    if (!wr_workflow_set_find(*set, name)) {
        const char **names = wr_xcalloc((*set)->count + 1, sizeof(*names));
        for (size_t i = 0; i < (*set)->count; i++) {
            names[i] = (*set)->items[i]->name;
        }
        const char *sug = wr_suggest(name, names);
        wr_diags_add(d, NULL, 0, 0, NULL, "no workflow named '%s'%s%s%s", name,
                     sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
        free(names);
        return -1;
    }
    return 0;
}

static int cmd_fire(int argc, char **argv)
{
    static const struct option opts[] = {
        {"event", required_argument, NULL, 'e'},
        {"key", required_argument, NULL, 'k'},
        {"dry-run", no_argument, NULL, 'n'},
        {"config", required_argument, NULL, 'c'},
        {"user", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const struct command *self = find_command("fire");
    const char *config_path = "weir.yaml", *event_path = NULL, *key = NULL, *user = NULL;
    struct wr_diags d = {0};
    struct wr_config *cfg = NULL;
    struct wr_workflow_set *set = NULL;
    struct json_object *event = NULL;
    bool dry_run = false;
    int c, rc = WR_EXIT_INVALID;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "e:k:nc:u:h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            event_path = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'n':
            dry_run = true;
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
    if (event_path && user) {
        return usage_error("fire: --event and --user exclude each other%s", "", self);
    }
    if (!event_path && !user) {
        return usage_error("fire: --event FILE or --user UPN|ID is required%s", "", self);
    }
    const char *name = argv[optind];
    if (load_workflow(config_path, name, &cfg, &set, &d) != 0) {
        goto out;
    }
    const struct wr_workflow *wf = wr_workflow_set_find(set, name);
    if (user && !(wf->trigger->user_select && wf->trigger->user_event)) {
        wr_diags_add(&d, NULL, 0, 0, NULL,
                     "workflow '%s' is triggered by %s, which has no user events: --user works "
                     "for workflows triggered by %s",
                     name, wf->trigger->name, kinds_with(false));
        goto out;
    }
    if (user) {
        if ((rc = user_event(cfg, wf, user, &event, &d)) != WR_EXIT_OK) {
            goto out;
        }
        rc = WR_EXIT_INVALID;
    } else if (read_event(event_path, &event, &d) != 0) {
        goto out;
    }
    if (dry_run) {
        rc = fire_dry_run(cfg, wf, event, &d);
        goto out;
    }
    /* A --key is the workflow's own: the same key fired at another workflow, or sent by a
       webhook, is another event. */
    char *scope = wr_xasprintf("manual %s", wf->name);
    struct fire_wait w;
    rc = store_event(cfg, wf, event, "manual", key, scope, &w, &d);
    free(scope);
    if (rc != WR_EXIT_OK) {
        goto out;
    }
    if (w.duplicate) {
        printf("duplicate: key '%s' was already used for workflow %s by event %s; nothing stored\n",
               key, name, w.event_id);
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
    json_object_put(event);
    wr_workflow_set_free(set);
    wr_config_free(cfg);
    return rc;
}

/* }====== */

/* {====== history ====== */

/* What the history commands read: the store from weir.yaml's `state:`, and the workflows. */
struct history_ctx {
    struct wr_config *cfg;
    struct wr_db *db;
    struct wr_workflow_set *set; /* NULL when the workflows do not load */
};

static void history_close(struct history_ctx *h)
{
    wr_journal_close_reader(h->db);
    wr_workflow_set_free(h->set);
    wr_config_free(h->cfg);
}

/* Opens the store named by config_path; prints why not and returns WR_EXIT_INVALID. */
static int history_open(const char *config_path, struct history_ctx *h)
{
    struct wr_diags d = {0};
    char err[WR_ERR_MAX];

    memset(h, 0, sizeof(*h));
    if (wr_config_load(config_path, &h->cfg, &d) != 0) {
        wr_diags_print(&d, stderr);
        wr_diags_clear(&d);
        return WR_EXIT_INVALID;
    }
    h->db = wr_journal_open_reader(h->cfg->state, err, sizeof(err));
    if (!h->db) {
        fprintf(stderr, "weir: %s\n", err);
        history_close(h);
        return WR_EXIT_INVALID;
    }
    /* Only for step counts and action names: history must work when the workflows do not
       load, which is when admins need it most, so their errors are not this command's. */
    const char *dir = h->cfg->workflows;
    if (wr_workflow_set_load(&dir, 1, h->cfg->dir, h->cfg->env_allow, &h->set, &d) != 0) {
        h->set = NULL;
    }
    wr_diags_clear(&d);
    return WR_EXIT_OK;
}

/* Borrowed string member of o, or NULL. */
static const char *member_str(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static void print_json(struct json_object *o)
{
    printf("%s\n",
           json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int cmd_runs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"workflow", required_argument, NULL, 'w'},
        {"status", required_argument, NULL, 's'}, {"since", required_argument, NULL, 'S'},
        {"limit", required_argument, NULL, 'n'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    const struct command *self = find_command("runs");
    const char *config_path = "weir.yaml";
    struct wr_history_filter f = {0};
    struct history_ctx h = {0};
    struct json_object *list = NULL;
    bool json = false;
    char err[WR_ERR_MAX];
    int c, rc;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:w:s:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'w':
            f.workflow = optarg;
            break;
        case 's':
            if (!wr_history_status_valid(optarg)) {
                struct wr_buf msg = {0};
                wr_buf_addf(&msg, "runs: unknown status '%s' (one of ", optarg);
                for (const char *const *s = wr_history_run_statuses(); *s; s++) {
                    wr_buf_addf(&msg, "%s%s", s == wr_history_run_statuses() ? "" : ", ", *s);
                }
                wr_buf_addc(&msg, ')');
                rc = usage_error("%s", wr_buf_str(&msg), self);
                wr_buf_free(&msg);
                return rc;
            }
            f.status = optarg;
            break;
        case 'S':
            if (wr_duration_parse(optarg, &f.since_ms, err, sizeof(err)) != 0) {
                return usage_error("runs: --since: %s", err, self);
            }
            break;
        case 'n': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end || n < 1 || n > 1000000) {
                return usage_error("runs: --limit wants a number from 1 to 1000000, not '%s'",
                                   optarg, self);
            }
            f.limit = (int)n;
            break;
        }
        case 'j':
            json = true;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return usage_error("runs: unknown option or missing value '%s'", argv[optind - 1],
                               self);
        }
    }
    if (optind != argc) {
        return usage_error("runs: unexpected argument '%s'", argv[optind], self);
    }
    rc = history_open(config_path, &h);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    /* Page by page (at most WR_HISTORY_MAX_LIMIT runs in memory), however many are asked. */
    int64_t now = wr_clock_wall_ms(), total = 0,
            left = f.limit > 0 ? f.limit : WR_HISTORY_DEFAULT_LIMIT;
    size_t shown = 0;
    struct wr_history_table table;
    char cursor[WR_HISTORY_CURSOR_MAX] = "", next[WR_HISTORY_CURSOR_MAX] = "";
    wr_history_table_init(&table, 100);
    rc = WR_EXIT_INVALID;
    do {
        f.limit = left < WR_HISTORY_MAX_LIMIT ? (int)left : WR_HISTORY_MAX_LIMIT;
        f.cursor = cursor[0] ? cursor : NULL;
        if (wr_history_list_page(h.db, &f, now, &list, next, sizeof(next), err, sizeof(err)) != 0) {
            fprintf(stderr, "weir: %s\n", err);
            goto out;
        }
        size_t n = json_object_array_length(list);
        for (size_t i = 0; i < n; i++) {
            struct json_object *run = json_object_array_get_idx(list, i);
            wr_history_annotate(run, h.set);
            if (json) {
                printf("%s", shown + i == 0 ? "[\n" : ",\n");
                fputs(json_object_to_json_string_ext(run, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE),
                      stdout);
            }
        }
        if (!json && n > 0) {
            char *text = wr_history_format_table_page(&table, list, now);
            fputs(text, stdout);
            free(text);
        }
        shown += n;
        left -= (int64_t)n;
        json_object_put(list);
        list = NULL;
        snprintf(cursor, sizeof(cursor), "%s", next);
    } while (cursor[0] && left > 0);
    if (json) {
        printf(shown ? "\n]\n" : "[]\n");
    } else if (shown > 0) {
        /* the table is out */
    } else if (wr_history_count(h.db, &total, err, sizeof(err)) != 0) {
        fprintf(stderr, "weir: %s\n", err);
        goto out;
    } else if (total == 0) {
        printf("no runs yet\n");
    } else {
        printf("no runs match (%lld in the store)\n", (long long)total);
    }
    rc = WR_EXIT_OK;
out:
    json_object_put(list);
    history_close(&h);
    return rc;
}

/* A usage error whose message names the command (usage_error takes one argument). */
static int run_usage_error(const struct command *self, const char *what, const char *arg)
{
    char *msg = wr_xasprintf("%s: %s%s%s%s", self->name, what, arg ? " '" : "", arg ? arg : "",
                             arg ? "'" : "");
    int rc = usage_error("%s", msg, self);
    free(msg);
    return rc;
}

/*
 * The command line of show, retry and cancel: one RUN, -c, and `extra`, the command's own
 * flag (set in *flag when given; NULL: none). Returns WR_EXIT_OK with *help false to go on.
 */
static int parse_run_args(int argc, char **argv, const struct command *self, const char *extra,
                          const char **config_path, const char **run, bool *flag, bool *help)
{
    const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {extra ? extra : "help", no_argument, NULL, extra ? 'x' : 'h'},
        {0},
    };
    int c;

    *config_path = "weir.yaml";
    *help = false;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *config_path = optarg;
            break;
        case 'x':
            *flag = true;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            *help = true;
            return WR_EXIT_OK;
        default:
            return run_usage_error(self, "unknown option or missing value", argv[optind - 1]);
        }
    }
    if (optind == argc) {
        return run_usage_error(self, "give the RUN id (or a unique prefix of it)", NULL);
    }
    if (optind != argc - 1) {
        return run_usage_error(self, "one RUN at a time; unexpected argument", argv[optind + 1]);
    }
    *run = argv[optind];
    return WR_EXIT_OK;
}

static int cmd_show(int argc, char **argv)
{
    const struct command *self = find_command("show");
    const char *config_path, *run = NULL;
    struct history_ctx h;
    struct json_object *shown = NULL;
    bool json = false, help;
    char err[WR_ERR_MAX];

    int rc = parse_run_args(argc, argv, self, "json", &config_path, &run, &json, &help);
    if (rc != WR_EXIT_OK || help) {
        return rc;
    }
    rc = history_open(config_path, &h);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    char id[128];
    if (wr_history_resolve(h.db, run, id, sizeof(id), err, sizeof(err)) != 0 ||
        wr_history_show(h.db, id, &shown, err, sizeof(err)) != 0) {
        fprintf(stderr, "weir: %s\n", err);
        rc = WR_EXIT_INVALID;
    } else {
        wr_history_annotate(shown, h.set);
        if (json) {
            print_json(shown);
        } else {
            char *text = wr_history_format_run(shown, wr_clock_wall_ms());
            fputs(text, stdout);
            free(text);
        }
    }
    json_object_put(shown);
    history_close(&h);
    return rc;
}

/* "3/8 assign-license": the first step the executor will run, from a shown run. */
static char *resume_point(struct json_object *run)
{
    struct json_object *steps = NULL, *total = NULL;
    struct wr_buf b = {0};
    json_object_object_get_ex(run, "steps", &steps);
    json_object_object_get_ex(run, "steps_total", &total);
    for (size_t i = 0; steps && i < json_object_array_length(steps); i++) {
        struct json_object *s = json_object_array_get_idx(steps, i), *v;
        const char *status = member_str(s, "status");
        if (status && (strcmp(status, "succeeded") == 0 || strcmp(status, "skipped") == 0)) {
            continue;
        }
        int64_t idx = json_object_object_get_ex(s, "idx", &v) ? json_object_get_int64(v) : 0;
        if (idx >= WR_ON_ERROR_BASE) {
            wr_buf_addf(&b, "on_error step %lld", (long long)(idx - WR_ON_ERROR_BASE + 1));
        } else {
            wr_buf_addf(&b, "step %lld", (long long)idx + 1);
            if (total) {
                wr_buf_addf(&b, "/%lld", (long long)json_object_get_int64(total));
            }
        }
        const char *id = member_str(s, "step_id");
        id = id ? id : member_str(s, "action");
        if (id) {
            wr_buf_addf(&b, " (%s)", id);
        }
        return wr_buf_take(&b);
    }
    return wr_xstrdup("the step after the last one recorded");
}

static int cmd_retry(int argc, char **argv)
{
    const struct command *self = find_command("retry");
    const char *config_path, *run = NULL;
    struct history_ctx h;
    struct json_object *after = NULL;
    bool same_version = false, help;
    char err[WR_ERR_MAX];

    int rc =
        parse_run_args(argc, argv, self, "same-version", &config_path, &run, &same_version, &help);
    if (rc != WR_EXIT_OK || help) {
        return rc;
    }
    rc = history_open(config_path, &h);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    char id[128];
    if (wr_history_resolve(h.db, run, id, sizeof(id), err, sizeof(err)) != 0 ||
        wr_history_retry(h.db, id, same_version, wr_clock_wall_ms(), &after, err, sizeof(err)) !=
            0) {
        fprintf(stderr, "weir: %s\n", err);
        rc = WR_EXIT_INVALID;
    } else {
        wr_history_annotate(after, h.set);
        char *from = resume_point(after);
        const char *hash = member_str(after, "workflow_hash");
        if (hash && hash[0]) {
            printf("%s queued again: it resumes at %s, on the version it started with (%.12s)\n",
                   member_str(after, "id"), from, hash);
        } else {
            printf("%s queued again: it resumes at %s, on the workflow's current version\n",
                   member_str(after, "id"), from);
        }
        free(from);
    }
    json_object_put(after);
    history_close(&h);
    return rc;
}

static int cmd_cancel(int argc, char **argv)
{
    const struct command *self = find_command("cancel");
    const char *config_path, *run = NULL;
    struct history_ctx h;
    struct json_object *after = NULL;
    bool unused = false, help;
    char err[WR_ERR_MAX];

    int rc = parse_run_args(argc, argv, self, NULL, &config_path, &run, &unused, &help);
    if (rc != WR_EXIT_OK || help) {
        return rc;
    }
    rc = history_open(config_path, &h);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    char id[128];
    if (wr_history_resolve(h.db, run, id, sizeof(id), err, sizeof(err)) != 0 ||
        wr_history_cancel(h.db, id, wr_clock_wall_ms(), &after, err, sizeof(err)) != 0) {
        fprintf(stderr, "weir: %s\n", err);
        rc = WR_EXIT_INVALID;
    } else {
        printf("%s cancelled\n", member_str(after, "id"));
    }
    json_object_put(after);
    history_close(&h);
    return rc;
}

/* {====== undo ====== */

/* The plan as the CLI prints it. */
static void print_plan(struct json_object *plan)
{
    struct json_object *steps = json_object_object_get(plan, "steps");
    size_t n = json_object_array_length(steps);
    printf("undo of %s (workflow %s): %zu step%s\n", member_str(plan, "undo_of"),
           member_str(plan, "workflow"), n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        struct json_object *st = json_object_array_get_idx(steps, i), *args = NULL;
        json_object_deep_copy(st, &args, NULL);
        json_object_object_del(args, "action");
        json_object_object_del(args, "continue_on_error");
        printf("  %zu. %s %s\n", i + 1, member_str(st, "action"),
               json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(args);
    }
    static const char *const lists[][2] = {
        {"impossible", "Cannot be undone"},
        {"unrecorded", "Recorded nothing to undo (left as they are)"},
    };
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
        struct json_object *a = json_object_object_get(plan, lists[l][0]);
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
            struct json_object *e = json_object_array_get_idx(a, i);
            const char *why = member_str(e, "why"), *action = member_str(e, "action");
            if (i == 0) {
                printf("%s:\n", lists[l][1]);
            }
            printf("  %s (%s)%s%s\n", member_str(e, "step"), action ? action : "?", why ? ": " : "",
                   why ? why : "");
        }
    }
}

static int cmd_undo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"dry-run", no_argument, NULL, 'n'},
        {"yes", no_argument, NULL, 'y'},          {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    const struct command *self = find_command("undo");
    const char *config_path = "weir.yaml";
    bool dry_run = false, yes = false, json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:nyh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'n':
            dry_run = true;
            break;
        case 'y':
            yes = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return run_usage_error(self, "unknown option or missing value", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        return run_usage_error(self,
                               optind == argc ? "give the RUN id (or a unique prefix of it)"
                                              : "one RUN at a time; unexpected argument",
                               optind < argc - 1 ? argv[optind + 1] : NULL);
    }
    if (dry_run && yes) {
        return run_usage_error(self, "--dry-run or --yes, not both", NULL);
    }
    struct history_ctx h;
    int rc = history_open(config_path, &h);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    char id[128], err[WR_ERR_MAX];
    struct json_object *shown = NULL, *plan = NULL;
    struct wr_diags d = {0};
    struct wr_workflow *wf = NULL;
    if (wr_history_resolve(h.db, argv[optind], id, sizeof(id), err, sizeof(err)) != 0 ||
        wr_history_show(h.db, id, &shown, err, sizeof(err)) != 0) {
        fprintf(stderr, "weir: %s\n", err);
        rc = WR_EXIT_INVALID;
        goto out;
    }
    const char *status = member_str(shown, "status");
    if (!status ||
        (strcmp(status, "succeeded") != 0 && strcmp(status, "failed") != 0 &&
         strcmp(status, "succeeded_with_errors") != 0 && strcmp(status, "cancelled") != 0)) {
        fprintf(stderr,
                "weir: run %s has status %s: only a finished run can be undone (weir cancel "
                "stops one first)\n",
                id, status ? status : "?");
        rc = WR_EXIT_INVALID;
        goto out;
    }
    wr_history_annotate(shown, h.set);
    plan = wr_undo_plan(shown);
    if (json) {
        print_json(plan);
    } else {
        print_plan(plan);
    }
    if (json_object_array_length(json_object_object_get(plan, "steps")) == 0) {
        if (!json) {
            printf("\nNothing to undo.\n");
        }
        goto out;
    }
    if (wr_undo_workflow(plan, h.cfg->env_allow, &wf, &d) != 0) {
        rc = WR_EXIT_INVALID;
        goto out;
    }
    if (dry_run) {
        printf("\n");
        rc = fire_dry_run(h.cfg, wf, plan, &d);
    } else if (yes) {
        char *source = wr_xasprintf("undo of %s", id);
        struct fire_wait w;
        rc = store_event(h.cfg, wf, plan, source, NULL, NULL, &w, &d);
        free(source);
        if (rc == WR_EXIT_OK && !json) {
            printf("\nqueued: event %s, a run of %s (weir runs --workflow %s)\n", w.event_id,
                   WR_UNDO_WORKFLOW, WR_UNDO_WORKFLOW);
        }
    } else if (!json) {
        printf("\nNothing done: --yes runs this plan, --dry-run shows the Graph requests.\n");
    }
out:
    wr_diags_print(&d, stderr);
    wr_diags_clear(&d);
    wr_workflow_free(wf);
    json_object_put(plan);
    json_object_put(shown);
    history_close(&h);
    return rc;
}

/* }====== */

/* {====== held runs: held, release, reject ====== */

static int cmd_held(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const struct command *self = find_command("held");
    const char *config_path = "weir.yaml";
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return run_usage_error(self, "unknown option or missing value", argv[optind - 1]);
        }
    }
    if (optind != argc) {
        return run_usage_error(self, "unexpected argument", argv[optind]);
    }
    struct history_ctx h;
    int rc = history_open(config_path, &h);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    char err[WR_ERR_MAX];
    struct json_object *list = NULL;
    if (wr_held_list(h.db, &list, err, sizeof(err)) != 0) {
        fprintf(stderr, "weir: %s\n", err);
        history_close(&h);
        return WR_EXIT_INVALID;
    }
    struct json_object *grouped = wr_held_group(list, h.set);
    json_object_put(list);
    if (json) {
        print_json(grouped);
    } else {
        int64_t n = json_object_get_int64(json_object_object_get(grouped, "count"));
        struct json_object *groups = json_object_object_get(grouped, "workflows");
        if (n == 0) {
            printf("no runs are held: the brake is off\n");
        } else {
            printf("%lld run%s held: the brake is on (weir release RUN... | --all, weir reject "
                   "RUN... | --all)\n",
                   (long long)n, n == 1 ? " is" : "s are");
        }
        for (size_t i = 0; i < json_object_array_length(groups); i++) {
            struct json_object *g = json_object_array_get_idx(groups, i);
            struct json_object *runs = json_object_object_get(g, "runs");
            printf("\n%s (%zu)\n", member_str(g, "workflow"), json_object_array_length(runs));
            for (size_t j = 0; j < json_object_array_length(runs); j++) {
                struct json_object *r = json_object_array_get_idx(runs, j);
                struct json_object *ds = json_object_object_get(r, "destructive_steps");
                const char *user = member_str(r, "user");
                printf("  %s  %s  would run:", member_str(r, "short_id"), user ? user : "-");
                for (size_t k = 0; k < json_object_array_length(ds); k++) {
                    struct json_object *d = json_object_array_get_idx(ds, k);
                    const char *sid = member_str(d, "step_id");
                    printf("%s %s%s%s%s", k ? "," : "", member_str(d, "action"), sid ? " (" : "",
                           sid ? sid : "", sid ? ")" : "");
                }
                printf("\n    %s\n", member_str(r, "reason") ? member_str(r, "reason") : "");
            }
        }
    }
    json_object_put(grouped);
    history_close(&h);
    return WR_EXIT_OK;
}

/* release and reject: RUN... or --all, and reject's --reason. */
static int decide_held(int argc, char **argv, bool release)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"all", no_argument, NULL, 'a'},
        {"reason", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const struct command *self = find_command(release ? "release" : "reject");
    const char *config_path = "weir.yaml", *reason = NULL;
    bool all = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'a':
            all = true;
            break;
        case 'r':
            if (release) {
                return run_usage_error(self, "--reason is for weir reject", NULL);
            }
            reason = optarg;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return run_usage_error(self, "unknown option or missing value", argv[optind - 1]);
        }
    }
    if (all == (optind < argc)) {
        return run_usage_error(self, all ? "--all or RUN ids, not both" : "give RUN ids or --all",
                               NULL);
    }
    struct history_ctx h;
    int rc = history_open(config_path, &h);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    size_t n = (size_t)(argc - optind);
    char **ids = wr_xcalloc(n + 1, sizeof(*ids));
    char err[WR_ERR_MAX];
    rc = WR_EXIT_OK;
    for (size_t i = 0; i < n && rc == WR_EXIT_OK; i++) {
        char id[128];
        if (wr_history_resolve(h.db, argv[optind + (int)i], id, sizeof(id), err, sizeof(err)) !=
            0) {
            fprintf(stderr, "weir: %s\n", err);
            rc = WR_EXIT_INVALID;
        } else {
            ids[i] = wr_xstrdup(id);
        }
    }
    struct json_object *done = NULL;
    if (rc == WR_EXIT_OK &&
        wr_held_decide(h.db, (const char *const *)ids, n, all, release, "weir reject", reason,
                       wr_clock_wall_ms(), &done, err, sizeof(err)) != 0) {
        fprintf(stderr, "weir: %s\n", err);
        rc = WR_EXIT_INVALID;
    }
    for (size_t i = 0; done && i < json_object_array_length(done); i++) {
        printf("%s %s\n", json_object_get_string(json_object_array_get_idx(done, i)),
               release ? "released" : "rejected (cancelled)");
    }
    if (done && json_object_array_length(done) == 0) {
        printf("no runs are held\n");
    }
    json_object_put(done);
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
    }
    free(ids);
    history_close(&h);
    return rc;
}

static int cmd_release(int argc, char **argv)
{
    return decide_held(argc, argv, true);
}

static int cmd_reject(int argc, char **argv)
{
    return decide_held(argc, argv, false);
}

static int cmd_approve(int argc, char **argv)
{
    const struct command *self = find_command("approve");
    const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {"as", required_argument, NULL, 'a'},     {"reason", required_argument, NULL, 'r'},
        {"reject", no_argument, NULL, 'x'},       {0},
    };
    const char *config_path = "weir.yaml", *as = NULL, *reason = NULL;
    bool reject = false;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'a':
            as = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'x':
            reject = true;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return run_usage_error(self, "unknown option or missing value", argv[optind - 1]);
        }
    }
    if (optind == argc) {
        return run_usage_error(self, "give the RUN id (or a unique prefix of it)", NULL);
    }
    if (optind != argc - 1) {
        return run_usage_error(self, "one RUN at a time; unexpected argument", argv[optind + 1]);
    }
    if (!as || !*as || !wr_utf8_valid(as, strlen(as))) {
        return run_usage_error(self, "give --as NAME: who decides", NULL);
    }
    if (reason && !wr_utf8_valid(reason, strlen(reason))) {
        return run_usage_error(self, "--reason is not UTF-8", NULL);
    }
    struct history_ctx h;
    int rc = history_open(config_path, &h);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    struct wr_approval a = {0};
    char id[128], err[WR_ERR_MAX];
    int found = 0;
    if (wr_history_resolve(h.db, argv[optind], id, sizeof(id), err, sizeof(err)) != 0 ||
        (found = wr_approval_open_for_run(h.db, id, &a, err, sizeof(err))) < 0) {
        fprintf(stderr, "weir: %s\n", err);
        rc = WR_EXIT_INVALID;
    } else if (found == 0) {
        fprintf(stderr,
                "weir: run %s has no open approval request (`weir show %s` shows its steps)\n", id,
                id);
        rc = WR_EXIT_INVALID;
    } else {
        int drc = wr_approval_decide(h.db, id, a.step_idx, !reject, as, reason, wr_clock_wall_ms(),
                                     err, sizeof(err));
        if (drc != 0) {
            fprintf(stderr, "weir: %s\n", err);
            rc = drc == WR_APPROVAL_EDB ? WR_EXIT_RUNTIME : WR_EXIT_INVALID;
        } else {
            printf("%s %s by %s\n", id, reject ? "rejected" : "approved", as);
        }
    }
    wr_approval_clear(&a);
    history_close(&h);
    return rc;
}

/* }====== */

/* {====== scope ====== */

struct scope_wait {
    struct event_base *base;
    struct json_object *preview; /* owned copy */
    char *error;                 /* owned */
};

static void on_scope(void *arg, struct json_object *preview, const char *error)
{
    struct scope_wait *w = arg;
    if (preview) {
        json_object_deep_copy(preview, &w->preview, NULL);
    } else {
        w->error = wr_xstrdup(error ? error : "the preview failed");
    }
    event_base_loopexit(w->base, NULL);
}

/* Adds s padded to width columns (bytes; UTF-8 continuation bytes not counted). */
static void pad_cell(struct wr_buf *b, const char *s, size_t width)
{
    size_t cols = 0;
    for (const char *p = s; *p; p++) {
        cols += ((unsigned char)*p & 0xC0) != 0x80;
    }
    wr_buf_add(b, s);
    for (; cols < width; cols++) {
        wr_buf_addc(b, ' ');
    }
}

/* The preview as text: its summary, then STATE, DUE (local), USER, NAME, DETAIL per user. */
static void print_scope(struct json_object *p)
{
    static const char *const keys[] = {"state", "due_local", "userPrincipalName", "displayName",
                                       "detail"};
    struct json_object *users = NULL;
    size_t widths[5] = {0};
    const char *zone = member_str(p, "zone");
    char *due_head = wr_xasprintf("DUE (%s)", zone ? zone : "local");
    const char *heads[5] = {"STATE", due_head, "USER", "NAME", "DETAIL"};

    printf("%s %s: %s\n", member_str(p, "trigger") ? member_str(p, "trigger") : "?",
           member_str(p, "workflow") ? member_str(p, "workflow") : "?",
           member_str(p, "summary") ? member_str(p, "summary") : "");
    if (!json_object_object_get_ex(p, "users", &users) ||
        !json_object_is_type(users, json_type_array) || json_object_array_length(users) == 0) {
        free(due_head);
        return;
    }
    size_t n = json_object_array_length(users);
    for (int c = 0; c < 5; c++) {
        widths[c] = strlen(heads[c]);
        for (size_t i = 0; i < n; i++) {
            const char *v = member_str(json_object_array_get_idx(users, i), keys[c]);
            size_t len = v ? strlen(v) : 1;
            widths[c] = len > widths[c] ? len : widths[c];
        }
    }
    struct wr_buf b = {0};
    wr_buf_addc(&b, '\n');
    for (size_t r = 0; r <= n; r++) {
        struct wr_buf line = {0};
        for (int c = 0; c < 5; c++) {
            const char *v =
                r == 0 ? heads[c] : member_str(json_object_array_get_idx(users, r - 1), keys[c]);
            pad_cell(&line, v ? v : "-", c < 4 ? widths[c] + 2 : 0);
        }
        while (line.len > 0 && line.data[line.len - 1] == ' ') {
            line.data[--line.len] = '\0';
        }
        wr_buf_addf(&b, "%s\n", wr_buf_str(&line));
        wr_buf_free(&line);
    }
    fputs(wr_buf_str(&b), stdout);
    wr_buf_free(&b);
    free(due_head);
}

static int cmd_scope(int argc, char **argv)
{
    static const struct option opts[] = {
        {"days", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const struct command *self = find_command("scope");
    const char *config_path = "weir.yaml";
    struct wr_diags d = {0};
    struct wr_config *cfg = NULL;
    struct wr_workflow_set *set = NULL;
    struct tenant t = {0};
    struct scope_wait w = {0};
    char err[WR_ERR_MAX];
    bool json = false;
    long days = 7;
    int c, rc = WR_EXIT_INVALID;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "d:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': {
            char *end = NULL;
            days = strtol(optarg, &end, 10);
            if (!*optarg || *end || days < 1 || days > 366) {
                return usage_error("scope: --days takes a whole number of days from 1 to 366, "
                                   "not '%s'",
                                   optarg, self);
            }
            break;
        }
        case 'c':
            config_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return usage_error("scope: unknown option or missing value '%s'", argv[optind - 1],
                               self);
        }
    }
    if (optind != argc - 1) {
        return usage_error("scope: give exactly one WORKFLOW name%s", "", self);
    }
    const char *name = argv[optind];
    if (load_workflow(config_path, name, &cfg, &set, &d) != 0) {
        goto out;
    }
    const struct wr_workflow *wf = wr_workflow_set_find(set, name);
    if (!wf->trigger->scope) {
        wr_diags_add(&d, NULL, 0, 0, NULL,
                     "workflow '%s' is triggered by %s: nothing to preview; scope works for "
                     "workflows triggered by %s",
                     name, wf->trigger->name, kinds_with(true));
        goto out;
    }
    if ((rc = tenant_open(cfg, &t, "scope reads the users from Graph", &d)) != WR_EXIT_OK) {
        goto out;
    }
    /* Read-only: Graph through the read-only client, the journal through its own reader. */
    struct wr_trigger_env env = {
        .base = t.base,
        .base_dir = cfg->dir,
        .state_path = cfg->state,
        .graph = t.g,
        .dir = t.dir,
    };
    w.base = t.base;
    if (wf->trigger->scope(&env, wf, (int)days, wr_clock_wall_ms(), on_scope, &w, err,
                           sizeof(err)) != 0) {
        wr_diags_add(&d, NULL, 0, 0, NULL, "scope of %s: %s", name, err);
        rc = WR_EXIT_RUNTIME;
        goto out;
    }
    event_base_loop(t.base, EVLOOP_NO_EXIT_ON_EMPTY);
    if (!w.preview) {
        wr_diags_add(&d, NULL, 0, 0, NULL, "scope of %s: %s", name,
                     w.error ? w.error : "no answer");
        rc = WR_EXIT_RUNTIME;
        goto out;
    }
    if (json) {
        print_json(w.preview);
    } else {
        print_scope(w.preview);
    }
    rc = WR_EXIT_OK;
out:
    wr_diags_print(&d, stderr);
    wr_diags_clear(&d);
    json_object_put(w.preview);
    free(w.error);
    tenant_close(&t);
    wr_workflow_set_free(set);
    wr_config_free(cfg);
    return rc;
}

/* }====== */

/* {====== a trigger kind's own command ====== */

/* The kind whose own command is name, or NULL. */
static const struct wr_trigger_kind *kind_command(const char *name)
{
    for (const char *const *t = wr_trigger_names(); *t; t++) {
        const struct wr_trigger_kind *k = wr_trigger_find(*t);
        if (k->command && strcmp(k->command, name) == 0) {
            return k;
        }
    }
    return NULL;
}

/* The options of every kind's own command (cmd_kind), for its help and weir(1). */
static const char kind_options[] = "Options:\n"
                                   "  -c, --config FILE  weir.yaml (default ./weir.yaml)\n"
                                   "      --json         the same as JSON\n"
                                   "  -h, --help         this help";

/* `weir COMMAND [-c weir.yaml] [--json]` for a kind's own command (e.g. the webhook's). */
static int cmd_kind(const struct wr_trigger_kind *k, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *config_path = "weir.yaml";
    struct wr_diags d = {0};
    struct wr_config *cfg = NULL;
    struct wr_workflow_set *set = NULL;
    struct json_object *out = NULL;
    char err[WR_ERR_MAX];
    bool json = false;
    int c, rc = WR_EXIT_INVALID;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            printf("usage: weir %s [-c weir.yaml] [--json]\n\n%s\n\n%s\n", k->command,
                   k->command_help, kind_options);
            return WR_EXIT_OK;
        default:
            fprintf(stderr, "weir: %s: unknown option or missing value '%s'\n", k->command,
                    argv[optind - 1]);
            return WR_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "weir: %s takes no arguments (got '%s')\n", k->command, argv[optind]);
        return WR_EXIT_USAGE;
    }
    if (wr_config_load(config_path, &cfg, &d) != 0) {
        goto out;
    }
    wr_lua_set_defaults(&cfg->lua_limits);
    const char *dir = cfg->workflows;
    if (wr_workflow_set_load(&dir, 1, cfg->dir, cfg->env_allow, &set, &d) != 0) {
        goto out;
    }
    struct wr_trigger_env env = {.base_dir = cfg->dir, .state_path = cfg->state};
    if (k->describe(&env, set, &out, err, sizeof(err)) != 0) {
        wr_diags_add(&d, NULL, 0, 0, NULL, "%s: %s", k->command, err);
        rc = WR_EXIT_RUNTIME;
        goto out;
    }
    if (json) {
        print_json(out);
    } else {
        k->print_description(out, stdout);
    }
    rc = WR_EXIT_OK;
out:
    wr_diags_print(&d, stderr);
    wr_diags_clear(&d);
    json_object_put(out);
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
            char why[WR_ERR_MAX];
            wr_diags_add(d, path, 0, 0, NULL, "cannot read: %s",
                         wr_read_file_error(path, rc, why, sizeof(why)));
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

/* read_document for an event: a webhook takes only an object, and so do fire and map. */
static int read_event(const char *path, struct json_object **out, struct wr_diags *d)
{
    if (read_document(path, out, d) != 0) {
        return -1;
    }
    if (!json_object_is_type(*out, json_type_object)) {
        wr_diags_add(d, strcmp(path, "-") == 0 ? "<stdin>" : path, 1, 1, NULL,
                     "an event is a JSON object (a YAML mapping), got %s", wr_json_type_name(*out));
        json_object_put(*out);
        *out = NULL;
        return -1;
    }
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
    char err[WR_ERR_MAX];
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
    if (cfg) {
        wr_lua_set_defaults(&cfg->lua_limits);
    }
    if (read_event(event_path, &event, &d) != 0) {
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

/* {====== schema ====== */

/* Writes text to path through a temporary file beside it, so a reader never sees half of it. */
static int write_whole(const char *path, const char *text)
{
    char *tmp = wr_xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f) {
        bool ok = fputs(text, f) >= 0;
        ok = fclose(f) == 0 && ok;
        rc = ok && rename(tmp, path) == 0 ? 0 : -1;
    }
    if (rc != 0) {
        fprintf(stderr, "weir: schema: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* Parses the options of a command that takes only -c FILE and -h: -1 to go on (optind at the
   first operand), or the exit code to return (after its help, or a usage error). */
static int config_options(const struct command *self, int argc, char **argv,
                          const char **config_path)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *config_path = optarg;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return run_usage_error(self, "unknown option or missing value", argv[optind - 1]);
        }
    }
    return -1;
}

/* Loads weir.yaml for a command that needs only its state; an exit code. */
static int load_state_config(const char *config_path, struct wr_config **cfg)
{
    struct wr_diags d = {0};
    if (wr_config_load(config_path, cfg, &d) != 0) {
        wr_diags_print(&d, stderr);
        wr_diags_clear(&d);
        return WR_EXIT_INVALID;
    }
    return WR_EXIT_OK;
}

static int cmd_migrate(int argc, char **argv)
{
    const struct command *self = find_command("migrate");
    const char *config_path = "weir.yaml";
    int done = config_options(self, argc, argv, &config_path);
    if (done >= 0) {
        return done;
    }
    if (optind != argc) {
        return run_usage_error(self, "unexpected argument", argv[optind]);
    }
    struct wr_config *cfg = NULL;
    int rc = load_state_config(config_path, &cfg);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    char err[WR_ERR_MAX];
    struct wr_migrate_result r;
    /* the URL carries no password: weir.yaml refuses one */
    if (wr_store_migrate(cfg->state, &r, err, sizeof(err)) != 0) {
        fprintf(stderr, "weir: migrate %s: %s\n", cfg->state, err);
        rc = WR_EXIT_RUNTIME;
    } else if (r.from == r.to) {
        printf("%s (%s): already at schema version %d\n", cfg->state,
               r.kind == WR_DB_POSTGRES ? "PostgreSQL" : "SQLite", r.to);
    } else {
        printf("%s (%s): schema version %d, migrated from %d%s\n", cfg->state,
               r.kind == WR_DB_POSTGRES ? "PostgreSQL" : "SQLite", r.to, r.from,
               r.from == 0 ? " (new)" : "");
    }
    wr_config_free(cfg);
    return rc;
}

static int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const struct command *self = find_command("export");
    const char *config_path = "weir.yaml", *output = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            return run_usage_error(self, "unknown option or missing value", argv[optind - 1]);
        }
    }
    if (optind != argc) {
        return run_usage_error(self, "unexpected argument", argv[optind]);
    }
    struct wr_config *cfg = NULL;
    int rc = load_state_config(config_path, &cfg);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    char err[WR_ERR_MAX];
    char *tmp = output && strcmp(output, "-") != 0 ? wr_xasprintf("%s.tmp", output) : NULL;
    FILE *out = tmp ? fopen(tmp, "w") : stdout;
    int64_t rows = 0;
    if (!out) {
        fprintf(stderr, "weir: export: cannot write %s: %s\n", tmp, strerror(errno));
        rc = WR_EXIT_RUNTIME;
    } else if (wr_export(cfg->state, out, &rows, err, sizeof(err)) != 0) {
        fprintf(stderr, "weir: export %s: %s\n", cfg->state, err);
        rc = WR_EXIT_RUNTIME;
    }
    if (tmp && out) {
        if (fclose(out) != 0 && rc == WR_EXIT_OK) {
            fprintf(stderr, "weir: export: writing %s failed: %s\n", tmp, strerror(errno));
            rc = WR_EXIT_RUNTIME;
        }
        if (rc == WR_EXIT_OK && rename(tmp, output) != 0) {
            fprintf(stderr, "weir: export: cannot rename %s to %s: %s\n", tmp, output,
                    strerror(errno));
            rc = WR_EXIT_RUNTIME;
        }
        if (rc != WR_EXIT_OK) {
            unlink(tmp);
        }
    }
    if (rc == WR_EXIT_OK) {
        fprintf(stderr, "exported %lld rows of %s%s%s\n", (long long)rows, cfg->state,
                tmp ? " to " : "", tmp ? output : "");
    }
    free(tmp);
    wr_config_free(cfg);
    return rc;
}

static int cmd_import(int argc, char **argv)
{
    const struct command *self = find_command("import");
    const char *config_path = "weir.yaml";
    int done = config_options(self, argc, argv, &config_path);
    if (done >= 0) {
        return done;
    }
    if (optind != argc - 1) {
        return optind < argc ? run_usage_error(self, "unexpected argument", argv[optind + 1])
                             : run_usage_error(self,
                                               "give the FILE to import (- for standard "
                                               "input)",
                                               NULL);
    }
    const char *file = argv[optind];
    struct wr_config *cfg = NULL;
    int rc = load_state_config(config_path, &cfg);
    if (rc != WR_EXIT_OK) {
        return rc;
    }
    bool std_in = strcmp(file, "-") == 0;
    FILE *in = std_in ? stdin : fopen(file, "r");
    char err[WR_ERR_MAX];
    int64_t rows = 0;
    if (!in) {
        fprintf(stderr, "weir: import: cannot read %s: %s\n", file, strerror(errno));
        rc = WR_EXIT_INVALID;
    } else if (wr_import(cfg->state, in, std_in ? "<stdin>" : file, &rows, err, sizeof(err)) != 0) {
        fprintf(stderr, "weir: import into %s: %s\n", cfg->state, err);
        rc = WR_EXIT_RUNTIME;
    } else {
        printf("imported %lld rows from %s into %s\n", (long long)rows, std_in ? "<stdin>" : file,
               cfg->state);
    }
    if (in && !std_in) {
        fclose(in);
    }
    wr_config_free(cfg);
    return rc;
}

static int cmd_schema(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const struct command *self = find_command("schema");
    const char *output = NULL;
    char err[WR_ERR_MAX];
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'h':
            printf("usage: %s\n\n%s\n", self->usage, self->help);
            return WR_EXIT_OK;
        default:
            if (optopt == 'o') {
                return usage_error("schema: %s needs a FILE", argv[optind - 1], self);
            }
            return usage_error("schema: unknown option '%s'", argv[optind - 1], self);
        }
    }
    if (optind >= argc) {
        return usage_error("schema: which one, workflow or config?%s", "", self);
    }
    if (argc - optind > 1) {
        return usage_error("schema: one schema at a time (got '%s' and more)", argv[optind], self);
    }
    const char *which = argv[optind];
    struct json_object *schema = NULL;
    if (strcmp(which, "workflow") == 0) {
        schema = wr_schema_workflow(err, sizeof(err));
    } else if (strcmp(which, "config") == 0) {
        schema = wr_schema_config(wr_config_spec(), err, sizeof(err));
    } else {
        return usage_error("schema: unknown schema '%s' (expected workflow or config)", which,
                           self);
    }
    if (!schema) {
        fprintf(stderr, "weir: schema: %s\n", err); /* a table's bug, not the user's */
        return WR_EXIT_RUNTIME;
    }
    char *text = wr_schema_text(schema);
    int rc = WR_EXIT_OK;
    if (output) {
        rc = write_whole(output, text) == 0 ? WR_EXIT_OK : WR_EXIT_RUNTIME;
    } else if (fputs(text, stdout) < 0 || fflush(stdout) != 0) {
        rc = WR_EXIT_RUNTIME;
    }
    free(text);
    json_object_put(schema);
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

/*
 * The action list: each with its summary and, from its descriptor's destructive flag, a mark:
 * "[destructive]" or "[destructive with remove:]" (the descriptor's note says when).
 */
static void print_actions(void)
{
    printf("Actions (weir help ACTION for arguments):\n");
    for (const char *const *n = wr_action_names(); *n; n++) {
        const struct wr_action *a = wr_action_find(*n);
        printf("  %-20s %s", a->name, a->summary);
        if (a->destructive == WR_DESTRUCTIVE_BY_ARGS) {
            printf(" [destructive %s]", a->destructive_note ? a->destructive_note : "by arguments");
        } else if (a->destructive != WR_DESTRUCTIVE_NO) {
            printf(" [destructive]");
        }
        printf("\n");
    }
}

/* `weir help ACTION`'s line on whether the action is destructive, and the note on why. */
static void print_action_destructive(const struct wr_action *a)
{
    if (a->destructive == WR_DESTRUCTIVE_BY_ARGS) {
        printf("Destructive %s.\n", a->destructive_note ? a->destructive_note : "by arguments");
        return;
    }
    printf("Destructive: %s", a->destructive == WR_DESTRUCTIVE_NO ? "no" : "yes");
    if (a->destructive_note) {
        printf(" (%s)", a->destructive_note);
    }
    printf(".\n");
}

static const char *trigger_summary(const char *name)
{
    return wr_trigger_find(name)->summary;
}

/*
 * `weir help --man`: weir(1) as roff, from the commands table (and every trigger kind's own
 * command, with the options cmd_kind takes), the registries and weir.yaml's table.
 */
static int print_man(void)
{
    struct wr_man_command cmds[NCOMMANDS + 16];
    char *owned[16];
    size_t n = 0, nowned = 0;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        cmds[n++] = (struct wr_man_command){commands[i].name, commands[i].summary,
                                            commands[i].usage, commands[i].help};
    }
    for (const char *const *t = wr_trigger_names(); *t && nowned + 2 <= 16; t++) {
        const struct wr_trigger_kind *k = wr_trigger_find(*t);
        if (k->command) {
            char *usage = wr_xasprintf("weir %s [-c weir.yaml] [--json]", k->command);
            char *help = wr_xasprintf("%s\n\n%s", k->command_help, kind_options);
            owned[nowned++] = usage;
            owned[nowned++] = help;
            cmds[n++] = (struct wr_man_command){k->command, k->command_summary, usage, help};
        }
    }
    struct wr_man_page page = {.tagline = tagline, .commands = cmds, .ncommands = n};
    wr_man_print(stdout, &page);
    for (size_t i = 0; i < nowned; i++) {
        free(owned[i]);
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? WR_EXIT_OK : WR_EXIT_RUNTIME;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stdout);
        return WR_EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--man") == 0) {
        return print_man();
    }
    if (argc > 2) {
        return usage_error("help: one topic at a time (got '%s' and more)", argv[1],
                           find_command("help"));
    }
    const char *topic = argv[1];
    const struct command *cmd = find_command(topic);
    const struct wr_action *act = wr_action_find(topic);
    const struct wr_trigger_kind *trig = wr_trigger_find(topic);
    const struct wr_trigger_kind *owner = NULL; /* a kind whose own topic this is */
    for (const char *const *t = wr_trigger_names(); *t && !owner; t++) {
        const struct wr_trigger_kind *k = wr_trigger_find(*t);
        if (k->topic && strcmp(k->topic, topic) == 0) {
            owner = k;
        }
    }

    if (cmd) {
        printf("usage: %s\n\n%s\n", cmd->usage, cmd->help);
    } else if (kind_command(topic)) {
        char *av[] = {(char *)topic, "--help", NULL};
        return cmd_kind(kind_command(topic), 2, av);
    } else if (strcmp(topic, "actions") == 0) {
        print_actions();
    } else if (strcmp(topic, "triggers") == 0) {
        print_names("Triggers (weir help TRIGGER for arguments):", wr_trigger_names(),
                    trigger_summary);
    } else if (act) {
        printf("%s — %s\n", act->name, act->summary);
        print_action_destructive(act);
        printf("\nArguments:\n");
        wr_argspec_print(act->args, stdout, 2);
        printf("\nEvery step also takes: id, name, when, retry, continue_on_error.\n");
    } else if (trig) {
        printf("trigger: { %s: {...} } — %s\n\nArguments:\n", trig->name, trig->summary);
        wr_argspec_print(trig->args, stdout, 2);
        if (trig->notes) {
            printf("\n%s", trig->notes);
        }
    } else if (owner) {
        owner->print_topic(stdout);
    } else if (strcmp(topic, "workflow") == 0) {
        printf("A workflow file (YAML or JSON, one workflow per file):\n");
        wr_argspec_print(wr_workflow_spec(), stdout, 2);
        printf("\nEvery step takes these keys, and exactly one of action (with the action's\n"
               "arguments, see `weir help actions`), script, wait, wait_until or approval:\n");
        wr_argspec_print(wr_workflow_step_spec(), stdout, 2);
        static const char *const kinds[] = {"script", "wait", "wait_until", "approval"};
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
            printf("\nA %s step:\n", kinds[i]);
            wr_argspec_print(wr_workflow_step_kind_spec(kinds[i]), stdout, 2);
        }
        printf("\nAn approval step's links are PUBLIC_URL/approvals/TOKEN (weir.yaml\n"
               "approvals.public_url), one per approver, served by the webhook listener: a GET\n"
               "shows the request, only a POST decides; the first decision wins. `weir approve\n"
               "RUN --as NAME [--reject]` decides from the command line.\n"
               "\nA workflow may replace weir.yaml's brake with its own `guard:`:\n");
        wr_argspec_print(wr_workflow_guard_spec(), stdout, 2);
    } else if (strcmp(topic, "templates") == 0) {
        fputs(wr_template_help, stdout);
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
        for (const char *const *t = wr_trigger_names(); *t && n < 58; t++) {
            all[n++] = *t;
            if (wr_trigger_find(*t)->topic) {
                all[n++] = wr_trigger_find(*t)->topic;
            }
        }
        all[n++] = "actions";
        all[n++] = "triggers";
        all[n++] = "workflow";
        all[n++] = "templates";
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
    const struct wr_trigger_kind *kind = cmd ? NULL : kind_command(arg);
    if (kind) {
        return cmd_kind(kind, argc - 1, argv + 1);
    }
    if (!cmd) {
        const char *names[NCOMMANDS + 8];
        size_t n = 0;
        for (size_t i = 0; i < NCOMMANDS; i++) {
            names[n++] = commands[i].name;
        }
        for (const char *const *t = wr_trigger_names(); *t && n < NCOMMANDS + 7; t++) {
            if (wr_trigger_find(*t)->command) {
                names[n++] = wr_trigger_find(*t)->command;
            }
        }
        names[n] = NULL;
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
