/* libFuzzer target: the --slo parser (client/slo.h), fed any C string.
 * Accepted specs must round-trip: every objective printed by slo_format
 * parses back to the same name, metric, statistic and comparison, with a
 * threshold equal to printf's %g precision. The checks on one request and on
 * a value are total functions (NaN fails, never crashes). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/slo.h"
#include "common/buf.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = fuzz_cstring(data, size);
    if (!spec)
        return 0;
    slo_set set;
    char err[512] = "";
    int rc = slo_parse(spec, &set, err, sizeof err);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    if (rc) {
        FUZZ_ASSERT(err[0] != '\0' && set.n == 0 && set.items == NULL);
        slo_set_free(&set);
        free(spec);
        return 0;
    }
    FUZZ_ASSERT(set.n > 0);
    buf again;
    buf_init(&again, 0);
    for (size_t i = 0; i < set.n; i++) {
        const slo_objective *o = &set.items[i];
        FUZZ_ASSERT(o->name[0] && isfinite(o->threshold));
        FUZZ_ASSERT(o->pct >= 0 && o->pct <= 100);
        FUZZ_ASSERT(!isnan(o->threshold) && !slo_holds(o, NAN));
        char text[256];
        slo_format(o, text, sizeof text);
        buf_printf(&again, "%s%s", i ? "," : "", text);
    }
    slo_set_free(&set);
    FUZZ_ASSERT(set.items == NULL && set.n == 0);

    rc = slo_parse(spec, &set, err, sizeof err);
    FUZZ_ASSERT(rc == 0);
    slo_set back;
    FUZZ_ASSERT(slo_parse(again.data, &back, err, sizeof err) == 0);
    FUZZ_ASSERT(back.n == set.n);
    for (size_t i = 0; i < set.n; i++) {
        const slo_objective *a = &set.items[i], *b = &back.items[i];
        FUZZ_ASSERT(strcmp(a->name, b->name) == 0);
        FUZZ_ASSERT(strcmp(a->metric, b->metric) == 0);
        FUZZ_ASSERT(strcmp(a->stat, b->stat) == 0);
        FUZZ_ASSERT(a->op == b->op && a->per_request == b->per_request);
        FUZZ_ASSERT(fabs(a->threshold - b->threshold) <= 1e-5 * fabs(a->threshold));
    }
    slo_request_values v = {1, 2, 3, 4, 5, 6, 7};
    (void)slo_request_ok(&set, &v);
    slo_request_values nan_values = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    bool any_per_request = false;
    for (size_t i = 0; i < set.n; i++)
        any_per_request |= set.items[i].per_request;
    FUZZ_ASSERT(slo_request_ok(&set, &nan_values) == !any_per_request);
    slo_set_free(&set);
    slo_set_free(&back);
    buf_free(&again);
    free(spec);
    return 0;
}
