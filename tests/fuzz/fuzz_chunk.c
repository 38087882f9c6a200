/* libFuzzer target: the chunk decoder (client/chunk.h) on arbitrary bytes,
 * mostly JSON-shaped thanks to the seed corpus and dictionary, against the
 * cJSON reference it replaced (tests/chunk_ref.c). For every input:
 *
 * - the decoder's own promises hold: borrowed strings match their lengths,
 *   the kind agrees with what was found, counts are -1 or non-negative;
 * - both decoders give the same result code and every field (strings by
 *   content), except on input cJSON accepts although it is not one JSON
 *   object (chunk_ref_lenient): there, and only there, the decoder refuses
 *   with CHUNK_ERR_JSON;
 * - whatever the reference accepts, printed back by cJSON as plain JSON,
 *   decodes with both to the same result (so the lenient inputs too are
 *   read the same once made valid). Both decode the printed text, not the
 *   input: cJSON prints a number with 15 digits when that reads back within
 *   an epsilon, so the printed value is not always the input's. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client/chunk.h"
#include "tests/chunk_ref.c"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_promises(int rc, const chunk_info *c, size_t size)
{
    FUZZ_ASSERT(rc == CHUNK_OK || rc == CHUNK_ERR_JSON || rc == CHUNK_ERR_ERROR);
    if (rc == CHUNK_ERR_ERROR)
        FUZZ_ASSERT(c->error != NULL && strlen(c->error) < size + 64);
    if (rc != CHUNK_OK)
        return;
    FUZZ_ASSERT(c->error == NULL);
    FUZZ_ASSERT(c->kind >= EV_OTHER && c->kind <= EV_TOOL);
    if (c->content)
        FUZZ_ASSERT(strlen(c->content) == c->content_len);
    else
        FUZZ_ASSERT(c->content_len == 0);
    size_t bytes = c->content_len + c->reasoning_len + c->tool_len;
    FUZZ_ASSERT(c->text_bytes == (bytes > UINT32_MAX ? UINT32_MAX : bytes));
    FUZZ_ASSERT(c->ids >= -1);
    FUZZ_ASSERT(c->prompt_tokens >= -1 && c->completion_tokens >= -1 && c->cached_tokens >= -1);
    if (!c->has_usage)
        FUZZ_ASSERT(c->prompt_tokens == -1 && c->completion_tokens == -1);
    if (!c->has_choices)
        FUZZ_ASSERT(c->kind == EV_OTHER);
    if (c->kind == EV_CONTENT)
        FUZZ_ASSERT(c->content_len > 0 || c->ids > 0);
    if (c->kind == EV_REASONING)
        FUZZ_ASSERT(c->content_len == 0 && c->reasoning_len > 0);
    /* Borrowed strings are readable to their end. */
    if (c->finish_reason)
        (void)strlen(c->finish_reason);
    if (c->id)
        (void)strlen(c->id);
    if (c->model)
        (void)strlen(c->model);
}

static void agree(int rc, const chunk_info *c, int ref_rc, const chunk_info *ref, const char *what)
{
    const char *field = chunk_ref_diff(rc, c, ref_rc, ref);
    if (field) {
        fprintf(stderr, "%s: decoder and reference differ in %s (rc %d vs %d)\n", what, field, rc,
                ref_rc);
        FUZZ_ASSERT(field == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    chunk_info c, ref;
    int rc = chunk_parse(json, size, &c);
    int ref_rc = chunk_ref_parse(json, size, &ref);
    check_promises(rc, &c, size);

    if (ref_rc != CHUNK_ERR_JSON && chunk_ref_lenient(json, size))
        FUZZ_ASSERT(rc == CHUNK_ERR_JSON); /* the one intended difference */
    else
        agree(rc, &c, ref_rc, &ref, "input");

    if (ref_rc != CHUNK_ERR_JSON) {
        char *printed = cJSON_PrintUnformatted(ref.root_);
        FUZZ_ASSERT(printed != NULL);
        chunk_info again, ref_again;
        int again_rc = chunk_parse(printed, strlen(printed), &again);
        int ref_again_rc = chunk_ref_parse(printed, strlen(printed), &ref_again);
        FUZZ_ASSERT(ref_again_rc == ref_rc);
        agree(again_rc, &again, ref_again_rc, &ref_again, "printed");
        chunk_info_free(&again);
        chunk_ref_free(&ref_again);
        cJSON_free(printed);
    }

    chunk_info_free(&c);
    FUZZ_ASSERT(c.root_ == NULL);
    chunk_ref_free(&ref);
    return 0;
}
