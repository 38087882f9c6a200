/* Helpers shared by the libFuzzer targets: cutting an input into pieces
 * whose sizes come from a few leading control bytes, so that the fuzzer
 * explores both the content and the way the network splits it. */
#ifndef TESTS_FUZZ_FUZZ_UTIL_H
#define TESTS_FUZZ_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The split pattern: piece k is pattern[k % n] bytes long, where a zero
 * byte means an empty feed (legal, and worth exercising). A pattern of all
 * zeroes would never advance, so the splitter then feeds the rest whole. */
typedef struct fuzz_splitter {
    const uint8_t *pattern;
    size_t n_pattern;
    size_t k;        /* pieces handed out so far */
    size_t zero_run; /* consecutive empty pieces */
} fuzz_splitter;

static inline void fuzz_splitter_init(fuzz_splitter *s, const uint8_t *pattern, size_t n)
{
    s->pattern = pattern;
    s->n_pattern = n;
    s->k = 0;
    s->zero_run = 0;
}

/* Length of the next piece when `left` bytes remain. */
static inline size_t fuzz_next_piece(fuzz_splitter *s, size_t left)
{
    size_t want = s->n_pattern ? s->pattern[s->k % s->n_pattern] : left;
    s->k++;
    if (want == 0 && ++s->zero_run > s->n_pattern)
        want = left;
    if (want)
        s->zero_run = 0;
    return want < left ? want : left;
}

/* A NUL-terminated copy of data[0..size) (free()); NULL when the input holds
 * a NUL byte, which a C string argument can never carry. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (data[i] == 0)
            return NULL;
    char *s = malloc(size + 1);
    if (!s)
        abort();
    for (size_t i = 0; i < size; i++)
        s[i] = (char)data[i];
    s[size] = '\0';
    return s;
}

/* Stops the run with a message libFuzzer records as a crash. */
#define FUZZ_ASSERT(cond)                                                          \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                              \
            abort();                                                               \
        }                                                                          \
    } while (0)

#endif
