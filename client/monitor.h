/* --monitor-pid: memory of a local server process and the machine's swap-out
 * counter, from Linux /proc. The parsers are pure (they take the file text);
 * monitor_sample reads the files. A value the platform does not give is -1
 * and is reported as null, never invented. */
#ifndef CLIENT_MONITOR_H
#define CLIENT_MONITOR_H

#include <stdint.h>

typedef struct monitor_sample_t {
    int64_t rss_kb;   /* VmRSS of /proc/PID/status, -1 = unavailable */
    int64_t hwm_kb;   /* VmHWM (peak RSS over the process life), -1 = unavailable */
    int64_t pswpout;  /* pages swapped out since boot (/proc/vmstat), -1 = unavailable */
} monitor_sample_t;

/* Value in kB of "key:" in a /proc/PID/status text, -1 when absent. */
int64_t monitor_parse_status_kb(const char *text, const char *key);
/* Value of "key N" in a /proc/vmstat text, -1 when absent. */
int64_t monitor_parse_vmstat(const char *text, const char *key);
/* Reads the files for pid (pid <= 0: only the swap counter). */
void monitor_sample(long pid, monitor_sample_t *out);

#endif
