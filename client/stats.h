/* Summary statistics of a sample of doubles. Definitions (also in
 * docs/tokbench-metrics.md):
 *   mean        arithmetic mean; 0 for an empty sample
 *   std_pop     population std, sqrt(sum((x-mean)^2) / n) (numpy.std), 0 when n < 2
 *   std_sample  sample std, sqrt(sum((x-mean)^2) / (n-1)), 0 when n < 2
 *   percentile  linear interpolation between closest ranks (numpy's default
 *               "linear" method): sort x, h = (n-1) * p/100,
 *               value = x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]);
 *               p is clamped to [0, 100]; 0 for an empty sample
 *   median      percentile 50 */
#ifndef CLIENT_STATS_H
#define CLIENT_STATS_H

#include <stddef.h>

/* A growable sample. A value you create, feed and query; no globals. */
typedef struct stats {
    double *values; /* owned; in insertion order */
    size_t n, cap;
} stats;

void stats_init(stats *s);
void stats_free(stats *s);
void stats_add(stats *s, double v);

double stats_mean(const double *v, size_t n);
double stats_std_pop(const double *v, size_t n);
double stats_std_sample(const double *v, size_t n);
/* Sorts a copy; v is not modified. */
double stats_percentile(const double *v, size_t n, double p);
/* Same on an already sorted array (ascending). */
double stats_percentile_sorted(const double *sorted, size_t n, double p);
double stats_median(const double *v, size_t n);
/* Sorts v in place, ascending. */
void stats_sort(double *v, size_t n);

#endif
