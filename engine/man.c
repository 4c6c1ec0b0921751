/*
 * man — weir(1) as roff, from the help tables; see man.h.
 *
 * Everything printed goes through one writer that knows where an output line starts, so a
 * text that begins with '.' or '\'' can never become a roff request, and one escaper (text())
 * for every string that comes from a table. The fixed prose of the page (description, files,
 * signals) is written in the same plain shape as the commands' help and converted the same way.
 */
#include "engine/man.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "engine/base/exit_code.h"
#include "engine/config.h"
#include "engine/lang/argspec.h"
#include "engine/lang/workflow.h"
#include "triggers/trigger.h"

/* Where `cmake --install` puts the examples; the build passes the real one. */
#ifndef WEIR_DATADIR
#define WEIR_DATADIR "/usr/local/share/weir"
#endif

/* {====== the writer ====== */

struct roff {
    FILE *f;
    bool bol;  /* at the start of an output line */
    bool code; /* inside `...` (bold) */
};

/* Raw roff (a request, a font escape), written as is. */
static void raw(struct roff *r, const char *s)
{
    if (!*s) {
        return;
    }
    fputs(s, r->f);
    r->bol = s[strlen(s) - 1] == '\n';
}

/* A request line (".TP", ".SH NAME"): on a line of its own. */
static void req(struct roff *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void req(struct roff *r, const char *fmt, ...)
{
    va_list ap;
    if (!r->bol) {
        fputc('\n', r->f);
    }
    va_start(ap, fmt);
    vfprintf(r->f, fmt, ap);
    va_end(ap);
    fputc('\n', r->f);
    r->bol = true;
}

/* The code point of the UTF-8 sequence at s (at most n bytes), its length in *len; -1 for a
   malformed one (*len 1). */
static int32_t utf8_at(const unsigned char *s, size_t n, size_t *len)
{
    size_t want = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    *len = 1;
    if (want == 0 || want > n) {
        return -1;
    }
    int32_t cp = s[0] & (0x7f >> want);
    for (size_t i = 1; i < want; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    *len = want;
    return cp;
}

/*
 * Text, escaped for roff: '\' as \e, '-' as \- (a minus: options stay copyable), a line that
 * would start with '.' or '\'' behind \&, leading blanks dropped (they would break the line in
 * fill mode), anything not ASCII as \[uXXXX] (no dependence on the reader's encoding), `code`
 * in bold when code_spans; a break point after '|', '/' and a '.' inside a word, since nothing
 * is hyphenated and usages ("A|B|C|..."), URLs and Lua paths can be longer than a line. n
 * bytes of s.
 */
static void textn(struct roff *r, const char *s, size_t n, bool code_spans)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (r->bol && (c == ' ' || c == '\t')) {
            continue;
        }
        if (r->bol && (c == '.' || c == '\'')) {
            fputs("\\&", r->f);
        }
        r->bol = false;
        if (c == '\n') {
            fputc('\n', r->f);
            r->bol = true;
        } else if (c == '\\') {
            fputs("\\e", r->f);
        } else if (c == '-') {
            fputs("\\-", r->f);
        } else if (c == '|' || c == '/' || (c == '.' && i + 1 < n && isalnum(p[i + 1]))) {
            fputc(c, r->f);
            fputs("\\:", r->f);
        } else if (c == '`' && code_spans) {
            fputs(r->code ? "\\fR" : "\\fB", r->f);
            r->code = !r->code;
        } else if (c >= 0x80) {
            size_t len;
            int32_t cp = utf8_at(p + i, n - i, &len);
            if (cp < 0) {
                fputc('?', r->f);
            } else {
                fprintf(r->f, "\\[u%04X]", (unsigned)cp);
            }
            i += len - 1;
        } else if (c < 0x20 && c != '\t') {
            fputc('?', r->f);
        } else {
            fputc(c, r->f);
        }
    }
}

static void text(struct roff *r, const char *s)
{
    textn(r, s, strlen(s), false);
}

/* A one-line summary from a table ("add the user to a group") as a sentence of its own. */
static void sentence(struct roff *r, const char *s)
{
    if (*s >= 'a' && *s <= 'z') {
        char first[2] = {(char)(*s - 'a' + 'A'), '\0'};
        text(r, first);
        s++;
    }
    text(r, s);
    raw(r, ".\n");
}

