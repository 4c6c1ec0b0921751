/*
 * cli — weir's command line: argument parsing, help texts and the commands themselves.
 * main() only calls wr_cli_main(); tests call it too, with their own argv.
 */
#ifndef WR_CLI_H
#define WR_CLI_H

#include "engine/base/exit_code.h" /* WR_EXIT_*: what wr_cli_main returns */

/* Runs one weir command line; returns the process exit code. */
int wr_cli_main(int argc, char **argv);

#endif
