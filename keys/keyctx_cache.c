/*
 * keyctx_cache.c - the key contexts a loaded keyring has derived, kept for
 * the next request of the same scope and plan.
 *
 * A key context is a function of the keyring's current epoch, the scope and
 * the plan's pseudonymized paths (keys.h); a loaded keyring never changes its
 * epoch (rotation writes a new file, and a reload a new keyring). Deriving
 * one costs a sodium_malloc block (guard pages, mlock, mprotect: system calls
 * that dominate a small request) and a BLAKE2b per path; a service that sees
 * the same few requesters over and over derived the same keys each time.
 *
 * The cache: DMVF__KC_SLOTS slots, each a context (read-only secure memory,
 * as any), the scope and paths it was derived for (copies: they are names,
 * not secrets), a use count and the tick of its last use. A lookup takes the
 * mutex, compares a hash and then the strings; on a miss crypto.c derives
 * outside the mutex and inserts into an empty slot or the least recently
 * used one that no filter holds (the evicted context handed back, to be
 * wiped and freed after the mutex). With every slot held the new context is
 * the caller's alone and freed at its release. When no slot is empty, a
 * miss first takes the least recently used unheld context whose block is
 * big enough (dmvf__kc_cache_take): crypto.c wipes it and derives into it,
 * two mprotects where a new block costs mmap, mprotect, mlock and the old
 * one's release. The cache treats contexts as opaque blocks of secure
 * memory: it calls nothing of crypto.c.
 * All of it is wiped and freed with the keyring (dmvf_keyring_free, which
 * has checked that no filter holds a use of it).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "filter/core/error.h"
#include "keys/keyring_int.h"

#define DMVF__KC_SLOTS 64u

typedef struct kc_slot {
    dmvf_keyctx *kc;        /* NULL: empty */
    uint64_t hash;
    uint64_t used;          /* tick of the last lookup */
    size_t refs;            /* filters holding kc */
    size_t bytes;           /* kc's block */
    char *scope;
    char **paths;
    size_t npaths;
} kc_slot;

struct dmvf__kc_cache {
    pthread_mutex_t mu;
    uint64_t tick;
    kc_slot slot[DMVF__KC_SLOTS];
};

dmvf__kc_cache *dmvf__kc_cache_new(void)
{
    dmvf__kc_cache *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

static void slot_clear(kc_slot *s)
{
    for (size_t i = 0; i < s->npaths; i++)
        free(s->paths[i]);
    free(s->paths);
    free(s->scope);
    memset(s, 0, sizeof *s);
}

void dmvf__kc_cache_free(dmvf__kc_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < DMVF__KC_SLOTS; i++) {
        DMVF_REQUIRE(c->slot[i].refs == 0, "a cached key context is still held");
        sodium_free(c->slot[i].kc); /* wipes */
        slot_clear(&c->slot[i]);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* FNV-1a over scope, then each path, each with its terminating NUL. */
static uint64_t key_hash(const char *scope, const char *const *paths, size_t npaths)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i <= npaths; i++) {
        const unsigned char *p = (const unsigned char *)(i ? paths[i - 1] : scope);
        do {
            h = (h ^ *p) * 1099511628211ull;
        } while (*p++);
    }
    return h;
}

static int slot_is(const kc_slot *s, uint64_t h, const char *scope, const char *const *paths, size_t npaths)
{
    if (!s->kc || s->hash != h || s->npaths != npaths || strcmp(s->scope, scope) != 0)
        return 0;
    for (size_t i = 0; i < npaths; i++)
        if (strcmp(s->paths[i], paths[i]) != 0)
            return 0;
    return 1;
}

/* The held slot for the key, refs and tick updated, or NULL. Under c->mu. */
static dmvf_keyctx *find_locked(dmvf__kc_cache *c, uint64_t h, const char *scope, const char *const *paths,
                                size_t npaths)
{
    for (size_t i = 0; i < DMVF__KC_SLOTS; i++) {
        kc_slot *s = &c->slot[i];
        if (slot_is(s, h, scope, paths, npaths)) {
            s->refs++;
            s->used = ++c->tick;
            return s->kc;
        }
    }
    return NULL;
}

