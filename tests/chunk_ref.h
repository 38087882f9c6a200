/* The reference chunk decoder for tests: the cJSON-tree implementation that
 * client/chunk.c had before its single-pass decoder, kept to compare the two
 * (tests/unit/test_chunk.c, tests/fuzz/fuzz_chunk.c, scripts/bench-chunk.sh).
 * Never linked into tokbench: a test includes tests/chunk_ref.c itself.
 *
 * Same contract as chunk_parse / chunk_info_free, with two differences that
 * come from cJSON: it accepts some input that is not one JSON object (see
 * chunk_ref_lenient), and its borrowed strings point into the cJSON tree
 * kept in info->root_ (info->scratch_ is unused). */
#ifndef TESTS_CHUNK_REF_H
#define TESTS_CHUNK_REF_H

#include <stddef.h>

#include "client/chunk.h"

int chunk_ref_parse(const char *json, size_t len, chunk_info *info);
void chunk_ref_free(chunk_info *info);

/* Whether json[0..len) is something cJSON accepts although it is not one
 * RFC 8259 object: bytes after the object, control bytes (whitespace other
 * than space, tab, CR, LF, or raw inside strings), a UTF-8 byte order mark,
 * a \u escape with a non-hex digit, or a number outside the JSON grammar
 * (leading zeros, "1.", "-.5", "1.e5"). The new decoder refuses exactly
 * these; the test and the fuzz target use this to check that every refusal
 * the reference does not share is one of them. Only meaningful when
 * chunk_ref_parse accepted the input. */
int chunk_ref_lenient(const char *json, size_t len);

/* The first field in which two results differ ("rc", "kind", "content",
 * ...), NULL when they agree on every field. Strings compare by content;
 * numbers with ==, so -0 equals 0 (cJSON prints -0 as 0). */
const char *chunk_ref_diff(int rc_a, const chunk_info *a, int rc_b, const chunk_info *b);

#endif
