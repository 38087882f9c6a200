/* libFuzzer target: the chunk decoder (client/chunk.h) on arbitrary bytes,
 * mostly JSON-shaped thanks to the seed corpus and dictionary. Checks the
 * decoder's promises: borrowed strings match their lengths, the kind agrees
 * with what was found, counts are -1 or non-negative. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client/chunk.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chunk_info c;
    int rc = chunk_parse((const char *)data, size, &c);
    FUZZ_ASSERT(rc == CHUNK_OK || rc == CHUNK_ERR_JSON || rc == CHUNK_ERR_ERROR);
    if (rc == CHUNK_ERR_ERROR)
        FUZZ_ASSERT(c.error != NULL && strlen(c.error) < size + 64);
    if (rc == CHUNK_OK) {
        FUZZ_ASSERT(c.error == NULL);
        FUZZ_ASSERT(c.kind >= EV_OTHER && c.kind <= EV_TOOL);
        if (c.content)
            FUZZ_ASSERT(strlen(c.content) == c.content_len);
        else
            FUZZ_ASSERT(c.content_len == 0);
        size_t bytes = c.content_len + c.reasoning_len + c.tool_len;
        FUZZ_ASSERT(c.text_bytes == (bytes > UINT32_MAX ? UINT32_MAX : bytes));
        FUZZ_ASSERT(c.ids >= -1);
        FUZZ_ASSERT(c.prompt_tokens >= -1 && c.completion_tokens >= -1 &&
                    c.cached_tokens >= -1);
        if (!c.has_usage)
            FUZZ_ASSERT(c.prompt_tokens == -1 && c.completion_tokens == -1);
        if (!c.has_choices)
            FUZZ_ASSERT(c.kind == EV_OTHER);
        if (c.kind == EV_CONTENT)
            FUZZ_ASSERT(c.content_len > 0 || c.ids > 0);
        if (c.kind == EV_REASONING)
            FUZZ_ASSERT(c.content_len == 0 && c.reasoning_len > 0);
        /* Borrowed strings are readable to their end. */
        if (c.finish_reason)
            (void)strlen(c.finish_reason);
        if (c.id)
            (void)strlen(c.id);
        if (c.model)
            (void)strlen(c.model);
    }
    chunk_info_free(&c);
    FUZZ_ASSERT(c.root_ == NULL);
    return 0;
}
