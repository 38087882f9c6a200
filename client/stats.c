#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/xalloc.h"

void stats_init(stats *s)
{
    s->values = NULL;
    s->n = s->cap = 0;
}

void stats_free(stats *s)
{
    free(s->values);
    stats_init(s);
}

void stats_add(stats *s, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->values = xrealloc(s->values, s->cap * sizeof *s->values);
    }
    s->values[s->n++] = v;
}

double stats_mean(const double *v, size_t n)
{
    if (n == 0)
        return 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return sum / (double)n;
}

static double sum_sq_dev(const double *v, size_t n)
{
    double m = stats_mean(v, n), ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - m) * (v[i] - m);
    return ss;
}

double stats_std_pop(const double *v, size_t n)
{
    return n < 2 ? 0 : sqrt(sum_sq_dev(v, n) / (double)n);
}

double stats_std_sample(const double *v, size_t n)
{
    return n < 2 ? 0 : sqrt(sum_sq_dev(v, n) / (double)(n - 1));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stats_sort(double *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_double);
}

double stats_percentile_sorted(const double *x, size_t n, double p)
{
    if (n == 0)
        return 0;
    if (!(p > 0))
        p = 0; /* also catches NaN */
    if (p > 100)
        p = 100;
    double h = (double)(n - 1) * p / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1)
        return x[n - 1];
    double frac = h - (double)lo;
    return x[lo] + frac * (x[lo + 1] - x[lo]);
}

double stats_percentile(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    double *copy = xmalloc(n * sizeof *copy);
    memcpy(copy, v, n * sizeof *copy);
    stats_sort(copy, n);
    double r = stats_percentile_sorted(copy, n, p);
    free(copy);
    return r;
}

double stats_median(const double *v, size_t n)
{
    return stats_percentile(v, n, 50);
}
