/* tokmock: parses the command line, starts the server, writes the port and
 * pid files once connections are accepted, and stops on SIGINT/SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "mockserver/options.h"
#include "mockserver/replay.h"
#include "mockserver/server.h"

/* Writes text to path atomically (temp file + rename), so a reader polling
 * for the file never sees it half written. */
static int write_file_atomic(const char *path, const char *text)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int64_t origin_ns = clock_now_ns();
    mock_options opts;
    char err[512];
    options_default(&opts);
    int rc = options_parse(&opts, argc, argv, stdout, err, sizeof err);
    if (rc == OPT_EXIT)
        return 0;
    if (rc != OPT_OK) {
        fprintf(stderr, "tokmock: %s\n", err);
        return 2;
    }
    log_set_level((enum log_level)opts.log_level);
    if (opts.replay_path) {
        /* Loaded once, before listening: a bad file is a usage error. */
        char why[512];
        if (replay_load(&opts.replay, opts.replay_path, 0, why, sizeof why) != REPLAY_OK) {
            fprintf(stderr, "tokmock: --replay: %s\n", why);
            return 2;
        }
    }

    /* Worker threads inherit this mask; the main thread takes the signals
     * with sigwait(). Writes to a closed socket must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    mock_server *server = server_start(&opts, origin_ns, err, sizeof err);
    if (!server) {
        fprintf(stderr, "tokmock: %s\n", err);
        replay_free(opts.replay);
        return 1;
    }
    int port = server_port(server);
    char text[64];
    if (opts.port_file) {
        snprintf(text, sizeof text, "%d\n", port);
        if (write_file_atomic(opts.port_file, text)) {
            fprintf(stderr, "tokmock: cannot write --port-file %s: %s\n", opts.port_file,
                    strerror(errno));
            server_stop(server);
            replay_free(opts.replay);
            return 1;
        }
    }
    if (opts.pid_file) {
        snprintf(text, sizeof text, "%ld\n", (long)getpid());
        if (write_file_atomic(opts.pid_file, text)) {
            fprintf(stderr, "tokmock: cannot write --pid-file %s: %s\n", opts.pid_file,
                    strerror(errno));
            server_stop(server);
            replay_free(opts.replay);
            return 1;
        }
    }
    log_info("tokmock %s listening on %s:%d (pp %.0f tok/s, tg %.0f tok/s, parallel %d%s)",
             TOKMOCK_VERSION, opts.host, port, opts.sched.pp_rate, opts.sched.tg_rate,
             opts.parallel, opts.truth ? ", truth" : "");

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    log_info("tokmock: signal %d, stopping", sig);
    server_stop(server);
    replay_free(opts.replay);
    return 0;
}
