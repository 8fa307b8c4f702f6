/*
 * core/arena.h - bump allocation in chunks, freed all at once (a loaded
 * policy lives in one).
 */
#ifndef DMVF_CORE_ARENA_H
#define DMVF_CORE_ARENA_H

#include <stddef.h>

typedef struct dmvf_arena {
    struct dmvf_chunk *head;
} dmvf_arena;

/* n bytes, zeroed, aligned for any type; NULL: no memory. n may be 0 (an
 * empty array): the pointer is not NULL then either. */
void *dmvf__arena_alloc(dmvf_arena *a, size_t n);
/* A NUL-terminated copy of s[0..n); NULL: no memory. */
char *dmvf__arena_strndup(dmvf_arena *a, const char *s, size_t n);
/* Frees every chunk; the arena is empty (and reusable) afterwards. */
void dmvf__arena_free(dmvf_arena *a);

#endif
