/*
 * directory.c - the requester directory as one index, checked, and looked
 * up once per request.
 *
 *   exact    pointers to the exact-ORI entries, sorted by ORI: bsearch
 *   prefix   pointers to the prefix entries, sorted by length, then bytes;
 *            pstart[l] is where the prefixes of length l start
 *
 * A lookup is one bsearch among the exact ORIs, then, longest first, one
 * among the prefixes of each length 8..1 that has any: at most nine binary
 * searches of 9-byte keys, whatever the directory's size.
 *
 * The checks, in this order (each error names the entry's place, in the
 * policy file or the requesters_file): a `requesters` key is given; no ORI
 * and no prefix is in it twice (reported at the second, naming the first);
 * an entry of kind internal is in the policy's own jurisdiction; every tag
 * a rule matches is a tag some entry has (a request's tags are the
 * directory's, so a rule tag no entry has can never match).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/policy/policy_int.h"

const dmvf_dirent *dmvf__dirent_of(const dmvf_requester *e)
{
    _Static_assert(offsetof(dmvf_dirent, pub) == 0, "a dirent starts with its public part");
    return (const dmvf_dirent *)(const void *)e;
}

void dmvf__dirent_key(const dmvf_requester *e, char *buf, size_t cap)
{
    if (e->ori)
        snprintf(buf, cap, "ORI %s", e->ori);
    else
        snprintf(buf, cap, "ORI prefix %s", e->ori_prefix);
}

static int exact_cmp(const void *a, const void *b)
{
    const dmvf_dirent *x = *(const dmvf_dirent *const *)a, *y = *(const dmvf_dirent *const *)b;
    int c = strcmp(x->pub.ori, y->pub.ori);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int prefix_cmp(const void *a, const void *b)
{
    const dmvf_dirent *x = *(const dmvf_dirent *const *)a, *y = *(const dmvf_dirent *const *)b;
    size_t lx = strlen(x->pub.ori_prefix), ly = strlen(y->pub.ori_prefix);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    int c = memcmp(x->pub.ori_prefix, y->pub.ori_prefix, lx);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static const char *key_of(const dmvf_dirent *e)
{
    return e->pub.ori ? e->pub.ori : e->pub.ori_prefix;
}

/* In a sorted run v[0..n), the group of equal keys whose second member was
 * written first; NULL when every key is distinct. *first its first member. */
static const dmvf_dirent *second_of(const dmvf_dirent **v, size_t n, const dmvf_dirent **first)
{
    const dmvf_dirent *best = NULL;
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(key_of(v[j]), key_of(v[i])) == 0; j++)
            ;
        if (j - i >= 2 && (!best || v[i + 1]->idx < best->idx)) {
            best = v[i + 1];
            *first = v[i];
        }
    }
    return best;
}

static int build_index(dmvf_policy *p, dmvf_error *err)
{
    dmvf_directory *d = &p->dir;
    size_t n = d->nyaml + d->nfile;
    d->exact = dmvf__arena_alloc(&p->arena, n * sizeof *d->exact);
    d->prefix = dmvf__arena_alloc(&p->arena, n * sizeof *d->prefix);
    if (!d->exact || !d->prefix)
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        dmvf_dirent *e = i < d->nyaml ? &d->yaml[i] : &d->file[i - d->nyaml];
        e->idx = i;
        if (e->pub.ori)
            d->exact[d->nexact++] = e;
        else
            d->prefix[np++] = e;
    }
    if (d->nexact > 1)
        qsort(d->exact, d->nexact, sizeof *d->exact, exact_cmp);
    if (np > 1)
        qsort(d->prefix, np, sizeof *d->prefix, prefix_cmp);
    const dmvf_dirent *f1 = NULL, *f2 = NULL;
    const dmvf_dirent *dup = second_of(d->exact, d->nexact, &f1);
    const dmvf_dirent *dupp = second_of(d->prefix, np, &f2);
    if (dupp && (!dup || dupp->idx < dup->idx)) {
        dup = dupp;
        f1 = f2;
    }
    if (dup)
        return dmvf__perr(err, dup->src, dup->line, dup->col,
                          "%s %s is in the requester directory twice (first at %s:%u:%u)",
                          dup->pub.ori ? "ORI" : "ORI prefix", key_of(dup), f1->src, f1->line, f1->col);
    size_t k = 0;
    for (size_t l = 0; l <= DMVF__ORI_LEN; l++) {
        d->pstart[l] = k;
        while (k < np && strlen(d->prefix[k]->pub.ori_prefix) == l)
            k++;
    }
    return DMVF_OK;
}

/* ------------------------------------------------------------------ checks */

