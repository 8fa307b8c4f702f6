/*
 * core/pballoc.h - protobuf-c allocators: one per kind of memory, each
 * noting a failed allocation, so that an unpack that fails for want of
 * memory can be told from a malformed message (DMVF_ENOMEM, not
 * DMVF_EMALFORMED or DMVF_ETAMPER).
 *
 *   DMVF__PB_PLAIN    malloc / free
 *   DMVF__PB_WIPED    malloc; every block zeroed when freed (the records of
 *                     real people held for review)
 *   DMVF__PB_SECURE   dmvf__secure_alloc / sodium_free: guarded pages, wiped
 *                     when freed (key material; keys/ only)
 *
 *   dmvf__pballoc a;
 *   M *m = m__unpack(dmvf__pballoc_init(&a, DMVF__PB_PLAIN), len, data);
 *   if (!m) return a.oom ? DMVF_ENOMEM : DMVF_EMALFORMED;
 *   ...
 *   m__free_unpacked(m, &a.pb);
 *
 * A message may be freed through any dmvf__pballoc of the kind it was
 * unpacked with. One dmvf__pballoc belongs to one thread.
 */
#ifndef DMVF_CORE_PBALLOC_H
#define DMVF_CORE_PBALLOC_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

enum { DMVF__PB_PLAIN, DMVF__PB_WIPED, DMVF__PB_SECURE };

typedef struct dmvf__pballoc {
    ProtobufCAllocator pb;   /* what protobuf-c is given */
    int oom;                 /* set once an allocation failed */
} dmvf__pballoc;

/* Makes *a an allocator of memory `kind` with oom 0; returns &a->pb. */
ProtobufCAllocator *dmvf__pballoc_init(dmvf__pballoc *a, int kind);

/* sodium_malloc of n bytes rounded up to a multiple of 16, so that the
 * block (placed at the end of its page) is aligned for any type; freed with
 * sodium_free. NULL on failure (n too large included). */
void *dmvf__secure_alloc(size_t n);

#endif
