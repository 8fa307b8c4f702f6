/*
 * parse_marking.c - the marking section: per string field, the table that
 * normalizes the state-specific marking values an ordinary field can carry
 * (class code "DP", restriction "FLA"), so that a released field cannot
 * carry the marking by its value, whatever its spelling:
 *
 *   marking:
 *     normalize:
 *       PATH: {map: {FROM: TO, ...}, drop: [VALUE, ...],
 *              allow: [VALUE, ...], otherwise: VALUE}
 *
 * Every key is optional, but an entry has map, drop or allow. Values are
 * strings compared as bytes, exactly: no case folding, no trimming, no
 * Unicode normalization ("dp", " DP" and "D\u200bP" are three values, none
 * of them "DP"). A value is first mapped (map) or removed (drop); then, when
 * there is an allow list, released only if it is one of the allowed values;
 * any other value is removed, or replaced by `otherwise` (one of the
 * allowed values) when the entry has one.
 *
 * Checked here: the keys; map a mapping of strings, drop and allow lists
 * of strings (allow not empty); no value twice among the map's keys and
 * drop, nor twice in allow; with allow, every map target and `otherwise`
 * allowed; `otherwise` only with allow. That every position where a
 * state's marking may appear (class N) has an allow list wherever a profile
 * releases it is compile.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/policy/parse_int.h"

/* Scalar nodes ordered by their bytes, then by where they start. */
static int node_cmp(const void *a, const void *b)
{
    const yaml_node_t *x = *(const yaml_node_t *const *)a, *y = *(const yaml_node_t *const *)b;
    int c = dmvf__norm_cmp(x->data.scalar.value, x->data.scalar.length, y->data.scalar.value,
                           y->data.scalar.length);
    if (c)
        return c;
    return (x->start_mark.index > y->start_mark.index) - (x->start_mark.index < y->start_mark.index);
}

/* Of the values nodes[0..n) (scalars; reordered), the one written later of
 * the first equal pair in document order, or NULL when all differ. Sorting
 * keeps a long list linear-logarithmic. */
static const yaml_node_t *second_of_pair(const yaml_node_t **nodes, size_t n)
{
    const yaml_node_t *second = NULL;
    qsort(nodes, n, sizeof *nodes, node_cmp);
    for (size_t i = 1; i < n; i++)
        if (dmvf__norm_cmp(nodes[i - 1]->data.scalar.value, nodes[i - 1]->data.scalar.length,
                           nodes[i]->data.scalar.value, nodes[i]->data.scalar.length) == 0 &&
            (!second || nodes[i]->start_mark.index < second->start_mark.index))
            second = nodes[i];
    return second;
}

static int entry_cmp(const void *a, const void *b)
{
    const dmvf_norm_entry *x = a, *y = b;
    return dmvf__norm_cmp(x->from, x->from_len, y->from, y->from_len);
}

static int value_cmp(const void *a, const void *b)
{
    const dmvf_norm_value *x = a, *y = b;
    return dmvf__norm_cmp(x->v, x->len, y->v, y->len);
}

static const dmvf_norm_value *allowed(const dmvf_norm *t, const uint8_t *v, size_t n)
{
    dmvf_norm_value key = {v, (uint32_t)n};
    return t->nallow ? bsearch(&key, t->allow, t->nallow, sizeof *t->allow, value_cmp) : NULL;
}

/* The parts of one entry, as written. */
typedef struct parts {
    const yaml_node_t *map, *drop, *allow, *otherwise;
} parts;