/* Names copied for slot s; 0, or -1 (s untouched) when out of memory. */
static int slot_names(kc_slot *s, const char *scope, const char *const *paths, size_t npaths)
{
    char *sc = strdup(scope);
    char **ps = npaths ? calloc(npaths, sizeof *ps) : NULL;
    int ok = sc && (ps || !npaths);
    for (size_t i = 0; ok && i < npaths; i++)
        ok = (ps[i] = strdup(paths[i])) != NULL;
    if (!ok) {
        for (size_t i = 0; ps && i < npaths; i++)
            free(ps[i]);
        free(ps);
        free(sc);
        return -1;
    }
    s->scope = sc;
    s->paths = ps;
    s->npaths = npaths;
    return 0;
}

dmvf_keyctx *dmvf__kc_cache_find(dmvf__kc_cache *c, const char *scope, const char *const *paths, size_t npaths)
{
    uint64_t h = key_hash(scope, paths, npaths);
    pthread_mutex_lock(&c->mu);
    dmvf_keyctx *kc = find_locked(c, h, scope, paths, npaths);
    pthread_mutex_unlock(&c->mu);
    return kc;
}

dmvf_keyctx *dmvf__kc_cache_take(dmvf__kc_cache *c, size_t bytes, size_t *had)
{
    dmvf_keyctx *kc = NULL;
    kc_slot *victim = NULL;
    *had = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < DMVF__KC_SLOTS; i++) {
        kc_slot *s = &c->slot[i];
        if (!s->kc) {
            victim = NULL;  /* room left: the new context takes it */
            break;
        }
        if (s->refs == 0 && s->bytes >= bytes && (!victim || s->used < victim->used))
            victim = s;
    }
    if (victim) {
        kc = victim->kc;
        *had = victim->bytes;
        slot_clear(victim);
    }
    pthread_mutex_unlock(&c->mu);
    return kc;
}

dmvf_keyctx *dmvf__kc_cache_insert(dmvf__kc_cache *c, const char *scope, const char *const *paths,
                                   size_t npaths, dmvf_keyctx *mine, size_t bytes, dmvf_keyctx **drop)
{
    uint64_t h = key_hash(scope, paths, npaths);
    dmvf_keyctx *kc;
    *drop = NULL;
    pthread_mutex_lock(&c->mu);
    if ((kc = find_locked(c, h, scope, paths, npaths)) != NULL) {
        *drop = mine;   /* another thread derived it first */
    } else {
        /* an empty slot, else the least recently used one nobody holds */
        kc_slot *victim = NULL;
        for (size_t i = 0; i < DMVF__KC_SLOTS; i++) {
            kc_slot *s = &c->slot[i];
            if (!s->kc) {
                victim = s;
                break;
            }
            if (s->refs == 0 && (!victim || s->used < victim->used))
                victim = s;
        }
        kc = mine;
        kc_slot fresh = {0};
        if (victim && slot_names(&fresh, scope, paths, npaths) == 0) {
            *drop = victim->kc;
            slot_clear(victim);
            *victim = fresh;
            victim->kc = kc;
            victim->bytes = bytes;
            victim->hash = h;
            victim->refs = 1;
            victim->used = ++c->tick;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return kc;
}

int dmvf__kc_cache_put(dmvf__kc_cache *c, const dmvf_keyctx *kc)
{
    int held = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < DMVF__KC_SLOTS && !held; i++) {
        if (c->slot[i].kc == kc) {
            DMVF_REQUIRE(c->slot[i].refs > 0, "a cached key context released more often than taken");
            c->slot[i].refs--;
            held = 1;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return held ? 0 : -1;
}
