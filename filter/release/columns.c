/*
 * columns.c - CSV column lists (dmvfilter/format.h): read from a header,
 * computed from a plan, or the released part of another; and the column
 * tree that the row reader and writer walk.
 *
 * A column is a path to a leaf with an element index after each repeated
 * field; its steps are (field number, index) pairs:
 *
 *   vehicles.1.registered_address.city  ->  (7,1) (9,0) (3,0)
 *
 * Schema order is the order of these step lists compared pair by pair
 * (number, then index): vehicles.0.* before vehicles.1.*, each group in
 * field order, the layout dmvf-gen --format csv writes.
 *
 * The tree has a node per message instance the columns reach (the record,
 * person, vehicles element 1, its registered_address, ...) and, per field
 * of the node, a slot per element index: a column index for a leaf, a
 * child node for a message. A node also knows the lowest column index in
 * its subtree, where the writer marks a present, empty message with "".
 * Everything lives in the list's arena; the slot arrays grow while the tree
 * is built and are sized once they are done (malloc'd, freed with the
 * tree).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/format.h"
#include "filter/release/filter_int.h"
#include "filter/release/format_int.h"

#define set_err(err, code, ...) dmvf__fail_at((err), (code), 0, __VA_ARGS__)

/* ---- the tree ---- */

static dmvf__ctnode *node_new(const dmvf__tnode *tn)
{
    dmvf__ctnode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->tn = tn;
    n->first = INT32_MAX;
    for (size_t i = 0; i <= DMVF_MAX_FIELD_NUMBER; i++)
        n->col0[i] = -1;
    n->f = calloc(tn->n ? tn->n : 1, sizeof *n->f);
    if (!n->f) {
        free(n);
        return NULL;
    }
    return n;
}

static void node_free(dmvf__ctnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->tn->n; i++) {
        dmvf__ctfield *cf = &n->f[i];
        if (cf->kid)
            for (uint32_t k = 0; k < cf->nel; k++)
                node_free(cf->kid[k]);
        free(cf->kid);
        free(cf->col);
    }
    free(n->f);
    free(n);
}

/* Room for element index k in cf (a leaf's columns or a message's kids). */
static int slot(dmvf__ctfield *cf, uint32_t k, int message)
{
    if (k < cf->nel)
        return 0;
    uint32_t nel = k + 1;
    if (message) {
        dmvf__ctnode **kid = realloc(cf->kid, nel * sizeof *kid);
        if (!kid)
            return -1;
        memset(kid + cf->nel, 0, (nel - cf->nel) * sizeof *kid);
        cf->kid = kid;
    } else {
        int32_t *col = realloc(cf->col, nel * sizeof *col);
        if (!col)
            return -1;
        for (uint32_t i = cf->nel; i < nel; i++)
            col[i] = -1;
        cf->col = col;
    }
    cf->nel = nel;
    return 0;
}

/* Puts column i into the tree: 0, 1 (a column of that path is already
 * there), -1 (no memory). */
static int insert(dmvf__ctnode *root, const dmvf__col *c, int32_t i)
{
    dmvf__ctnode *n = root;
    for (unsigned d = 0; d < c->depth; d++) {
        const dmvf__tfield *tf = n->tn->by_num[c->num[d]];
        dmvf__ctfield *cf = &n->f[tf->pos];
        uint32_t k = c->idx[d];
        if (i < n->first)
            n->first = i;
        int message = d + 1 < c->depth;
        if (slot(cf, k, message) != 0)
            return -1;
        if (!message) {
            if (cf->col[k] >= 0)
                return 1;
            cf->col[k] = i;
            if (!tf->repeated)
                n->col0[c->num[d]] = i;
            return 0;
        }
        if (!cf->kid[k] && !(cf->kid[k] = node_new(tf->child)))
            return -1;
        n = cf->kid[k];
    }
    return 0;
}

/* ---- the list ---- */

static dmvf_columns *cols_new(size_t n)
{
    dmvf_columns *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->col = calloc(n ? n : 1, sizeof *c->col);
    if (!c->col) {
        free(c);
        return NULL;
    }
    return c;
}

void dmvf_columns_free(dmvf_columns *c)
{
    if (!c)
        return;
    node_free(c->tree);
    free(c->col);
    free(c->cell_col);
    dmvf__arena_free(&c->a);
    free(c);
}

/* Builds the tree of c's columns; a path twice is DMVF_EMALFORMED. */
static int by_steps(const void *a, const void *b);

