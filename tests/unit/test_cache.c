/* Prefix cache model: lcp slots and LRU list, block hash chains and capacity,
 * off, per-request opt-out, stats, and concurrent claims. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "mockserver/cache.h"
#include "tests/test.h"

/* Fills ids[0..n) with tag * 100000 + i: sequences with different tags share
 * no prefix at all. */
static void fill(int64_t *ids, size_t n, int64_t tag)
{
    for (size_t i = 0; i < n; i++)
        ids[i] = tag * 100000 + (int64_t)i;
}

/* acquire + release of the same sequence; returns C. */
static size_t visit(mock_cache *c, const int64_t *ids, size_t n)
{
    cache_claim cl = cache_acquire(c, ids, n, 1);
    cache_release(c, cl, ids, n);
    return cl.cached_tokens;
}

TEST(parse_mode)
{
    CHECK_INT_EQ(cache_parse_mode("lcp"), CACHE_LCP);
    CHECK_INT_EQ(cache_parse_mode("block"), CACHE_BLOCK);
    CHECK_INT_EQ(cache_parse_mode("off"), CACHE_OFF);
    CHECK_INT_EQ(cache_parse_mode("LCP"), -1);
    CHECK_INT_EQ(cache_parse_mode(""), -1);
    CHECK_INT_EQ(cache_parse_mode(NULL), -1);
}

TEST(lcp_repeat_hits_n_minus_1)
{
    mock_cache *c = cache_new(CACHE_LCP, 1, 16, 0);
    int64_t ids[110];
    cache_claim cl;
    fill(ids, 110, 1);
    cl = cache_acquire(c, ids, 100, 1);
    CHECK_INT_EQ(cl.slot, 0);
    CHECK_INT_EQ(cl.cached_tokens, 0);
    cache_release(c, cl, ids, 110); /* prompt + 10 generated */
    /* Same prompt: everything but the last token is cached. */
    CHECK_INT_EQ(visit(c, ids, 100), 99);
    /* A prompt that extends the stored prompt+generated sequence hits it all. */
    CHECK_INT_EQ(visit(c, ids, 100), 99);
    {
        int64_t longer[120];
        fill(longer, 120, 1);
        CHECK_INT_EQ(visit(c, longer, 120), 100); /* the slot now holds 100 */
        CHECK_INT_EQ(visit(c, longer, 120), 119);
    }
    /* Tiny prompts: n = 1 can never hit, n = 0 is a miss. */
    CHECK_INT_EQ(visit(c, ids, 1), 0);
    CHECK_INT_EQ(visit(c, ids, 0), 0);
    cache_free(c);
}

TEST(lcp_shared_system_prompt)
{
    /* Two requests with the same 50-token system part and different user parts. */
    mock_cache *c = cache_new(CACHE_LCP, 0, 16, 0);
    int64_t a[80], b[90];
    fill(a, 80, 7);
    fill(b, 90, 7);
    for (size_t i = 50; i < 90; i++)
        b[i] = -(int64_t)i; /* diverges at token 50 */
    CHECK_INT_EQ(visit(c, a, 80), 0);
    CHECK_INT_EQ(visit(c, b, 90), 50);
    /* The slot that served b now holds b: a finds its prefix again. */
    CHECK_INT_EQ(visit(c, a, 80), 50);
    CHECK_INT_EQ(visit(c, a, 80), 79);
    cache_free(c);
}

TEST(lcp_slot_claiming)
{
    mock_cache *c = cache_new(CACHE_LCP, 2, 16, 0);
    int64_t a[40], b[40];
    cache_claim c1, c2, c3;
    fill(a, 40, 1);
    fill(b, 40, 2);
    CHECK_INT_EQ(visit(c, a, 40), 0);
    /* While a's slot is busy, the same prompt gets the other (empty) slot. */
    c1 = cache_acquire(c, a, 40, 1);
    CHECK_INT_EQ(c1.cached_tokens, 39);
    c2 = cache_acquire(c, a, 40, 1);
    CHECK(c2.slot != c1.slot);
    CHECK(c2.slot >= 0);
    CHECK_INT_EQ(c2.cached_tokens, 0);
    /* Both slots busy: no slot, no hit, and its release stores nothing. */
    c3 = cache_acquire(c, a, 40, 1);
    CHECK_INT_EQ(c3.slot, -1);
    CHECK_INT_EQ(c3.cached_tokens, 0);
    cache_release(c, c3, b, 40);
    cache_release(c, c2, b, 40);
    cache_release(c, c1, a, 40);
    /* Each slot holds what its own claim left behind. */
    c1 = cache_acquire(c, b, 40, 1);
    CHECK_INT_EQ(c1.slot, c2.slot);
    CHECK_INT_EQ(c1.cached_tokens, 39);
    cache_release(c, c1, b, 40);
    cache_free(c);
}

