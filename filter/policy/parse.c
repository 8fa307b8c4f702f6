/*
 * policy_load.c - reads a policy file with libyaml's document API into the
 * structures of policy_int.h, checking everything that can be checked where
 * it is written: keys, node kinds, duplicate keys, field paths, actions and
 * their types, rule attributes. Cross-references (extends, profiles named by
 * rules, marking, reachability) are checked by policy_compile.c.
 *
 * Every error is DMVF_EPOLICY with "file:line:column: reason", the position
 * being the 1-based start of the offending YAML node.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <yaml.h>
#include "filter/core/hex.h"
#include "filter/policy/policy_int.h"

#define DMVF_POLICY_MAX_BYTES ((size_t)1 << 20)

/* ------------------------------------------------------------------ loader */

typedef struct ld {
    dmvf_policy *p;
    yaml_document_t *doc;
    dmvf_error *err;
} ld;

static unsigned LN(const yaml_node_t *n) { return (unsigned)n->start_mark.line + 1; }
static unsigned CN(const yaml_node_t *n) { return (unsigned)n->start_mark.column + 1; }

static int fail(ld *L, const yaml_node_t *n, const char *fmt, ...) DMVF_PRINTF(3, 4);
static int fail(ld *L, const yaml_node_t *n, const char *fmt, ...)
{
    char buf[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return dmvf__perr(L->err, L->p->name, LN(n), CN(n), "%s", buf);
}

static int nomem(ld *L)
{
    return dmvf__seterr(L->err, DMVF_ENOMEM, "%s: out of memory while loading the policy", L->p->name);
}

static yaml_node_t *N_(ld *L, int idx)
{
    return yaml_document_get_node(L->doc, idx);
}

static const char *S(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

/* A scalar without NUL bytes. */
static int want_scalar(ld *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(L, n, "%s must be a scalar, not %s", what, kind_name(n));
    if (strlen(S(n)) != n->data.scalar.length)
        return fail(L, n, "%s contains a NUL byte", what);
    return DMVF_OK;
}

static int want_nonempty(ld *L, const yaml_node_t *n, const char *what)
{
    int rc = want_scalar(L, n, what);
    if (rc)
        return rc;
    if (!*S(n))
        return fail(L, n, "%s is empty", what);
    /* names end up in one-line messages and logs: no control characters */
    for (const unsigned char *c = (const unsigned char *)S(n); *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return fail(L, n, "%s holds a control character", what);
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

static int dup_key(ld *L, const yaml_node_t *k, const yaml_node_t *first, const char *what)
{
    return fail(L, k, "duplicate key '%s' in %s (first at line %u)", S(k), what, LN(first));
}

/* A mapping whose keys are distinct scalars. Large mappings are checked by
 * sorting, so that a 1 MiB policy cannot make this quadratic; either way the
 * duplicate reported is the earliest second occurrence. */
static int want_map(ld *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(L, n, "%s must be a mapping, not %s", what, kind_name(n));
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    for (size_t i = 0; i < cnt; i++) {
        int rc = want_scalar(L, N_(L, n->data.mapping.pairs.start[i].key), "a key");
        if (rc)
            return rc;
    }
    if (cnt <= 16) {
        for (size_t i = 1; i < cnt; i++) {
            yaml_node_t *k = N_(L, n->data.mapping.pairs.start[i].key);
            for (size_t j = 0; j < i; j++) {
                yaml_node_t *kb = N_(L, n->data.mapping.pairs.start[j].key);
                if (kb->data.scalar.length == k->data.scalar.length && strcmp(S(kb), S(k)) == 0)
                    return dup_key(L, k, kb, what);
            }
        }
        return DMVF_OK;
    }
    keyref *refs = malloc(cnt * sizeof *refs);
    if (!refs)
        return nomem(L);
    for (size_t i = 0; i < cnt; i++) {
        refs[i].k = N_(L, n->data.mapping.pairs.start[i].key);
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

static int want_seq(ld *L, const yaml_node_t *n, const char *what, int nonempty)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(L, n, "%s must be a list, not %s", what, kind_name(n));
    if (nonempty && n->data.sequence.items.top == n->data.sequence.items.start)
        return fail(L, n, "%s is an empty list (leave the key out instead)", what);
    return DMVF_OK;
}

static yaml_node_t *map_get(ld *L, const yaml_node_t *m, const char *key)
{
    for (yaml_node_pair_t *a = m->data.mapping.pairs.start; a < m->data.mapping.pairs.top; a++) {
        yaml_node_t *k = N_(L, a->key);
        if (k->type == YAML_SCALAR_NODE && strcmp(S(k), key) == 0)
            return N_(L, a->value);
    }
    return NULL;
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static size_t map_len(const yaml_node_t *n)
{
    return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static char *dup_scalar(ld *L, const yaml_node_t *n)
{
    return dmvf__arena_strndup(&L->p->arena, S(n), n->data.scalar.length);
}

/* Decimal digits only (a leading '-' when neg_ok), no overflow past max. */
static int parse_int(const char *s, int neg_ok, int64_t min, uint64_t max, int64_t *sv, uint64_t *uv)
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

static int parse_bool(const char *s, int *out)
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

static int parse_refusal(const char *s, dmvf_refusal *out)
{
    int v = dmvf__name_parse(&dmvf__refusals, s, DMVF_REFUSAL_REFUSED);
    if (v < 0)
        return -1;
    *out = (dmvf_refusal)v;
    return 0;
}

/* ------------------------------------------------------------------ paths */

static const char *type_desc(const dmvf_sfield *sf)
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
static int resolve_path(ld *L, const yaml_node_t *k, const dmvf_sfield **sf, int *prefix, char **key)
{
    const char *t = S(k);
    size_t n = k->data.scalar.length;
    int star = n >= 2 && t[n - 2] == '.' && t[n - 1] == '*';
    char *base = dmvf__arena_strndup(&L->p->arena, t, star ? n - 2 : n);
    if (!base)
        return nomem(L);
    const dmvf_sfield *f = dmvf__schema_find(base);
    if (!f)
        return fail(L, k, "unknown field path '%s': no such field in schema dmv.v1", t);
    if (star && f->type != DMVF_T_MESSAGE)
        return fail(L, k, "'%s': %s is %s, not a message, so it has no fields under it", t, base, type_desc(f));
    *sf = f;
    *prefix = f->type == DMVF_T_MESSAGE;
    *key = base;
    return DMVF_OK;
}

/* ------------------------------------------------------------------ actions */

static int check_string_action(ld *L, const yaml_node_t *v, const char *act, const dmvf_sfield *sf)
{
    if (sf->type != DMVF_T_STRING)
        return fail(L, v, "action %s needs a string field; %s is %s", act, sf->path, type_desc(sf));
    return DMVF_OK;
}

/* "SsnStatus" -> "SSN_STATUS_" */
static void enum_prefix(const char *camel, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; camel[i] && o + 3 < cap; i++) {
        unsigned char c = (unsigned char)camel[i];
        if (i && isupper(c))
            out[o++] = '_';
        out[o++] = (char)toupper(c);
    }
    out[o++] = '_';
    out[o] = '\0';
}

static int parse_constant(ld *L, const yaml_node_t *v, const dmvf_sfield *sf, dmvf_fplan *a)
{
    if (v->type != YAML_SCALAR_NODE)
        return fail(L, v, "constant for %s must be a scalar, not %s", sf->path, kind_name(v));
    const char *s = S(v);
    int64_t sv;
    uint64_t uv;
    switch (sf->type) {
    case DMVF_T_STRING:
    case DMVF_T_BYTES: {
        size_t n = v->data.scalar.length;
        if (n > 4096)
            return fail(L, v, "constant for %s is %zu bytes; at most 4096", sf->path, n);
        uint8_t *c = dmvf__arena_alloc(&L->p->arena, n + 1);
        if (!c)
            return nomem(L);
        memcpy(c, s, n);
        a->cval = c;
        a->clen = (uint32_t)n;
        return DMVF_OK;
    }
    case DMVF_T_UINT32:
        if (strlen(s) != v->data.scalar.length || parse_int(s, 0, 0, UINT32_MAX, NULL, &uv))
            return fail(L, v, "constant '%s' for %s is not an integer in 0..4294967295", s, sf->path);
        if (sf->is_date && uv && !(uv >= 10101 && (uv / 100) % 100 >= 1 && (uv / 100) % 100 <= 12 &&
                                   uv % 100 >= 1 && uv % 100 <= 31))
            return fail(L, v, "constant '%s' for %s is not a YYYYMMDD date", s, sf->path);
        a->cnum = uv;
        return DMVF_OK;
    case DMVF_T_INT32:
        if (strlen(s) != v->data.scalar.length || parse_int(s, 1, INT32_MIN, INT32_MAX, &sv, NULL))
            return fail(L, v, "constant '%s' for %s is not an integer in -2147483648..2147483647", s, sf->path);
        a->cnum = (uint64_t)sv;
        return DMVF_OK;
    case DMVF_T_BOOL: {
        int b;
        if (parse_bool(s, &b))
            return fail(L, v, "constant '%s' for %s is not true or false", s, sf->path);
        a->cnum = (uint64_t)b;
        return DMVF_OK;
    }
    case DMVF_T_ENUM: {
        const ProtobufCEnumDescriptor *ed = sf->fd->descriptor;
        char pre[96];
        enum_prefix(ed->short_name, pre, sizeof pre);
        size_t pl = strlen(pre);
        int isnum = parse_int(s, 1, INT32_MIN, INT32_MAX, &sv, NULL) == 0;
        for (unsigned i = 0; i < ed->n_values; i++) {
            const ProtobufCEnumValue *ev = &ed->values[i];
            int hit = isnum ? ev->value == sv : strcmp(ev->name, s) == 0;
            if (!hit && !isnum && strncmp(ev->name, pre, pl) == 0 && strlen(s) == strlen(ev->name) - pl) {
                hit = 1;
                for (size_t j = 0; s[j]; j++)
                    if (toupper((unsigned char)s[j]) != (unsigned char)ev->name[pl + j])
                        hit = 0;
            }
            if (hit) {
                a->cnum = (uint64_t)(int64_t)ev->value;
                return DMVF_OK;
            }
        }
        return fail(L, v, "constant '%s' for %s is not a value of enum %s", s, sf->path, ed->name);
    }
    default:
        return fail(L, v, "constant needs a scalar field; %s is %s", sf->path, type_desc(sf));
    }
}

static int parse_mask(ld *L, const yaml_node_t *v, dmvf_fplan *a)
{
    int rc = want_map(L, v, "mask");
    if (rc)
        return rc;
    for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = N_(L, pr->key), *x = N_(L, pr->value);
        uint64_t n;
        int first = strcmp(S(k), "keep_first") == 0;
        if (!first && strcmp(S(k), "keep_last") != 0)
            return fail(L, k, "unknown key '%s' in mask (expected keep_first, keep_last)", S(k));
        if ((rc = want_scalar(L, x, S(k))))
            return rc;
        if (parse_int(S(x), 0, 0, 32, NULL, &n))
            return fail(L, x, "%s must be an integer in 0..32, not '%s'", S(k), S(x));
        if (first)
            a->mask_first = (uint8_t)n;
        else
            a->mask_last = (uint8_t)n;
    }
    return DMVF_OK;
}

static const char *const scalar_actions =
    "expected release, redact, pseudonymize, encrypt, {mask: ...}, {generalize: ...} or {constant: ...}";

static int parse_action(ld *L, const yaml_node_t *v, const dmvf_sfield *sf, int prefix, dmvf_fplan *a)
{
    int rc;
    memset(a, 0, sizeof *a);
    if (v->type == YAML_SCALAR_NODE) {
        const char *s = S(v);
        int act = dmvf__name_parse(&dmvf__actions, s, 0);
        if (act != DMVF_ACT_RELEASE && act != DMVF_ACT_REDACT && act != DMVF_ACT_PSEUDONYMIZE &&
            act != DMVF_ACT_ENCRYPT)
            return fail(L, v, "unknown action '%s' (%s)", s, scalar_actions);
        a->action = (uint8_t)act;
        if (prefix && a->action != DMVF_ACT_RELEASE && a->action != DMVF_ACT_REDACT)
            return fail(L, v, "action %s applies to one field; %s is a message (name its fields one by one)",
                        s, sf->path);
        if (a->action == DMVF_ACT_PSEUDONYMIZE || a->action == DMVF_ACT_ENCRYPT)
            return check_string_action(L, v, s, sf);
        return DMVF_OK;
    }
    if (v->type != YAML_MAPPING_NODE)
        return fail(L, v, "an action must be a scalar or a mapping, not %s", kind_name(v));
    if ((rc = want_map(L, v, "an action")))
        return rc;
    if (map_len(v) != 1)
        return fail(L, v, "an action mapping has exactly one key (%s)", scalar_actions);
    yaml_node_t *k = N_(L, v->data.mapping.pairs.start->key);
    yaml_node_t *x = N_(L, v->data.mapping.pairs.start->value);
    const char *name = S(k);
    int act = dmvf__name_parse(&dmvf__actions, name, 0);
    if (act != DMVF_ACT_MASK && act != DMVF_ACT_GENERALIZE && act != DMVF_ACT_CONSTANT)
        return fail(L, k, "unknown action '%s' (%s)", name, scalar_actions);
    if (prefix)
        return fail(L, k, "action %s applies to one field; %s is a message (name its fields one by one)",
                    name, sf->path);
    a->action = (uint8_t)act;
    if (act == DMVF_ACT_MASK) {
        if ((rc = check_string_action(L, k, "mask", sf)))
            return rc;
        return parse_mask(L, x, a);
    }
    if (act == DMVF_ACT_CONSTANT)
        return parse_constant(L, x, sf, a);
    if ((rc = want_scalar(L, x, "generalize")))
        return rc;
    const char *g = S(x);
    int gen = dmvf__name_parse(&dmvf__generalizations, g, 1);
    if (gen < 0)
        return fail(L, x, "unknown generalization '%s' (expected year, month, decade or zip3)", g);
    a->gen = (uint8_t)gen;
    if (gen == DMVF_GEN_ZIP3) {
        if (sf->type != DMVF_T_STRING)
            return fail(L, x, "generalize zip3 needs a string field; %s is %s", sf->path, type_desc(sf));
        return DMVF_OK;
    }
    if (sf->type != DMVF_T_UINT32 || !sf->is_date)
        return fail(L, x, "generalize %s needs a date field (uint32 YYYYMMDD); %s is %s", g, sf->path,
                    type_desc(sf));
    return DMVF_OK;
}

/* ------------------------------------------------------------------ profiles */

static int parse_profile(ld *L, const yaml_node_t *k, const yaml_node_t *v, dmvf_profile_def *pr)
{
    int rc;
    if ((rc = want_nonempty(L, k, "a profile name")))
        return rc;
    pr->name = dup_scalar(L, k);
    if (!pr->name)
        return nomem(L);
    pr->line = LN(k);
    pr->col = CN(k);
    char what[160];
    snprintf(what, sizeof what, "profile '%s'", pr->name);
    if ((rc = want_map(L, v, what)))
        return rc;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *kk = N_(L, a->key), *vv = N_(L, a->value);
        const char *key = S(kk);
        if (strcmp(key, "extends") == 0) {
            if ((rc = want_nonempty(L, vv, "extends")))
                return rc;
            if (!(pr->extends = dup_scalar(L, vv)))
                return nomem(L);
            pr->eline = LN(vv);
            pr->ecol = CN(vv);
        } else if (strcmp(key, "default") == 0) {
            if ((rc = want_scalar(L, vv, "default")))
                return rc;
            int act = dmvf__name_parse(&dmvf__actions, S(vv), 0);
            if (act != DMVF_ACT_RELEASE && act != DMVF_ACT_REDACT)
                return fail(L, vv, "default must be release or redact, not '%s'", S(vv));
            pr->def_action = (uint8_t)act;
            pr->has_default = 1;
            pr->def_line = LN(vv);
        } else if (strcmp(key, "fields") == 0) {
            char fw[200];
            snprintf(fw, sizeof fw, "fields of profile '%s'", pr->name);
            if ((rc = want_map(L, vv, fw)))
                return rc;
            pr->nown = map_len(vv);
            pr->own = dmvf__arena_alloc(&L->p->arena, (pr->nown ? pr->nown : 1) * sizeof *pr->own);
            if (!pr->own)
                return nomem(L);
            size_t i = 0;
            for (yaml_node_pair_t *f = vv->data.mapping.pairs.start; f < vv->data.mapping.pairs.top; f++, i++) {
                yaml_node_t *fk = N_(L, f->key), *fv = N_(L, f->value);
                dmvf_pentry *e = &pr->own[i];
                char *base;
                int prefix;
                if ((rc = resolve_path(L, fk, &e->sf, &prefix, &base)))
                    return rc;
                for (size_t j = 0; j < i; j++)
                    if (strcmp(pr->own[j].key, base) == 0)
                        return fail(L, fk, "'%s' names the same fields as '%s' (line %u) in profile '%s'",
                                    S(fk), pr->own[j].text, pr->own[j].line, pr->name);
                e->key = base;
                e->prefix = (uint8_t)prefix;
                if (!(e->text = dup_scalar(L, fk)))
                    return nomem(L);
                e->origin = pr->name;
                e->line = LN(fk);
                e->col = CN(fk);
                e->vline = LN(fv);
                e->vcol = CN(fv);
                if ((rc = parse_action(L, fv, e->sf, prefix, &e->act)))
                    return rc;
            }
        } else {
            return fail(L, kk, "unknown key '%s' in profile '%s' (expected extends, default, fields)", key,
                        pr->name);
        }
    }
    return DMVF_OK;
}

static int parse_profiles(ld *L, const yaml_node_t *v)
{
    int rc = want_map(L, v, "profiles");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    p->nprofiles = map_len(v);
    p->profiles = dmvf__arena_alloc(&p->arena, (p->nprofiles ? p->nprofiles : 1) * sizeof *p->profiles);
    if (!p->profiles)
        return nomem(L);
    size_t i = 0;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++, i++)
        if ((rc = parse_profile(L, N_(L, a->key), N_(L, a->value), &p->profiles[i])))
            return rc;
    return DMVF_OK;
}

/* ------------------------------------------------------------------ marking */

static int parse_norm(ld *L, const yaml_node_t *k, const yaml_node_t *v, dmvf_pnorm *nm)
{
    int rc, prefix;
    char *base;
    if ((rc = resolve_path(L, k, &nm->sf, &prefix, &base)))
        return rc;
    if (prefix || nm->sf->type != DMVF_T_STRING)
        return fail(L, k, "normalize needs a string field; %s is %s", nm->sf->path, type_desc(nm->sf));
    nm->line = LN(k);
    nm->col = CN(k);
    char what[160];
    snprintf(what, sizeof what, "normalization of %s", nm->sf->path);
    if ((rc = want_map(L, v, what)))
        return rc;
    size_t cap = 0;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *vv = N_(L, a->value);
        if (strcmp(S(N_(L, a->key)), "drop") == 0) {
            if ((rc = want_seq(L, vv, "drop", 1)))
                return rc;
            cap += seq_len(vv);
        } else {
            cap++;
        }
    }
    nm->e = dmvf__arena_alloc(&L->p->arena, (cap ? cap : 1) * sizeof *nm->e);
    if (!nm->e)
        return nomem(L);
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *kk = N_(L, a->key), *vv = N_(L, a->value);
        int drop = strcmp(S(kk), "drop") == 0;
        size_t nitems = drop ? seq_len(vv) : 1;
        for (size_t i = 0; i < nitems; i++) {
            const yaml_node_t *from = drop ? N_(L, vv->data.sequence.items.start[i]) : kk;
            if (drop && (rc = want_scalar(L, from, "a dropped value")))
                return rc;
            if (!drop && (rc = want_scalar(L, vv, "a replacement value")))
                return rc;
            for (size_t j = 0; j < nm->n; j++)
                if (nm->e[j].from_len == from->data.scalar.length &&
                    memcmp(nm->e[j].from, S(from), from->data.scalar.length) == 0)
                    return fail(L, from, "'%s' appears twice in the normalization of %s", S(from),
                                nm->sf->path);
            dmvf_norm_entry *e = &nm->e[nm->n++];
            char *f = dup_scalar(L, from);
            if (!f)
                return nomem(L);
            e->from = (const uint8_t *)f;
            e->from_len = (uint32_t)from->data.scalar.length;
            e->drop = (uint8_t)drop;
            if (!drop) {
                char *t = dup_scalar(L, vv);
                if (!t)
                    return nomem(L);
                e->to = (const uint8_t *)t;
                e->to_len = (uint32_t)vv->data.scalar.length;
            }
        }
    }
    return DMVF_OK;
}

static int parse_marking(ld *L, const yaml_node_t *v)
{
    int rc = want_map(L, v, "marking");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = N_(L, a->key), *x = N_(L, a->value);
        if (strcmp(S(k), "normalize") != 0)
            return fail(L, k, "unknown key '%s' in marking (expected normalize)", S(k));
        if ((rc = want_map(L, x, "marking.normalize")))
            return rc;
        p->nnorms = map_len(x);
        p->norms = dmvf__arena_alloc(&p->arena, (p->nnorms ? p->nnorms : 1) * sizeof *p->norms);
        if (!p->norms)
            return nomem(L);
        size_t i = 0;
        for (yaml_node_pair_t *b = x->data.mapping.pairs.start; b < x->data.mapping.pairs.top; b++, i++) {
            if ((rc = parse_norm(L, N_(L, b->key), N_(L, b->value), &p->norms[i])))
                return rc;
            for (size_t j = 0; j < i; j++)
                if (p->norms[j].sf == p->norms[i].sf)
                    return fail(L, N_(L, b->key), "%s is normalized twice (first at line %u)",
                                p->norms[i].sf->path, p->norms[j].line);
        }
    }
    return DMVF_OK;
}