static int read_parts(dmvf__yload *L, const yaml_node_t *v, const char *path, parts *pt)
{
    int rc;
    char what[160];
    memset(pt, 0, sizeof *pt);
    snprintf(what, sizeof what, "the normalization of %s", path);
    if ((rc = dmvf__ymap(L, v, what)))
        return rc;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        const yaml_node_t *k = dmvf__ynode(L, a->key), *x = dmvf__ynode(L, a->value);
        const char *key = dmvf__ystr(k);
        if (strcmp(key, "map") == 0) {
            snprintf(what, sizeof what, "the map of %s", path);
            if ((rc = dmvf__ymap(L, x, what)))
                return rc;
            for (yaml_node_pair_t *b = x->data.mapping.pairs.start; b < x->data.mapping.pairs.top; b++)
                if ((rc = dmvf__yscalar(L, dmvf__ynode(L, b->value), "a replacement value")))
                    return rc;
            pt->map = x;
        } else if (strcmp(key, "drop") == 0 || strcmp(key, "allow") == 0) {
            int drop = key[0] == 'd';
            snprintf(what, sizeof what, "the %s list of %s", key, path);
            if ((rc = dmvf__yseq(L, x, what, drop)))
                return rc;
            if (!drop && dmvf__yseq_len(x) == 0)
                return dmvf__yfail(L, x, "the allow list of %s is empty: no value could ever be released "
                                   "(give the field no action other than redact instead)", path);
            for (size_t i = 0; i < dmvf__yseq_len(x); i++) {
                const yaml_node_t *it = dmvf__ynode(L, x->data.sequence.items.start[i]);
                if (it->type != YAML_SCALAR_NODE)
                    return dmvf__yfail(L, it, "%s value of %s must be a string, not %s",
                                       drop ? "a dropped" : "an allowed", path, dmvf__ykind(it));
                if ((rc = dmvf__yscalar(L, it, drop ? "a dropped value" : "an allowed value")))
                    return rc;
            }
            if (drop)
                pt->drop = x;
            else
                pt->allow = x;
        } else if (strcmp(key, "otherwise") == 0) {
            if (x->type != YAML_SCALAR_NODE)
                return dmvf__yfail(L, x, "otherwise of %s must be a string (one of its allowed values), not %s",
                                   path, dmvf__ykind(x));
            if ((rc = dmvf__yscalar(L, x, "otherwise")))
                return rc;
            pt->otherwise = x;
        } else {
            return dmvf__yfail(L, k, "unknown key '%s' in the normalization of %s (expected map, drop, allow "
                               "or otherwise)", key, path);
        }
    }
    if (!pt->map && !pt->drop && !pt->allow)
        return dmvf__yfail(L, v, "the normalization of %s says nothing: give it map, drop or allow", path);
    if (pt->otherwise && !pt->allow)
        return dmvf__yfail(L, pt->otherwise, "otherwise of %s needs an allow list: it stands in for the "
                           "values that list does not name", path);
    return DMVF_OK;
}

/* A scalar's bytes, copied into the policy's arena. */
static int copy_value(dmvf__yload *L, const yaml_node_t *n, const uint8_t **v, uint32_t *len)
{
    *v = (const uint8_t *)dmvf__ydup(L, n);
    *len = (uint32_t)n->data.scalar.length;
    return *v ? DMVF_OK : dmvf__ynomem(L);
}

/* The end of reading a table of n values whose nodes (scalars) are
 * nodes[0..n) and whose copies are table[0..n) (elements of `size` bytes):
 * unless rc is already an error, no value twice (else the error at the
 * later of the first equal pair: "'V' appears twice in WHERE PATH"), then
 * the table sorted by cmp. Frees nodes. */
static int seal_table(dmvf__yload *L, int rc, const yaml_node_t **nodes, size_t n, const char *where,
                      const char *path, void *table, size_t size, int (*cmp)(const void *, const void *))
{
    const yaml_node_t *dup = rc ? NULL : second_of_pair(nodes, n);
    if (dup)
        rc = dmvf__yfail(L, dup, "'%s' appears twice in %s %s", dmvf__ystr(dup), where, path);
    free(nodes);
    if (!rc)
        qsort(table, n, size, cmp);
    return rc;
}

/* The map keys and drop values, none twice, into t->entry (sorted). */
static int build_entries(dmvf__yload *L, const parts *pt, const char *path, dmvf_norm *t)
{
    size_t nmap = pt->map ? dmvf__ymap_len(pt->map) : 0, ndrop = pt->drop ? dmvf__yseq_len(pt->drop) : 0;
    size_t n = nmap + ndrop;
    if (n == 0)
        return DMVF_OK;
    const yaml_node_t **from = malloc(n * sizeof *from);
    dmvf_norm_entry *e = dmvf__arena_alloc(&L->p->arena, n * sizeof *e);
    int rc = from && e ? DMVF_OK : dmvf__ynomem(L);
    for (size_t i = 0; i < n && !rc; i++) {
        const yaml_node_pair_t *b = i < nmap ? &pt->map->data.mapping.pairs.start[i] : NULL;
        from[i] = dmvf__ynode(L, b ? b->key : pt->drop->data.sequence.items.start[i - nmap]);
        e[i].drop = !b;
        rc = copy_value(L, from[i], &e[i].from, &e[i].from_len);
        if (!rc && b)
            rc = copy_value(L, dmvf__ynode(L, b->value), &e[i].to, &e[i].to_len);
    }
    if ((rc = seal_table(L, rc, from, n, "the normalization of", path, e, sizeof *e, entry_cmp)))
        return rc;
    t->entry = e;
    t->nentry = (uint32_t)n;
    return DMVF_OK;
}

