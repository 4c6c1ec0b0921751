/*
 * exit — weir's process exit codes, documented in `weir --help`: what the command line
 * (cli.c) and the daemon (daemon.c) return to main(). A header of its own so that neither
 * of the two includes the other's for them.
 */
#ifndef WR_EXIT_H
#define WR_EXIT_H

#define WR_EXIT_OK      0
#define WR_EXIT_INVALID 1 /* invalid input: a workflow or config with errors */
#define WR_EXIT_USAGE   2 /* wrong command line */
#define WR_EXIT_RUNTIME 3 /* a runtime failure: the store, the network, the system */

#endif