/* ------------------------------------------------------------------ rules */

static int field_read(ld *L, const yaml_node_t *k, const char *rname)
{
    const char *t = S(k);
    size_t n = strlen(t);
    char base[128];
    if (n >= sizeof base)
        return 0;
    memcpy(base, t, n + 1);
    if (n >= 2 && base[n - 2] == '.' && base[n - 1] == '*')
        base[n - 2] = '\0';
    const dmvf_sfield *sf = dmvf__schema_find(base);
    if (!sf)
        return 0;
    if (sf->klass & (DMVF_CLASS_M | DMVF_CLASS_C))
        return fail(L, k,
                    "rule '%s' reads %s %s: decisions may not depend on marking or marking-correlated "
                    "fields, since a refusal that only marked records get is itself the marking",
                    rname, (sf->klass & DMVF_CLASS_M) ? "marking field" : "marking-correlated field", sf->path);
    return fail(L, k, "rule '%s' reads record field %s: rules decide on the request, not on record fields",
                rname, sf->path);
}

static int parse_strlist(ld *L, const yaml_node_t *v, const char *what, dmvf_strlist *out)
{
    int rc = want_seq(L, v, what, 1);
    if (rc)
        return rc;
    out->n = seq_len(v);
    out->v = dmvf__arena_alloc(&L->p->arena, out->n * sizeof *out->v);
    if (!out->v)
        return nomem(L);
    for (size_t i = 0; i < out->n; i++) {
        yaml_node_t *x = N_(L, v->data.sequence.items.start[i]);
        if ((rc = want_nonempty(L, x, what)))
            return rc;
        if (!(out->v[i] = dup_scalar(L, x)))
            return nomem(L);
    }
    return DMVF_OK;
}

