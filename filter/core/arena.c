/*
 * arena.c - bump allocation in chunks (core/arena.h).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "filter/core/arena.h"

#define CHUNK_MIN 16384u

struct dmvf_chunk {
    struct dmvf_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *dmvf__arena_alloc(dmvf_arena *a, size_t n)
{
    const size_t al = sizeof(max_align_t);
    n = n ? (n + al - 1) / al * al : al;
    struct dmvf_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = calloc(1, sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *r = (unsigned char *)c->data + c->used;
    c->used += n;
    return r;
}

char *dmvf__arena_strndup(dmvf_arena *a, const char *s, size_t n)
{
    char *r = dmvf__arena_alloc(a, n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

void dmvf__arena_free(dmvf_arena *a)
{
    struct dmvf_chunk *c = a->head;
    while (c) {
        struct dmvf_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* ------------------------------------------------------------------ errors */
