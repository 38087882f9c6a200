/* Placeholder until compare lands (this session). */
#include "client/commands.h"

int compare_cmd_main(int argc, char **argv, FILE *out, FILE *err)
{
    (void)argc;
    (void)argv;
    (void)out;
    fputs("tokbench compare: not implemented yet\n", err);
    return 2;
}
