/*
 * parse_rule.c - the rules section: each rule's name, match keys (who the
 * requester is), decision and requirements (purposes, legal process, query
 * kinds, record limit, certification), refusal form, profile and marking.
 * A key that names a record field is refused with the reason: rules decide
 * on the request, never on what the records hold. The match keys agency_kind,
 * tags and jurisdiction are judged on the requester directory's entry for
 * the request's ORI (decide.c); ori and ori_prefix on the ORI itself.
 */
#include <stdio.h>
#include <string.h>
#include "filter/policy/parse_int.h"

/* ------------------------------------------------------------------ match keys */

static int field_read(dmvf__yload *L, const yaml_node_t *k, const char *rname)
{
    const char *t = dmvf__ystr(k);
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
        return dmvf__yfail(L, k,
                           "rule '%s' reads %s %s: decisions may not depend on marking or marking-correlated "
                           "fields, since a refusal that only marked records get is itself the marking",
                           rname, (sf->klass & DMVF_CLASS_M) ? "marking field" : "marking-correlated field",
                           sf->path);
    return dmvf__yfail(L, k,
                       "rule '%s' reads record field %s: rules decide on the request, not on record fields",
                       rname, sf->path);
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

static int parse_bits(dmvf__yload *L, const yaml_node_t *v, const char *what, enum_parse_fn fn,
                      const char *expected, uint32_t *bits)
{
    int rc = dmvf__yseq(L, v, what, 1);
    if (rc)
        return rc;
    for (size_t i = 0; i < dmvf__yseq_len(v); i++) {
        yaml_node_t *x = dmvf__ynode(L, v->data.sequence.items.start[i]);
        int k = 0;
        if ((rc = dmvf__yscalar(L, x, what)))
            return rc;
        if (fn(dmvf__ystr(x), &k) != DMVF_OK || k <= 0 || k >= 32)
            return dmvf__yfail(L, x, "unknown %s '%s' (expected %s)", what, dmvf__ystr(x), expected);
        *bits |= 1u << k;
    }
    return DMVF_OK;
}

static int parse_match(dmvf__yload *L, const yaml_node_t *v, dmvf_rule *r)
{
    char what[160];
    snprintf(what, sizeof what, "match of rule '%s'", r->name);
    int rc = dmvf__ymap(L, v, what);
    if (rc)
        return rc;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key), *x = dmvf__ynode(L, a->value);
        const char *key = dmvf__ystr(k);
        if (strcmp(key, "ori") == 0) {
            rc = dmvf__ystrlist(L, x, "ori", dmvf__ori_valid, DMVF__ORI_RULE, "rule", r->name, &r->ori);
            r->keys |= DMVF_MK_ORI;
        } else if (strcmp(key, "ori_prefix") == 0) {
            rc = dmvf__ystrlist(L, x, "ori_prefix", dmvf__ori_prefix_valid, DMVF__ORI_PREFIX_RULE, "rule",
                                r->name, &r->ori_prefix);
            r->keys |= DMVF_MK_ORI_PREFIX;
        } else if (strcmp(key, "tags") == 0) {
            rc = dmvf__ystrlist(L, x, "tags", dmvf__tag_valid, DMVF__TAG_RULE, "rule", r->name, &r->tags);
            r->keys |= DMVF_MK_TAGS;
        } else if (strcmp(key, "jurisdiction") == 0) {
            rc = dmvf__ystrlist(L, x, "jurisdiction", dmvf__jurisdiction_valid, DMVF__JURISDICTION_RULE,
                                "rule", r->name, &r->jurisdiction);
            r->keys |= DMVF_MK_JURISDICTION;
        } else if (strcmp(key, "agency_kind") == 0) {
            rc = parse_bits(L, x, "agency_kind", agency_parse,
                            "federal, state, local, tribal, foreign, court, research, commercial, internal",
                            &r->agency);
            r->keys |= DMVF_MK_AGENCY;
        } else {
            if ((rc = field_read(L, k, r->name)))
                return rc;
            return dmvf__yfail(L, k,
                               "unknown key '%s' in match of rule '%s' (expected ori, ori_prefix, agency_kind, "
                               "tags, jurisdiction)", key, r->name);
        }
        if (rc)
            return rc;
    }
    return DMVF_OK;
}

/* ------------------------------------------------------------------ rules */

