/*
 * parse_node.c - the YAML node helpers and scalar readers the policy's
 * parse_*.c files share (parse_int.h): node kinds, scalars without NUL
 * bytes, names, mappings with distinct keys, lists; integers, bools, sizes
 * and refusal forms; file paths relative to the policy file; schema field
 * paths. Each check that fails says "file:line:column: reason" at the node.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/policy/parse_int.h"

/* ------------------------------------------------------------------ nodes */

int dmvf__yfail(dmvf__yload *L, const yaml_node_t *n, const char *fmt, ...)
{
    char buf[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return dmvf__perr(L->err, L->p->name, dmvf__yline(n), dmvf__ycol(n), "%s", buf);
}

int dmvf__ynomem(dmvf__yload *L)
{
    return dmvf__seterr(L->err, DMVF_ENOMEM, "%s: out of memory while loading the policy", L->p->name);
}

const char *dmvf__ykind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

/* A scalar without NUL bytes. */
int dmvf__yscalar(dmvf__yload *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE)
        return dmvf__yfail(L, n, "%s must be a scalar, not %s", what, dmvf__ykind(n));
    if (strlen(dmvf__ystr(n)) != n->data.scalar.length)
        return dmvf__yfail(L, n, "%s contains a NUL byte", what);
    return DMVF_OK;
}

int dmvf__yname(dmvf__yload *L, const yaml_node_t *n, const char *what)
{
    int rc = dmvf__yscalar(L, n, what);
    if (rc)
        return rc;
    if (!*dmvf__ystr(n))
        return dmvf__yfail(L, n, "%s is empty", what);
    /* names end up in one-line messages and logs: no control characters */
    for (const unsigned char *c = (const unsigned char *)dmvf__ystr(n); *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return dmvf__yfail(L, n, "%s holds a control character", what);
    return DMVF_OK;
}

typedef struct keyref {
    const yaml_node_t *k;
    size_t idx;
} keyref;

static int keyref_cmp(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    size_t lx = x->k->data.scalar.length, ly = y->k->data.scalar.length;
    int c = memcmp(x->k->data.scalar.value, y->k->data.scalar.value, lx < ly ? lx : ly);
    if (c)
        return c;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int dup_key(dmvf__yload *L, const yaml_node_t *k, const yaml_node_t *first, const char *what)
{
    return dmvf__yfail(L, k, "duplicate key '%s' in %s (first at line %u)", dmvf__ystr(k), what,
                       dmvf__yline(first));
}

/* A mapping whose keys are distinct scalars. Large mappings are checked by
 * sorting, so that a 1 MiB policy cannot make this quadratic; either way the
 * duplicate reported is the earliest second occurrence. */
int dmvf__ymap(dmvf__yload *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_MAPPING_NODE)
        return dmvf__yfail(L, n, "%s must be a mapping, not %s", what, dmvf__ykind(n));
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    for (size_t i = 0; i < cnt; i++) {
        int rc = dmvf__yscalar(L, dmvf__ynode(L, n->data.mapping.pairs.start[i].key), "a key");
        if (rc)
            return rc;
    }
    if (cnt <= 16) {
        for (size_t i = 1; i < cnt; i++) {
            yaml_node_t *k = dmvf__ynode(L, n->data.mapping.pairs.start[i].key);
            for (size_t j = 0; j < i; j++) {
                yaml_node_t *kb = dmvf__ynode(L, n->data.mapping.pairs.start[j].key);
                if (kb->data.scalar.length == k->data.scalar.length &&
                    strcmp(dmvf__ystr(kb), dmvf__ystr(k)) == 0)
                    return dup_key(L, k, kb, what);
            }
        }
        return DMVF_OK;
    }
    keyref *refs = malloc(cnt * sizeof *refs);
    if (!refs)
        return dmvf__ynomem(L);
    for (size_t i = 0; i < cnt; i++) {
        refs[i].k = dmvf__ynode(L, n->data.mapping.pairs.start[i].key);
        refs[i].idx = i;
    }
    qsort(refs, cnt, sizeof *refs, keyref_cmp);
    const keyref *second = NULL, *first = NULL;
    for (size_t i = 0, j; i < cnt; i = j) {
        /* a group of equal keys, in document order */
        for (j = i + 1; j < cnt && refs[j].k->data.scalar.length == refs[i].k->data.scalar.length &&
                        memcmp(refs[j].k->data.scalar.value, refs[i].k->data.scalar.value,
                               refs[i].k->data.scalar.length) == 0;
             j++)
            ;
        if (j - i >= 2 && (!second || refs[i + 1].idx < second->idx)) {
            first = &refs[i];
            second = &refs[i + 1];
        }
    }
    int rc = second ? dup_key(L, second->k, first->k, what) : DMVF_OK;
    free(refs);
    return rc;
}

int dmvf__yseq(dmvf__yload *L, const yaml_node_t *n, const char *what, int nonempty)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return dmvf__yfail(L, n, "%s must be a list, not %s", what, dmvf__ykind(n));
    if (nonempty && n->data.sequence.items.top == n->data.sequence.items.start)
        return dmvf__yfail(L, n, "%s is an empty list (leave the key out instead)", what);
    return DMVF_OK;
}

