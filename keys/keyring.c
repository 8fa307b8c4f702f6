/*
 * keyring.c - the loaded keyring (keyring_int.h): its one secure block, the
 * epochs it holds, the count of the handles that borrow it, and free.
 * Reading and writing keyring files is keyring_file.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/pballoc.h"
#include "keys/keys.h"
#include "keys/keyring_int.h"

/* ---- secure memory ---- */

dmvf_keyring *dmvf__keyring_alloc(size_t nepochs)
{
    dmvf_keyring *k;
    size_t size;

    if (nepochs > (SIZE_MAX - sizeof *k) / sizeof(dmvf__kr_epoch))
        return NULL;
    size = sizeof *k + nepochs * sizeof(dmvf__kr_epoch);
    k = dmvf__secure_alloc(size);
    if (!k)
        return NULL;
    memset(k, 0, size);
    k->nepochs = nepochs;
    return k;
}

/* ---- accessors ---- */

const dmvf__kr_epoch *dmvf__keyring_find(const dmvf_keyring *k, uint32_t epoch)
{
    size_t lo = 0, hi = k->nepochs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->epochs[mid].epoch == epoch)
            return &k->epochs[mid];
        if (k->epochs[mid].epoch < epoch)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

uint32_t dmvf_keyring_epoch(const dmvf_keyring *k)
{
    DMVF_REQUIRE(k, "keyring is NULL");
    return k->epochs[k->nepochs - 1].epoch;
}

size_t dmvf_keyring_epoch_count(const dmvf_keyring *k)
{
    DMVF_REQUIRE(k, "keyring is NULL");
    return k->nepochs;
}

int dmvf_keyring_epoch_info(const dmvf_keyring *k, size_t i, uint32_t *epoch, uint64_t *created)
{
    DMVF_REQUIRE(k, "keyring is NULL");
    if (i >= k->nepochs)
        return DMVF_EINVAL;
    if (epoch)
        *epoch = k->epochs[i].epoch;
    if (created)
        *created = k->epochs[i].created;
    return DMVF_OK;
}

int dmvf_keyring_is_sealed(const dmvf_keyring *k)
{
    DMVF_REQUIRE(k, "keyring is NULL");
    return k->sealed;
}

void dmvf__keyring_acquire(const dmvf_keyring *k)
{
    if (k && k->users)
        atomic_fetch_add_explicit(k->users, 1, memory_order_relaxed);
}

void dmvf__keyring_release(const dmvf_keyring *k)
{
    if (k && k->users) {
        size_t was = atomic_fetch_sub_explicit(k->users, 1, memory_order_release);
        DMVF_REQUIRE(was > 0, "keyring released more often than it was acquired");
    }
}

void dmvf_keyring_free(dmvf_keyring *k)
{
    if (!k)
        return;
    if (k->users) {
        size_t n = atomic_load_explicit(k->users, memory_order_acquire);
        if (n) {
            char what[120];
            snprintf(what, sizeof what,
                     "keyring is still used by %zu filter or framed stream handle%s: "
                     "free them first", n, n == 1 ? "" : "s");
            dmvf__misuse(__func__, what);
        }
        free(k->users);
    }
    dmvf__kc_cache_free(k->cache);
    sodium_free(k); /* wipes, read-only or not */
}
