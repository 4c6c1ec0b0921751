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

#endif