yaml_node_t *dmvf__yget(dmvf__yload *L, const yaml_node_t *m, const char *key)
{
    for (yaml_node_pair_t *a = m->data.mapping.pairs.start; a < m->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key);
        if (k->type == YAML_SCALAR_NODE && strcmp(dmvf__ystr(k), key) == 0)
            return dmvf__ynode(L, a->value);
    }
    return NULL;
}

char *dmvf__ydup(dmvf__yload *L, const yaml_node_t *n)
{
    return dmvf__arena_strndup(&L->p->arena, dmvf__ystr(n), n->data.scalar.length);
}

int dmvf__ystrlist(dmvf__yload *L, const yaml_node_t *n, const char *what, int (*ok)(const char *s, size_t n),
                   const char *syntax, const char *holder, const char *name, dmvf_strlist *out)
{
    int rc = dmvf__yseq(L, n, what, 1);
    if (rc)
        return rc;
    out->n = dmvf__yseq_len(n);
    out->v = dmvf__arena_alloc(&L->p->arena, out->n * sizeof *out->v);
    out->line = dmvf__arena_alloc(&L->p->arena, out->n * sizeof *out->line);
    out->col = dmvf__arena_alloc(&L->p->arena, out->n * sizeof *out->col);
    if (!out->v || !out->line || !out->col)
        return dmvf__ynomem(L);
    for (size_t i = 0; i < out->n; i++) {
        yaml_node_t *x = dmvf__ynode(L, n->data.sequence.items.start[i]);
        if ((rc = dmvf__yname(L, x, what)))
            return rc;
        if (!ok(dmvf__ystr(x), x->data.scalar.length))
            return dmvf__yfail(L, x, "'%s' in %s of %s '%s': %s", dmvf__ystr(x), what, holder, name,
                               syntax);
        if (!(out->v[i] = dmvf__ydup(L, x)))
            return dmvf__ynomem(L);
        out->line[i] = dmvf__yline(x);
        out->col[i] = dmvf__ycol(x);
    }
    return DMVF_OK;
}

/* ------------------------------------------------------------------ scalars */

/* Decimal digits only (a leading '-' when neg_ok), no overflow past max. */
int dmvf__parse_int(const char *s, int neg_ok, int64_t min, uint64_t max, int64_t *sv, uint64_t *uv)
{
    int neg = 0;
    uint64_t v = 0;
    if (*s == '-' && neg_ok) {
        neg = 1;
        s++;
    }
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (neg) {
        if (v > (uint64_t)(-(min + 1)) + 1)
            return -1;
        if (sv)
            *sv = v ? -(int64_t)(v - 1) - 1 : 0;
        if (uv)
            *uv = 0;
        return 0;
    }
    if (v > max)
        return -1;
    if (sv)
        *sv = (int64_t)v;
    if (uv)
        *uv = v;
    return 0;
}

