/*
 * report_map.c - the transparency report's hash maps (report_map_int.h):
 * strings to an index, and seq to request info.
 *
 * Keys hash with FNV-1a (strings) and the murmur3 finalizer (seqs); the
 * table's size is a power of two, so a hash is masked to a slot.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/account/report_map_int.h"

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

dmvf__sslot *dmvf__smap_slot(dmvf__smap *m, const char *k, size_t klen)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        dmvf__sslot *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->s[i].k)
                continue;
            size_t j = hash_bytes(m->s[i].k, m->s[i].klen) & (ncap - 1);
            while (ns[j].k)
                j = (j + 1) & (ncap - 1);
            ns[j] = m->s[i];
        }
        free(m->s);
        m->s = ns;
        m->cap = ncap;
    }
    size_t j = hash_bytes(k, klen) & (m->cap - 1);
    while (m->s[j].k && (m->s[j].klen != klen || memcmp(m->s[j].k, k, klen) != 0))
        j = (j + 1) & (m->cap - 1);
    return &m->s[j];
}

const dmvf__sslot *dmvf__smap_find(const dmvf__smap *m, const char *k, size_t klen)
{
    if (!m->cap)
        return NULL;
    size_t j = hash_bytes(k, klen) & (m->cap - 1);
    while (m->s[j].k) {
        if (m->s[j].klen == klen && memcmp(m->s[j].k, k, klen) == 0)
            return &m->s[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

void dmvf__smap_free(dmvf__smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->s[i].k);
    free(m->s);
}

dmvf__reqinfo *dmvf__umap_get(const dmvf__umap *m, uint64_t seq)
{
    if (!m->cap)
        return NULL;
    size_t j = hash_u64(seq) & (m->cap - 1);
    while (m->s[j].used) {
        if (m->s[j].seq == seq)
            return &m->s[j].v;
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

dmvf__reqinfo *dmvf__umap_put(dmvf__umap *m, uint64_t seq)
{
    dmvf__reqinfo *have = dmvf__umap_get(m, seq);
    if (have)
        return have;
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        dmvf__uslot *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->s[i].used)
                continue;
            size_t j = hash_u64(m->s[i].seq) & (ncap - 1);
            while (ns[j].used)
                j = (j + 1) & (ncap - 1);
            ns[j] = m->s[i];
        }
        free(m->s);
        m->s = ns;
        m->cap = ncap;
    }
    size_t j = hash_u64(seq) & (m->cap - 1);
    while (m->s[j].used)
        j = (j + 1) & (m->cap - 1);
    m->s[j].used = 1;
    m->s[j].seq = seq;
    memset(&m->s[j].v, 0, sizeof m->s[j].v);
    m->n++;
    return &m->s[j].v;
}