/* Ends a `code` span the text left open, so bold never runs on into the next paragraph. */
static void close_code(struct roff *r)
{
    if (r->code) {
        fputs("\\fR", r->f);
        r->code = false;
        r->bol = false;
    }
}

/* "\fBterm\fR" on a line of its own, for .TP. */
static void bold_line(struct roff *r, const char *s, size_t n)
{
    req(r, ".TP");
    raw(r, "\\fB");
    textn(r, s, n, false);
    raw(r, "\\fR\n");
}

/* }====== */

/* {====== help texts ====== */

/*
 * A help text in weir's plain shape, as roff: lines at the margin are paragraph text (an
 * empty line ends a paragraph); a line indented by two (or by up to six and starting with
 * '-') is a list item, its term up to the first two blanks and its description after them;
 * a line indented deeper continues the description above: as wrapped text when it starts in
 * the description's column, on a line of its own when further in.
 */
static void help_text(struct roff *r, const char *s)
{
    bool para_open = false;
    size_t desc_col = 0; /* where the current list item's description starts */
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        size_t indent = strspn(s, " ");
        if (indent >= n) { /* an empty line */
            close_code(r);
            para_open = false;
        } else if (indent == 0) {
            if (!para_open) {
                req(r, ".PP");
                para_open = true;
            }
            textn(r, s, n, true);
            raw(r, "\n");
        } else if (indent == 2 || (indent <= 6 && s[indent] == '-')) {
            close_code(r);
            const char *item = s + indent;
            size_t len = n - indent;
            const char *gap = memmem(item, len, "  ", 2);
            size_t term = gap ? (size_t)(gap - item) : len;
            bold_line(r, item, term);
            desc_col = gap ? (size_t)(gap - s) + strspn(gap, " ") : n;
            if (gap) {
                textn(r, gap, len - term, true);
                raw(r, "\n");
            }
            para_open = false;
        } else {
            if (indent > desc_col) { /* a line of its own under the description, not a wrap */
                req(r, ".br");
            }
            textn(r, s + indent, n - indent, true);
            raw(r, "\n");
        }
        s += n + (nl ? 1 : 0);
    }
    close_code(r);
}

/* }====== */

/* {====== argument tables ====== */

/* A table as a list: "name (type, required)" then its help and choices; nested tables
   indented under their key. */
static void args(struct roff *r, const struct wr_argspec *spec)
{
    for (const struct wr_argspec *a = spec; a && a->name; a++) {
        req(r, ".TP");
        raw(r, "\\fB");
        text(r, a->name);
        raw(r, "\\fR (");
        text(r, wr_argspec_type_name(a));
        text(r, a->flags & WR_ARG_REQUIRED ? ", required)\n" : ")\n");
        if (a->help) {
            text(r, a->help);
            raw(r, "\n");
        }
        if ((a->type == WR_ARG_ENUM || a->type == WR_ARG_STRINGS) && a->choices) {
            text(r, "One of: ");
            for (size_t i = 0; a->choices[i]; i++) {
                text(r, i ? ", " : "");
                text(r, a->choices[i]);
            }
            text(r, ".\n");
        }
        if (a->type == WR_ARG_OBJECT && a->fields) {
            req(r, ".RS");
            args(r, a->fields);
            req(r, ".RE");
        }
    }
}

/* }====== */

/* {====== the page ====== */

static const char description[] =
    "weir is an event-driven workflow engine for identity lifecycle automation. An HR\n"
    "system posts \"hired / changed / left\" webhooks, an admin drops a CSV export into a\n"
    "folder, a clock ticks, or Microsoft Entra itself reports a date, a change or a group\n"
    "membership; weir matches the event to declarative workflow files (YAML or JSON) and\n"
    "runs their steps (update-user, assign-license, set-role, disable-user and the rest)\n"
    "against Microsoft Graph, with Lua for conditions, templates and field-mapping hooks.\n"
    "\n"
    "An event is acknowledged only after it is committed to the journal, a SQLite file\n"
    "(`state:` in weir.yaml); every step's outcome is committed too, so a crash or restart\n"
    "resumes where it stopped. `weir run` is the daemon; the other commands read and change\n"
    "the same journal beside it, or check files without touching Graph. While it runs, its\n"
    "admin listener (`listen.admin`, default 127.0.0.1:8081) serves the admin API and a web\n"
    "console at /ui/: runs with their steps and Graph's errors, retry and cancel, held runs\n"
    "and approvals, workflows and health.\n"
    "\n"
    "`weir help TOPIC` prints the same tables as this page, one at a time: a command, an\n"
    "action, a trigger, `workflow`, `templates` or `config`.\n";