typedef int (*enum_parse_fn)(const char *s, int *out);

static int agency_parse(const char *s, int *out)
{
    dmvf_agency_kind k;
    int rc = dmvf_agency_kind_parse(s, &k);
    *out = (int)k;
    return rc;
}

static int legal_parse(const char *s, int *out)
{
    dmvf_legal_process k;
    int rc = dmvf_legal_process_parse(s, &k);
    *out = (int)k;
    return rc;
}

static int query_parse(const char *s, int *out)
{
    dmvf_query_kind k;
    int rc = dmvf_query_kind_parse(s, &k);
    *out = (int)k;
    return rc;
}

static int parse_bits(ld *L, const yaml_node_t *v, const char *what, enum_parse_fn fn, const char *expected,
                      uint32_t *bits)
{
    int rc = want_seq(L, v, what, 1);
    if (rc)
        return rc;
    for (size_t i = 0; i < seq_len(v); i++) {
        yaml_node_t *x = N_(L, v->data.sequence.items.start[i]);
        int k = 0;
        if ((rc = want_scalar(L, x, what)))
            return rc;
        if (fn(S(x), &k) != DMVF_OK || k <= 0 || k >= 32)
            return fail(L, x, "unknown %s '%s' (expected %s)", what, S(x), expected);
        *bits |= 1u << k;
    }
    return DMVF_OK;
}

