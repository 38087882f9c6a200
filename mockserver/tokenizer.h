/* tokmock's tokenizer (SPEC §1.3), implemented once and used for counting,
 * /tokenize, /detokenize, the prefix cache and generation.
 *
 * A token is: a run of 1-6 ASCII letters/digits, optionally preceded by exactly
 * one space that belongs to it (longer runs are cut every 6 characters; only
 * the first piece takes the space); or a special token `<|im_start|>` /
 * `<|im_end|>`; or any single other code point (punctuation, whitespace not
 * taken as a word's leading space, each non-ASCII UTF-8 code point). Bytes
 * that are not valid UTF-8 are one token each.
 *
 * Token ids are stateless and reversible: tok_piece() turns an id back into its
 * bytes, so /detokenize needs no vocabulary table. Ids are below 2^53 (exact in
 * a JSON number). */
#ifndef MOCK_TOKENIZER_H
#define MOCK_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

enum {
    TOK_ID_IM_START = 1, /* <|im_start|> */
    TOK_ID_IM_END = 2,   /* <|im_end|> */
};

typedef struct tok_span {
    size_t start; /* byte offset in the text */
    size_t len;   /* bytes */
} tok_span;

/* Number of tokens in text[0..len). */
size_t tok_count(const char *text, size_t len);

/* Splits text into tokens. Writes up to max_out spans (out may be NULL when
 * max_out is 0) and returns the total number of tokens. */
size_t tok_split(const char *text, size_t len, tok_span *out, size_t max_out);

/* The id of one token's bytes (as produced by tok_split). */
int64_t tok_id(const char *piece, size_t len);

/* Tokenizes into ids. Returns a new array of *n_out ids (free with free()). */
int64_t *tok_encode(const char *text, size_t len, size_t *n_out);

/* Writes the bytes of token `id` into out (at least TOK_PIECE_MAX bytes) and
 * returns their length, or -1 when id is not a valid token id. */
#define TOK_PIECE_MAX 16
int tok_piece(int64_t id, char *out);

#endif
