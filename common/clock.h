/* The one place that reads the clock.
 * Every time in this project is nanoseconds on CLOCK_MONOTONIC, as int64_t;
 * all other modules take times as parameters so tests can feed any timeline. */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t clock_now_ns(void);

/* Nanoseconds since the Unix epoch on CLOCK_REALTIME: only for labelling a
 * report with a date, never for measuring a duration. */
int64_t clock_wall_ns(void);

/* Sleeps until the absolute CLOCK_MONOTONIC deadline (TIMER_ABSTIME), so that
 * lateness of one wakeup never accumulates into the next deadline.
 * Returns at once when the deadline has passed. */
void clock_sleep_until_ns(int64_t deadline_ns);

#define CLOCK_NS_PER_US INT64_C(1000)
#define CLOCK_NS_PER_MS INT64_C(1000000)
#define CLOCK_NS_PER_S INT64_C(1000000000)

#endif