static int parse_match(ld *L, const yaml_node_t *v, dmvf_rule *r)
{
    char what[160];
    snprintf(what, sizeof what, "match of rule '%s'", r->name);
    int rc = want_map(L, v, what);
    if (rc)
        return rc;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = N_(L, a->key), *x = N_(L, a->value);
        const char *key = S(k);
        if (strcmp(key, "ori") == 0) {
            rc = parse_strlist(L, x, "ori", &r->ori);
            r->keys |= DMVF_MK_ORI;
        } else if (strcmp(key, "ori_prefix") == 0) {
            rc = parse_strlist(L, x, "ori_prefix", &r->ori_prefix);
            r->keys |= DMVF_MK_ORI_PREFIX;
        } else if (strcmp(key, "tags") == 0) {
            rc = parse_strlist(L, x, "tags", &r->tags);
            r->keys |= DMVF_MK_TAGS;
        } else if (strcmp(key, "jurisdiction") == 0) {
            rc = parse_strlist(L, x, "jurisdiction", &r->jurisdiction);
            r->keys |= DMVF_MK_JURISDICTION;
        } else if (strcmp(key, "agency_kind") == 0) {
            rc = parse_bits(L, x, "agency_kind", agency_parse,
                            "federal, state, local, tribal, foreign, court, research, commercial, internal",
                            &r->agency);
            r->keys |= DMVF_MK_AGENCY;
        } else {
            if ((rc = field_read(L, k, r->name)))
                return rc;
            return fail(L, k, "unknown key '%s' in match of rule '%s' (expected ori, ori_prefix, agency_kind, "
                        "tags, jurisdiction)", key, r->name);
        }
        if (rc)
            return rc;
    }
    return DMVF_OK;
}