static int check_internal(const dmvf_policy *p, dmvf_error *err)
{
    const dmvf_directory *d = &p->dir;
    for (size_t i = 0; i < d->nyaml + d->nfile; i++) {
        const dmvf_dirent *e = i < d->nyaml ? &d->yaml[i] : &d->file[i - d->nyaml];
        if (e->pub.kind != DMVF_AGENCY_INTERNAL)
            continue;
        char key[40];
        dmvf__dirent_key(&e->pub, key, sizeof key);
        if (!p->jurisdiction)
            return dmvf__perr(err, e->src, e->line, e->col,
                              "requester %s is kind internal, but the policy names no jurisdiction of its own "
                              "(jurisdiction: XX): internal is the DMV itself", key);
        if (!e->pub.jurisdiction)
            return dmvf__perr(err, e->src, e->line, e->col,
                              "requester %s is kind internal but has no jurisdiction: internal is the DMV "
                              "itself, in the policy's own jurisdiction (%s)", key, p->jurisdiction);
        if (strcmp(e->pub.jurisdiction, p->jurisdiction) != 0)
            return dmvf__perr(err, e->src, e->line, e->col,
                              "requester %s is kind internal, but its jurisdiction %s is not the policy's own "
                              "(%s): internal is the DMV itself", key, e->pub.jurisdiction, p->jurisdiction);
    }
    return DMVF_OK;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every tag of every entry, sorted and counted. */
static int collect_tags(dmvf_policy *p, dmvf_error *err)
{
    dmvf_directory *d = &p->dir;
    size_t n = 0;
    for (size_t i = 0; i < d->nyaml + d->nfile; i++)
        n += (i < d->nyaml ? &d->yaml[i] : &d->file[i - d->nyaml])->pub.ntags;
    if (!n)
        return DMVF_OK;
    const char **all = malloc(n * sizeof *all);
    if (!all)
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    size_t k = 0;
    for (size_t i = 0; i < d->nyaml + d->nfile; i++) {
        const dmvf_dirent *e = i < d->nyaml ? &d->yaml[i] : &d->file[i - d->nyaml];
        for (size_t j = 0; j < e->pub.ntags; j++)
            all[k++] = e->pub.tags[j];
    }
    qsort(all, n, sizeof *all, str_cmp);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || strcmp(all[i], all[i - 1]) != 0;
    d->tags = dmvf__arena_alloc(&p->arena, distinct * sizeof *d->tags);
    d->tag_entries = dmvf__arena_alloc(&p->arena, distinct * sizeof *d->tag_entries);
    if (!d->tags || !d->tag_entries) {
        free(all);
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    }
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(all[i], all[i - 1]) != 0)
            d->tags[d->ntags++] = all[i];
        d->tag_entries[d->ntags - 1]++;
    }
    free(all);
    return DMVF_OK;
}

static int check_rule_tags(const dmvf_policy *p, dmvf_error *err)
{
    const dmvf_directory *d = &p->dir;
    for (size_t k = 0; k < p->nrules; k++) {
        const dmvf_rule *r = &p->rules[k];
        if (!(r->keys & DMVF_MK_TAGS))
            continue;
        for (size_t i = 0; i < r->tags.n; i++)
            if (!d->ntags || !bsearch(&r->tags.v[i], d->tags, d->ntags, sizeof *d->tags, str_cmp))
                return dmvf__perr(err, p->name, r->tags.line[i], r->tags.col[i],
                                  "rule '%s' matches tag '%s', which no entry of the requester directory has "
                                  "(a requester's tags are the directory's, never the request's)",
                                  r->name, r->tags.v[i]);
    }
    return DMVF_OK;
}

int dmvf__directory_compile(dmvf_policy *p, dmvf_error *err)
{
    if (!p->dir.given)
        return dmvf__perr(err, p->name, p->line, p->col,
                          "missing required key 'requesters' (the requester directory: who each ORI is; "
                          "requesters: [] when every entry is in a requesters_file)");
    int rc = build_index(p, err);
    if (rc == DMVF_OK)
        rc = check_internal(p, err);
    if (rc == DMVF_OK)
        rc = collect_tags(p, err);
    if (rc == DMVF_OK)
        rc = check_rule_tags(p, err);
    return rc;
}

/* ------------------------------------------------------------------ lookup */

static int find_exact(const void *key, const void *b)
{
    return memcmp(key, (*(const dmvf_dirent *const *)b)->pub.ori, DMVF__ORI_LEN);
}

typedef struct pkey {
    const char *ori;
    size_t len;
} pkey;

static int find_prefix(const void *key, const void *b)
{
    const pkey *k = key;
    return memcmp(k->ori, (*(const dmvf_dirent *const *)b)->pub.ori_prefix, k->len);
}

const dmvf_dirent *dmvf__directory_find(const dmvf_policy *p, const char *ori)
{
    const dmvf_directory *d = &p->dir;
    const dmvf_dirent *const *hit;
    if (d->nexact && (hit = bsearch(ori, d->exact, d->nexact, sizeof *d->exact, find_exact)))
        return *hit;
    for (size_t l = DMVF__ORI_LEN - 1; l >= 1; l--) {
        size_t from = d->pstart[l], to = d->pstart[l + 1];
        if (from == to)
            continue;
        pkey k = {ori, l};
        if ((hit = bsearch(&k, d->prefix + from, to - from, sizeof *d->prefix, find_prefix)))
            return *hit;
    }
    return NULL;
}
