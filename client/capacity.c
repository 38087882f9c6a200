#include "client/capacity.h"

#include <math.h>

int capacity_recommend(const capacity_point *pts, size_t n, double tolerance, double cliff_drop,
                       bool *cliff)
{
    for (size_t i = 0; cliff && i + 1 < n; i++)
        cliff[i] = !isnan(pts[i].tg) && pts[i].tg > 0 && !isnan(pts[i + 1].tg) &&
                   pts[i + 1].tg < (1.0 - cliff_drop) * pts[i].tg;
    if (n == 0 || isnan(pts[0].tg) || !(pts[0].tg > 0))
        return -1;
    int best = -1;
    double floor_tg = (1.0 - tolerance) * pts[0].tg;
    for (size_t i = 0; i < n; i++)
        if (!pts[i].failed && !isnan(pts[i].tg) && pts[i].tg >= floor_tg)
            best = (int)i;
    return best;
}

int capacity_knee(const capacity_point *pts, size_t n, double ratio, double gain,
                  const char **why)
{
    for (size_t i = 0; i < n; i++) {
        if (!isnan(pts[i].p50) && !isnan(pts[i].p95) && pts[i].p95 > ratio * pts[i].p50) {
            if (why)
                *why = "latency";
            return (int)i;
        }
        if (i > 0 && !isnan(pts[i].tg) && !isnan(pts[i - 1].tg) &&
            pts[i].tg <= (1.0 + gain) * pts[i - 1].tg) {
            if (why)
                *why = "throughput";
            return (int)i;
        }
    }
    return -1;
}