static int parse_rule(ld *L, const yaml_node_t *v, size_t idx, dmvf_rule *r)
{
    char what[160];
    snprintf(what, sizeof what, "rule #%zu", idx + 1);
    int rc = want_map(L, v, what);
    if (rc)
        return rc;
    r->line = LN(v);
    r->col = CN(v);
    yaml_node_t *name = map_get(L, v, "name");
    if (!name)
        return fail(L, v, "rule #%zu has no name", idx + 1);
    if ((rc = want_nonempty(L, name, "a rule name")))
        return rc;
    if (!(r->name = dup_scalar(L, name)))
        return nomem(L);
    r->nline = LN(name);
    r->ncol = CN(name);
    for (size_t j = 0; j < idx; j++)
        if (strcmp(L->p->rules[j].name, r->name) == 0)
            return fail(L, name, "duplicate rule name '%s' (first at line %u)", r->name, L->p->rules[j].nline);
    int has_decision = 0;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = N_(L, a->key), *x = N_(L, a->value);
        const char *key = S(k);
        uint64_t n;
        if (strcmp(key, "name") == 0) {
            continue;
        } else if (strcmp(key, "match") == 0) {
            rc = parse_match(L, x, r);
        } else if (strcmp(key, "decision") == 0) {
            if ((rc = want_scalar(L, x, "decision")))
                return rc;
            int d = dmvf__name_parse(&dmvf__decisions, S(x), DMVF_DECISION_RELEASE);
            if (d < 0)
                return fail(L, x, "unknown decision '%s' in rule '%s' (expected release, deny, review)", S(x),
                            r->name);
            r->decision = (dmvf_decision)d;
            has_decision = 1;
            r->dline = LN(x);
            r->dcol = CN(x);
        } else if (strcmp(key, "purposes") == 0) {
            if ((rc = want_seq(L, x, "purposes", 1)))
                return rc;
            for (size_t i = 0; i < seq_len(x); i++) {
                yaml_node_t *y = N_(L, x->data.sequence.items.start[i]);
                if ((rc = want_scalar(L, y, "a purpose")))
                    return rc;
                if (parse_int(S(y), 0, 0, UINT32_MAX, NULL, &n) || n < 1 || n > 14)
                    return fail(L, y, "purpose '%s' out of range: DPPA permissible uses are 1..14 "
                                "(18 U.S.C. 2721(b))", S(y));
                r->purposes |= 1u << n;
            }
        } else if (strcmp(key, "legal_process") == 0) {
            rc = parse_bits(L, x, "legal_process", legal_parse,
                            "none, administrative_subpoena, judicial_subpoena, court_order, judicial_warrant",
                            &r->legal);
        } else if (strcmp(key, "query_kinds") == 0) {
            rc = parse_bits(L, x, "query_kinds", query_parse,
                            "by_license, by_name_dob, by_plate, by_vin, by_name_only, by_address, "
                            "by_attribute, partial_plate, list", &r->queries);
        } else if (strcmp(key, "max_records") == 0) {
            if ((rc = want_scalar(L, x, "max_records")))
                return rc;
            if (parse_int(S(x), 0, 0, UINT64_MAX, NULL, &n) || n < 1)
                return fail(L, x, "max_records must be an integer >= 1, not '%s'", S(x));
            r->max_records = n;
        } else if (strcmp(key, "certified_until") == 0) {
            if ((rc = want_scalar(L, x, "certified_until")))
                return rc;
            if (!(r->certified_until = dmvf__date_parse(S(x), strlen(S(x)))))
                return fail(L, x, "bad date '%s' in certified_until (expected YYYY-MM-DD)", S(x));
        } else if (strcmp(key, "notify_subject") == 0) {
            if ((rc = want_scalar(L, x, "notify_subject")))
                return rc;
            if (parse_bool(S(x), &r->notify_subject))
                return fail(L, x, "notify_subject must be true or false, not '%s'", S(x));
            r->nsline = LN(x);
            r->nscol = CN(x);
        } else if (strcmp(key, "refusal") == 0) {
            if ((rc = want_scalar(L, x, "refusal")))
                return rc;
            if (parse_refusal(S(x), &r->refusal))
                return fail(L, x, "unknown refusal '%s' (expected refused, not-found)", S(x));
            r->has_refusal = 1;
        } else if (strcmp(key, "profile") == 0) {
            if ((rc = want_nonempty(L, x, "profile")))
                return rc;
            if (!(r->profile_name = dup_scalar(L, x)))
                return nomem(L);
            r->pline = LN(x);
            r->pcol = CN(x);
        } else if (strcmp(key, "marking") == 0) {
            if ((rc = want_scalar(L, x, "marking")))
                return rc;
            if (strcmp(S(x), "release") == 0)
                r->marking_release = 1;
            else if (strcmp(S(x), "suppress") != 0)
                return fail(L, x, "marking must be release or suppress, not '%s'", S(x));
            r->mline = LN(x);
            r->mcol = CN(x);
        } else {
            if ((rc = field_read(L, k, r->name)))
                return rc;
            return fail(L, k, "unknown key '%s' in rule '%s' (expected name, match, decision, purposes, "
                        "legal_process, query_kinds, max_records, certified_until, notify_subject, refusal, "
                        "profile, marking)", key, r->name);
        }
        if (rc)
            return rc;
    }
    if (!has_decision)
        return fail(L, v, "rule '%s' has no decision (release, deny or review)", r->name);
    return DMVF_OK;
}

