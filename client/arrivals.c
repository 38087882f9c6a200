#include "client/arrivals.h"

#include <math.h>

#define TWO_PI 6.283185307179586

/* A standard normal draw (Box-Muller); u1 is kept away from 0. */
static double normal(prng *p)
{
    double u1 = prng_uniform(p), u2 = prng_uniform(p);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

double arrivals_gamma(prng *p, double shape, double scale)
{
    if (shape < 1.0) {
        /* gamma(k) = gamma(k + 1) * U^(1/k) for k < 1. */
        double u = prng_uniform(p);
        if (u < 1e-300)
            u = 1e-300;
        return arrivals_gamma(p, shape + 1.0, scale) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = normal(p), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = prng_uniform(p);
        if (u < 1e-300)
            continue;
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v * scale;
    }
}

int arrivals_schedule(const arrivals_config *c, int64_t *offsets_ns, size_t n)
{
    if (!(c->rate_per_s > 0) || !(c->burstiness > 0) || isinf(c->burstiness))
        return -1;
    if (isinf(c->rate_per_s)) {
        for (size_t i = 0; i < n; i++)
            offsets_ns[i] = 0;
        return 0;
    }
    prng p;
    prng_seed(&p, c->seed);
    /* Mean gap 1 / rate: shape k, scale 1 / (rate k). */
    double scale_s = 1.0 / (c->rate_per_s * c->burstiness);
    double t_s = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            t_s += arrivals_gamma(&p, c->burstiness, scale_s);
        offsets_ns[i] = (int64_t)llround(t_s * 1e9);
    }
    return 0;
}
