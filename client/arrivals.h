/* Request arrival schedules for tokbench's open-loop load mode
 * (--request-rate, --burstiness): gaps between intended send times drawn
 * from a gamma distribution, as vLLM's benchmark does. Shape 1 is a Poisson
 * process; a shape below 1 is burstier, above 1 more regular; the mean rate
 * is the same for every shape. Pure and seeded: the same seed gives the same
 * schedule. */
#ifndef CLIENT_ARRIVALS_H
#define CLIENT_ARRIVALS_H

#include <stddef.h>
#include <stdint.h>

#include "common/prng.h"

typedef struct arrivals_config {
    double rate_per_s; /* mean requests per second; INFINITY = all at once */
    double burstiness; /* gamma shape k > 0; 1 = Poisson */
    uint64_t seed;
} arrivals_config;

/* Fills offsets_ns[0..n) with intended send times in ns after the start of
 * the scenario: 0 for the first request, then cumulative gamma gaps of mean
 * 1 / rate. With an infinite rate every offset is 0. Returns 0, or -1 when
 * the rate or the shape is not positive (or NaN). */
int arrivals_schedule(const arrivals_config *c, int64_t *offsets_ns, size_t n);

/* One gamma(shape, scale) draw (Marsaglia and Tsang); shape, scale > 0. */
double arrivals_gamma(prng *p, double shape, double scale);

#endif
