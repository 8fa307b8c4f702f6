/*
 * parse_marking.c - the marking section: the tables that normalize
 * state-specific marking values in ordinary string fields (a value replaced
 * by another, or dropped), so that a released field cannot carry the
 * marking by its value.
 *
 *   marking:
 *     normalize:
 *       PATH: {FROM: TO, ..., drop: [VALUE, ...]}
 */
#include <stdio.h>
#include <string.h>
#include "filter/policy/parse_int.h"

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
    char what[160];
    snprintf(what, sizeof what, "normalization of %s", nm->sf->path);
    if ((rc = dmvf__ymap(L, v, what)))
        return rc;
    size_t cap = 0;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *vv = dmvf__ynode(L, a->value);
        if (strcmp(dmvf__ystr(dmvf__ynode(L, a->key)), "drop") == 0) {
            if ((rc = dmvf__yseq(L, vv, "drop", 1)))
                return rc;
            cap += dmvf__yseq_len(vv);
        } else {
            cap++;
        }
    }
    nm->e = dmvf__arena_alloc(&L->p->arena, (cap ? cap : 1) * sizeof *nm->e);
    if (!nm->e)
        return dmvf__ynomem(L);
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *kk = dmvf__ynode(L, a->key), *vv = dmvf__ynode(L, a->value);
        int drop = strcmp(dmvf__ystr(kk), "drop") == 0;
        size_t nitems = drop ? dmvf__yseq_len(vv) : 1;
        for (size_t i = 0; i < nitems; i++) {
            const yaml_node_t *from = drop ? dmvf__ynode(L, vv->data.sequence.items.start[i]) : kk;
            if (drop && (rc = dmvf__yscalar(L, from, "a dropped value")))
                return rc;
            if (!drop && (rc = dmvf__yscalar(L, vv, "a replacement value")))
                return rc;
            for (size_t j = 0; j < nm->n; j++)
                if (nm->e[j].from_len == from->data.scalar.length &&
                    memcmp(nm->e[j].from, dmvf__ystr(from), from->data.scalar.length) == 0)
                    return dmvf__yfail(L, from, "'%s' appears twice in the normalization of %s",
                                       dmvf__ystr(from), nm->sf->path);
            dmvf_norm_entry *e = &nm->e[nm->n++];
            char *f = dmvf__ydup(L, from);
            if (!f)
                return dmvf__ynomem(L);
            e->from = (const uint8_t *)f;
            e->from_len = (uint32_t)from->data.scalar.length;
            e->drop = (uint8_t)drop;
            if (!drop) {
                char *t = dmvf__ydup(L, vv);
                if (!t)
                    return dmvf__ynomem(L);
                e->to = (const uint8_t *)t;
                e->to_len = (uint32_t)vv->data.scalar.length;
            }
        }
    }
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
        p->norms = dmvf__arena_alloc(&p->arena, (p->nnorms ? p->nnorms : 1) * sizeof *p->norms);
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