static int build_tree(dmvf_columns *c, dmvf_error *err)
{
    if (!(c->tree = node_new(dmvf__tnode_root())))
        return set_err(err, DMVF_ENOMEM, "out of memory for a column list");
    c->ordered = 1;
    for (size_t i = 1; i < c->n && c->ordered; i++)
        c->ordered = by_steps(&c->col[i - 1], &c->col[i]) < 0;
    for (size_t i = 0; i < c->n; i++) {
        int r = insert(c->tree, &c->col[i], (int32_t)i);
        if (r < 0)
            return set_err(err, DMVF_ENOMEM, "out of memory for a column list");
        if (r > 0)
            return set_err(err, DMVF_EMALFORMED, "column '%s' is named twice", c->col[i].name);
    }
    return DMVF_OK;
}

static int by_steps(const void *a, const void *b)
{
    const dmvf__col *x = a, *y = b;
    for (unsigned d = 0; d < x->depth && d < y->depth; d++) {
        if (x->num[d] != y->num[d])
            return x->num[d] < y->num[d] ? -1 : 1;
        if (x->idx[d] != y->idx[d])
            return x->idx[d] < y->idx[d] ? -1 : 1;
    }
    return (x->depth > y->depth) - (x->depth < y->depth);
}

/* Reads a column name: 1 with *c filled (name not set), 0 when it names no
 * leaf of the schema. */
static int parse_name(const char *s, size_t n, dmvf__col *c)
{
    const dmvf__tnode *tn = dmvf__tnode_root();
    size_t i = 0;
    memset(c, 0, sizeof *c);
    for (unsigned d = 0;; d++) {
        if (d == DMVF__MAX_DEPTH || !tn)
            return 0;
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        const dmvf__tfield *tf = dmvf__tnode_find(tn, s + i, j - i, 0, 0);
        if (!tf)
            return 0;
        c->num[d] = tf->sf->number;
        c->depth = (uint8_t)(d + 1);
        i = j;
        if (tf->sf->repeated) {
            if (i == n)
                return 0;        /* a repeated field needs its element index */
            j = ++i;
            while (j < n && s[j] >= '0' && s[j] <= '9')
                j++;
            if (j == i || (j < n && s[j] != '.') || (s[i] == '0' && j - i > 1) || j - i > 5)
                return 0;
            uint32_t k = 0;
            for (size_t q = i; q < j; q++)
                k = k * 10 + (uint32_t)(s[q] - '0');
            if (k >= DMVF_MAX_REPEATED)
                return 0;
            c->idx[d] = k;
            i = j;
        }
        if (tf->sf->type != DMVF_T_MESSAGE) {
            c->sf = tf->sf;
            return i == n;
        }
        if (i == n)
            return 0;            /* a message is not a column; its leaves are */
        i++;                     /* the '.' */
        tn = tf->child;
    }
}

int dmvf__columns_from_row(const uint8_t *rowp, const dmvf__row *row, dmvf_columns **out,
                           dmvf_error *err)
{
    *out = NULL;
    /* an empty line is the header of no column (what a release of none of
     * its input's columns writes): rows are then empty lines too */
    int none = row->n == 1 && row->c[0].len == 0 && !row->c[0].quoted;
    dmvf_columns *c = cols_new(row->n);
    dmvf__wbuf tmp = {0};
    int rc = DMVF_OK;
    if (!c || !(c->cell_col = calloc(row->n, sizeof *c->cell_col))) {
        rc = set_err(err, DMVF_ENOMEM, "out of memory for a column list");
        goto done;
    }
    c->ncells = none ? 0 : row->n;
    for (size_t i = 0; i < c->ncells; i++) {
        size_t len;
        const uint8_t *v = dmvf__cell_value(rowp, &row->c[i], &tmp, &len);
        dmvf__col col;
        if (!v) {
            rc = set_err(err, DMVF_ENOMEM, "out of memory for a column list");
            goto done;
        }
        if (!parse_name((const char *)v, len, &col)) {
            c->cell_col[i] = -1;
            if (c->nunknown < DMVF__KEEP_UNKNOWN) {
                dmvf__text t = dmvf__text_mem();
                dmvf__text_escaped(&t, (const char *)v, len, 0);
                c->unknown[c->nunknown] = dmvf__arena_strndup(&c->a, t.p ? t.p : "", t.len);
                dmvf__text_free(&t);
                if (!c->unknown[c->nunknown] || t.failed) {
                    rc = set_err(err, DMVF_ENOMEM, "out of memory for a column list");
                    goto done;
                }
            }
            c->nunknown++;
            continue;
        }
        if (!(col.name = dmvf__arena_strndup(&c->a, (const char *)v, len))) {
            rc = set_err(err, DMVF_ENOMEM, "out of memory for a column list");
            goto done;
        }
        col.cell = (uint32_t)i;
        c->cell_col[i] = (int32_t)c->n;
        c->col[c->n++] = col;
    }
    rc = build_tree(c, err);
done:
    dmvf__wbuf_free(&tmp);
    if (rc) {
        dmvf_columns_free(c);
        return rc;
    }
    *out = c;
    return DMVF_OK;
}

