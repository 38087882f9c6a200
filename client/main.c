/* tokbench: a benchmark client for OpenAI-compatible chat endpoints, a
 * drop-in replacement for llama-benchy 0.4.0. The report goes to stdout,
 * everything else to stderr. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "client/cli.h"
#include "client/commands.h"
#include "client/runner.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

/* A burst of c requests needs c sockets: lift the soft descriptor limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* --realtime: the one thread that reads and stamps every response moves to
 * SCHED_FIFO, one level above tokmock's emitters (which take the lowest), so
 * neither a local server nor a co-located tokmock delays a stamp; the
 * kernel's real-time throttling still leaves 5 % of each second to others.
 * The thread sleeps in epoll between reads, so it only runs when data came. */
static bool ask_realtime(void)
{
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = sched_get_priority_min(SCHED_FIFO) + 1;
    int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (rc == 0) {
        log_info("--realtime: reading at SCHED_FIFO priority %d", sp.sched_priority);
        return true;
    }
    log_warn("--realtime refused (%s; needs root or RLIMIT_RTPRIO >= %d): timestamps are "
             "read at normal priority",
             strerror(rc), sp.sched_priority);
    return false;
}

int main(int argc, char **argv)
{
    /* Subcommands work on saved results and never touch the network. */
    if (argc >= 2 && strcmp(argv[1], "report") == 0)
        return report_cmd_main(argc - 1, argv + 1, stdout, stderr);
    if (argc >= 2 && strcmp(argv[1], "history") == 0)
        return history_cmd_main(argc - 1, argv + 1, stdout, stderr);
    if (argc >= 2 && strcmp(argv[1], "compare") == 0)
        return compare_cmd_main(argc - 1, argv + 1, stdout, stderr);

    cli_options opts;
    char err[1024];
    int rc = cli_parse(argc, argv, &opts, stdout, err, sizeof err);
    if (rc == CLI_EXIT) {
        cli_options_free(&opts);
        return 0;
    }
    if (rc == CLI_USAGE) {
        fprintf(stderr, "tokbench: error: %s\nusage: tokbench --base-url URL [options] (see "
                        "tokbench --help)\n", err);
        cli_options_free(&opts);
        return RUNNER_USAGE;
    }
    const char *hist = getenv("TOKBENCH_HISTORY");
    if (!opts.history_dir && hist && *hist) {
        opts.history_dir = xstrdup(hist);
    }
    log_set_level((enum log_level)opts.log_level);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (opts.realtime)
        opts.realtime = ask_realtime(); /* the report says what was granted */

    /* The one wall-clock reading, for the report's date and progress "ts";
     * every measurement uses CLOCK_MONOTONIC. */
    int64_t mono0 = clock_now_ns();
    int64_t wall0 = clock_wall_ns();

    rc = runner_run(&opts, mono0, wall0);
    cli_options_free(&opts);
    return rc;
}