TEST(lcp_fixed_slots_lru_choice)
{
    /* With no prefix match anywhere the least recently used slot is taken. */
    mock_cache *c = cache_new(CACHE_LCP, 3, 16, 0);
    int64_t s[4][20];
    for (int i = 0; i < 4; i++)
        fill(s[i], 20, i + 1);
    CHECK_INT_EQ(visit(c, s[0], 20), 0);
    CHECK_INT_EQ(visit(c, s[1], 20), 0);
    CHECK_INT_EQ(visit(c, s[2], 20), 0);
    CHECK_INT_EQ(visit(c, s[0], 20), 19); /* s[0] becomes most recent */
    CHECK_INT_EQ(visit(c, s[3], 20), 0);  /* evicts s[1], the oldest */
    CHECK_INT_EQ(visit(c, s[2], 20), 19);
    CHECK_INT_EQ(visit(c, s[0], 20), 19);
    CHECK_INT_EQ(visit(c, s[3], 20), 19);
    CHECK_INT_EQ(visit(c, s[1], 20), 0);
    cache_free(c);
}

TEST(lcp_lru_of_64)
{
    /* Unlimited slots: the last 64 sequences are remembered. */
    mock_cache *c = cache_new(CACHE_LCP, 0, 16, 0);
    int64_t ids[10];
    for (int t = 0; t < 65; t++) {
        fill(ids, 10, t + 1);
        CHECK_INT_EQ(visit(c, ids, 10), 0);
    }
    /* Sequence 1 was the least recently used and was replaced by 65. */
    for (int t = 1; t < 65; t++) {
        fill(ids, 10, t + 1);
        if (visit(c, ids, 10) != 9)
            TEST_FAIL_AT_("sequence %d lost", t + 1);
    }
    fill(ids, 10, 1);
    CHECK_INT_EQ(visit(c, ids, 10), 0);
    cache_free(c);
}

TEST(lcp_use_cache_false)
{
    mock_cache *c = cache_new(CACHE_LCP, 1, 16, 0);
    int64_t ids[30];
    cache_claim cl;
    cache_stats st;
    fill(ids, 30, 3);
    CHECK_INT_EQ(visit(c, ids, 30), 0);
    cl = cache_acquire(c, ids, 30, 0);
    CHECK_INT_EQ(cl.slot, 0); /* still claims the slot */
    CHECK_INT_EQ(cl.cached_tokens, 0);
    /* The slot is busy until released. */
    CHECK_INT_EQ(cache_acquire(c, ids, 30, 1).slot, -1);
    cache_release(c, cl, ids, 30);
    CHECK_INT_EQ(visit(c, ids, 30), 29);
    st = cache_get_stats(c);
    CHECK_INT_EQ(st.requests, 4);
    CHECK_INT_EQ(st.queries, 90); /* the opted-out lookup is not counted */
    CHECK_INT_EQ(st.hits, 29);
    cache_free(c);
}

/* Concurrent claims: no two threads ever hold the same slot. */
enum { N_THREADS = 8, N_SLOTS = 3, ROUNDS = 3000 };
static mock_cache *shared_cache;
static atomic_int slot_holders[N_SLOTS];
static atomic_int double_claims;
static atomic_int unclaimed;

static void *claimer(void *arg)
{
    int64_t ids[24];
    fill(ids, 24, (int64_t)(intptr_t)arg % 4);
    for (int r = 0; r < ROUNDS; r++) {
        cache_claim cl = cache_acquire(shared_cache, ids, 24, 1);
        if (cl.slot >= 0) {
            if (atomic_fetch_add(&slot_holders[cl.slot], 1) != 0)
                atomic_fetch_add(&double_claims, 1);
            if (cl.cached_tokens != 0 && cl.cached_tokens != 23)
                atomic_fetch_add(&double_claims, 1);
            atomic_fetch_sub(&slot_holders[cl.slot], 1);
        } else {
            atomic_fetch_add(&unclaimed, 1);
        }
        cache_release(shared_cache, cl, ids, 24);
    }
    return NULL;
}

