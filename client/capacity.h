/* Capacity answers computed from a sweep: the context-depth recommendation
 * (largest depth whose tg stays within a tolerance of the smallest depth's,
 * with no failures), throughput cliffs between adjacent depths, and the
 * concurrency knee. Pure functions of the numbers; no I/O. */
#ifndef CLIENT_CAPACITY_H
#define CLIENT_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>

#define CAPACITY_DEFAULT_TOLERANCE 0.15 /* tg within 15 % of the smallest depth's */
#define CAPACITY_DEFAULT_CLIFF 0.30     /* a drop of more than 30 % to the next depth */
#define CAPACITY_KNEE_RATIO 2.0         /* p95 latency above twice p50 */
#define CAPACITY_KNEE_GAIN 0.05         /* throughput rising by no more than 5 % */

/* One tested point, sorted by x ascending (depth or concurrency). tg is NAN
 * when nothing was measured. */
typedef struct capacity_point {
    double x;
    double tg;       /* tg t/s (depth sweep) or total t/s (concurrency sweep) */
    double p50, p95; /* request latency percentiles (concurrency sweep) */
    bool failed;     /* any request failed */
} capacity_point;

/* Index of the recommended depth: the largest x whose tg is at least
 * (1 - tolerance) * tg of the first point and that had no failures; -1
 * when none qualifies (or the first point has no tg). cliff[i] (n - 1
 * entries, may be NULL) is set when tg drops by more than cliff_drop from
 * point i to point i + 1. */
int capacity_recommend(const capacity_point *pts, size_t n, double tolerance, double cliff_drop,
                       bool *cliff);

/* The knee: the index of the lowest concurrency at which p95 > ratio * p50,
 * or at which total throughput rose by no more than gain over the previous
 * point; -1 when neither happens. why receives "latency" or "throughput". */
int capacity_knee(const capacity_point *pts, size_t n, double ratio, double gain,
                  const char **why);

#endif
