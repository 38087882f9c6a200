/* libFuzzer target: tokmock's request body parsers (mockserver/request.h),
 * which see every byte a client POSTs.
 *
 * Input: byte 0 picks the route (chat, completion, /tokenize, /detokenize),
 * the rest is the body. A body is either accepted with a well-formed value,
 * or refused with a non-empty one-line reason; the JSON answers of the
 * tokenizer routes must be valid JSON. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "mockserver/request.h"
#include "tests/fuzz/fuzz_util.h"

static void check_reason(int rc, const char *err)
{
    if (rc == 0)
        return;
    FUZZ_ASSERT(rc == -1);
    FUZZ_ASSERT(err[0] != '\0');
    /* The reason goes into a JSON error body and the log: one line of
     * valid UTF-8 (fixed: it used to echo raw newlines and cut characters). */
    FUZZ_ASSERT(strpbrk(err, "\n\r") == NULL);
    FUZZ_ASSERT(request_utf8_valid(err, strlen(err)));
}

static void check_answer(const buf *out)
{
    FUZZ_ASSERT(out->len > 0 && out->data);
    cJSON *v = cJSON_ParseWithLength(out->data, out->len);
    FUZZ_ASSERT(cJSON_IsObject(v));
    cJSON_Delete(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char err[256] = "";
    int route = data[0] & 3;
    if (route <= 1) {
        mock_request r;
        int rc = request_parse(&r, route == 0 ? REQ_CHAT : REQ_COMPLETION, body, len, err,
                               sizeof err);
        check_reason(rc, err);
        if (rc == 0) {
            FUZZ_ASSERT(r.max_tokens >= 1);
            FUZZ_ASSERT(r.n_stop <= REQ_MAX_STOP);
            for (size_t i = 0; i < r.n_stop; i++)
                FUZZ_ASSERT(r.stop[i] && r.stop[i][0]);
            FUZZ_ASSERT(r.prompt.len == 0 || r.prompt.data[r.prompt.len] == '\0');
            if (route == 0)
                FUZZ_ASSERT(r.prompt.len > 0); /* the template is never empty */
            request_free(&r);
        }
        /* The validators on their own: cheap, total functions. */
        (void)request_utf8_valid(body, len);
        FUZZ_ASSERT(request_json_depth(body, len) >= 0);
        return 0;
    }
    buf out;
    buf_init(&out, 0);
    int rc = route == 2 ? request_tokenize(body, len, 4096, &out, err, sizeof err)
                        : request_detokenize(body, len, &out, err, sizeof err);
    check_reason(rc, err);
    if (rc == 0)
        check_answer(&out);
    buf_free(&out);
    return 0;
}
