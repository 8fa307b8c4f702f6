/*
 * decide.c - the verdict on one request: the first rule whose match
 * fits the requester decides; a release rule's requirements (purpose, legal
 * process, query kind, certification) must all be met, else the request is
 * refused in the rule's refusal form. Reads the request only, never records.
 */
#include <stdio.h>
#include <string.h>
#include "filter/policy/policy_int.h"

/* ------------------------------------------------------------------ names */

size_t dmvf__bits_str(uint32_t bits, const dmvf__names *t, char *buf, size_t cap)
{
    size_t o = 0;
    int first = 1;
    if (cap)
        buf[0] = '\0';
    o += (size_t)snprintf(buf, cap, "[");
    for (unsigned k = 0; k < 32; k++) {
        if (!(bits & (1u << k)))
            continue;
        o += (size_t)snprintf(o < cap ? buf + o : NULL, o < cap ? cap - o : 0, "%s%s", first ? "" : ", ", dmvf__name(t, k, "?"));
        first = 0;
    }
    o += (size_t)snprintf(o < cap ? buf + o : NULL, o < cap ? cap - o : 0, "]");
    return o;
}

/* ------------------------------------------------------------------ matching */

static int in_list(const char *s, const dmvf_strlist *l)
{
    if (!s)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(s, l->v[i]) == 0)
            return 1;
    return 0;
}

static int rule_matches(const dmvf_rule *r, const dmvf_request *q)
{
    int has_ori = q->ori && *q->ori;
    if ((r->keys & DMVF_MK_ORI) && !(has_ori && in_list(q->ori, &r->ori)))
        return 0;
    if (r->keys & DMVF_MK_ORI_PREFIX) {
        int hit = 0;
        for (size_t i = 0; has_ori && !hit && i < r->ori_prefix.n; i++)
            hit = strncmp(q->ori, r->ori_prefix.v[i], strlen(r->ori_prefix.v[i])) == 0;
        if (!hit)
            return 0;
    }
    if ((r->keys & DMVF_MK_AGENCY) &&
        !((unsigned)q->agency_kind < 32 && (r->agency & (1u << (unsigned)q->agency_kind))))
        return 0;
    if (r->keys & DMVF_MK_TAGS) {
        int hit = 0;
        for (size_t i = 0; !hit && i < q->ntags; i++)
            hit = in_list(q->tags[i], &r->tags);
        if (!hit)
            return 0;
    }
    if ((r->keys & DMVF_MK_JURISDICTION) && !in_list(q->jurisdiction, &r->jurisdiction))
        return 0;
    return 1;
}

const dmvf_rule *dmvf__policy_match(const dmvf_policy *p, const dmvf_request *req)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (rule_matches(&p->rules[i], req))
            return &p->rules[i];
    return NULL;
}

static int bit_in(uint32_t bits, unsigned k)
{
    return k < 32 && (bits & (1u << k));
}

