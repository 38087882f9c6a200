/* Placeholder until `tokbench report` lands (this session). */
#include "client/commands.h"

int report_cmd_main(int argc, char **argv, FILE *out, FILE *err)
{
    (void)argc;
    (void)argv;
    (void)out;
    fputs("tokbench report: not implemented yet\n", err);
    return 2;
}
