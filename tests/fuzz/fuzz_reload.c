/* libFuzzer target: the saved-results reader (client/reload.h), which
 * `tokbench report` and `tokbench compare` run on files given on the
 * command line, fed any bytes (NUL bytes included: reload_json takes a
 * length, not a C string). For every input:
 *
 * - reload_json returns 0 or -1, and -1 comes with a non-empty one-line
 *   reason; the results are freed with results_free() either way (a half-read
 *   value too), so ASan's leak checker sees every allocation of the reader;
 * - an accepted input, rendered by the JSON writer (report_json), reads back
 *   and renders to the same bytes again: render(reload(render(reload(x)))) ==
 *   render(reload(x)), a fixpoint after one pass.
 *
 * The property is checked from the first rendering on, not against the input
 * itself, because one reading legitimately normalises the input. The reader
 * drops keys it does not know inside a metric, a request record or a failure
 * summary, the metadata keys when there is no "version", and the second of a
 * known key given twice; it computes the summary statistics a metric lacks,
 * turns a negative event count into 0 and ill-formed UTF-8 into U+FFFD. The
 * writer puts the known keys in its own order, prints an integer -0 as 0,
 * floats in Python's shortest repr, and a request's zero or negative event
 * time as null. Once rendered, nothing of that is left to normalise.
 * Tokbench's own files are at the fixpoint already (tests/unit/test_reload.c
 * checks that the golden files read back to their own bytes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/reload.h"
#include "client/report.h"
#include "client/results.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The JSON report of r, in a malloc'd buffer (free()). */
static char *render(const results *r, size_t *len)
{
    char *text = NULL;
    *len = 0;
    FILE *f = open_memstream(&text, len);
    FUZZ_ASSERT(f != NULL);
    FUZZ_ASSERT(report_json(r, f) == 0);
    FUZZ_ASSERT(fclose(f) == 0);
    FUZZ_ASSERT(text != NULL && *len > 0 && text[*len - 1] == '\n');
    return text;
}

/* reload_json's promise on one call: 0, or -1 with a one-line reason. */
static int reload(const char *text, size_t len, results *r)
{
    char err[512];
    memset(err, 0, sizeof err);
    int rc = reload_json(text, len, r, err, sizeof err);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    FUZZ_ASSERT(memchr(err, '\0', sizeof err) != NULL);
    if (rc) {
        FUZZ_ASSERT(err[0] != '\0');
        FUZZ_ASSERT(strchr(err, '\n') == NULL);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    results first;
    if (reload((const char *)data, size, &first)) {
        results_free(&first);
        return 0;
    }
    size_t len1, len2;
    char *text1 = render(&first, &len1);
    results_free(&first);

    results second;
    if (reload(text1, len1, &second)) {
        fprintf(stderr, "the rendering of an accepted input does not read back:\n%.*s\n",
                (int)(len1 > 4000 ? 4000 : len1), text1);
        FUZZ_ASSERT(!"rendered results read back");
    }
    char *text2 = render(&second, &len2);
    results_free(&second);
    if (len1 != len2 || memcmp(text1, text2, len1) != 0) {
        size_t k = 0;
        while (k < len1 && k < len2 && text1[k] == text2[k])
            k++;
        size_t from = k > 200 ? k - 200 : 0;
        fprintf(stderr, "first difference at byte %zu:\n--- first rendering\n%.*s\n"
                        "--- second rendering\n%.*s\n",
                k, (int)((len1 < k + 200 ? len1 : k + 200) - from), text1 + from,
                (int)((len2 < k + 200 ? len2 : k + 200) - from), text2 + from);
        FUZZ_ASSERT(!"the JSON rendering is a fixpoint after one reload");
    }
    free(text1);
    free(text2);
    return 0;
}
