/* Placeholder until the ledger lands (this session). */
#include "client/history.h"

#include "client/commands.h"

int history_record(const char *dir, const results *r, const cli_options *o, FILE *err)
{
    (void)r;
    (void)o;
    fprintf(err, "tokbench: --history %s: not implemented yet\n", dir);
    return -1;
}

int history_cmd_main(int argc, char **argv, FILE *out, FILE *err)
{
    (void)argc;
    (void)argv;
    (void)out;
    fputs("tokbench history: not implemented yet\n", err);
    return 2;
}
