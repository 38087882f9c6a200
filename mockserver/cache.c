/* The prefix cache model: see cache.h. One mutex guards everything; each call
 * holds it for one lookup or one store, which is O(prompt length). */
#include "mockserver/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define LCP_LRU_ENTRIES 64
#define NO_NODE UINT32_MAX

/* lcp: one slot (or one entry of the LRU list when slots are unlimited). */
typedef struct lcp_entry {
    int64_t *ids; /* owned; the sequence left behind by the last request */
    size_t n, cap;
    int busy;           /* claimed by a running request */
    uint64_t last_used; /* logical time of the last claim or release */
} lcp_entry;

/* block: one cached full block, a node in both a hash bucket chain and the
 * LRU list. Nodes live in one array and link by index. */
typedef struct block_node {
    uint64_t hash;       /* hash of this block's ids chained with its parent's */
    uint32_t bucket_next;
    uint32_t lru_prev, lru_next; /* lru_prev toward the most recent end */
} block_node;

struct mock_cache {
    enum cache_mode mode;
    pthread_mutex_t lock;
    cache_stats stats;
    uint64_t clock; /* logical time for LRU choices */

    /* lcp */
    lcp_entry *entries;
    size_t n_entries;
    int fixed_slots; /* 1: entries are the server's slots; 0: an LRU list */

    /* block */
    size_t block_tokens;
    size_t max_blocks;
    block_node *nodes;
    size_t n_nodes, nodes_cap;
    uint32_t *buckets; /* heads, NO_NODE when empty */
    size_t n_buckets;  /* a power of two */
    uint32_t lru_head, lru_tail; /* head = most recently used */
};

mock_cache *cache_new(enum cache_mode mode, int slots, size_t block_tokens,
                      size_t capacity_tokens)
{
    mock_cache *c = xcalloc(1, sizeof *c);
    c->mode = mode;
    pthread_mutex_init(&c->lock, NULL);
    if (mode == CACHE_LCP) {
        c->fixed_slots = slots > 0;
        c->n_entries = slots > 0 ? (size_t)slots : LCP_LRU_ENTRIES;
        c->entries = xcalloc(c->n_entries, sizeof *c->entries);
    } else if (mode == CACHE_BLOCK) {
        c->block_tokens = block_tokens > 0 ? block_tokens : 16;
        c->max_blocks = capacity_tokens / c->block_tokens;
        if (c->max_blocks >= NO_NODE)
            c->max_blocks = NO_NODE - 1;
        c->n_buckets = 1024;
        c->buckets = xmalloc(c->n_buckets * sizeof *c->buckets);
        for (size_t i = 0; i < c->n_buckets; i++)
            c->buckets[i] = NO_NODE;
        c->lru_head = c->lru_tail = NO_NODE;
    }
    return c;
}

void cache_free(mock_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_entries; i++)
        free(c->entries[i].ids);
    free(c->entries);
    free(c->nodes);
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int cache_parse_mode(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "lcp") == 0)
        return CACHE_LCP;
    if (strcmp(name, "block") == 0)
        return CACHE_BLOCK;
    if (strcmp(name, "off") == 0)
        return CACHE_OFF;
    return -1;
}