/* ---- computed columns ---- */

/* Element groups per repeated field: the defaults, then the spec. */
typedef struct caps {
    const dmvf_sfield *sf[32];
    uint32_t n[32];
    size_t count;
    uint32_t all;
} caps;

static const struct { const char *path; uint32_t n; } default_caps[] = {
    {"person.aliases", 4}, {"license.restrictions", 6}, {"license.endorsements", 6},
    {"documents", 4}, {"vehicles", 4}, {"history", 10},
};

static void caps_set(caps *c, const dmvf_sfield *sf, uint32_t n)
{
    for (size_t i = 0; i < c->count; i++)
        if (c->sf[i] == sf) {
            c->n[i] = n;
            return;
        }
    if (c->count < sizeof c->sf / sizeof c->sf[0]) {
        c->sf[c->count] = sf;
        c->n[c->count++] = n;
    }
}

static uint32_t caps_get(const caps *c, const dmvf_sfield *sf)
{
    for (size_t i = 0; i < c->count; i++)
        if (c->sf[i] == sf)
            return c->n[i];
    return c->all;
}

static int caps_parse(caps *c, const char *spec, dmvf_error *err)
{
    memset(c, 0, sizeof *c);
    c->all = 4;
    for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++) {
        const dmvf_sfield *sf = dmvf__schema_find(default_caps[i].path);
        if (sf)
            caps_set(c, sf, default_caps[i].n);
    }
    if (!spec)
        return DMVF_OK;
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        const char *num = eq ? eq + 1 : p;
        size_t nlen = len - (size_t)(num - p);
        char path[128];
        uint32_t v = 0;
        int ok = nlen > 0 && nlen <= 5;
        for (size_t i = 0; ok && i < nlen; i++) {
            ok = num[i] >= '0' && num[i] <= '9';
            v = v * 10 + (uint32_t)(num[i] - '0');
        }
        ok = ok && v >= 1 && v <= DMVF_MAX_REPEATED;
        const dmvf_sfield *sf = NULL;
        if (ok && eq) {
            size_t plen = (size_t)(eq - p);
            ok = plen < sizeof path;
            if (ok) {
                memcpy(path, p, plen);
                path[plen] = '\0';
                sf = dmvf__schema_find(path);
                ok = sf && sf->repeated;
            }
        }
        if (!ok)
            return set_err(err, DMVF_EINVAL,
                           "element columns '%.*s': N or path=N expected (N 1..%u, path a repeated field)",
                           (int)(len < 100 ? len : 100), p, DMVF_MAX_REPEATED);
        if (sf) {
            caps_set(c, sf, v);
        } else {
            c->all = v;
            c->count = 0;   /* N sets every repeated field */
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return DMVF_OK;
}

int dmvf__columns_spec_check(const char *spec, dmvf_error *err)
{
    caps cp;
    return caps_parse(&cp, spec, err);
}

typedef struct gen {
    dmvf_columns *c;
    size_t cap;
    const caps *caps;
    dmvf__col cur;
    char name[256];
    int failed;
} gen;

static void gen_add(gen *g, const dmvf_sfield *sf, size_t nlen)
{
    if (g->failed)
        return;
    if (g->c->n == g->cap) {
        size_t cap = g->cap * 2;
        dmvf__col *col = cap <= DMVF_MAX_COLUMNS ? realloc(g->c->col, cap * sizeof *col) : NULL;
        if (!col) {
            g->failed = cap <= DMVF_MAX_COLUMNS ? DMVF_ENOMEM : DMVF_ETOOBIG;
            return;
        }
        g->c->col = col;
        g->cap = cap;
    }
    dmvf__col *c = &g->c->col[g->c->n];
    *c = g->cur;
    c->sf = sf;
    c->cell = (uint32_t)g->c->n;
    if (!(c->name = dmvf__arena_strndup(&g->c->a, g->name, nlen))) {
        g->failed = DMVF_ENOMEM;
        return;
    }
    g->c->n++;
}

