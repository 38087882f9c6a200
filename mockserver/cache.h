/* The prefix cache model (SPEC §1.5) over token-id sequences. Thread safe.
 *
 * lcp (llama.cpp-like): `slots` slots (or, when slots is 0, an LRU list of the
 *   last 64 sequences) each remember their last prompt+generated ids. A request
 *   claims the idle slot with the longest common prefix; C = that length,
 *   capped at n-1 (the last prompt token is always evaluated).
 * block (vLLM-like): a global LRU of full blocks of `block_tokens` keyed by a
 *   hash chain, up to capacity_tokens; C = leading full blocks found x block.
 * off: C = 0 always. */
#ifndef MOCK_CACHE_H
#define MOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct mock_cache mock_cache;

enum cache_mode { CACHE_OFF = 0, CACHE_LCP = 1, CACHE_BLOCK = 2 };

typedef struct cache_claim {
    int slot;             /* lcp: the claimed slot, -1 otherwise */
    size_t cached_tokens; /* C */
} cache_claim;

typedef struct cache_stats {
    uint64_t queries;        /* prompt tokens looked up */
    uint64_t hits;           /* of which found in the cache */
    uint64_t requests;       /* lookups */
} cache_stats;

/* Returns a new cache, free with cache_free(). Parses nothing. */
mock_cache *cache_new(enum cache_mode mode, int slots, size_t block_tokens,
                      size_t capacity_tokens);
void cache_free(mock_cache *c);

/* Looks up the prompt ids[0..n) at admission. use_cache = 0 (the request's
 * "cache_prompt": false) gives C = 0 but still claims a slot. Borrows ids. */
cache_claim cache_acquire(mock_cache *c, const int64_t *ids, size_t n, int use_cache);

/* Ends a claim: stores the sequence the request leaves behind (prompt ids and
 * the generated ids) for later requests. Borrows ids. */
void cache_release(mock_cache *c, cache_claim claim, const int64_t *ids, size_t n);

cache_stats cache_get_stats(mock_cache *c);

/* Parses "lcp|block|off"; returns -1 when unknown. */
int cache_parse_mode(const char *name);

#endif
