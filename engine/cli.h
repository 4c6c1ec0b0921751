/*
 * cli — weir's command line: argument parsing, help texts and the commands themselves.
 * main() only calls wr_cli_main(); tests call it too, with their own argv.
 */
#ifndef WR_CLI_H
#define WR_CLI_H

/* Exit codes, documented in `weir --help`. */
#define WR_EXIT_OK      0
#define WR_EXIT_INVALID 1 /* invalid input: a workflow or config with errors */
#define WR_EXIT_USAGE   2 /* wrong command line */

/* Runs one weir command line; returns the process exit code. */
int wr_cli_main(int argc, char **argv);

#endif
