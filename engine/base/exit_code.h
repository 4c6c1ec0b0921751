/*
 * exit_code — the process exit codes of every weir command, as `weir --help` documents them.
 *
 * One name per code, so a command returns what it means rather than a number. Not errno
 * values, nor the -1 of a library call: those are turned into one of these at the command.
 */
#ifndef WR_EXIT_CODE_H
#define WR_EXIT_CODE_H

#define WR_EXIT_OK      0 /* success */
#define WR_EXIT_INVALID 1 /* invalid input: a workflow or config with errors, a refused request */
#define WR_EXIT_USAGE   2 /* wrong command line */
#define WR_EXIT_RUNTIME 3 /* runtime failure: the journal cannot be opened, a port is taken */

/* Every code with its meaning for users, in order: X(CODE, "text"). The EXIT STATUS section of
   weir(1) (`weir help --man`) is printed from it. */
#define WR_EXIT_CODES(X)                                                                           \
    X(WR_EXIT_OK, "Success.")                                                                      \
    X(WR_EXIT_INVALID, "Invalid input: a workflow or weir.yaml with errors, a secret that "        \
                       "cannot be read, a request the journal refuses (a run that cannot be "      \
                       "retried, cancelled or undone).")                                           \
    X(WR_EXIT_USAGE, "Usage error: an unknown command, option or help topic, a missing "           \
                     "argument.")                                                                  \
    X(WR_EXIT_RUNTIME, "Runtime failure: the journal cannot be opened or written, another "        \
                       "weir runs on the same journal, a port is taken.")

#endif