cache_stats cache_get_stats(mock_cache *c)
{
    cache_stats s;
    pthread_mutex_lock(&c->lock);
    s = c->stats;
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* ---- lcp ------------------------------------------------------------------ */

static size_t common_prefix(const int64_t *a, size_t na, const int64_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Chooses the idle entry with the longest common prefix with ids; ties and
 * the no-match case go to the least recently used. Returns -1 when every
 * entry is busy. */
static int lcp_choose(mock_cache *c, const int64_t *ids, size_t n, size_t *prefix_out)
{
    int best = -1;
    size_t best_prefix = 0;
    for (size_t i = 0; i < c->n_entries; i++) {
        lcp_entry *e = &c->entries[i];
        size_t p;
        if (e->busy)
            continue;
        p = common_prefix(e->ids, e->n, ids, n);
        if (best < 0 || p > best_prefix ||
            (p == best_prefix && e->last_used < c->entries[best].last_used)) {
            best = (int)i;
            best_prefix = p;
        }
    }
    *prefix_out = best_prefix;
    return best;
}

static cache_claim lcp_acquire(mock_cache *c, const int64_t *ids, size_t n, int use_cache)
{
    cache_claim claim = {-1, 0};
    size_t prefix = 0;
    int slot = lcp_choose(c, ids, n, &prefix);
    if (slot < 0)
        return claim; /* every slot busy: the request runs uncached */
    c->entries[slot].busy = 1;
    c->entries[slot].last_used = ++c->clock;
    claim.slot = slot;
    if (use_cache && n > 0)
        claim.cached_tokens = prefix < n - 1 ? prefix : n - 1;
    return claim;
}

static void lcp_store(mock_cache *c, int slot, const int64_t *ids, size_t n)
{
    lcp_entry *e;
    if (slot < 0 || (size_t)slot >= c->n_entries) {
        /* An unclaimed request (all entries were busy): with unlimited slots
         * its sequence replaces the least recently used idle entry. */
        if (c->fixed_slots)
            return;
        slot = -1;
        for (size_t i = 0; i < c->n_entries; i++) {
            if (c->entries[i].busy)
                continue;
            if (slot < 0 || c->entries[i].last_used < c->entries[slot].last_used)
                slot = (int)i;
        }
        if (slot < 0)
            return;
    }
    e = &c->entries[slot];
    if (n > e->cap) {
        free(e->ids);
        e->ids = xmalloc(n * sizeof *ids);
        e->cap = n;
    }
    if (n > 0)
        memcpy(e->ids, ids, n * sizeof *ids);
    e->n = n;
    e->busy = 0;
    e->last_used = ++c->clock;
}

/* ---- block ---------------------------------------------------------------- */

/* Hash of one block chained to its parent's hash: FNV-1a over the ids,
 * started from the parent, then a splitmix finalizer to spread the bits. */
static uint64_t block_hash(uint64_t parent, const int64_t *ids, size_t n)
{
    uint64_t h = parent ^ UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = (uint64_t)ids[i];
        for (int b = 0; b < 8; b++) {
            h ^= (v >> (8 * b)) & 0xFF;
            h *= UINT64_C(0x100000001b3);
        }
    }
    h ^= h >> 30;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64_C(0x94d049bb133111eb);
    return h ^ (h >> 31);
}

static uint32_t find_node(const mock_cache *c, uint64_t hash)
{
    uint32_t i = c->buckets[hash & (c->n_buckets - 1)];
    while (i != NO_NODE && c->nodes[i].hash != hash)
        i = c->nodes[i].bucket_next;
    return i;
}

static void lru_unlink(mock_cache *c, uint32_t i)
{
    block_node *nd = &c->nodes[i];
    if (nd->lru_prev != NO_NODE)
        c->nodes[nd->lru_prev].lru_next = nd->lru_next;
    else
        c->lru_head = nd->lru_next;
    if (nd->lru_next != NO_NODE)
        c->nodes[nd->lru_next].lru_prev = nd->lru_prev;
    else
        c->lru_tail = nd->lru_prev;
}

static void lru_push_front(mock_cache *c, uint32_t i)
{
    block_node *nd = &c->nodes[i];
    nd->lru_prev = NO_NODE;
    nd->lru_next = c->lru_head;
    if (c->lru_head != NO_NODE)
        c->nodes[c->lru_head].lru_prev = i;
    c->lru_head = i;
    if (c->lru_tail == NO_NODE)
        c->lru_tail = i;
}

static void bucket_remove(mock_cache *c, uint32_t i)
{
    uint32_t *link = &c->buckets[c->nodes[i].hash & (c->n_buckets - 1)];
    while (*link != i)
        link = &c->nodes[*link].bucket_next;
    *link = c->nodes[i].bucket_next;
}

static void bucket_insert(mock_cache *c, uint32_t i)
{
    uint32_t *head = &c->buckets[c->nodes[i].hash & (c->n_buckets - 1)];
    c->nodes[i].bucket_next = *head;
    *head = i;
}

/* Keeps the load factor at most one by doubling the bucket array. */
static void maybe_grow_buckets(mock_cache *c)
{
    if (c->n_nodes < c->n_buckets)
        return;
    free(c->buckets);
    c->n_buckets *= 2;
    c->buckets = xmalloc(c->n_buckets * sizeof *c->buckets);
    for (size_t b = 0; b < c->n_buckets; b++)
        c->buckets[b] = NO_NODE;
    for (size_t i = 0; i < c->n_nodes; i++)
        bucket_insert(c, (uint32_t)i);
}

/* Makes `hash` the most recently used block, inserting it (and evicting the
 * least recently used block when full) if it is not cached. */
static void block_touch_or_insert(mock_cache *c, uint64_t hash)
{
    uint32_t i = find_node(c, hash);
    if (i != NO_NODE) {
        lru_unlink(c, i);
        lru_push_front(c, i);
        return;
    }
    if (c->n_nodes < c->max_blocks) {
        if (c->n_nodes == c->nodes_cap) {
            size_t cap = c->nodes_cap ? c->nodes_cap * 2 : 256;
            if (cap > c->max_blocks)
                cap = c->max_blocks;
            c->nodes = xrealloc(c->nodes, cap * sizeof *c->nodes);
            c->nodes_cap = cap;
        }
        i = (uint32_t)c->n_nodes++;
        c->nodes[i].hash = hash;
        bucket_insert(c, i);
        maybe_grow_buckets(c);
    } else {
        i = c->lru_tail; /* reuse the evicted node in place */
        lru_unlink(c, i);
        bucket_remove(c, i);
        c->nodes[i].hash = hash;
        bucket_insert(c, i);
    }
    lru_push_front(c, i);
}

static cache_claim block_acquire(mock_cache *c, const int64_t *ids, size_t n, int use_cache)
{
    cache_claim claim = {-1, 0};
    uint64_t *hashes, h = 0;
    size_t found = 0, lookup_blocks;
    if (!use_cache || n == 0 || c->max_blocks == 0)
        return claim;
    /* As in vLLM, the last prompt token is always computed, so only full blocks
     * inside the first n-1 tokens can hit. */
    lookup_blocks = (n - 1) / c->block_tokens;
    if (lookup_blocks > c->max_blocks)
        lookup_blocks = c->max_blocks;
    if (lookup_blocks == 0)
        return claim;
    hashes = xmalloc(lookup_blocks * sizeof *hashes);
    while (found < lookup_blocks) {
        h = block_hash(h, ids + found * c->block_tokens, c->block_tokens);
        if (find_node(c, h) == NO_NODE)
            break;
        hashes[found++] = h;
    }
    /* Hits become most recently used, deepest first so block 0 ends newest. */
    for (size_t b = found; b-- > 0;)
        block_touch_or_insert(c, hashes[b]);
    free(hashes);
    claim.cached_tokens = found * c->block_tokens;
    return claim;
}

static void block_store(mock_cache *c, const int64_t *ids, size_t n)
{
    size_t m = n / c->block_tokens;
    uint64_t *hashes, h = 0;
    if (m > c->max_blocks)
        m = c->max_blocks; /* deeper blocks could not stay cached anyway */
    if (m == 0)
        return;
    hashes = xmalloc(m * sizeof *hashes);
    for (size_t b = 0; b < m; b++)
        hashes[b] = h = block_hash(h, ids + b * c->block_tokens, c->block_tokens);
    /* Deepest first, so that eviction later takes the tails of chains before
     * their heads (a block without its parent can never hit). */
    for (size_t b = m; b-- > 0;)
        block_touch_or_insert(c, hashes[b]);
    free(hashes);
}

/* ---- public --------------------------------------------------------------- */

cache_claim cache_acquire(mock_cache *c, const int64_t *ids, size_t n, int use_cache)
{
    cache_claim claim = {-1, 0};
    pthread_mutex_lock(&c->lock);
    if (c->mode == CACHE_LCP)
        claim = lcp_acquire(c, ids, n, use_cache);
    else if (c->mode == CACHE_BLOCK)
        claim = block_acquire(c, ids, n, use_cache);
    c->stats.requests++;
    if (use_cache && c->mode != CACHE_OFF) {
        c->stats.queries += n;
        c->stats.hits += claim.cached_tokens;
    }
    pthread_mutex_unlock(&c->lock);
    return claim;
}

void cache_release(mock_cache *c, cache_claim claim, const int64_t *ids, size_t n)
{
    pthread_mutex_lock(&c->lock);
    if (c->mode == CACHE_LCP)
        lcp_store(c, claim.slot, ids, n);
    else if (c->mode == CACHE_BLOCK)
        block_store(c, ids, n);
    pthread_mutex_unlock(&c->lock);
}