void dmvf__rule_requirements(const dmvf_rule *r, const dmvf_request *q, dmvf_reqcheck out[DMVF_NREQ])
{
    char set[160], d1[DMVF__DATE_CAP], d2[DMVF__DATE_CAP];
    memset(out, 0, sizeof(dmvf_reqcheck) * DMVF_NREQ);

    dmvf_reqcheck *c = &out[DMVF_REQ_PURPOSE];
    if (r->purposes) {
        c->present = 1;
        c->met = bit_in(r->purposes, q->purpose);
        dmvf__bits_str(r->purposes, &dmvf__purposes, set, sizeof set);
        if (q->purpose)
            snprintf(c->text, sizeof c->text, "purpose %u %s %s", q->purpose, c->met ? "in" : "not in", set);
        else
            snprintf(c->text, sizeof c->text, "purpose none given, not in %s", set);
    } else {
        snprintf(c->text, sizeof c->text, "purpose: any");
    }

    c = &out[DMVF_REQ_LEGAL];
    if (r->legal) {
        c->present = 1;
        c->met = bit_in(r->legal, (unsigned)q->legal_process);
        dmvf__bits_str(r->legal, &dmvf__legal_processes, set, sizeof set);
        snprintf(c->text, sizeof c->text, "legal process %s %s %s",
                 q->legal_process ? dmvf_legal_process_name(q->legal_process) : "none",
                 c->met ? "in" : "not in", set);
    } else {
        snprintf(c->text, sizeof c->text, "legal process: not required");
    }

    c = &out[DMVF_REQ_QUERY];
    if (r->queries) {
        c->present = 1;
        c->met = bit_in(r->queries, (unsigned)q->query_kind);
        dmvf__bits_str(r->queries, &dmvf__query_kinds, set, sizeof set);
        snprintf(c->text, sizeof c->text, "query kind %s %s %s",
                 q->query_kind ? dmvf_query_kind_name(q->query_kind) : "unspecified",
                 c->met ? "in" : "not in", set);
    } else {
        snprintf(c->text, sizeof c->text, "query kind: any");
    }

    c = &out[DMVF_REQ_CERT];
    if (r->certified_until) {
        uint32_t date = q->date ? q->date : dmvf__today();
        c->present = 1;
        c->met = date <= r->certified_until;
        snprintf(c->text, sizeof c->text, "certification %s %s (request date %s)",
                 c->met ? "valid until" : "expired", dmvf__date_format(r->certified_until, d1),
                 dmvf__date_format(date, d2));
    } else {
        snprintf(c->text, sizeof c->text, "certification: not required");
    }
}

static void tags_str(const dmvf_request *q, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    if (!q->ntags) {
        snprintf(buf, cap, "none");
        return;
    }
    for (size_t i = 0; i < q->ntags && o < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", q->tags[i] ? q->tags[i] : "");
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

void dmvf__policy_decide(const dmvf_policy *p, const dmvf_request *req, dmvf_verdict *v)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    DMVF_REQUIRE(req != NULL, "request is NULL");
    DMVF_REQUIRE(v != NULL, "verdict is NULL");
    memset(v, 0, sizeof *v);
    const dmvf_rule *r = dmvf__policy_match(p, req);
    if (!r) {
        char tags[96];
        tags_str(req, tags, sizeof tags);
        v->decision = DMVF_DECISION_DENY;
        v->refusal = p->refusal;
        snprintf(v->reason, sizeof v->reason, "no rule matches requester ORI %s (kind %s, jurisdiction %s, tags %s)",
                 req->ori && *req->ori ? req->ori : "(none)", dmvf_agency_kind_name(req->agency_kind),
                 req->jurisdiction && *req->jurisdiction ? req->jurisdiction : "(none)", tags);
        return;
    }
    v->rule_name = r->name;
    v->refusal = r->refusal;
    v->max_records = r->max_records;
    v->notify_subject = r->notify_subject;
    if (r->decision == DMVF_DECISION_DENY) {
        v->decision = DMVF_DECISION_DENY;
        snprintf(v->reason, sizeof v->reason, "rule '%s': decision deny", r->name);
        return;
    }
    if (r->decision == DMVF_DECISION_REVIEW) {
        /* the would-be release (options.hold_for_review); NULL without a profile */
        v->decision = DMVF_DECISION_REVIEW;
        v->plan = r->plan;
        snprintf(v->reason, sizeof v->reason, "rule '%s': held for review", r->name);
        return;
    }
    dmvf_reqcheck c[DMVF_NREQ];
    dmvf__rule_requirements(r, req, c);
    for (int i = 0; i < DMVF_NREQ; i++) {
        if (c[i].present && !c[i].met) {
            v->decision = DMVF_DECISION_DENY;
            snprintf(v->reason, sizeof v->reason, "rule '%s': %s", r->name, c[i].text);
            return;
        }
    }
    v->decision = DMVF_DECISION_RELEASE;
    v->plan = r->plan;
    snprintf(v->reason, sizeof v->reason, "rule '%s': release, every requirement met", r->name);
}