static const char signals[] =
    "  SIGHUP  reloads the workflow directory atomically: runs already started finish on the\n"
    "          workflows they started with; a directory with any error changes nothing (the\n"
    "          errors are logged and the old set stays). Under systemd: `systemctl reload weir`.\n"
    "  SIGTERM, SIGINT  stop accepting new events, answer what was received, let runs pause at\n"
    "          their next durable point, and exit 0.\n";

static const char files[] =
    "Under systemd (the weir.service installed with weir) the layout is:\n"
    "  /etc/weir/weir.yaml  the configuration (`weir help config`); relative paths in it\n"
    "          resolve against /etc/weir\n"
    "  /etc/weir/weir.env  secrets as environment variables (NAME=value lines), read by the\n"
    "          unit's EnvironmentFile= and named in weir.yaml as env:NAME; mode 0600\n"
    "  /etc/weir/workflows/  the workflow files (`workflows:`)\n"
    "  /etc/weir/scripts/  Lua mapping hooks (`script:` paths resolve against /etc/weir)\n"
    "  /var/lib/weir/weir.db  the journal and run history (`state:`), with its -wal and -shm\n"
    "          files and weir.db.approval-key, the key of approval links (mode 0600)\n"
    "  " WEIR_DATADIR "/weir.yaml.example  a commented configuration to start from\n"
    "  " WEIR_DATADIR "/examples/  example workflows, sample events and HR vendor recipes\n"
    "  " WEIR_DATADIR "/examples/schema/  the JSON Schemas of workflow files and weir.yaml\n"
    "          (`weir schema`), for editors\n"
    "  " WEIR_DATADIR "/scripts/  the Lua mapping hooks the examples use\n"
    "\n"
    "Run by hand, weir reads ./weir.yaml unless -c names another file.\n";

static const char environment[] =
    "  NOTIFY_SOCKET  set by systemd for Type=notify: weir sends READY=1 once every listener\n"
    "          accepts connections and every trigger has started, RELOADING=1 and READY=1\n"
    "          around a SIGHUP reload, STOPPING=1 when it starts draining (sd_notify(3)).\n"
    "          Unset, nothing is sent.\n"
    "  NAME  any variable an env:NAME reference in weir.yaml or a workflow names (the Graph\n"
    "          client secret, webhook secrets, the admin token); the value is never logged.\n"
    "  (lua.env_allow)  the variables weir.yaml's lua.env_allow lists, which templates\n"
    "          (env.NAME) and scripts (weir.env(NAME)) may read; no other variable is visible.\n";

static const char see_also[] =
    "systemctl(1), journalctl(1), systemd.service(5), systemd.exec(5), sd_notify(3),\n"
    "systemd-analyze(1); `weir help workflow`, `weir help templates`, `weir help config`.\n";

static void section_commands(struct roff *r, const struct wr_man_page *page)
{
    req(r, ".SH COMMANDS");
    for (size_t i = 0; i < page->ncommands; i++) {
        const struct wr_man_command *c = &page->commands[i];
        req(r, ".SS"); /* the heading is the next line: escaped text, not a macro argument */
        text(r, c->name);
        raw(r, "\n");
        req(r, ".PP");
        sentence(r, c->summary);
        req(r, ".PP");
        raw(r, "\\fB");
        text(r, c->usage);
        raw(r, "\\fR\n");
        if (c->help) {
            help_text(r, c->help);
        }
    }
}

static void section_actions(struct roff *r)
{
    req(r, ".SH ACTIONS");
    help_text(r, "A step runs one action (`action: NAME` with the action's arguments beside it).\n"
                 "Every step also takes id, name, when, retry and continue_on_error.\n");
    for (const char *const *n = wr_action_names(); *n; n++) {
        const struct wr_action *a = wr_action_find(*n);
        req(r, ".SS");
        text(r, a->name);
        raw(r, "\n");
        req(r, ".PP");
        sentence(r, a->summary);
        if (a->destructive == WR_DESTRUCTIVE_BY_ARGS) {
            text(r, "Destructive ");
            text(r, a->destructive_note ? a->destructive_note : "by arguments");
            text(r, ".\n");
        } else if (a->destructive != WR_DESTRUCTIVE_NO) {
            text(r, "Destructive");
            if (a->destructive_note) {
                text(r, " (");
                text(r, a->destructive_note);
                text(r, ")");
            }
            text(r, ".\n");
        }
        args(r, a->args);
    }
}

