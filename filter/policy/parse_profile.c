/*
 * parse_profile.c - the profiles section: each profile's extends, default
 * and fields, and each field's action with the arguments it takes (mask,
 * generalize, constant), checked against the type of the position it names.
 *
 *   profiles:
 *     NAME: {extends: NAME, default: release|redact, fields: {PATH: ACTION, ...}}
 *   ACTION := release | redact | pseudonymize | encrypt
 *           | {mask: {keep_first: N, keep_last: N}} | {generalize: year|month|decade|zip3}
 *           | {constant: VALUE}
 *   PATH   := a.b (a field, or a message: the subtree) | a.*
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "filter/policy/parse_int.h"

/* ------------------------------------------------------------------ actions */

static int check_string_action(dmvf__yload *L, const yaml_node_t *v, const char *act, const dmvf_sfield *sf)
{
    if (sf->type != DMVF_T_STRING)
        return dmvf__yfail(L, v, "action %s needs a string field; %s is %s", act, sf->path,
                           dmvf__type_desc(sf));
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

static int parse_constant(dmvf__yload *L, const yaml_node_t *v, const dmvf_sfield *sf, dmvf_fplan *a)
{
    if (v->type != YAML_SCALAR_NODE)
        return dmvf__yfail(L, v, "constant for %s must be a scalar, not %s", sf->path, dmvf__ykind(v));
    const char *s = dmvf__ystr(v);
    int64_t sv;
    uint64_t uv;
    switch (sf->type) {
    case DMVF_T_STRING:
    case DMVF_T_BYTES: {
        size_t n = v->data.scalar.length;
        if (n > 4096)
            return dmvf__yfail(L, v, "constant for %s is %zu bytes; at most 4096", sf->path, n);
        uint8_t *c = dmvf__arena_alloc(&L->p->arena, n + 1);
        if (!c)
            return dmvf__ynomem(L);
        memcpy(c, s, n);
        a->cval = c;
        a->clen = (uint32_t)n;
        return DMVF_OK;
    }
    case DMVF_T_UINT32:
        if (strlen(s) != v->data.scalar.length || dmvf__parse_int(s, 0, 0, UINT32_MAX, NULL, &uv))
            return dmvf__yfail(L, v, "constant '%s' for %s is not an integer in 0..4294967295", s, sf->path);
        if (sf->is_date && uv && !(uv >= 10101 && (uv / 100) % 100 >= 1 && (uv / 100) % 100 <= 12 &&
                                   uv % 100 >= 1 && uv % 100 <= 31))
            return dmvf__yfail(L, v, "constant '%s' for %s is not a YYYYMMDD date", s, sf->path);
        a->cnum = uv;
        return DMVF_OK;
    case DMVF_T_INT32:
        if (strlen(s) != v->data.scalar.length || dmvf__parse_int(s, 1, INT32_MIN, INT32_MAX, &sv, NULL))
            return dmvf__yfail(L, v, "constant '%s' for %s is not an integer in -2147483648..2147483647", s,
                               sf->path);
        a->cnum = (uint64_t)sv;
        return DMVF_OK;
    case DMVF_T_BOOL: {
        int b;
        if (dmvf__parse_bool(s, &b))
            return dmvf__yfail(L, v, "constant '%s' for %s is not true or false", s, sf->path);
        a->cnum = (uint64_t)b;
        return DMVF_OK;
    }
    case DMVF_T_ENUM: {
        const ProtobufCEnumDescriptor *ed = sf->fd->descriptor;
        char pre[96];
        enum_prefix(ed->short_name, pre, sizeof pre);
        size_t pl = strlen(pre);
        int isnum = dmvf__parse_int(s, 1, INT32_MIN, INT32_MAX, &sv, NULL) == 0;
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
        return dmvf__yfail(L, v, "constant '%s' for %s is not a value of enum %s", s, sf->path, ed->name);
    }
    default:
        return dmvf__yfail(L, v, "constant needs a scalar field; %s is %s", sf->path, dmvf__type_desc(sf));
    }
}

static int parse_mask(dmvf__yload *L, const yaml_node_t *v, dmvf_fplan *a)
{
    int rc = dmvf__ymap(L, v, "mask");
    if (rc)
        return rc;
    for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = dmvf__ynode(L, pr->key), *x = dmvf__ynode(L, pr->value);
        uint64_t n;
        int first = strcmp(dmvf__ystr(k), "keep_first") == 0;
        if (!first && strcmp(dmvf__ystr(k), "keep_last") != 0)
            return dmvf__yfail(L, k, "unknown key '%s' in mask (expected keep_first, keep_last)",
                               dmvf__ystr(k));
        if ((rc = dmvf__yscalar(L, x, dmvf__ystr(k))))
            return rc;
        if (dmvf__parse_int(dmvf__ystr(x), 0, 0, 32, NULL, &n))
            return dmvf__yfail(L, x, "%s must be an integer in 0..32, not '%s'", dmvf__ystr(k), dmvf__ystr(x));
        if (first)
            a->mask_first = (uint8_t)n;
        else
            a->mask_last = (uint8_t)n;
    }
    return DMVF_OK;
}

