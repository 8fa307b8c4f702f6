/*
 * plan.c - building plan trees from a leaf table, restricting a plan to
 * requested fields, the order of normalization tables (wire/plan.h).
 *
 * A plan is one allocation (dmvf_plan, then its nodes, then the field
 * tables, then pseudo_paths), so dmvf__plan_free is free().
 */
#include <stdlib.h>
#include <string.h>
#include "filter/core/error.h"
#include "filter/wire/plan.h"

unsigned dmvf__fplan_op(const dmvf_fplan *e, unsigned wt)
{
    unsigned want = dmvf__ftype_wire(e->type);
    if (!e->type || wt != want)
        return DMVF_OP_GENERIC;
    unsigned f = (want == 2 ? DMVF_OPF_LEN : 0) | (e->repeated ? DMVF_OPF_REPEATED : 0) |
                 (e->type == DMVF_T_BOOL ? DMVF_OPF_BOOL : 0);
    switch (e->action) {
    case DMVF_ACT_REDACT:
        return DMVF_OP_CHECK | f;
    case DMVF_ACT_DESCEND:
        return DMVF_OP_DESCEND | f | (e->child->whole ? DMVF_OPF_WHOLE : 0);
    case DMVF_ACT_RELEASE:
        if (e->type == DMVF_T_MESSAGE)
            return DMVF_OP_CHECK | f;
        return (e->norm ? DMVF_OP_XFORM : DMVF_OP_COPY) | f;
    default:
        return DMVF_OP_XFORM | f;
    }
}

void dmvf__pnode_ops(dmvf_pnode *pn)
{
    _Static_assert(DMVF_PLAN_KEYS == 256, "op[] is read by keys of one or two bytes");
    memset(pn->op, DMVF_OP_GENERIC, sizeof pn->op);
    for (uint32_t num = 1; num <= DMVF_MAX_FIELD_NUMBER; num++) {
        const dmvf_fplan *e = num <= pn->max_number ? &pn->f[num] : NULL;
        uint8_t *op = &pn->op[num << 3];
        if (!e || e->opaque) {
            op[0] = DMVF_OP_SKIP;
            op[2] = DMVF_OP_SKIP | DMVF_OPF_LEN;
            continue;
        }
        for (unsigned wt = 0; wt < 8; wt++)
            op[wt] = (uint8_t)dmvf__fplan_op(e, wt);
    }
}

typedef struct bctx {
    dmvf_pnode *nodes;
    size_t nn;
    dmvf_fplan *fp;
    size_t nf;
    const char **paths;
    size_t np;
    const dmvf_fplan *const *leaf;
    uint32_t growth;
    int marking_release;
} bctx;

static void count_nodes(const dmvf_snode *sn, size_t *nn, size_t *nf)
{
    (*nn)++;
    *nf += (size_t)sn->max_number + 1;
    for (size_t i = 0; i < sn->nfields; i++)
        if (sn->fields[i].type == DMVF_T_MESSAGE)
            count_nodes(sn->fields[i].child, nn, nf);
}

static const dmvf_pnode *build_node(bctx *b, const dmvf_snode *sn, int *any)
{
    dmvf_pnode *pn = &b->nodes[b->nn++];
    dmvf_fplan *f = &b->fp[b->nf];
    b->nf += (size_t)sn->max_number + 1;
    pn->schema = sn;
    pn->max_number = sn->max_number;
    pn->f = f;
    for (size_t i = 0; i <= sn->max_number; i++) {
        f[i].action = DMVF_ACT_REDACT;
        f[i].opaque = 1; /* unknown to the schema */
    }
    for (size_t i = 0; i < sn->nfields; i++) {
        const dmvf_sfield *sf = &sn->fields[i];
        dmvf_fplan *e = &f[sf->number];
        if (sf->type == DMVF_T_MESSAGE) {
            int sub = 0;
            const dmvf_pnode *c = build_node(b, sf->child, &sub);
            if (sub) {
                e->action = DMVF_ACT_DESCEND;
                e->child = c;
                *any = 1;
            }
        } else {
            const dmvf_fplan *t = b->leaf[sf->id];
            if (t && t->action != DMVF_ACT_REDACT) {
                *e = *t;
                e->child = NULL;
                if (e->action != DMVF_ACT_PSEUDONYMIZE)
                    e->pidx = 0;
                else {
                    e->pidx = (uint16_t)b->np;
                    b->paths[b->np++] = sf->path;
                }
                if (e->action == DMVF_ACT_CONSTANT && e->clen > b->growth)
                    b->growth = e->clen;
                if (e->norm) {
                    for (uint32_t k = 0; k < e->norm->nentry; k++)
                        if (!e->norm->entry[k].drop && e->norm->entry[k].to_len > b->growth)
                            b->growth = e->norm->entry[k].to_len;
                    if (e->norm->otherwise && e->norm->otherwise->len > b->growth)
                        b->growth = e->norm->otherwise->len;
                }
                *any = 1;
            }
        }
        e->sf = sf;
        e->type = sf->type;
        e->repeated = sf->repeated;
        e->opaque = dmvf__fplan_opaque(e, b->marking_release);
    }
    pn->whole = 1;
    for (size_t i = 0; i < sn->nfields; i++) {
        const dmvf_fplan *e = &f[sn->fields[i].number];
        int verbatim = e->action == DMVF_ACT_RELEASE && !e->norm && e->type != DMVF_T_MESSAGE;
        if (!verbatim && !(e->action == DMVF_ACT_DESCEND && e->child->whole))
            pn->whole = 0;
    }
    dmvf__pnode_ops(pn);
    return pn;
}

