/*
 * test_keyctx_cache.c - a loaded keyring's cache of derived key contexts
 * (keys/keyctx_cache.c): a context comes back for the same scope and the
 * same path names (compared by content, not by pointer) and never for
 * another; what a cached context computes is what a fresh derivation
 * computed, also after it was evicted and derived again; with every slot
 * held, more contexts still work (the caller's alone); many threads taking
 * and releasing contexts of more scopes than there are slots get the right
 * pseudonyms throughout (ASan sees any use of an evicted context); the
 * keyring frees cleanly after all of it.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"

#define NSCOPES 150           /* more than the cache's 64 slots */
#define NTHREADS 4
#define ROUNDS 6000

static const char *const paths[2] = {"person.family_name", "license.number"};
static uint8_t expect[NSCOPES][2][DMVF_PSEUDONYM_LEN];
static dmvf_keyring *kr;

static void scope_name(char out[16], unsigned i)
{
    snprintf(out, 16, "NY%07u", i);
}

/* The pseudonyms of "GARCIA" under both paths for scope i. */
static int pseudonyms(unsigned i, uint8_t out[2][DMVF_PSEUDONYM_LEN])
{
    char scope[16];
    scope_name(scope, i);
    dmvf_keyctx *kc = dmvf__keyctx_create(kr, scope, paths, 2);
    if (!kc)
        return -1;
    dmvf__pseudonym(kc, 0, (const uint8_t *)"GARCIA", 6, out[0]);
    dmvf__pseudonym(kc, 1, (const uint8_t *)"GARCIA", 6, out[1]);
    dmvf__keyctx_free(kc);
    return 0;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg, bad = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        /* mostly a few hot scopes, sometimes any: hits, misses and evictions */
        unsigned i = (seed >> 16) % 8 == 0 ? (seed >> 8) % NSCOPES : (seed >> 8) % 6;
        uint8_t got[2][DMVF_PSEUDONYM_LEN];
        if (pseudonyms(i, got) != 0 || memcmp(got, expect[i], sizeof got) != 0)
            bad++;
    }
    return (void *)(uintptr_t)bad;
}

int main(void)
{
    char dir[] = "/tmp/dmvf-kccache-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/kr", dir);
    uint8_t seed[32];
    memset(seed, 0x42, sizeof seed);
    dmvf_error err;
    CHECK_EQ_INT(dmvf__keyring_create_seeded(path, seed, 2, &err), DMVF_OK);
    kr = dmvf_keyring_load(path, NULL, &err);
    CHECK(kr != NULL);
    if (!kr)
        CHECK_DONE();

    /* fresh derivations first: each scope's first context is a miss */
    for (unsigned i = 0; i < NSCOPES; i++)
        CHECK(pseudonyms(i, expect[i]) == 0);
    for (unsigned i = 1; i < NSCOPES; i++)
        CHECK(memcmp(expect[i][0] + 6, expect[0][0] + 6, 26) != 0);
    CHECK(memcmp(expect[0][0] + 6, expect[0][1] + 6, 26) != 0);

    /* the same scope and path names in other buffers: the same context */
    char scope[16], p0[32], p1[32];
    scope_name(scope, 3);
    snprintf(p0, sizeof p0, "%s", paths[0]);
    snprintf(p1, sizeof p1, "%s", paths[1]);
    const char *copy[2] = {p0, p1}, *swapped[2] = {p1, p0}, *one[1] = {p0};
    dmvf_keyctx *a = dmvf__keyctx_create(kr, "NY0000003", paths, 2);
    dmvf_keyctx *b = dmvf__keyctx_create(kr, scope, copy, 2);
    dmvf_keyctx *c = dmvf__keyctx_create(kr, scope, swapped, 2);
    dmvf_keyctx *d = dmvf__keyctx_create(kr, scope, one, 1);
    dmvf_keyctx *e = dmvf__keyctx_create(kr, "NY0000004", paths, 2);
    CHECK(a && b && c && d && e);
    if (a && b && c && d && e) {
        CHECK(a == b);                  /* a hit */
        CHECK(c != a && d != a && e != a && c != d);
        uint8_t got[DMVF_PSEUDONYM_LEN];
        dmvf__pseudonym(c, 1, (const uint8_t *)"GARCIA", 6, got);
        CHECK(memcmp(got, expect[3][0], sizeof got) == 0);   /* paths[0] is at index 1 */
        dmvf__pseudonym(c, 0, (const uint8_t *)"GARCIA", 6, got);
        CHECK(memcmp(got, expect[3][1], sizeof got) == 0);
        dmvf__pseudonym(d, 0, (const uint8_t *)"GARCIA", 6, got);
        CHECK(memcmp(got, expect[3][0], sizeof got) == 0);
        dmvf__pseudonym(e, 0, (const uint8_t *)"GARCIA", 6, got);
        CHECK(memcmp(got, expect[4][0], sizeof got) == 0);
    }
    dmvf__keyctx_free(a);
    dmvf__keyctx_free(b);
    dmvf__keyctx_free(c);
    dmvf__keyctx_free(d);
    dmvf__keyctx_free(e);

    /* every slot held, and more: each context still right */
    static dmvf_keyctx *held[NSCOPES];
    unsigned wrong = 0;
    for (unsigned i = 0; i < NSCOPES; i++) {
        scope_name(scope, i);
        held[i] = dmvf__keyctx_create(kr, scope, paths, 2);
        CHECK(held[i] != NULL);
    }
    for (unsigned i = 0; i < NSCOPES; i++) {
        uint8_t got[DMVF_PSEUDONYM_LEN];
        if (!held[i])
            continue;
        dmvf__pseudonym(held[i], 1, (const uint8_t *)"GARCIA", 6, got);
        wrong += memcmp(got, expect[i][1], sizeof got) != 0;
        for (unsigned j = 0; j < i; j++)
            wrong += held[j] == held[i];
    }
    CHECK_EQ_INT(wrong, 0);
    for (unsigned i = 0; i < NSCOPES; i++)
        dmvf__keyctx_free(held[i]);

    /* evicted and derived again: the same keys */
    for (unsigned i = 0; i < NSCOPES; i++) {
        uint8_t got[2][DMVF_PSEUDONYM_LEN];
        CHECK(pseudonyms(i, got) == 0 && memcmp(got, expect[i], sizeof got) == 0);
    }

    /* threads */
    pthread_t t[NTHREADS];
    for (unsigned i = 0; i < NTHREADS; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i * 7919u + 1)), 0);
    uintptr_t bad = 0;
    for (unsigned i = 0; i < NTHREADS; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        bad += (uintptr_t)r;
    }
    CHECK_MSG(bad == 0, "%lu of %u pseudonym pairs differ under threads", (unsigned long)bad,
              NTHREADS * ROUNDS);

    dmvf_keyring_free(kr);
    unlink(path);
    rmdir(dir);
    CHECK_DONE();
}