int dmvf__parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(s, "false") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

int dmvf__parse_refusal(const char *s, dmvf_refusal *out)
{
    int v = dmvf__name_parse(&dmvf__refusals, s, DMVF_REFUSAL_REFUSED);
    if (v < 0)
        return -1;
    *out = (dmvf_refusal)v;
    return 0;
}

/* "65536", "64K", "64M", "1G", "1T" (binary multiples; "KiB", "MiB", ...
 * spelled out are accepted too), at least 1. */
int dmvf__parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0)
        return -1;
    unsigned shift = 0;
    switch (s[i]) {
    case '\0': break;
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: return -1;
    }
    if (shift) {
        i++;
        if (strcmp(s + i, "") != 0 && strcmp(s + i, "iB") != 0 && strcmp(s + i, "B") != 0)
            return -1;
        if (v > (UINT64_MAX >> shift))
            return -1;
        v <<= shift;
    }
    if (v == 0)
        return -1;
    *out = v;
    return 0;
}

int dmvf__ybool(dmvf__yload *L, const yaml_node_t *n, const char *what, int *out)
{
    int rc = dmvf__yscalar(L, n, what);
    if (rc)
        return rc;
    if (dmvf__parse_bool(dmvf__ystr(n), out))
        return dmvf__yfail(L, n, "%s must be true or false, not '%s'", what, dmvf__ystr(n));
    return DMVF_OK;
}

/* A file or directory path: absolute as written, relative to the policy
 * file's directory (base_dir) otherwise. */
int dmvf__ypath(dmvf__yload *L, const yaml_node_t *n, const char *what, const char **out)
{
    int rc = dmvf__yname(L, n, what);
    if (rc)
        return rc;
    const char *s = dmvf__ystr(n), *base = L->p->base_dir;
    size_t bl = s[0] == '/' ? 0 : strlen(base), sl = n->data.scalar.length;
    char *r = dmvf__arena_alloc(&L->p->arena, bl + sl + 1);
    if (!r)
        return dmvf__ynomem(L);
    memcpy(r, base, bl);
    memcpy(r + bl, s, sl + 1);
    *out = r;
    return DMVF_OK;
}

/* ------------------------------------------------------------------ schema field paths */

const char *dmvf__type_desc(const dmvf_sfield *sf)
{
    switch (sf->type) {
    case DMVF_T_STRING: return sf->repeated ? "a repeated string" : "a string";
    case DMVF_T_BYTES: return "bytes";
    case DMVF_T_UINT32: return sf->is_date ? "a uint32 date" : "a uint32";
    case DMVF_T_INT32: return "an int32";
    case DMVF_T_ENUM: return "an enum";
    case DMVF_T_BOOL: return "a bool";
    case DMVF_T_MESSAGE: return sf->repeated ? "a repeated message" : "a message";
    default: return "?";
    }
}

/* Resolves a written path: "a.b" (field or message) or "a.*" (message). */
int dmvf__yfield(dmvf__yload *L, const yaml_node_t *k, const dmvf_sfield **sf, int *prefix, char **key)
{
    const char *t = dmvf__ystr(k);
    size_t n = k->data.scalar.length;
    int star = n >= 2 && t[n - 2] == '.' && t[n - 1] == '*';
    char *base = dmvf__arena_strndup(&L->p->arena, t, star ? n - 2 : n);
    if (!base)
        return dmvf__ynomem(L);
    const dmvf_sfield *f = dmvf__schema_find(base);
    if (!f)
        return dmvf__yfail(L, k, "unknown field path '%s': no such field in schema dmv.v1", t);
    if (star && f->type != DMVF_T_MESSAGE)
        return dmvf__yfail(L, k, "'%s': %s is %s, not a message, so it has no fields under it", t, base,
                           dmvf__type_desc(f));
    *sf = f;
    *prefix = f->type == DMVF_T_MESSAGE;
    *key = base;
    return DMVF_OK;
}
