/*
 * decide.c - the verdict on one request, judged on the DMV's clock.
 *
 *   1. the requester check: the request's attributes (dmvf_request_validate)
 *      and its date; its ORI in the requester directory; what it says of
 *      its requester against the directory's entry. Each failure is a DENY
 *      in the policy's default refusal form, before any rule;
 *   2. the rules: the first whose match fits the requester decides (ori and
 *      ori_prefix on the request's ORI; agency_kind, tags, jurisdiction on
 *      the directory's entry, never on the request); a release rule's
 *      requirements (purpose, legal process, query kind, certification, the
 *      entry's certification) must all be met, else the request is refused
 *      in the rule's refusal form.
 * Reads the request only, never records.
 */
#include <stdio.h>
#include <string.h>
#include "filter/policy/policy_int.h"

/* ------------------------------------------------------------------ names */

void dmvf__bits_str(uint32_t bits, const dmvf__names *t, char *buf, size_t cap)
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
    snprintf(o < cap ? buf + o : NULL, o < cap ? cap - o : 0, "]");
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

static int rule_matches(const dmvf_rule *r, const char *ori, const dmvf_requester *who)
{
    if ((r->keys & DMVF_MK_ORI) && !in_list(ori, &r->ori))
        return 0;
    if (r->keys & DMVF_MK_ORI_PREFIX) {
        int hit = 0;
        for (size_t i = 0; !hit && i < r->ori_prefix.n; i++)
            hit = strncmp(ori, r->ori_prefix.v[i], strlen(r->ori_prefix.v[i])) == 0;
        if (!hit)
            return 0;
    }
    if ((r->keys & DMVF_MK_AGENCY) &&
        !((unsigned)who->kind < 32 && (r->agency & (1u << (unsigned)who->kind))))
        return 0;
    if (r->keys & DMVF_MK_TAGS) {
        int hit = 0;
        for (size_t i = 0; !hit && i < who->ntags; i++)
            hit = in_list(who->tags[i], &r->tags);
        if (!hit)
            return 0;
    }
    if ((r->keys & DMVF_MK_JURISDICTION) && !in_list(who->jurisdiction, &r->jurisdiction))
        return 0;
    return 1;
}

const dmvf_rule *dmvf__policy_match(const dmvf_policy *p, const char *ori, const dmvf_requester *who)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (rule_matches(&p->rules[i], ori, who))
            return &p->rules[i];
    return NULL;
}

static int bit_in(uint32_t bits, unsigned k)
{
    return k < 32 && (bits & (1u << k));
}

/* A requirement that the request's value v of an enum spelled by t be in
 * the rule's set `bits` (0: the rule states none):
 *   "WHAT NAME in [a, b]", "WHAT NAME not in [a, b]", NAME `unset` for 0;
 *   "WHAT: ANY" when the rule states none. */
static void enum_requirement(dmvf_reqcheck *c, uint32_t bits, unsigned v, const dmvf__names *t,
                             const char *what, const char *unset, const char *any)
{
    char set[160];
    if (!bits) {
        snprintf(c->text, sizeof c->text, "%s: %s", what, any);
        return;
    }
    c->present = 1;
    c->met = bit_in(bits, v);
    dmvf__bits_str(bits, t, set, sizeof set);
    snprintf(c->text, sizeof c->text, "%s %s %s %s", what, v ? dmvf__name(t, v, "?") : unset,
             c->met ? "in" : "not in", set);
}

void dmvf__rule_requirements(const dmvf_rule *r, const dmvf_request *q, const dmvf_requester *who,
                             uint32_t judged, dmvf_reqcheck out[DMVF_NREQ])
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

    enum_requirement(&out[DMVF_REQ_LEGAL], r->legal, (unsigned)q->legal_process, &dmvf__legal_processes,
                     "legal process", "none", "not required");
    enum_requirement(&out[DMVF_REQ_QUERY], r->queries, (unsigned)q->query_kind, &dmvf__query_kinds,
                     "query kind", "unspecified", "any");

    c = &out[DMVF_REQ_CERT];
    if (r->certified_until) {
        c->present = 1;
        c->met = judged <= r->certified_until;
        snprintf(c->text, sizeof c->text, "certification %s %s (request date %s)",
                 c->met ? "valid until" : "expired", dmvf__date_format(r->certified_until, d1),
                 dmvf__date_format(judged, d2));
    } else {
        snprintf(c->text, sizeof c->text, "certification: not required");
    }

    c = &out[DMVF_REQ_DIRCERT];
    if (who->certified_until) {
        c->present = 1;
        c->met = judged <= who->certified_until;
        snprintf(c->text, sizeof c->text, "the requester directory's certification of %s %s %s (request date %s)",
                 who->ori ? who->ori : q->ori, c->met ? "valid until" : "expired",
                 dmvf__date_format(who->certified_until, d1), dmvf__date_format(judged, d2));
    } else {
        snprintf(c->text, sizeof c->text, "directory certification: none (no expiry)");
    }
}

void dmvf__list_str(const char *const *t, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    if (!n) {
        snprintf(buf, cap, "none");
        return;
    }
    o += (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", t[i]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
}

/* Whether the tags t[0..n) (valid, possibly repeated) are the set e has. */
static int same_tags(const char *const *t, size_t n, const dmvf_requester *e)
{
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < e->ntags && strcmp(t[i], e->tags[j]) != 0; j++)
            ;
        if (j == e->ntags)
            return 0;
    }
    for (size_t j = 0; j < e->ntags; j++) {
        size_t i;
        for (i = 0; i < n && strcmp(t[i], e->tags[j]) != 0; i++)
            ;
        if (i == n)
            return 0;
    }
    return 1;
}

