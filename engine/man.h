/*
 * man — the manual page weir(1), written as roff from the tables `weir help` prints: the
 * commands (passed in by the CLI, which owns them), the action and trigger registries with
 * their argument tables, weir.yaml's keys and the exit codes. `weir help --man` prints it;
 * the build turns that into weir.1, so the page cannot drift from the binary it documents.
 *
 * Not a general roff library: it knows the few shapes weir's help texts have (paragraphs,
 * option lists "  -c, --config FILE  text" with aligned continuation lines, `code`).
 */
#ifndef WR_MAN_H
#define WR_MAN_H

#include <stddef.h>
#include <stdio.h>

/* One command as `weir help` shows it (every field borrowed; help may be NULL). */
struct wr_man_command {
    const char *name;
    const char *summary;
    const char *usage;
    const char *help;
};

/* What the page needs from the CLI (borrowed). */
struct wr_man_page {
    const char *tagline; /* NAME's one line: "event-driven identity lifecycle workflows ..." */
    const struct wr_man_command *commands;
    size_t ncommands;
};

/*
 * Writes the whole page to f as roff (man(7) macros): NAME, SYNOPSIS, DESCRIPTION, COMMANDS,
 * ACTIONS, TRIGGERS, CONFIGURATION, SIGNALS, FILES, ENVIRONMENT, EXIT STATUS, SEE ALSO. Every
 * text is escaped (backslashes, hyphens as \-, a leading '.' or '\'', non-ASCII as \[uXXXX]).
 */
void wr_man_print(FILE *f, const struct wr_man_page *page);

#endif
