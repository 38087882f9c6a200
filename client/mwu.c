/* Mann-Whitney U. The exact null distribution of U for sizes (m, n) is the
 * coefficient list of the Gaussian binomial [m+n choose m](q): the number of
 * rank arrangements giving U = u is the coefficient of q^u. It is built as
 * prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), every step an exact integer
 * polynomial, so doubles hold the counts exactly for the sizes we allow. */
#include "client/mwu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

typedef struct ranked {
    double v;
    int group; /* 0 = x, 1 = y */
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
    return (x > y) - (x < y);
}

/* counts[u] for u = 0..m*n: arrangements with U = u. Caller frees. */
static double *u_distribution(size_t m, size_t n)
{
    size_t len = m * n + 1;
    double *c = xcalloc(len, sizeof *c);
    c[0] = 1;
    for (size_t i = 1; i <= m; i++) {
        /* Multiply by (1 - q^(n+i)): high degrees first so each term reads
         * the coefficient from before this step. */
        size_t s = n + i;
        for (size_t k = len; k-- > s;)
            c[k] -= c[k - s];
        /* Divide by (1 - q^i): the quotient's k-th coefficient adds the
         * quotient's (k-i)-th, ascending. */
        for (size_t k = i; k < len; k++)
            c[k] += c[k - i];
    }
    return c;
}

double mwu_min_p(size_t n1, size_t n2)
{
    if (n1 == 0 || n2 == 0)
        return 1;
    /* C(n1+n2, n1) grows fast: stop once the p-value is negligible. */
    double comb = 1;
    size_t k = n1 < n2 ? n1 : n2, n = n1 + n2;
    for (size_t i = 1; i <= k; i++) {
        comb = comb * (double)(n - k + i) / (double)i;
        if (comb > 1e300)
            return 0;
    }
    double p = 2 / comb;
    return p > 1 ? 1 : p;
}

int mwu_test(const double *x, size_t n1, const double *y, size_t n2, mwu_result *res)
{
    memset(res, 0, sizeof *res);
    res->p = 1;
    if (n1 == 0 || n2 == 0)
        return -1;
    for (size_t i = 0; i < n1; i++)
        if (isnan(x[i]))
            return -1;
    for (size_t i = 0; i < n2; i++)
        if (isnan(y[i]))
            return -1;

    size_t total = n1 + n2;
    ranked *all = xmalloc(total * sizeof *all);
    for (size_t i = 0; i < n1; i++)
        all[i] = (ranked){x[i], 0};
    for (size_t i = 0; i < n2; i++)
        all[n1 + i] = (ranked){y[i], 1};
    qsort(all, total, sizeof *all, cmp_ranked);

    /* Midranks (1-based) and the tie term sum(t^3 - t). */
    double rank_sum_x = 0, tie_term = 0;
    for (size_t i = 0; i < total;) {
        size_t j = i;
        while (j + 1 < total && all[j + 1].v == all[i].v)
            j++;
        double t = (double)(j - i + 1);
        double midrank = ((double)i + (double)j) / 2 + 1;
        for (size_t k = i; k <= j; k++)
            if (all[k].group == 0)
                rank_sum_x += midrank;
        if (t > 1) {
            tie_term += t * t * t - t;
            res->ties = true;
        }
        i = j + 1;
    }
    free(all);

    double dn1 = (double)n1, dn2 = (double)n2, dn = (double)total;
    res->u1 = rank_sum_x - dn1 * (dn1 + 1) / 2;
    res->u2 = dn1 * dn2 - res->u1;

    if (!res->ties && total <= MWU_EXACT_MAX_TOTAL) {
        double *c = u_distribution(n1, n2);
        size_t len = n1 * n2 + 1;
        size_t u = (size_t)llround(res->u1);
        double all_count = 0, below = 0, above = 0;
        for (size_t k = 0; k < len; k++) {
            all_count += c[k];
            if (k <= u)
                below += c[k];
            if (k >= u)
                above += c[k];
        }
        free(c);
        double tail = below < above ? below : above;
        double p = 2 * tail / all_count;
        res->p = p > 1 ? 1 : p;
        res->exact = true;
        return 0;
    }

    double mean_u = dn1 * dn2 / 2;
    double var_u = dn1 * dn2 / 12 * ((dn + 1) - tie_term / (dn * (dn - 1)));
    if (!(var_u > 0)) {
        /* Every value equal: no evidence of any difference. */
        res->p = 1;
        return 0;
    }
    double d = fabs(res->u1 - mean_u) - 0.5;
    if (d < 0)
        d = 0;
    res->z = d / sqrt(var_u);
    double p = erfc(res->z / sqrt(2.0));
    res->p = p > 1 ? 1 : p;
    return 0;
}