static int parse_rules(ld *L, const yaml_node_t *v)
{
    int rc = want_seq(L, v, "rules", 0);
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    p->nrules = seq_len(v);
    p->rules = dmvf__arena_alloc(&p->arena, (p->nrules ? p->nrules : 1) * sizeof *p->rules);
    if (!p->rules)
        return nomem(L);
    for (size_t i = 0; i < p->nrules; i++)
        if ((rc = parse_rule(L, N_(L, v->data.sequence.items.start[i]), i, &p->rules[i])))
            return rc;
    return DMVF_OK;
}

/* ------------------------------------------------------------------ accountability sections */

/* A file or directory path: absolute as written, relative to the policy
 * file's directory (base_dir) otherwise. */
static int want_path(ld *L, const yaml_node_t *n, const char *what, const char **out)
{
    int rc = want_nonempty(L, n, what);
    if (rc)
        return rc;
    const char *s = S(n), *base = L->p->base_dir;
    size_t bl = s[0] == '/' ? 0 : strlen(base), sl = n->data.scalar.length;
    char *r = dmvf__arena_alloc(&L->p->arena, bl + sl + 1);
    if (!r)
        return nomem(L);
    memcpy(r, base, bl);
    memcpy(r + bl, s, sl + 1);
    *out = r;
    return DMVF_OK;
}

static int want_bool(ld *L, const yaml_node_t *n, const char *what, int *out)
{
    int rc = want_scalar(L, n, what);
    if (rc)
        return rc;
    if (parse_bool(S(n), out))
        return fail(L, n, "%s must be true or false, not '%s'", what, S(n));
    return DMVF_OK;
}

/* "65536", "64K", "64M", "1G", "1T" (binary multiples; "KiB", "MiB", ...
 * spelled out are accepted too), at least 1. */
static int parse_size(const char *s, uint64_t *out)
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

