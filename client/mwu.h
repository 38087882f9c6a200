/* The Mann-Whitney U test (Wilcoxon rank-sum): do two independent samples
 * come from the same distribution? Used by `tokbench compare` to say whether
 * a change between two result files is more than run-to-run noise. */
#ifndef CLIENT_MWU_H
#define CLIENT_MWU_H

#include <stdbool.h>
#include <stddef.h>

/* Samples up to this total size without ties get the exact distribution of U;
 * larger ones, or any ties, the normal approximation. */
#define MWU_EXACT_MAX_TOTAL 40

typedef struct mwu_result {
    double u1;      /* U of the first sample: pairs (x, y) with x > y, ties count 1/2 */
    double u2;      /* n1 * n2 - u1 */
    double z;       /* normal approximation score (0 when exact) */
    double p;       /* two-sided p-value in [0, 1] */
    bool exact;     /* p from the exact null distribution (no ties, small samples) */
    bool ties;      /* some value occurs in both or twice in one sample */
} mwu_result;

/* Runs the two-sided test on x[0..n1) and y[0..n2). Borrows both arrays.
 * Exact: p = min(1, 2 * min(P(U <= u1), P(U >= u1))) under H0, counting the
 * rank arrangements. Approximate: z = (|u1 - n1 n2 / 2| - 1/2) / sigma with
 * the tie-corrected sigma^2 = n1 n2 / 12 * (N + 1 - sum(t^3 - t) / (N (N - 1)))
 * (continuity correction, as scipy's default), p = erfc(|z| / sqrt 2).
 * Returns 0, or -1 when a sample is empty or holds a NaN (then *res is
 * zeroed with p = 1). */
int mwu_test(const double *x, size_t n1, const double *y, size_t n2, mwu_result *res);

/* The smallest two-sided p-value any outcome can give for these sample sizes
 * (two fully separated samples, exact distribution, no ties): 2 / C(n1+n2, n1),
 * capped at 1. When it is above the chosen significance level, no result can
 * be significant: the samples are too small to tell. */
double mwu_min_p(size_t n1, size_t n2);

#endif