/* The allow list, no value twice, into t->allow (sorted). */
static int build_allow(dmvf__yload *L, const parts *pt, const char *path, dmvf_norm *t)
{
    size_t n = pt->allow ? dmvf__yseq_len(pt->allow) : 0;
    if (n == 0)
        return DMVF_OK;
    const yaml_node_t **nodes = malloc(n * sizeof *nodes);
    dmvf_norm_value *a = dmvf__arena_alloc(&L->p->arena, n * sizeof *a);
    int rc = nodes && a ? DMVF_OK : dmvf__ynomem(L);
    for (size_t i = 0; i < n && !rc; i++) {
        nodes[i] = dmvf__ynode(L, pt->allow->data.sequence.items.start[i]);
        rc = copy_value(L, nodes[i], &a[i].v, &a[i].len);
    }
    if ((rc = seal_table(L, rc, nodes, n, "the allow list of", path, a, sizeof *a, value_cmp)))
        return rc;
    t->allow = a;
    t->nallow = (uint32_t)n;
    return DMVF_OK;
}

/* With an allow list: every map target and otherwise are on it. */
static int check_allowed(dmvf__yload *L, const parts *pt, const char *path, dmvf_norm *t)
{
    if (!t->nallow)
        return DMVF_OK;
    for (size_t i = 0; pt->map && i < dmvf__ymap_len(pt->map); i++) {
        const yaml_node_pair_t *b = &pt->map->data.mapping.pairs.start[i];
        const yaml_node_t *to = dmvf__ynode(L, b->value);
        if (!allowed(t, to->data.scalar.value, to->data.scalar.length))
            return dmvf__yfail(L, to, "map sends '%s' to '%s', which the allow list of %s does not name (it "
                               "would never be released)", dmvf__ystr(dmvf__ynode(L, b->key)), dmvf__ystr(to),
                               path);
    }
    if (pt->otherwise) {
        t->otherwise = allowed(t, pt->otherwise->data.scalar.value, pt->otherwise->data.scalar.length);
        if (!t->otherwise)
            return dmvf__yfail(L, pt->otherwise, "otherwise: '%s' is not in the allow list of %s; it must be "
                               "one of the allowed values", dmvf__ystr(pt->otherwise), path);
    }
    return DMVF_OK;
}

static int parse_norm(dmvf__yload *L, const yaml_node_t *k, const yaml_node_t *v, dmvf_pnorm *nm)
{
    int rc, prefix;
    char *base;
    if ((rc = dmvf__yfield(L, k, &nm->sf, &prefix, &base)))
        return rc;
    if (prefix || nm->sf->type != DMVF_T_STRING)
        return dmvf__yfail(L, k, "normalize needs a string field; %s is %s", nm->sf->path,
                           dmvf__type_desc(nm->sf));
    nm->line = dmvf__yline(k);
    nm->col = dmvf__ycol(k);
    parts pt;
    const char *path = nm->sf->path;
    if ((rc = read_parts(L, v, path, &pt)) || (rc = build_entries(L, &pt, path, &nm->t)) ||
        (rc = build_allow(L, &pt, path, &nm->t)) || (rc = check_allowed(L, &pt, path, &nm->t)))
        return rc;
    return DMVF_OK;
}

int dmvf__parse_marking(dmvf__yload *L, const yaml_node_t *v)
{
    int rc = dmvf__ymap(L, v, "marking");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key), *x = dmvf__ynode(L, a->value);
        if (strcmp(dmvf__ystr(k), "normalize") != 0)
            return dmvf__yfail(L, k, "unknown key '%s' in marking (expected normalize)", dmvf__ystr(k));
        if ((rc = dmvf__ymap(L, x, "marking.normalize")))
            return rc;
        p->nnorms = dmvf__ymap_len(x);
        p->norms = dmvf__arena_alloc(&p->arena, p->nnorms * sizeof *p->norms);
        if (!p->norms)
            return dmvf__ynomem(L);
        size_t i = 0;
        for (yaml_node_pair_t *b = x->data.mapping.pairs.start; b < x->data.mapping.pairs.top; b++, i++) {
            if ((rc = parse_norm(L, dmvf__ynode(L, b->key), dmvf__ynode(L, b->value), &p->norms[i])))
                return rc;
            for (size_t j = 0; j < i; j++)
                if (p->norms[j].sf == p->norms[i].sf)
                    return dmvf__yfail(L, dmvf__ynode(L, b->key), "%s is normalized twice (first at line %u)",
                                       p->norms[i].sf->path, p->norms[j].line);
        }
    }
    return DMVF_OK;
}