static size_t al8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

dmvf_plan *dmvf__plan_build(const dmvf_fplan *const *leaf, int marking_release)
{
    const dmvf_snode *root = dmvf__schema_root();
    size_t nn = 0, nf = 0, np = 0, npaths = dmvf__schema_npaths();
    count_nodes(root, &nn, &nf);
    for (size_t id = 0; id < npaths; id++)
        if (leaf[id] && leaf[id]->action == DMVF_ACT_PSEUDONYMIZE &&
            dmvf__schema_field(id)->type != DMVF_T_MESSAGE)
            np++;
    size_t o_nodes = al8(sizeof(dmvf_plan));
    size_t o_fp = o_nodes + al8(nn * sizeof(dmvf_pnode));
    size_t o_paths = o_fp + al8(nf * sizeof(dmvf_fplan));
    size_t total = o_paths + np * sizeof(const char *);
    unsigned char *blk = calloc(1, total);
    if (!blk)
        return NULL;
    dmvf_plan *plan = (dmvf_plan *)blk;
    bctx b = {(dmvf_pnode *)(blk + o_nodes), 0, (dmvf_fplan *)(blk + o_fp), 0,
              (const char **)(blk + o_paths), 0, leaf, 64, marking_release};
    int any = 0;
    plan->root = build_node(&b, root, &any);
    plan->npseudo = b.np;
    plan->pseudo_paths = b.np ? b.paths : NULL;
    plan->marking_release = marking_release;
    plan->max_token_growth = b.growth;
    return plan;
}

void dmvf__plan_free(dmvf_plan *plan)
{
    free(plan);
}

static void collect(const dmvf_pnode *pn, const dmvf_fplan **leaf)
{
    for (uint32_t n = 0; n <= pn->max_number; n++) {
        const dmvf_fplan *e = &pn->f[n];
        if (!e->sf)
            continue;
        if (e->action == DMVF_ACT_DESCEND)
            collect(e->child, leaf);
        else if (e->sf->type != DMVF_T_MESSAGE)
            leaf[e->sf->id] = e;
    }
}

static int covered(const char *path, const char *const *want, const size_t *wlen, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(path, want[i], wlen[i]) == 0 && (path[wlen[i]] == '\0' || path[wlen[i]] == '.'))
            return 1;
    return 0;
}

dmvf_plan *dmvf__plan_restrict(const dmvf_plan *base, const char *const *fields, size_t n, dmvf_error *err)
{
    DMVF_REQUIRE(base != NULL, "base plan is NULL");
    DMVF_REQUIRE(fields != NULL || n == 0, "fields is NULL");
    size_t npaths = dmvf__schema_npaths();
    size_t *wlen = calloc(n ? n : 1, sizeof *wlen);
    const dmvf_fplan **leaf = calloc(npaths, sizeof *leaf);
    dmvf_plan *plan = NULL;
    if (!wlen || !leaf) {
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory restricting the plan");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i];
        size_t len = f ? strlen(f) : 0;
        int star = len >= 2 && f[len - 2] == '.' && f[len - 1] == '*';
        char buf[128];
        const dmvf_sfield *sf = NULL;
        if (f && len < sizeof buf) {
            memcpy(buf, f, len + 1);
            if (star)
                buf[len - 2] = '\0';
            sf = dmvf__schema_find(buf);
        }
        if (!sf || (star && sf->type != DMVF_T_MESSAGE)) {
            dmvf__seterr(err, DMVF_EINVAL, "requested field '%s' is not in the schema", f ? f : "(null)");
            goto out;
        }
        wlen[i] = star ? len - 2 : len;
    }
    collect(base->root, leaf);
    for (size_t id = 0; id < npaths; id++)
        if (leaf[id] && !covered(dmvf__schema_field(id)->path, fields, wlen, n))
            leaf[id] = NULL;
    plan = dmvf__plan_build(leaf, base->marking_release);
    if (!plan)
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory restricting the plan");
out:
    free(wlen);
    free(leaf);
    return plan;
}