static const char *const scalar_actions =
    "expected release, redact, pseudonymize, encrypt, {mask: ...}, {generalize: ...} or {constant: ...}";

static int parse_action(dmvf__yload *L, const yaml_node_t *v, const dmvf_sfield *sf, int prefix, dmvf_fplan *a)
{
    int rc;
    memset(a, 0, sizeof *a);
    if (v->type == YAML_SCALAR_NODE) {
        const char *s = dmvf__ystr(v);
        int act = dmvf__name_parse(&dmvf__actions, s, 0);
        if (act != DMVF_ACT_RELEASE && act != DMVF_ACT_REDACT && act != DMVF_ACT_PSEUDONYMIZE &&
            act != DMVF_ACT_ENCRYPT)
            return dmvf__yfail(L, v, "unknown action '%s' (%s)", s, scalar_actions);
        a->action = (uint8_t)act;
        if (prefix && a->action != DMVF_ACT_RELEASE && a->action != DMVF_ACT_REDACT)
            return dmvf__yfail(L, v,
                               "action %s applies to one field; %s is a message (name its fields one by one)",
                               s, sf->path);
        if (a->action == DMVF_ACT_PSEUDONYMIZE || a->action == DMVF_ACT_ENCRYPT)
            return check_string_action(L, v, s, sf);
        return DMVF_OK;
    }
    if (v->type != YAML_MAPPING_NODE)
        return dmvf__yfail(L, v, "an action must be a scalar or a mapping, not %s", dmvf__ykind(v));
    if ((rc = dmvf__ymap(L, v, "an action")))
        return rc;
    if (dmvf__ymap_len(v) != 1)
        return dmvf__yfail(L, v, "an action mapping has exactly one key (%s)", scalar_actions);
    yaml_node_t *k = dmvf__ynode(L, v->data.mapping.pairs.start->key);
    yaml_node_t *x = dmvf__ynode(L, v->data.mapping.pairs.start->value);
    const char *name = dmvf__ystr(k);
    int act = dmvf__name_parse(&dmvf__actions, name, 0);
    if (act != DMVF_ACT_MASK && act != DMVF_ACT_GENERALIZE && act != DMVF_ACT_CONSTANT)
        return dmvf__yfail(L, k, "unknown action '%s' (%s)", name, scalar_actions);
    if (prefix)
        return dmvf__yfail(L, k, "action %s applies to one field; %s is a message (name its fields one by one)",
                           name, sf->path);
    a->action = (uint8_t)act;
    if (act == DMVF_ACT_MASK) {
        if ((rc = check_string_action(L, k, "mask", sf)))
            return rc;
        return parse_mask(L, x, a);
    }
    if (act == DMVF_ACT_CONSTANT)
        return parse_constant(L, x, sf, a);
    if ((rc = dmvf__yscalar(L, x, "generalize")))
        return rc;
    const char *g = dmvf__ystr(x);
    int gen = dmvf__name_parse(&dmvf__generalizations, g, 1);
    if (gen < 0)
        return dmvf__yfail(L, x, "unknown generalization '%s' (expected year, month, decade or zip3)", g);
    a->gen = (uint8_t)gen;
    if (gen == DMVF_GEN_ZIP3) {
        if (sf->type != DMVF_T_STRING)
            return dmvf__yfail(L, x, "generalize zip3 needs a string field; %s is %s", sf->path,
                               dmvf__type_desc(sf));
        return DMVF_OK;
    }
    if (sf->type != DMVF_T_UINT32 || !sf->is_date)
        return dmvf__yfail(L, x, "generalize %s needs a date field (uint32 YYYYMMDD); %s is %s", g, sf->path,
                           dmvf__type_desc(sf));
    return DMVF_OK;
}

