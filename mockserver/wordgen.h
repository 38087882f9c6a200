/* Deterministic generated text: English-looking words from a built-in list,
 * drawn by a PRNG seeded from (server seed, hash of the request body). Every
 * generated word is exactly one token under the tokenizer: 1-6 ASCII letters,
 * with a leading space for every word but the first. */
#ifndef MOCK_WORDGEN_H
#define MOCK_WORDGEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/prng.h"

typedef struct wordgen {
    prng rng;
    size_t emitted;   /* tokens produced so far */
    int answer_paris; /* the coherence question: first word is "Paris" */
} wordgen;

void wordgen_init(wordgen *g, uint64_t seed, int answer_paris);

/* Writes the next token's text into out (at least WORDGEN_MAX bytes, NUL
 * terminated) and returns its length. */
#define WORDGEN_MAX 16
size_t wordgen_next(wordgen *g, char *out);

/* The built-in word list, for tests: its size, and word i (NULL past the end). */
size_t wordgen_word_count(void);
const char *wordgen_word(size_t i);

#endif
