/*
 * keyring_int.h - internal to keys/: the in-memory layout of a loaded
 * keyring, shared by keyring.c (the object: accessors, use count, free),
 * keyring_file.c (files: load, create, rotate), crypto.c (derivation,
 * pseudonyms, tokens, reveal) and sign.c (signatures, audit chain).
 *
 * A loaded dmvf_keyring is ONE sodium_malloc block, made read-only after
 * load (sodium_mprotect_readonly) and wiped by sodium_free:
 *
 *   +-----------------------------------------------+
 *   | sealed, nepochs                               |
 *   | sign_pk[32] | sign_sk[64] | audit_key[32]     |
 *   | epochs[0]   {epoch, created, pk[32], ek[32]}  |  oldest
 *   | ...                                           |
 *   | epochs[n-1]                                   |  newest = current
 *   +-----------------------------------------------+
 *
 * Epoch numbers are strictly increasing along the array, 1..65535.
 *
 * The writable things a loaded keyring has live outside the read-only block
 * (NULL for the transient keyrings that create and rotate build): the cache
 * of derived key contexts (`cache`, keyctx_cache.c) and its use count
 * (`users`): every filter and framed stream
 * created with the keyring holds one use until it is freed, and
 * dmvf_keyring_free aborts while any is held (a keyring freed under a live
 * filter would leave it reading unmapped key memory).
 */
#ifndef DMVF_KEYRING_INT_H
#define DMVF_KEYRING_INT_H

#include "keys/keys.h"
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "dmvfilter/keyring.h"
#include "filter/core/pballoc.h"   /* dmvf__secure_alloc */

#define DMVF__KEY_BYTES 32u
#define DMVF__SIGN_PK_BYTES 32u
#define DMVF__SIGN_SK_BYTES 64u
#define DMVF__EPOCH_MAX 65535u

typedef struct dmvf__kr_epoch {
    uint64_t created;                          /* unix seconds */
    uint32_t epoch;                            /* 1..65535 */
    uint8_t pseudonym_key[DMVF__KEY_BYTES];
    uint8_t encryption_key[DMVF__KEY_BYTES];
} dmvf__kr_epoch;

typedef struct dmvf__kc_cache dmvf__kc_cache;

struct dmvf_keyring {
    atomic_size_t *users;                      /* live borrowers; NULL if not loaded */
    dmvf__kc_cache *cache;                     /* derived key contexts (keyctx_cache.c);
                                                  NULL if not loaded */
    size_t nepochs;                            /* >= 1 */
    int sealed;                                /* the file it came from was sealed */
    uint8_t sign_pk[DMVF__SIGN_PK_BYTES];
    uint8_t sign_sk[DMVF__SIGN_SK_BYTES];
    uint8_t audit_key[DMVF__KEY_BYTES];
    dmvf__kr_epoch epochs[];
};

/* A zeroed keyring block for nepochs epochs (nepochs set, users NULL), in
 * secure memory freed with sodium_free; NULL when out of memory. */
dmvf_keyring *dmvf__keyring_alloc(size_t nepochs);

/* ---- keyctx_cache.c: key contexts kept per (scope, paths) ----
 * new: NULL when out of memory. free: wipes and frees every context; aborts
 * if one is still held. find: the cached context for scope and paths, held
 * until put, or NULL. insert: after a miss, mine (just derived, a block of
 * `bytes`) goes into a slot and is returned held, or the context another
 * thread inserted meanwhile is; *drop is then a context to sodium_free
 * (evicted, or mine), or NULL; with no slot free, mine is returned and stays
 * the caller's.
 * take: when no slot is empty, the least recently used unheld context
 * whose block holds at least `bytes`, removed from the cache for the
 * caller to wipe (*had: its block's size) and derive into; else NULL.
 * put: releases a context; 0, or -1 when the cache does not hold it (the
 * caller frees it). */
dmvf__kc_cache *dmvf__kc_cache_new(void);
void dmvf__kc_cache_free(dmvf__kc_cache *c);
dmvf_keyctx *dmvf__kc_cache_find(dmvf__kc_cache *c, const char *scope, const char *const *paths, size_t npaths);
dmvf_keyctx *dmvf__kc_cache_take(dmvf__kc_cache *c, size_t bytes, size_t *had);
dmvf_keyctx *dmvf__kc_cache_insert(dmvf__kc_cache *c, const char *scope, const char *const *paths,
                                   size_t npaths, dmvf_keyctx *mine, size_t bytes, dmvf_keyctx **drop);
int dmvf__kc_cache_put(dmvf__kc_cache *c, const dmvf_keyctx *kc);

/* The epoch entry numbered `epoch`, or NULL if the keyring has none. */
const dmvf__kr_epoch *dmvf__keyring_find(const dmvf_keyring *k, uint32_t epoch);

#endif
