/* libFuzzer target: tokmock's fault lists (mockserver/fault.h), which come
 * from the network in the X-Tokmock-Fault header. Input: a C string. A list
 * that parses must draw a plan for any request number, and each entry's
 * canonical text must parse back to the same entry. The broken-event helper
 * gets the same bytes as an event to cut. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "mockserver/fault.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf cut;
    buf_init(&cut, 0);
    FUZZ_ASSERT(fault_malformed_copy(&cut, (const char *)data, size) == 0);
    FUZZ_ASSERT(cut.len <= size + 2); /* "\n\n" added when the event had none */
    buf_free(&cut);

    char *text = fuzz_cstring(data, size);
    if (!text)
        return 0;
    fault_list l;
    char err[256] = "";
    if (fault_parse(&l, text, err, sizeof err) != 0) {
        FUZZ_ASSERT(err[0] != '\0');
        free(text);
        return 0;
    }
    FUZZ_ASSERT(l.n <= FAULT_MAX_ENTRIES);
    for (size_t i = 0; i < l.n; i++) {
        const fault_entry *e = &l.entries[i];
        FUZZ_ASSERT(e->kind >= 0 && e->kind < FAULT_N_KINDS);
        FUZZ_ASSERT(e->prob >= 0 && e->prob <= 1);
        char one[128];
        int n = fault_entry_format(e, one, sizeof one);
        FUZZ_ASSERT(n > 0 && (size_t)n < sizeof one);
        fault_list back;
        FUZZ_ASSERT(fault_parse(&back, one, err, sizeof err) == 0 && back.n == 1);
        FUZZ_ASSERT(back.entries[0].kind == e->kind && back.entries[0].param == e->param &&
                    back.entries[0].at == e->at);
    }
    uint64_t seed = size ? data[0] : 0;
    for (uint64_t seq = 0; seq < 4; seq++) {
        fault_plan plan;
        fault_draw(&plan, &l, seed, seq);
        FUZZ_ASSERT(plan.n_stalls <= FAULT_MAX_ENTRIES && plan.n_malformed <= FAULT_MAX_ENTRIES);
        FUZZ_ASSERT(memchr(plan.text, '\0', sizeof plan.text) != NULL);
        FUZZ_ASSERT(plan.status == 0 || (plan.status >= 400 && plan.status <= 599));
        for (size_t t = 0; t < 4; t++) {
            FUZZ_ASSERT(fault_stall_shift_ns(&plan, t) >= 0);
            (void)fault_event_malformed(&plan, t, 2, t == 3);
            (void)fault_end_due(&plan, t);
        }
        buf ev;
        buf_init(&ev, 0);
        FUZZ_ASSERT(fault_error_event(&ev, seq) == 0 && ev.len > 0);
        buf_free(&ev);
    }
    free(text);
    return 0;
}