/* Every leaf under tn (plan node pn, NULL: all) at depth d, the name so
 * far name[0..nlen). */
static void gen_walk(gen *g, const dmvf__tnode *tn, const dmvf_pnode *pn, unsigned d, size_t nlen)
{
    if (d >= DMVF__MAX_DEPTH)
        return;
    for (size_t i = 0; i < tn->n && !g->failed; i++) {
        const dmvf__tfield *tf = &tn->f[i];
        const dmvf_sfield *sf = tf->sf;
        const dmvf_pnode *child = NULL;
        if (pn) {
            const dmvf_fplan *fp = sf->number <= pn->max_number ? &pn->f[sf->number] : NULL;
            if (!fp || fp->action == DMVF_ACT_REDACT)
                continue;
            child = fp->action == DMVF_ACT_DESCEND ? fp->child : NULL;
            if (sf->type == DMVF_T_MESSAGE && !child)
                continue;
        }
        uint32_t n = sf->repeated ? caps_get(g->caps, sf) : 1;
        for (uint32_t k = 0; k < n && !g->failed; k++) {
            int len = sf->repeated ? snprintf(g->name + nlen, sizeof g->name - nlen, "%s%s.%u",
                                              nlen ? "." : "", sf->name, (unsigned)k)
                                   : snprintf(g->name + nlen, sizeof g->name - nlen, "%s%s",
                                              nlen ? "." : "", sf->name);
            if (len < 0 || (size_t)len >= sizeof g->name - nlen)
                abort(); /* the schema's paths fit */
            g->cur.num[d] = sf->number;
            g->cur.idx[d] = k;
            g->cur.depth = (uint8_t)(d + 1);
            if (sf->type == DMVF_T_MESSAGE)
                gen_walk(g, tf->child, child, d + 1, nlen + (size_t)len);
            else
                gen_add(g, sf, nlen + (size_t)len);
        }
        g->cur.depth = (uint8_t)d;
    }
}

int dmvf__columns_from_plan(const dmvf_plan *plan, const char *spec, dmvf_columns **out,
                            dmvf_error *err)
{
    caps cp;
    *out = NULL;
    int rc = caps_parse(&cp, spec, err);
    if (rc)
        return rc;
    gen g;
    memset(&g, 0, sizeof g);
    g.cap = 256;
    g.caps = &cp;
    if (!(g.c = cols_new(g.cap)))
        return set_err(err, DMVF_ENOMEM, "out of memory for a column list");
    gen_walk(&g, dmvf__tnode_root(), plan ? plan->root : NULL, 0, 0);
    if (g.failed) {
        rc = g.failed == DMVF_ETOOBIG
                 ? set_err(err, DMVF_ETOOBIG, "more than %u columns", DMVF_MAX_COLUMNS)
                 : set_err(err, DMVF_ENOMEM, "out of memory for a column list");
    } else {
        g.c->ncells = g.c->n;
        rc = build_tree(g.c, err);
    }
    if (rc) {
        dmvf_columns_free(g.c);
        return rc;
    }
    *out = g.c;
    return DMVF_OK;
}

/* 1 when plan releases the leaf at c's path (transformed or not). */
static int released(const dmvf_plan *plan, const dmvf__col *c)
{
    const dmvf_pnode *pn = plan->root;
    for (unsigned d = 0; d < c->depth; d++) {
        if (!pn || c->num[d] > pn->max_number)
            return 0;
        const dmvf_fplan *fp = &pn->f[c->num[d]];
        if (d + 1 == c->depth)
            return fp->action != DMVF_ACT_REDACT && fp->action != DMVF_ACT_DESCEND;
        if (fp->action != DMVF_ACT_DESCEND)
            return 0;
        pn = fp->child;
    }
    return 0;
}

/* The name of a column's steps: "vehicles.1.registered_address.city". */
static char *step_name(dmvf_arena *a, const dmvf__col *c)
{
    char name[256];
    dmvf__text t = dmvf__text_buf(name, sizeof name);
    const dmvf__tnode *tn = dmvf__tnode_root();
    for (unsigned d = 0; d < c->depth && tn; d++) {
        const dmvf__tfield *tf = tn->by_num[c->num[d]];
        if (d)
            dmvf__text_put(&t, ".", 1);
        dmvf__text_put(&t, tf->name, tf->nlen);
        if (tf->sf->repeated) {
            char k[24];
            k[0] = '.';
            dmvf__text_put(&t, k, 1 + dmvf__fmt_i64(k + 1, c->idx[d]));
        }
        tn = tf->child;
    }
    return t.failed ? NULL : dmvf__arena_strndup(a, name, t.len);
}