static int parse_audit(ld *L, const yaml_node_t *v)
{
    int rc = want_map(L, v, "audit");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = N_(L, a->key), *x = N_(L, a->value);
        const char *key = S(k);
        uint64_t n;
        if (strcmp(key, "dir") == 0) {
            rc = want_path(L, x, "audit dir", &p->audit.dir);
        } else if (strcmp(key, "required") == 0) {
            rc = want_bool(L, x, "audit required", &p->audit.required);
        } else if (strcmp(key, "subjects") == 0) {
            rc = want_bool(L, x, "audit subjects", &p->audit.subjects);
        } else if (strcmp(key, "compress") == 0) {
            rc = want_bool(L, x, "audit compress", &p->audit.compress);
        } else if (strcmp(key, "rotate_bytes") == 0) {
            if ((rc = want_scalar(L, x, "audit rotate_bytes")))
                return rc;
            if (parse_size(S(x), &n))
                return fail(L, x, "audit rotate_bytes must be a size of at least 1 byte such as 1048576, 512K, "
                            "64M or 1G, not '%s'", S(x));
            p->audit.rotate_bytes = n;
        } else if (strcmp(key, "rotate_seconds") == 0) {
            if ((rc = want_scalar(L, x, "audit rotate_seconds")))
                return rc;
            if (parse_int(S(x), 0, 0, UINT64_MAX, NULL, &n) || n < 1)
                return fail(L, x, "audit rotate_seconds must be an integer >= 1, not '%s'", S(x));
            p->audit.rotate_seconds = n;
        } else {
            return fail(L, k, "unknown key '%s' in audit (expected dir, required, subjects, rotate_bytes, "
                        "rotate_seconds, compress)", key);
        }
        if (rc)
            return rc;
    }
    p->has_audit = 1;
    return DMVF_OK;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int parse_notices(ld *L, const yaml_node_t *v)
{
    int rc = want_map(L, v, "notices");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    p->notices.due_days = 3;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = N_(L, a->key), *x = N_(L, a->value);
        const char *key = S(k);
        uint64_t n;
        if (strcmp(key, "queue") == 0) {
            rc = want_path(L, x, "notices queue", &p->notices.queue);
        } else if (strcmp(key, "due_days") == 0) {
            if ((rc = want_scalar(L, x, "notices due_days")))
                return rc;
            if (parse_int(S(x), 0, 0, UINT64_MAX, NULL, &n) || n < 1 || n > 60)
                return fail(L, x, "notices due_days must be an integer in 1..60, not '%s'", S(x));
            p->notices.due_days = (unsigned)n;
        } else if (strcmp(key, "business_days") == 0) {
            rc = want_bool(L, x, "notices business_days", &p->notices.business_days);
        } else if (strcmp(key, "holidays") == 0) {
            if ((rc = want_seq(L, x, "notices holidays", 0)))
                return rc;
            size_t cnt = seq_len(x);
            uint32_t *h = dmvf__arena_alloc(&p->arena, (cnt ? cnt : 1) * sizeof *h);
            if (!h)
                return nomem(L);
            for (size_t i = 0; i < cnt; i++) {
                yaml_node_t *y = N_(L, x->data.sequence.items.start[i]);
                if ((rc = want_scalar(L, y, "a holiday")))
                    return rc;
                if (!(h[i] = dmvf__date_parse(S(y), strlen(S(y)))))
                    return fail(L, y, "bad date '%s' in notices holidays (expected YYYY-MM-DD)", S(y));
            }
            if (cnt)
                qsort(h, cnt, sizeof *h, u32_cmp);
            p->notices.holidays = h;
            p->notices.nholidays = cnt;
        } else {
            return fail(L, k, "unknown key '%s' in notices (expected queue, due_days, business_days, holidays)",
                        key);
        }
        if (rc)
            return rc;
    }
    if (!p->notices.queue)
        return fail(L, v, "notices has no queue (the file subject notices are appended to)");
    p->has_notices = 1;
    return DMVF_OK;
}

static int parse_review(ld *L, const yaml_node_t *v)
{
    int rc = want_map(L, v, "review");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = N_(L, a->key), *x = N_(L, a->value);
        const char *key = S(k);
        if (strcmp(key, "spool") == 0)
            rc = want_path(L, x, "review spool", &p->review.spool);
        else if (strcmp(key, "public_key") == 0)
            rc = want_path(L, x, "review public_key", &p->review.public_key);
        else
            return fail(L, k, "unknown key '%s' in review (expected spool, public_key)", key);
        if (rc)
            return rc;
    }
    if (!p->review.spool)
        return fail(L, v, "review has no spool (the directory requests held for review are sealed into)");
    if (!p->review.public_key)
        return fail(L, v, "review has no public_key (the reviewers' public key file, dmvfilter review keygen)");
    p->has_review = 1;
    return DMVF_OK;
}

/* ------------------------------------------------------------------ top level */

static int parse_top(ld *L, const yaml_node_t *root)
{
    int rc = want_map(L, root, "the policy");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    yaml_node_t *ver = map_get(L, root, "version");
    if (!ver)
        return fail(L, root, "missing required key 'version' (version: 1)");
    if ((rc = want_scalar(L, ver, "version")))
        return rc;
    if (strcmp(S(ver), "1") != 0)
        return fail(L, ver, "unsupported policy version '%s' (this dmvfilter reads version 1)", S(ver));
    if (!map_get(L, root, "rules"))
        return fail(L, root, "missing required key 'rules'");
    for (yaml_node_pair_t *a = root->data.mapping.pairs.start; a < root->data.mapping.pairs.top; a++) {
        yaml_node_t *k = N_(L, a->key), *v = N_(L, a->value);
        const char *key = S(k);
        if (strcmp(key, "version") == 0) {
            continue;
        } else if (strcmp(key, "jurisdiction") == 0) {
            if ((rc = want_nonempty(L, v, "jurisdiction")))
                return rc;
            if (!(p->jurisdiction = dup_scalar(L, v)))
                return nomem(L);
        } else if (strcmp(key, "refusal") == 0) {
            if ((rc = want_scalar(L, v, "refusal")))
                return rc;
            if (parse_refusal(S(v), &p->refusal))
                return fail(L, v, "unknown refusal '%s' (expected refused, not-found)", S(v));
        } else if (strcmp(key, "profiles") == 0) {
            rc = parse_profiles(L, v);
        } else if (strcmp(key, "marking") == 0) {
            rc = parse_marking(L, v);
        } else if (strcmp(key, "rules") == 0) {
            rc = parse_rules(L, v);
        } else if (strcmp(key, "audit") == 0) {
            rc = parse_audit(L, v);
        } else if (strcmp(key, "notices") == 0) {
            rc = parse_notices(L, v);
        } else if (strcmp(key, "review") == 0) {
            rc = parse_review(L, v);
        } else {
            return fail(L, k, "unknown key '%s' at top level (expected version, jurisdiction, refusal, "
                        "profiles, marking, rules, audit, notices, review)", key);
        }
        if (rc)
            return rc;
    }
    return DMVF_OK;
}

static int yaml_fail(dmvf_policy *p, const yaml_parser_t *ps, const char *yaml, size_t len, dmvf_error *err)
{
    /* libyaml fails without naming an error only when an allocation failed */
    if (ps->error == YAML_MEMORY_ERROR || ps->error == YAML_NO_ERROR)
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory while parsing YAML", p->name);
    const char *problem = ps->problem ? ps->problem : "unknown error";
    if (ps->error == YAML_READER_ERROR) {
        /* the reader reports a byte offset: turn it into a line and column */
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < ps->problem_offset && i < len; i++) {
            if (yaml[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)yaml[i] & 0xc0) != 0x80) {
                col++;
            }
        }
        return dmvf__perr(err, p->name, line, col, "YAML error: %s (byte offset %zu)", problem,
                          ps->problem_offset);
    }
    unsigned line = (unsigned)ps->problem_mark.line + 1, col = (unsigned)ps->problem_mark.column + 1;
    if (ps->context)
        return dmvf__perr(err, p->name, line, col, "YAML syntax error: %s (%s at line %u, column %u)", problem,
                          ps->context, (unsigned)ps->context_mark.line + 1,
                          (unsigned)ps->context_mark.column + 1);
    return dmvf__perr(err, p->name, line, col, "YAML syntax error: %s", problem);
}