static int parse_rule(dmvf__yload *L, const yaml_node_t *v, size_t idx, dmvf_rule *r)
{
    char what[160];
    snprintf(what, sizeof what, "rule #%zu", idx + 1);
    int rc = dmvf__ymap(L, v, what);
    if (rc)
        return rc;
    r->line = dmvf__yline(v);
    r->col = dmvf__ycol(v);
    yaml_node_t *name = dmvf__yget(L, v, "name");
    if (!name)
        return dmvf__yfail(L, v, "rule #%zu has no name", idx + 1);
    if ((rc = dmvf__yname(L, name, "a rule name")))
        return rc;
    if (!(r->name = dmvf__ydup(L, name)))
        return dmvf__ynomem(L);
    r->nline = dmvf__yline(name);
    r->ncol = dmvf__ycol(name);
    for (size_t j = 0; j < idx; j++)
        if (strcmp(L->p->rules[j].name, r->name) == 0)
            return dmvf__yfail(L, name, "duplicate rule name '%s' (first at line %u)", r->name,
                               L->p->rules[j].nline);
    int has_decision = 0;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key), *x = dmvf__ynode(L, a->value);
        const char *key = dmvf__ystr(k);
        uint64_t n;
        if (strcmp(key, "name") == 0) {
            continue;
        } else if (strcmp(key, "match") == 0) {
            rc = parse_match(L, x, r);
        } else if (strcmp(key, "decision") == 0) {
            if ((rc = dmvf__yscalar(L, x, "decision")))
                return rc;
            int d = dmvf__name_parse(&dmvf__decisions, dmvf__ystr(x), DMVF_DECISION_RELEASE);
            if (d < 0)
                return dmvf__yfail(L, x, "unknown decision '%s' in rule '%s' (expected release, deny, review)",
                                   dmvf__ystr(x), r->name);
            r->decision = (dmvf_decision)d;
            has_decision = 1;
            r->dline = dmvf__yline(x);
            r->dcol = dmvf__ycol(x);
        } else if (strcmp(key, "purposes") == 0) {
            if ((rc = dmvf__yseq(L, x, "purposes", 1)))
                return rc;
            for (size_t i = 0; i < dmvf__yseq_len(x); i++) {
                yaml_node_t *y = dmvf__ynode(L, x->data.sequence.items.start[i]);
                if ((rc = dmvf__yscalar(L, y, "a purpose")))
                    return rc;
                if (dmvf__parse_int(dmvf__ystr(y), 0, 0, UINT32_MAX, NULL, &n) || n < 1 || n > 14)
                    return dmvf__yfail(L, y, "purpose '%s' out of range: DPPA permissible uses are 1..14 "
                                       "(18 U.S.C. 2721(b))", dmvf__ystr(y));
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
            if ((rc = dmvf__yscalar(L, x, "max_records")))
                return rc;
            if (dmvf__parse_int(dmvf__ystr(x), 0, 0, UINT64_MAX, NULL, &n) || n < 1)
                return dmvf__yfail(L, x, "max_records must be an integer >= 1, not '%s'", dmvf__ystr(x));
            r->max_records = n;
        } else if (strcmp(key, "certified_until") == 0) {
            if ((rc = dmvf__yscalar(L, x, "certified_until")))
                return rc;
            if (!(r->certified_until = dmvf__date_parse(dmvf__ystr(x), strlen(dmvf__ystr(x)))))
                return dmvf__yfail(L, x, "bad date '%s' in certified_until (expected YYYY-MM-DD)",
                                   dmvf__ystr(x));
        } else if (strcmp(key, "notify_subject") == 0) {
            if ((rc = dmvf__yscalar(L, x, "notify_subject")))
                return rc;
            if (dmvf__parse_bool(dmvf__ystr(x), &r->notify_subject))
                return dmvf__yfail(L, x, "notify_subject must be true or false, not '%s'", dmvf__ystr(x));
            r->nsline = dmvf__yline(x);
            r->nscol = dmvf__ycol(x);
        } else if (strcmp(key, "refusal") == 0) {
            if ((rc = dmvf__yscalar(L, x, "refusal")))
                return rc;
            if (dmvf__parse_refusal(dmvf__ystr(x), &r->refusal))
                return dmvf__yfail(L, x, "unknown refusal '%s' (expected refused, not-found)", dmvf__ystr(x));
            r->has_refusal = 1;
        } else if (strcmp(key, "profile") == 0) {
            if ((rc = dmvf__yname(L, x, "profile")))
                return rc;
            if (!(r->profile_name = dmvf__ydup(L, x)))
                return dmvf__ynomem(L);
            r->pline = dmvf__yline(x);
            r->pcol = dmvf__ycol(x);
        } else if (strcmp(key, "marking") == 0) {
            if ((rc = dmvf__yscalar(L, x, "marking")))
                return rc;
            if (strcmp(dmvf__ystr(x), "release") == 0)
                r->marking_release = 1;
            else if (strcmp(dmvf__ystr(x), "suppress") != 0)
                return dmvf__yfail(L, x, "marking must be release or suppress, not '%s'", dmvf__ystr(x));
            r->mline = dmvf__yline(x);
            r->mcol = dmvf__ycol(x);
        } else {
            if ((rc = field_read(L, k, r->name)))
                return rc;
            return dmvf__yfail(L, k, "unknown key '%s' in rule '%s' (expected name, match, decision, purposes, "
                               "legal_process, query_kinds, max_records, certified_until, notify_subject, "
                               "refusal, profile, marking)", key, r->name);
        }
        if (rc)
            return rc;
    }
    if (!has_decision)
        return dmvf__yfail(L, v, "rule '%s' has no decision (release, deny or review)", r->name);
    return DMVF_OK;
}

int dmvf__parse_rules(dmvf__yload *L, const yaml_node_t *v)
{
    int rc = dmvf__yseq(L, v, "rules", 0);
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    p->nrules = dmvf__yseq_len(v);
    p->rules = dmvf__arena_alloc(&p->arena, p->nrules * sizeof *p->rules);
    if (!p->rules)
        return dmvf__ynomem(L);
    for (size_t i = 0; i < p->nrules; i++)
        if ((rc = parse_rule(L, dmvf__ynode(L, v->data.sequence.items.start[i]), i, &p->rules[i])))
            return rc;
    return DMVF_OK;
}