TEST(lcp_concurrent_claims)
{
    pthread_t th[N_THREADS];
    cache_stats st;
    shared_cache = cache_new(CACHE_LCP, N_SLOTS, 16, 0);
    for (intptr_t i = 0; i < N_THREADS; i++)
        pthread_create(&th[i], NULL, claimer, (void *)i);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_INT_EQ(atomic_load(&double_claims), 0);
    st = cache_get_stats(shared_cache);
    CHECK_INT_EQ(st.requests, N_THREADS * ROUNDS);
    CHECK_INT_EQ(st.queries, (uint64_t)N_THREADS * ROUNDS * 24);
    CHECK(st.hits % 23 == 0);
    CHECK(st.hits > 0);
    /* Afterwards every slot is idle again. */
    for (int i = 0; i < N_SLOTS; i++) {
        int64_t ids[24];
        fill(ids, 24, 100 + i);
        CHECK(cache_acquire(shared_cache, ids, 24, 1).slot >= 0);
    }
    cache_free(shared_cache);
}

TEST(block_multiple_hits)
{
    mock_cache *c = cache_new(CACHE_BLOCK, 0, 16, 1000000);
    int64_t ids[130];
    cache_claim cl;
    fill(ids, 130, 5);
    cl = cache_acquire(c, ids, 100, 1);
    CHECK_INT_EQ(cl.slot, -1);
    CHECK_INT_EQ(cl.cached_tokens, 0);
    cache_release(c, cl, ids, 110); /* 6 full blocks stored (96 tokens) */
    CHECK_INT_EQ(visit(c, ids, 100), 96);
    /* Exactly 64 tokens: the last token is always computed, so only the 3
     * blocks inside the first 63 tokens can hit. */
    CHECK_INT_EQ(visit(c, ids, 64), 48);
    CHECK_INT_EQ(visit(c, ids, 65), 64);
    /* Longer than stored: the hit stops where the stored blocks end. */
    CHECK_INT_EQ(visit(c, ids, 130), 96);
    CHECK_INT_EQ(visit(c, ids, 130), 128);
    /* Under one block: never a hit. */
    CHECK_INT_EQ(visit(c, ids, 15), 0);
    CHECK_INT_EQ(visit(c, ids, 16), 0);
    CHECK_INT_EQ(visit(c, ids, 17), 16);
    cache_free(c);
}

TEST(block_chain_breaks)
{
    mock_cache *c = cache_new(CACHE_BLOCK, 0, 16, 1000000);
    int64_t ids[81], changed[81];
    fill(ids, 81, 9);
    CHECK_INT_EQ(visit(c, ids, 81), 0);
    CHECK_INT_EQ(cache_acquire(c, ids, 81, 1).cached_tokens, 80);
    /* One token changed in block 2: blocks 0-1 hit; blocks 3-4 are identical
     * but their chain hash differs, so they miss. */
    fill(changed, 81, 9);
    changed[40] = -1;
    CHECK_INT_EQ(cache_acquire(c, changed, 81, 1).cached_tokens, 32);
    /* Changed in block 0: nothing. */
    fill(changed, 81, 9);
    changed[0] = -1;
    CHECK_INT_EQ(cache_acquire(c, changed, 81, 1).cached_tokens, 0);
    /* The same block content at a different position is a different block. */
    CHECK_INT_EQ(cache_acquire(c, ids + 16, 65, 1).cached_tokens, 0);
    cache_free(c);
}

TEST(block_capacity_eviction)
{
    /* Capacity 96 tokens = 6 blocks of 16. */
    mock_cache *c = cache_new(CACHE_BLOCK, 0, 16, 96);
    int64_t a[65], b[65];
    fill(a, 65, 1);
    fill(b, 65, 2);
    CHECK_INT_EQ(visit(c, a, 65), 0); /* stores 4 blocks */
    CHECK_INT_EQ(visit(c, b, 65), 0); /* stores 4 more: evicts 2 of a's */
    /* Chains are evicted from their tails: a keeps blocks 0 and 1. */
    CHECK_INT_EQ(cache_acquire(c, b, 65, 1).cached_tokens, 64);
    CHECK_INT_EQ(cache_acquire(c, a, 65, 1).cached_tokens, 32);
    cache_free(c);

    /* A sequence longer than the whole capacity keeps its head. */
    c = cache_new(CACHE_BLOCK, 0, 16, 32);
    CHECK_INT_EQ(visit(c, a, 65), 0);
    CHECK_INT_EQ(cache_acquire(c, a, 65, 1).cached_tokens, 32);
    cache_free(c);

    /* Capacity under one block caches nothing. */
    c = cache_new(CACHE_BLOCK, 0, 16, 10);
    CHECK_INT_EQ(visit(c, a, 65), 0);
    CHECK_INT_EQ(visit(c, a, 65), 0);
    cache_free(c);
}