/* Sorted columns' element indexes numbered from 0 in their order, per
 * field within its enclosing element (vehicles.1.* and vehicles.3.* become
 * vehicles.0.* and vehicles.1.*): the reader closes gaps between present
 * elements, so a row's k elements are always in the first k groups. */
static int renumber(dmvf_columns *c, dmvf_error *err)
{
    uint32_t pnum[DMVF__MAX_DEPTH] = {0}, praw[DMVF__MAX_DEPTH] = {0}, pnew[DMVF__MAX_DEPTH] = {0};
    unsigned pdepth = 0;
    for (size_t i = 0; i < c->n; i++) {
        dmvf__col *col = &c->col[i];
        int same = i > 0, changed = 0;
        for (unsigned d = 0; d < col->depth; d++) {
            uint32_t raw = col->idx[d], v = 0;
            if (same && d < pdepth && pnum[d] == col->num[d]) {
                v = raw == praw[d] ? pnew[d] : pnew[d] + 1;
                same = raw == praw[d];
            } else {
                same = 0;
            }
            pnum[d] = col->num[d];
            praw[d] = raw;
            pnew[d] = v;
            changed |= v != raw;
            col->idx[d] = v;
        }
        pdepth = col->depth;
        if (changed && !(col->name = step_name(&c->a, col)))
            return set_err(err, DMVF_ENOMEM, "out of memory for a column list");
    }
    return DMVF_OK;
}

/* Sorted, renumbered columns closed downward: for every column, the same
 * path at every lower element index of each repeated step. The reader
 * closes gaps between present elements, so a value in element k of a row
 * can land in any element j < k of the record ("vehicles.0.plate_year,
 * vehicles.1.plate" and a row with only the plate: the record's element 0
 * has it), and the output needs a column there. Added, then sorted and
 * made unique; more than DMVF_MAX_COLUMNS in all is DMVF_ETOOBIG. */
static int close_down(dmvf_columns *c, dmvf_error *err)
{
    size_t total = c->n;
    for (size_t i = 0; i < c->n; i++) {
        size_t combos = 1;
        for (unsigned d = 0; d < c->col[i].depth && combos <= DMVF_MAX_COLUMNS; d++)
            combos *= (size_t)c->col[i].idx[d] + 1;
        if (combos > DMVF_MAX_COLUMNS || (total += combos - 1) > 4 * (size_t)DMVF_MAX_COLUMNS)
            return set_err(err, DMVF_ETOOBIG, "the CSV output would need more than %u columns",
                           DMVF_MAX_COLUMNS);
    }
    if (total == c->n)
        return DMVF_OK;
    dmvf__col *v = realloc(c->col, total * sizeof *v);
    if (!v)
        return set_err(err, DMVF_ENOMEM, "out of memory for a column list");
    c->col = v;
    size_t m = c->n;
    for (size_t i = 0; i < c->n; i++) {
        const dmvf__col *src = &v[i];
        uint32_t at[DMVF__MAX_DEPTH] = {0};
        for (;;) {   /* every at[d] <= idx[d], odometer-wise from all 0 */
            int lower = 0;
            for (unsigned e = 0; e < src->depth; e++)
                lower |= at[e] != src->idx[e];
            if (lower) {
                dmvf__col *n = &v[m++];
                *n = *src;
                memcpy(n->idx, at, sizeof at);
                n->name = NULL;   /* named below, once unique */
            }
            unsigned d = 0;
            while (d < src->depth && at[d] == src->idx[d])
                at[d++] = 0;
            if (d == src->depth)
                break;
            at[d]++;
        }
    }
    qsort(v, m, sizeof *v, by_steps);
    size_t o = 0;
    for (size_t i = 0; i < m; i++) {
        if (o > 0 && by_steps(&v[o - 1], &v[i]) == 0) {
            if (!v[o - 1].name)
                v[o - 1] = v[i];   /* the header's own, named, wins */
            continue;
        }
        v[o++] = v[i];
    }
    if (o > DMVF_MAX_COLUMNS)
        return set_err(err, DMVF_ETOOBIG, "the CSV output would need more than %u columns",
                       DMVF_MAX_COLUMNS);
    c->n = o;
    for (size_t i = 0; i < o; i++) {
        if (!v[i].name && !(v[i].name = step_name(&c->a, &v[i])))
            return set_err(err, DMVF_ENOMEM, "out of memory for a column list");
    }
    return DMVF_OK;
}

