/*
 * report_map_int.h - the report's two hash maps (report_map.c): strings
 * to an index (rows, requester profiles) and a REQUEST entry's seq to
 * what the report keeps of it. Open addressing, linear probing, grown
 * at half full; a map starts zeroed.
 */
#ifndef DMVF_REPORT_MAP_INT_H
#define DMVF_REPORT_MAP_INT_H

#include <stddef.h>
#include <stdint.h>

/* Strings (any bytes, klen long) to an index. A slot with k NULL is
 * empty: the caller fills k (malloc'd, the map frees it), klen and v, and
 * counts it in n. */
typedef struct dmvf__sslot { char *k; size_t klen; uint32_t v; } dmvf__sslot;
typedef struct dmvf__smap { dmvf__sslot *s; size_t cap, n; } dmvf__smap;

/* The slot for key (empty or matching); grows first. NULL when out of
 * memory. */
dmvf__sslot *dmvf__smap_slot(dmvf__smap *m, const char *k, size_t klen);
/* The matching slot, or NULL. */
const dmvf__sslot *dmvf__smap_find(const dmvf__smap *m, const char *k, size_t klen);
void dmvf__smap_free(dmvf__smap *m);

/* What the report keeps of a REQUEST entry, by its seq. */
enum { DMVF__REQ_RESOLVED = 1, DMVF__REQ_IN_WINDOW = 2, DMVF__REQ_HAS_RELEASE = 4 };
typedef struct dmvf__reqinfo { uint32_t profile; uint8_t decision, flags; } dmvf__reqinfo;
typedef struct dmvf__uslot { uint64_t seq; dmvf__reqinfo v; uint8_t used; } dmvf__uslot;
typedef struct dmvf__umap { dmvf__uslot *s; size_t cap, n; } dmvf__umap;

/* The info for seq, or NULL. */
dmvf__reqinfo *dmvf__umap_get(const dmvf__umap *m, uint64_t seq);
/* The info for seq, created zeroed when new. NULL when out of memory. */
dmvf__reqinfo *dmvf__umap_put(dmvf__umap *m, uint64_t seq);

#endif