static void section_triggers(struct roff *r)
{
    req(r, ".SH TRIGGERS");
    help_text(r, "A workflow names one trigger: `trigger: { KIND: { ARGUMENTS } }`.\n");
    for (const char *const *t = wr_trigger_names(); *t; t++) {
        const struct wr_trigger_kind *k = wr_trigger_find(*t);
        req(r, ".SS");
        text(r, k->name);
        raw(r, "\n");
        req(r, ".PP");
        sentence(r, k->summary);
        args(r, k->args);
        if (k->notes) {
            help_text(r, k->notes);
        }
        if (k->topic && k->print_topic) { /* the kind's own topic (`weir help auth`), whole */
            char *buf = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&buf, &len);
            if (mem) {
                k->print_topic(mem);
                fclose(mem);
                req(r, ".SS");
                text(r, k->name);
                text(r, ": ");
                text(r, k->topic);
                raw(r, "\n");
                help_text(r, buf);
            }
            free(buf);
        }
    }
}

static void section_files(struct roff *r)
{
    req(r, ".SH WORKFLOW FILES");
    help_text(r, "One workflow per file, YAML or JSON (`weir help workflow`):\n");
    args(r, wr_workflow_spec());
    help_text(r, "\nEvery step takes these keys, and exactly one of action, script, wait,\n"
                 "wait_until or approval:\n");
    args(r, wr_workflow_step_spec());

    req(r, ".SH CONFIGURATION");
    help_text(r, "weir.yaml (`weir help config`); relative paths resolve against its "
                 "directory:\n");
    args(r, wr_config_spec());

    req(r, ".SH SIGNALS");
    help_text(r, signals);
    req(r, ".SH FILES");
    help_text(r, files);
    req(r, ".SH ENVIRONMENT");
    help_text(r, environment);
}

static void section_exit(struct roff *r)
{
    req(r, ".SH \"EXIT STATUS\"");
#define WR_MAN_EXIT(code, what)                                                                    \
    do {                                                                                           \
        char num[16];                                                                              \
        snprintf(num, sizeof(num), "%d", code);                                                    \
        bold_line(r, num, strlen(num));                                                            \
        text(r, what);                                                                             \
        raw(r, "\n");                                                                              \
    } while (0);
    WR_EXIT_CODES(WR_MAN_EXIT)
#undef WR_MAN_EXIT
}

void wr_man_print(FILE *f, const struct wr_man_page *page)
{
    struct roff r = {.f = f, .bol = true};

    raw(&r, ".\\\" weir(1), written by `weir help --man` from the tables `weir help` prints.\n"
            ".\\\" Do not edit: rebuild it (the weir_man target) instead.\n");
    req(&r, ".TH WEIR 1 \"\" \"weir %s\" \"User Commands\"", WEIR_VERSION);
    req(&r, ".nh"); /* options and paths are not hyphenated: they stay copyable */
    req(&r, ".ad l");
    req(&r, ".SH NAME");
    raw(&r, "weir \\- ");
    text(&r, page->tagline);
    raw(&r, "\n");
    req(&r, ".SH SYNOPSIS");
    raw(&r, "\\fBweir\\fR [\\fB\\-\\-help\\fR] [\\fB\\-\\-version\\fR] \\fICOMMAND\\fR "
            "[\\fIARGS\\fR]\n");
    req(&r, ".br");
    raw(&r, "\\fBweir help\\fR [\\fB\\-\\-man\\fR | \\fITOPIC\\fR]\n");
    req(&r, ".SH DESCRIPTION");
    help_text(&r, description);
    section_commands(&r, page);
    section_actions(&r);
    section_triggers(&r);
    section_files(&r);
    section_exit(&r);
    req(&r, ".SH \"SEE ALSO\"");
    help_text(&r, see_also);
    if (!r.bol) {
        fputc('\n', f);
    }
}

/* }====== */