int dmvf__columns_subset(const dmvf_columns *in, const dmvf_plan *plan, dmvf_columns **out,
                         dmvf_error *err)
{
    *out = NULL;
    dmvf_columns *c = cols_new(in->n);
    if (!c)
        return set_err(err, DMVF_ENOMEM, "out of memory for a column list");
    int rc = DMVF_OK;
    for (size_t i = 0; i < in->n && !rc; i++) {
        if (plan && !released(plan, &in->col[i]))
            continue;
        dmvf__col *col = &c->col[c->n];
        *col = in->col[i];
        if (!(col->name = dmvf__arena_strndup(&c->a, in->col[i].name, strlen(in->col[i].name))))
            rc = set_err(err, DMVF_ENOMEM, "out of memory for a column list");
        c->n++;
    }
    if (!rc) {
        qsort(c->col, c->n, sizeof *c->col, by_steps);
        rc = renumber(c, err);
    }
    if (!rc)
        rc = close_down(c, err);
    if (!rc) {
        for (size_t i = 0; i < c->n; i++)
            c->col[i].cell = (uint32_t)i;   /* a row of these columns */
        c->ncells = c->n;
        rc = build_tree(c, err);
    }
    if (rc) {
        dmvf_columns_free(c);
        return rc;
    }
    *out = c;
    return DMVF_OK;
}

/* ---- the public functions ---- */

int dmvf_columns_parse(const void *s, size_t n, dmvf_columns **out, dmvf_error *err)
{
    DMVF_REQUIRE((s != NULL || n == 0) && out != NULL, "NULL argument");
    static const uint8_t none[1];
    const uint8_t *p = s ? s : none;
    *out = NULL;
    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
        n -= 3;
    }
    dmvf__row row = {0};
    size_t used = 0;
    int r = dmvf__csv_row(p, n, 1, DMVF_MAX_COLUMNS, &row, &used, err);
    int rc;
    if (r < 0)
        rc = err ? err->code : DMVF_EMALFORMED;
    else if (r == 0)
        rc = set_err(err, DMVF_EMALFORMED, "an empty header");
    else if (used < n)
        rc = set_err(err, DMVF_EMALFORMED, "more than one row where a header row was expected");
    else
        rc = dmvf__columns_from_row(p, &row, out, err);
    dmvf__row_free(&row);
    return rc;
}

int dmvf_columns_for_filter(const dmvf_filter *f, const dmvf_columns_options *opts,
                            dmvf_columns **out, dmvf_error *err)
{
    DMVF_REQUIRE(out != NULL, "out is NULL");
    *out = NULL;
    const dmvf_plan *plan = f ? dmvf__filter_plan(f) : NULL;
    if (f && !plan)
        return set_err(err, DMVF_EREFUSED, "the request releases no records: it has no columns");
    return dmvf__columns_from_plan(plan, opts ? opts->elements : NULL, out, err);
}

int dmvf_columns_released(const dmvf_columns *in, const dmvf_filter *f, dmvf_columns **out,
                          dmvf_error *err)
{
    DMVF_REQUIRE(in != NULL && f != NULL && out != NULL, "NULL argument");
    *out = NULL;
    const dmvf_plan *plan = dmvf__filter_plan(f);
    if (!plan)
        return set_err(err, DMVF_EREFUSED, "the request releases no records: it has no columns");
    return dmvf__columns_subset(in, plan, out, err);
}

size_t dmvf_columns_count(const dmvf_columns *c)
{
    DMVF_REQUIRE(c != NULL, "columns is NULL");
    return c->n;
}

const char *dmvf_columns_name(const dmvf_columns *c, size_t i)
{
    DMVF_REQUIRE(c != NULL && i < c->n, "column index out of range");
    return c->col[i].name;
}

size_t dmvf_columns_unknown_count(const dmvf_columns *c)
{
    DMVF_REQUIRE(c != NULL, "columns is NULL");
    return c->nunknown;
}

const char *dmvf_columns_unknown(const dmvf_columns *c, size_t i)
{
    DMVF_REQUIRE(c != NULL && i < c->nunknown && i < DMVF__KEEP_UNKNOWN, "index out of range");
    return c->unknown[i];
}