TEST(block_many_blocks)
{
    /* Enough blocks to grow the node array and the hash buckets several times,
     * then eviction in steady state. */
    mock_cache *c = cache_new(CACHE_BLOCK, 0, 4, 4 * 5000);
    static int64_t ids[4 * 3000 + 1];
    size_t hits = 0;
    for (int t = 0; t < 5; t++) {
        fill(ids, 4 * 3000 + 1, t);
        visit(c, ids, 4 * 3000 + 1);
    }
    /* The newest sequence is whole; the oldest has been evicted entirely. */
    CHECK_INT_EQ(cache_acquire(c, ids, 4 * 3000 + 1, 1).cached_tokens, 4 * 3000);
    fill(ids, 4 * 3000 + 1, 0);
    hits = cache_acquire(c, ids, 4 * 3000 + 1, 1).cached_tokens;
    CHECK_INT_EQ(hits, 0);
    cache_free(c);
}

TEST(block_concurrent_requests_share)
{
    /* Unlike slots, blocks are shared: two running requests both hit. */
    mock_cache *c = cache_new(CACHE_BLOCK, 0, 16, 1000);
    int64_t ids[50];
    cache_claim c1, c2;
    fill(ids, 50, 4);
    CHECK_INT_EQ(visit(c, ids, 50), 0);
    c1 = cache_acquire(c, ids, 50, 1);
    c2 = cache_acquire(c, ids, 50, 1);
    CHECK_INT_EQ(c1.cached_tokens, 48);
    CHECK_INT_EQ(c2.cached_tokens, 48);
    cache_release(c, c1, ids, 50);
    cache_release(c, c2, ids, 50);
    /* use_cache = 0: no hit, no stats query. */
    CHECK_INT_EQ(cache_acquire(c, ids, 50, 0).cached_tokens, 0);
    cache_free(c);
}

TEST(off_mode)
{
    mock_cache *c = cache_new(CACHE_OFF, 4, 16, 1000);
    int64_t ids[40];
    cache_claim cl;
    cache_stats st;
    fill(ids, 40, 1);
    for (int i = 0; i < 3; i++) {
        cl = cache_acquire(c, ids, 40, 1);
        CHECK_INT_EQ(cl.cached_tokens, 0);
        CHECK_INT_EQ(cl.slot, -1);
        cache_release(c, cl, ids, 40);
    }
    st = cache_get_stats(c);
    CHECK_INT_EQ(st.requests, 3);
    CHECK_INT_EQ(st.queries, 0);
    CHECK_INT_EQ(st.hits, 0);
    cache_free(c);
    cache_free(NULL);
}

TEST(stats_block)
{
    mock_cache *c = cache_new(CACHE_BLOCK, 0, 16, 1000);
    int64_t ids[50];
    cache_stats st;
    fill(ids, 50, 8);
    visit(c, ids, 50); /* 50 queried, 0 hit */
    visit(c, ids, 50); /* 50 queried, 48 hit */
    cache_acquire(c, ids, 50, 0);
    st = cache_get_stats(c);
    CHECK_INT_EQ(st.requests, 3);
    CHECK_INT_EQ(st.queries, 100);
    CHECK_INT_EQ(st.hits, 48);
    cache_free(c);
}

int main(void)
{
    RUN(parse_mode);
    RUN(lcp_repeat_hits_n_minus_1);
    RUN(lcp_shared_system_prompt);
    RUN(lcp_slot_claiming);
    RUN(lcp_fixed_slots_lru_choice);
    RUN(lcp_lru_of_64);
    RUN(lcp_use_cache_false);
    RUN(lcp_concurrent_claims);
    RUN(block_multiple_hits);
    RUN(block_chain_breaks);
    RUN(block_capacity_eviction);
    RUN(block_many_blocks);
    RUN(block_concurrent_requests_share);
    RUN(off_mode);
    RUN(stats_block);
    return test_summary();
}
