/*
 * main — the weir executable: everything happens in cli.c.
 */
#include "engine/cli.h"

int main(int argc, char **argv)
{
    return wr_cli_main(argc, argv);
}
