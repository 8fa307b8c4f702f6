/* pballoc.c - protobuf-c allocators by kind of memory (core/pballoc.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "filter/core/error.h"
#include "filter/core/pballoc.h"

/* A wiped block: its size in front of it, so that free knows how much to zero. */
#define WIPE_HDR 16u

static void *noted(void *ud, void *p)
{
    if (!p)
        ((dmvf__pballoc *)ud)->oom = 1;
    return p;
}

static void *plain_alloc(void *ud, size_t n)
{
    return noted(ud, malloc(n));
}

static void plain_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

static void *wiped_alloc(void *ud, size_t n)
{
    unsigned char *p = n <= SIZE_MAX - WIPE_HDR ? malloc(n + WIPE_HDR) : NULL;
    if (p)
        memcpy(p, &n, sizeof n);
    return noted(ud, p ? p + WIPE_HDR : NULL);
}

static void wiped_free(void *ud, void *q)
{
    (void)ud;
    if (!q)
        return;
    unsigned char *p = (unsigned char *)q - WIPE_HDR;
    size_t n;
    memcpy(&n, p, sizeof n);
    sodium_memzero(p, n + WIPE_HDR);
    free(p);
}

void *dmvf__secure_alloc(size_t n)
{
    if (n > SIZE_MAX - 15u)
        return NULL;
    return sodium_malloc((n + 15u) & ~(size_t)15u);
}

static void *secure_alloc(void *ud, size_t n)
{
    return noted(ud, dmvf__secure_alloc(n));
}

static void secure_free(void *ud, void *p)
{
    (void)ud;
    if (p)
        sodium_free(p);
}

ProtobufCAllocator *dmvf__pballoc_init(dmvf__pballoc *a, int kind)
{
    DMVF_REQUIRE(a != NULL, "a is NULL");
    memset(a, 0, sizeof *a);
    switch (kind) {
    case DMVF__PB_PLAIN:
        a->pb.alloc = plain_alloc;
        a->pb.free = plain_free;
        break;
    case DMVF__PB_WIPED:
        a->pb.alloc = wiped_alloc;
        a->pb.free = wiped_free;
        break;
    case DMVF__PB_SECURE:
        a->pb.alloc = secure_alloc;
        a->pb.free = secure_free;
        break;
    default:
        dmvf__misuse(__func__, "unknown kind of memory");
    }
    a->pb.allocator_data = a;
    return &a->pb;
}
