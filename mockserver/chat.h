/* The ChatML chat template (SPEC §1.3): the prompt a chat request costs.
 * Each message renders as "<|im_start|>ROLE\nCONTENT<|im_end|>\n", followed by
 * "<|im_start|>assistant\n". CONTENT is a string or an array of
 * {"type":"text","text":...} parts, joined without separator. */
#ifndef MOCK_CHAT_H
#define MOCK_CHAT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "common/buf.h"

/* Renders a `messages` array into out (appends). Returns 0, or -1 with a
 * human-readable reason in err (for the 400 body) when the array is missing,
 * empty, or a message has a wrong type (role not a string, content neither a
 * string, an array of text parts, nor null). Borrows messages. */
int chat_render(const cJSON *messages, buf *out, char *err, size_t err_len);

/* True when the rendered prompt asks the coherence question
 * ("What is the capital of France?..."), whose answer starts with "Paris". */
int chat_is_coherence_question(const char *prompt, size_t len);

#endif