static int load_yaml(dmvf_policy *p, const char *yaml, size_t len, dmvf_error *err)
{
    yaml_parser_t ps;
    yaml_document_t doc, doc2;
    int rc;
    if (!yaml_parser_initialize(&ps))
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    yaml_parser_set_input_string(&ps, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&ps, &doc)) {
        rc = yaml_fail(p, &ps, yaml, len, err);
        yaml_parser_delete(&ps);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = dmvf__perr(err, p->name, 1, 1, "empty policy (expected a mapping with version and rules)");
    } else if (!yaml_parser_load(&ps, &doc2)) {
        rc = yaml_fail(p, &ps, yaml, len, err);
    } else {
        yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
        if (r2)
            rc = dmvf__perr(err, p->name, LN(r2), CN(r2), "a policy is one YAML document; found a second one");
        else {
            ld L = {p, &doc, err};
            rc = parse_top(&L, root);
        }
        yaml_document_delete(&doc2);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&ps);
    return rc;
}

/* ------------------------------------------------------------------ public */

/* dir: what relative paths in the policy are resolved against: "" (as
 * given) or a directory ending in '/'; dlen its length. */
static dmvf_policy *load_buffer(const char *yaml, size_t len, const char *name, const char *dir, size_t dlen,
                                dmvf_error *err)
{
    if (len > DMVF_POLICY_MAX_BYTES) {
        dmvf__perr(err, name, 0, 0, "policy is %zu bytes; the limit is 1 MiB", len);
        return NULL;
    }
    if (sodium_init() < 0) {
        dmvf__seterr(err, DMVF_ENOMEM, "%s: libsodium failed to initialize", name);
        return NULL;
    }
    dmvf_policy *p = calloc(1, sizeof *p);
    if (p)
        atomic_init(&p->users, 0);
    if (!p) {
        dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    p->refusal = DMVF_REFUSAL_REFUSED;
    p->name = dmvf__arena_strndup(&p->arena, name, strlen(name));
    p->base_dir = dmvf__arena_strndup(&p->arena, dir, dlen);
    if (!p->name || !p->base_dir) {
        dmvf__arena_free(&p->arena);
        free(p);
        dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)(yaml ? yaml : ""), len, NULL, 0);
    _Static_assert(sizeof ((dmvf_policy *)0)->id == 2 * sizeof h + 1, "policy id size");
    dmvf__hex_encode(p->id, h, sizeof h);
    if (load_yaml(p, yaml ? yaml : "", len, err) != DMVF_OK || dmvf__policy_compile(p, err) != DMVF_OK) {
        dmvf_policy_free(p);
        return NULL;
    }
    return p;
}

dmvf_policy *dmvf_policy_load_buffer(const char *yaml, size_t len, const char *name, dmvf_error *err)
{
    DMVF_REQUIRE(yaml || len == 0, "yaml is NULL");
    if (!name)
        name = "<policy>";
    return load_buffer(yaml, len, name, "", 0, err);
}

dmvf_policy *dmvf_policy_load_file(const char *path, dmvf_error *err)
{
    DMVF_REQUIRE(path != NULL, "path is NULL");
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        dmvf__seterr(err, DMVF_EIO, "%s: cannot open policy: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = DMVF_POLICY_MAX_BYTES + 1;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    size_t n = fread(buf, 1, cap, fp);
    int rerr = ferror(fp);
    fclose(fp);
    dmvf_policy *p = NULL;
    if (rerr)
        dmvf__seterr(err, DMVF_EIO, "%s: cannot read policy", path);
    else if (n > DMVF_POLICY_MAX_BYTES)
        dmvf__perr(err, path, 0, 0, "policy is larger than 1 MiB");
    else {
        /* relative paths inside are relative to the file's directory */
        const char *slash = strrchr(path, '/');
        p = load_buffer(buf, n, path, path, slash ? (size_t)(slash - path) + 1 : 0, err);
    }
    free(buf);
    return p;
}

void dmvf__policy_acquire(const dmvf_policy *p)
{
    atomic_fetch_add_explicit(&((dmvf_policy *)p)->users, 1, memory_order_relaxed);
}

void dmvf__policy_release(const dmvf_policy *p)
{
    size_t was = atomic_fetch_sub_explicit(&((dmvf_policy *)p)->users, 1, memory_order_release);
    DMVF_REQUIRE(was > 0, "policy released more often than it was acquired");
}

void dmvf_policy_free(dmvf_policy *p)
{
    if (!p)
        return;
    size_t n = atomic_load_explicit(&p->users, memory_order_acquire);
    if (n) {
        char what[128];
        snprintf(what, sizeof what,
                 "policy is still used by %zu filter or framed stream handle(s): free them first", n);
        dmvf__misuse(__func__, what);
    }
    dmvf__policy_release_plans(p);
    dmvf__arena_free(&p->arena);
    free(p);
}

const char *dmvf_policy_id(const dmvf_policy *p)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    return p->id;
}

/* ------------------------------------------------------------------ settings */

void dmvf_policy_audit_settings(const dmvf_policy *p, dmvf_policy_audit *out)
{
    DMVF_REQUIRE(p != NULL && out != NULL, "NULL argument");
    *out = p->audit;
}

void dmvf_policy_notice_settings(const dmvf_policy *p, dmvf_policy_notices *out)
{
    DMVF_REQUIRE(p != NULL && out != NULL, "NULL argument");
    *out = p->notices;
    if (!p->has_notices)
        out->due_days = 3;
}

void dmvf_policy_review_settings(const dmvf_policy *p, dmvf_policy_review *out)
{
    DMVF_REQUIRE(p != NULL && out != NULL, "NULL argument");
    *out = p->review;
}