/* ------------------------------------------------------------------ profiles */

static int parse_profile(dmvf__yload *L, const yaml_node_t *k, const yaml_node_t *v, dmvf_profile_def *pr)
{
    int rc;
    if ((rc = dmvf__yname(L, k, "a profile name")))
        return rc;
    pr->name = dmvf__ydup(L, k);
    if (!pr->name)
        return dmvf__ynomem(L);
    pr->line = dmvf__yline(k);
    pr->col = dmvf__ycol(k);
    char what[160];
    snprintf(what, sizeof what, "profile '%s'", pr->name);
    if ((rc = dmvf__ymap(L, v, what)))
        return rc;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *kk = dmvf__ynode(L, a->key), *vv = dmvf__ynode(L, a->value);
        const char *key = dmvf__ystr(kk);
        if (strcmp(key, "extends") == 0) {
            if ((rc = dmvf__yname(L, vv, "extends")))
                return rc;
            if (!(pr->extends = dmvf__ydup(L, vv)))
                return dmvf__ynomem(L);
            pr->eline = dmvf__yline(vv);
            pr->ecol = dmvf__ycol(vv);
        } else if (strcmp(key, "default") == 0) {
            if ((rc = dmvf__yscalar(L, vv, "default")))
                return rc;
            int act = dmvf__name_parse(&dmvf__actions, dmvf__ystr(vv), 0);
            if (act != DMVF_ACT_RELEASE && act != DMVF_ACT_REDACT)
                return dmvf__yfail(L, vv, "default must be release or redact, not '%s'", dmvf__ystr(vv));
            pr->def_action = (uint8_t)act;
            pr->has_default = 1;
            pr->def_line = dmvf__yline(vv);
            pr->def_col = dmvf__ycol(vv);
        } else if (strcmp(key, "fields") == 0) {
            char fw[200];
            snprintf(fw, sizeof fw, "fields of profile '%s'", pr->name);
            if ((rc = dmvf__ymap(L, vv, fw)))
                return rc;
            pr->nown = dmvf__ymap_len(vv);
            pr->own = dmvf__arena_alloc(&L->p->arena, pr->nown * sizeof *pr->own);
            if (!pr->own)
                return dmvf__ynomem(L);
            size_t i = 0;
            for (yaml_node_pair_t *f = vv->data.mapping.pairs.start; f < vv->data.mapping.pairs.top; f++, i++) {
                yaml_node_t *fk = dmvf__ynode(L, f->key), *fv = dmvf__ynode(L, f->value);
                dmvf_pentry *e = &pr->own[i];
                char *base;
                int prefix;
                if ((rc = dmvf__yfield(L, fk, &e->sf, &prefix, &base)))
                    return rc;
                for (size_t j = 0; j < i; j++)
                    if (strcmp(pr->own[j].key, base) == 0)
                        return dmvf__yfail(L, fk,
                                           "'%s' names the same fields as '%s' (line %u) in profile '%s'",
                                           dmvf__ystr(fk), pr->own[j].text, pr->own[j].line, pr->name);
                e->key = base;
                e->prefix = (uint8_t)prefix;
                if (!(e->text = dmvf__ydup(L, fk)))
                    return dmvf__ynomem(L);
                e->origin = pr->name;
                e->line = dmvf__yline(fk);
                e->col = dmvf__ycol(fk);
                e->vline = dmvf__yline(fv);
                e->vcol = dmvf__ycol(fv);
                if ((rc = parse_action(L, fv, e->sf, prefix, &e->act)))
                    return rc;
            }
        } else {
            return dmvf__yfail(L, kk, "unknown key '%s' in profile '%s' (expected extends, default, fields)",
                               key, pr->name);
        }
    }
    return DMVF_OK;
}

int dmvf__parse_profiles(dmvf__yload *L, const yaml_node_t *v)
{
    int rc = dmvf__ymap(L, v, "profiles");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    p->nprofiles = dmvf__ymap_len(v);
    p->profiles = dmvf__arena_alloc(&p->arena, p->nprofiles * sizeof *p->profiles);
    if (!p->profiles)
        return dmvf__ynomem(L);
    size_t i = 0;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++, i++)
        if ((rc = parse_profile(L, dmvf__ynode(L, a->key), dmvf__ynode(L, a->value), &p->profiles[i])))
            return rc;
    return DMVF_OK;
}