/* A refusal before any rule: the policy's default form. */
static void refuse(const dmvf_policy *p, dmvf_verdict *v, dmvf_precheck why)
{
    v->decision = DMVF_DECISION_DENY;
    v->refusal = p->refusal;
    v->precheck = why;
}

/* The requester check (1. above): 0 when the request may go on to the rules,
 * else -1 with the refusal in v. */
static int check_requester(const dmvf_policy *p, const dmvf_request *q, dmvf_verdict *v)
{
    char d1[DMVF__DATE_CAP], d2[DMVF__DATE_CAP];
    dmvf_error e;
    if (dmvf_request_validate(q, &e) != DMVF_OK) {
        refuse(p, v, DMVF_PRECHECK_BAD_REQUEST);
        snprintf(v->reason, sizeof v->reason, "bad request: %.240s", e.msg);
        return -1;
    }
    if (q->date && q->date != v->judged) {
        refuse(p, v, DMVF_PRECHECK_BAD_REQUEST);
        snprintf(v->reason, sizeof v->reason, "bad request: it is dated %s, and requests are judged on the "
                 "DMV's clock (%s)", dmvf__date_format(q->date, d1), dmvf__date_format(v->judged, d2));
        return -1;
    }
    const dmvf_dirent *d = dmvf__directory_find(p, q->ori);
    if (!d) {
        refuse(p, v, DMVF_PRECHECK_NOT_IN_DIRECTORY);
        snprintf(v->reason, sizeof v->reason, "ORI %s is not in the requester directory", q->ori);
        return -1;
    }
    const dmvf_requester *w = &d->pub;
    v->who = w;
    if (q->agency_kind && q->agency_kind != w->kind) {
        refuse(p, v, DMVF_PRECHECK_CONTRADICTS);
        snprintf(v->reason, sizeof v->reason, "the request says agency kind %s; the directory says %s",
                 dmvf_agency_kind_name(q->agency_kind), dmvf_agency_kind_name(w->kind));
        return -1;
    }
    if (q->jurisdiction && *q->jurisdiction && (!w->jurisdiction || strcmp(q->jurisdiction, w->jurisdiction))) {
        refuse(p, v, DMVF_PRECHECK_CONTRADICTS);
        snprintf(v->reason, sizeof v->reason, "the request says jurisdiction %s; the directory says %s",
                 q->jurisdiction, w->jurisdiction ? w->jurisdiction : "none");
        return -1;
    }
    size_t nt = q->tags ? q->ntags : 0;
    if (nt && !same_tags(q->tags, nt, w)) {
        char said[100], has[100];
        dmvf__list_str(q->tags, nt, said, sizeof said);
        dmvf__list_str(w->tags, w->ntags, has, sizeof has);
        refuse(p, v, DMVF_PRECHECK_CONTRADICTS);
        snprintf(v->reason, sizeof v->reason, "the request says tags %s; the directory says %s", said, has);
        return -1;
    }
    return 0;
}

void dmvf__policy_decide(const dmvf_policy *p, const dmvf_request *req, uint32_t as_of, dmvf_verdict *v)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    DMVF_REQUIRE(req != NULL, "request is NULL");
    DMVF_REQUIRE(v != NULL, "verdict is NULL");
    memset(v, 0, sizeof *v);
    v->judged = as_of ? as_of : dmvf__today();
    if (check_requester(p, req, v) != 0)
        return;
    const dmvf_requester *w = v->who;
    const dmvf_rule *r = dmvf__policy_match(p, req->ori, w);
    if (!r) {
        char tags[96];
        dmvf__list_str(w->tags, w->ntags, tags, sizeof tags);
        v->decision = DMVF_DECISION_DENY;
        v->refusal = p->refusal;
        snprintf(v->reason, sizeof v->reason, "no rule matches requester ORI %s (kind %s, jurisdiction %s, "
                 "tags %s: %s, as the requester directory says)", req->ori, dmvf_agency_kind_name(w->kind),
                 w->jurisdiction ? w->jurisdiction : "(none)", tags, w->name);
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
    dmvf_reqcheck c[DMVF_NREQ];
    dmvf__rule_requirements(r, req, w, v->judged, c);
    /* a review rule's requirements are the reviewer's to judge; the
     * directory's certification is about who asks, and refuses first */
    int from = r->decision == DMVF_DECISION_REVIEW ? DMVF_REQ_DIRCERT : 0;
    for (int i = from; i < DMVF_NREQ; i++) {
        if (c[i].present && !c[i].met) {
            v->decision = DMVF_DECISION_DENY;
            snprintf(v->reason, sizeof v->reason, "rule '%s': %s", r->name, c[i].text);
            return;
        }
    }
    if (r->decision == DMVF_DECISION_REVIEW) {
        /* the would-be release (options.hold_for_review); NULL without a profile */
        v->decision = DMVF_DECISION_REVIEW;
        v->plan = r->plan;
        snprintf(v->reason, sizeof v->reason, "rule '%s': held for review", r->name);
        return;
    }
    v->decision = DMVF_DECISION_RELEASE;
    v->plan = r->plan;
    snprintf(v->reason, sizeof v->reason, "rule '%s': release, every requirement met", r->name);
}
