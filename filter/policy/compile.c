/*
 * compile.c - from the parsed policy to plan trees.
 *
 * Order of checks (the first failure is reported):
 *   1. extends: unknown parents, cycles; then each profile's entries are
 *      merged with its ancestors' (the nearer profile wins on the same key).
 *   2. rules, in order: the profile exists, notify_subject has a notices
 *      section and decision review a review section, marking: release only
 *      for agency_kind [internal], no rule is shadowed by an earlier one.
 *   3. profiles: one used by a rule without marking: release (or by no rule
 *      at all) may give M and C positions no action but redact.
 *   4. profiles, likewise: a position where a state's marking values may
 *      appear (class N: class code, restrictions, endorsements) may have an
 *      action other than redact only when marking.normalize gives it an
 *      allow list, so that every action sees only allowed values.
 *   5. one plan per (profile, marking released) that a release rule, or a
 *      review rule with a profile (its would-be release), uses.
 *   5. the requester directory (directory.c): given, no ORI or prefix twice,
 *      internal entries at home, every rule tag one the directory has. Last,
 *      so that its absence masks no other error.
 *
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/policy/policy_int.h"

#define MC (DMVF_CLASS_M | DMVF_CLASS_C)

static int byname_cmp(const void *a, const void *b)
{
    const dmvf_profile_def *x = *(const dmvf_profile_def *const *)a, *y = *(const dmvf_profile_def *const *)b;
    return strcmp(x->name, y->name);
}

static int name_cmp(const void *key, const void *b)
{
    return strcmp((const char *)key, (*(const dmvf_profile_def *const *)b)->name);
}

static dmvf_profile_def *find_profile(dmvf_policy *p, const char *name)
{
    if (!p->nprofiles)
        return NULL;
    dmvf_profile_def **hit = bsearch(name, p->byname, p->nprofiles, sizeof *p->byname, name_cmp);
    return hit ? *hit : NULL;
}

/* ------------------------------------------------------------------ extends */

static int link_extends(dmvf_policy *p, dmvf_error *err)
{
    p->byname = dmvf__arena_alloc(&p->arena, p->nprofiles * sizeof *p->byname);
    if (!p->byname)
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    for (size_t i = 0; i < p->nprofiles; i++)
        p->byname[i] = &p->profiles[i];
    if (p->nprofiles)
        qsort(p->byname, p->nprofiles, sizeof *p->byname, byname_cmp);
    for (size_t i = 0; i < p->nprofiles; i++) {
        dmvf_profile_def *pr = &p->profiles[i];
        if (!pr->extends)
            continue;
        pr->parent = find_profile(p, pr->extends);
        if (!pr->parent)
            return dmvf__perr(err, p->name, pr->eline, pr->ecol, "profile '%s' extends unknown profile '%s'",
                              pr->name, pr->extends);
    }
    /* each profile is walked once: linear in the number of profiles */
    for (size_t i = 0; i < p->nprofiles; i++) {
        dmvf_profile_def *q = &p->profiles[i];
        while (q && q->state == 0) {
            q->state = 1;
            q->walk = i;
            q = q->parent;
        }
        if (q && q->state == 1 && q->walk == i) {
            /* q is on a cycle: report it at its member written first */
            dmvf_profile_def *first = q, *m = q;
            do {
                if (m->eline < first->eline || (m->eline == first->eline && m->ecol < first->ecol))
                    first = m;
                m = m->parent;
            } while (m != q);
            char chain[400];
            size_t o = 0;
            m = first;
            do {
                int w = snprintf(chain + o, sizeof chain - o, "%s -> ", m->name);
                if (w < 0 || (size_t)w >= sizeof chain - o - 80) {
                    o += (size_t)snprintf(chain + o, sizeof chain - o, "... -> ");
                    break;
                }
                o += (size_t)w;
                m = m->parent;
            } while (m != first);
            snprintf(chain + o, sizeof chain - o, "%s", first->name);
            return dmvf__perr(err, p->name, first->eline, first->ecol, "profile '%s': extends cycle %s",
                              first->name, chain);
        }
        for (q = &p->profiles[i]; q && q->state == 1; q = q->parent)
            q->state = 2;
    }
    return DMVF_OK;
}

/* Merges one profile whose parent (if any) is merged already. */
static int merge_one(dmvf_policy *p, dmvf_profile_def *pr, dmvf_error *err)
{
    size_t base = pr->parent ? pr->parent->nmerged : 0;
    pr->merged = dmvf__arena_alloc(&p->arena, (base + pr->nown + 1) * sizeof *pr->merged);
    if (!pr->merged)
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    size_t n = 0;
    for (size_t i = 0; i < base; i++)
        pr->merged[n++] = pr->parent->merged[i];
    for (size_t i = 0; i < pr->nown; i++) {
        const dmvf_pentry *e = &pr->own[i];
        size_t j;
        for (j = 0; j < base; j++)
            if (strcmp(pr->merged[j]->key, e->key) == 0)
                break;
        if (j < base)
            pr->merged[j] = e;
        else
            pr->merged[n++] = e;
    }
    pr->nmerged = n;
    if (pr->has_default) {
        pr->def_origin = pr->name;
    } else if (pr->parent) {
        pr->def_action = pr->parent->def_action;
        pr->def_origin = pr->parent->def_origin;
        pr->def_line = pr->parent->def_line;
        pr->def_col = pr->parent->def_col;
    } else {
        pr->def_action = DMVF_ACT_REDACT;
        pr->def_origin = NULL;
    }
    pr->merged_done = 1;
    return DMVF_OK;
}

/* Merges every profile, ancestors first, without recursion (extends chains
 * may be as long as the number of profiles). */
static int merge_all(dmvf_policy *p, dmvf_error *err)
{
    dmvf_profile_def **stack = malloc((p->nprofiles ? p->nprofiles : 1) * sizeof *stack);
    if (!stack)
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    int rc = DMVF_OK;
    for (size_t i = 0; i < p->nprofiles && rc == DMVF_OK; i++) {
        size_t n = 0;
        for (dmvf_profile_def *q = &p->profiles[i]; q && !q->merged_done; q = q->parent)
            stack[n++] = q;
        while (n && rc == DMVF_OK)
            rc = merge_one(p, stack[--n], err);
    }
    free(stack);
    return rc;
}

void dmvf__profile_resolve(const dmvf_profile_def *pr, const dmvf_sfield *sf, dmvf_resolution *r)
{
    const dmvf_pentry *exact = NULL, *best = NULL;
    size_t bestlen = 0;
    for (size_t i = 0; i < pr->nmerged; i++) {
        const dmvf_pentry *e = pr->merged[i];
        if (!e->prefix) {
            if (e->sf == sf)
                exact = e;
            continue;
        }
        size_t kl = strlen(e->key);
        if (kl > bestlen && strncmp(sf->path, e->key, kl) == 0 && sf->path[kl] == '.') {
            best = e;
            bestlen = kl;
        }
    }
    if (exact) {
        r->why = DMVF_WHY_EXACT;
        r->entry = exact;
        r->action = exact->act.action;
    } else if (sf->klass & MC) {
        r->why = DMVF_WHY_MARKING;
        r->entry = best;
        r->action = DMVF_ACT_REDACT;
    } else if (best) {
        r->why = DMVF_WHY_PREFIX;
        r->entry = best;
        r->action = best->act.action;
    } else {
        r->why = DMVF_WHY_DEFAULT;
        r->entry = NULL;
        r->action = pr->def_action;
    }
}

const dmvf_pnorm *dmvf__policy_norm(const dmvf_policy *p, const dmvf_sfield *sf)
{
    for (size_t i = 0; i < p->nnorms; i++)
        if (p->norms[i].sf == sf)
            return &p->norms[i];
    return NULL;
}

/* ------------------------------------------------------------------ rules */

static int list_subset(const dmvf_strlist *a, const dmvf_strlist *b)
{
    for (size_t i = 0; i < a->n; i++) {
        size_t j;
        for (j = 0; j < b->n; j++)
            if (strcmp(a->v[i], b->v[j]) == 0)
                break;
        if (j == b->n)
            return 0;
    }
    return 1;
}

static int all_prefixed(const dmvf_strlist *a, const dmvf_strlist *prefixes)
{
    for (size_t i = 0; i < a->n; i++) {
        size_t j;
        for (j = 0; j < prefixes->n; j++)
            if (strncmp(a->v[i], prefixes->v[j], strlen(prefixes->v[j])) == 0)
                break;
        if (j == prefixes->n)
            return 0;
    }
    return 1;
}

/* Whether every requester that j matches is matched by i. */
static int covers(const dmvf_rule *i, const dmvf_rule *j)
{
    if ((i->keys & DMVF_MK_ORI) && (!(j->keys & DMVF_MK_ORI) || !list_subset(&j->ori, &i->ori)))
        return 0;
    if (i->keys & DMVF_MK_ORI_PREFIX) {
        int ok = ((j->keys & DMVF_MK_ORI) && all_prefixed(&j->ori, &i->ori_prefix)) ||
                 ((j->keys & DMVF_MK_ORI_PREFIX) && all_prefixed(&j->ori_prefix, &i->ori_prefix));
        if (!ok)
            return 0;
    }
    if ((i->keys & DMVF_MK_AGENCY) && (!(j->keys & DMVF_MK_AGENCY) || (j->agency & ~i->agency)))
        return 0;
    if ((i->keys & DMVF_MK_TAGS) && (!(j->keys & DMVF_MK_TAGS) || !list_subset(&j->tags, &i->tags)))
        return 0;
    if ((i->keys & DMVF_MK_JURISDICTION) &&
        (!(j->keys & DMVF_MK_JURISDICTION) || !list_subset(&j->jurisdiction, &i->jurisdiction)))
        return 0;
    return 1;
}

static int check_rules(dmvf_policy *p, dmvf_error *err)
{
    for (size_t k = 0; k < p->nrules; k++) {
        dmvf_rule *r = &p->rules[k];
        if (!r->has_refusal)
            r->refusal = p->refusal;
        if (r->profile_name) {
            r->profile = find_profile(p, r->profile_name);
            if (!r->profile)
                return dmvf__perr(err, p->name, r->pline, r->pcol,
                                  "rule '%s': missing profile '%s' (no profile of that name)", r->name,
                                  r->profile_name);
        } else if (r->decision == DMVF_DECISION_RELEASE) {
            return dmvf__perr(err, p->name, r->line, r->col,
                              "rule '%s' releases but names no profile (missing profile)", r->name);
        }
        /* accountability a rule relies on must have somewhere to go: fail closed */
        if (r->notify_subject && !p->has_notices)
            return dmvf__perr(err, p->name, r->nsline, r->nscol,
                              "rule '%s' notifies subjects but the policy has no notices: {queue: ...} section",
                              r->name);
        if (r->decision == DMVF_DECISION_REVIEW && !p->has_review)
            return dmvf__perr(err, p->name, r->dline, r->dcol,
                              "rule '%s' decides review but the policy has no review section: held requests "
                              "need review: {spool, public_key}", r->name);
        if (r->marking_release && r->agency != (1u << DMVF_AGENCY_INTERNAL))
            return dmvf__perr(err, p->name, r->mline, r->mcol,
                              "rule '%s': marking: release is for the DMV's own internal use only; the rule's "
                              "match must be exactly agency_kind: [internal]", r->name);
        for (size_t i = 0; i < k; i++) {
            const dmvf_rule *e = &p->rules[i];
            if (!covers(e, r))
                continue;
            if (!e->keys)
                return dmvf__perr(err, p->name, r->line, r->col,
                                  "rule '%s' is unreachable: rule '%s' (line %u) before it matches every "
                                  "requester", r->name, e->name, e->line);
            return dmvf__perr(err, p->name, r->line, r->col,
                              "rule '%s' is unreachable: rule '%s' (line %u) before it matches every "
                              "requester it matches", r->name, e->name, e->line);
        }
        if (r->profile) {
            if (r->marking_release)
                r->profile->used_release = 1;
            else
                r->profile->used_suppressed = 1;
        }
    }
    return DMVF_OK;
}

/* ------------------------------------------------------------------ marking */

static const char *act_desc(const dmvf_fplan *a, char *buf, size_t cap)
{
    if (a->action == DMVF_ACT_GENERALIZE)
        snprintf(buf, cap, "generalize %s", dmvf__generalize_name(a->gen));
    else
        snprintf(buf, cap, "%s", dmvf__action_name(a->action));
    return buf;
}

static int check_marking(dmvf_policy *p, dmvf_error *err)
{
    for (size_t i = 0; i < p->nprofiles; i++) {
        const dmvf_profile_def *pr = &p->profiles[i];
        int suppressed = pr->used_suppressed || !pr->used_release;
        for (size_t k = 0; k < pr->nmerged; k++) {
            const dmvf_pentry *e = pr->merged[k];
            if (!(e->sf->klass & MC) || e->act.action == DMVF_ACT_REDACT)
                continue;
            char ad[48], from[160] = "";
            const char *what = (e->sf->klass & DMVF_CLASS_M) ? "marking field" : "marking-correlated field";
            if (strcmp(e->origin, pr->name) != 0)
                snprintf(from, sizeof from, " (entry of profile '%s', which '%s' extends)", e->origin, pr->name);
            else if (pr->used_release && pr->used_suppressed)
                snprintf(from, sizeof from, " (a rule without marking: release uses this profile too)");
            else if (!pr->used_release && !pr->used_suppressed)
                snprintf(from, sizeof from, " (no rule uses this profile, so it is checked as suppressed)");
            if (suppressed)
                return dmvf__perr(err, p->name, e->line, e->col,
                                  "profile '%s' would release %s %s (action %s); only a rule with marking: "
                                  "release may%s", pr->name, what, e->text, act_desc(&e->act, ad, sizeof ad), from);
            if (e->prefix)
                return dmvf__perr(err, p->name, e->line, e->col,
                                  "profile '%s': %s is a %s message; even with marking: release its fields are "
                                  "released only when named one by one%s", pr->name, e->text,
                                  (e->sf->klass & DMVF_CLASS_M) ? "marking" : "marking-correlated", from);
        }
    }
    return DMVF_OK;
}

/* Where a resolution comes from, for messages: the entry or the default
 * (line and column), and " (... of profile X, which P extends)" when it is
 * another profile's. */
static void origin_of(const dmvf_profile_def *pr, const dmvf_resolution *r, unsigned *line, unsigned *col,
                      char *from, size_t cap)
{
    const char *o = r->entry ? r->entry->origin : pr->def_origin;
    *line = r->entry ? r->entry->line : pr->def_line;
    *col = r->entry ? r->entry->col : pr->def_col;
    from[0] = '\0';
    if (o && strcmp(o, pr->name) != 0)
        snprintf(from, cap, " (%s of profile '%s', which '%s' extends)", r->entry ? "entry" : "default", o,
                 pr->name);
}

static int check_normalized(dmvf_policy *p, dmvf_error *err)
{
    size_t npaths = dmvf__schema_npaths();
    for (size_t i = 0; i < p->nprofiles; i++) {
        const dmvf_profile_def *pr = &p->profiles[i];
        if (pr->used_release && !pr->used_suppressed)
            continue; /* marking: release sees every value, unnormalized */
        for (size_t id = 0; id < npaths; id++) {
            const dmvf_sfield *sf = dmvf__schema_field(id);
            if (!(sf->klass & DMVF_CLASS_N) || sf->type == DMVF_T_MESSAGE)
                continue;
            dmvf_resolution r;
            dmvf__profile_resolve(pr, sf, &r);
            const dmvf_pnorm *nm = dmvf__policy_norm(p, sf);
            if (r.action == DMVF_ACT_REDACT || (nm && nm->t.nallow))
                continue;
            char ad[48], from[200], has[96] = "";
            unsigned line, col;
            origin_of(pr, &r, &line, &col, from, sizeof from);
            dmvf_fplan a = r.entry ? r.entry->act : (dmvf_fplan){.action = r.action};
            if (!from[0] && !pr->used_suppressed)
                snprintf(from, sizeof from, " (no rule uses this profile, so it is checked as suppressed)");
            if (nm)
                snprintf(has, sizeof has, "; its normalization (line %u) has none", nm->line);
            return dmvf__perr(err, p->name, line, col,
                              "profile '%s' gives %s action %s%s, but a state's marking values may appear in "
                              "%s: marking.normalize must give it an allow list (%s: {allow: [...]})%s",
                              pr->name, sf->path, act_desc(&a, ad, sizeof ad), from, sf->path, sf->path, has);
        }
    }
    return DMVF_OK;
}

/* ------------------------------------------------------------------ plans */

static int compile_plan(dmvf_policy *p, dmvf_profile_def *pr, int mr, dmvf_error *err)
{
    size_t npaths = dmvf__schema_npaths();
    dmvf_fplan *tmp = calloc(npaths, sizeof *tmp);
    const dmvf_fplan **leaf = calloc(npaths, sizeof *leaf);
    if (!tmp || !leaf) {
        free(tmp);
        free(leaf);
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    }
    for (size_t id = 0; id < npaths; id++) {
        const dmvf_sfield *sf = dmvf__schema_field(id);
        if (sf->type == DMVF_T_MESSAGE)
            continue;
        dmvf_resolution r;
        dmvf__profile_resolve(pr, sf, &r);
        if (r.action == DMVF_ACT_REDACT || (!mr && (sf->klass & MC)))
            continue;
        if (r.entry)
            tmp[id] = r.entry->act;
        else
            tmp[id].action = r.action;
        const dmvf_pnorm *nm = mr ? NULL : dmvf__policy_norm(p, sf);
        tmp[id].norm = nm ? &nm->t : NULL;
        leaf[id] = &tmp[id];
    }
    pr->plan[mr] = dmvf__plan_build(leaf, mr);
    free(tmp);
    free(leaf);
    if (!pr->plan[mr])
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    return DMVF_OK;
}

int dmvf__policy_compile(dmvf_policy *p, dmvf_error *err)
{
    int rc = link_extends(p, err);
    if (rc)
        return rc;
    if ((rc = merge_all(p, err)))
        return rc;
    if ((rc = check_rules(p, err)) || (rc = check_marking(p, err)) || (rc = check_normalized(p, err)))
        return rc;
    for (size_t k = 0; k < p->nrules; k++) {
        dmvf_rule *r = &p->rules[k];
        /* a review rule's profile is its would-be release (hold_for_review) */
        if (r->decision == DMVF_DECISION_DENY || !r->profile)
            continue;
        int mr = r->marking_release ? 1 : 0;
        if (!r->profile->plan[mr] && (rc = compile_plan(p, r->profile, mr, err)))
            return rc;
        r->plan = r->profile->plan[mr];
    }
    return dmvf__directory_compile(p, err);
}

void dmvf__policy_release_plans(dmvf_policy *p)
{
    for (size_t i = 0; i < p->nprofiles; i++) {
        dmvf__plan_free(p->profiles[i].plan[0]);
        dmvf__plan_free(p->profiles[i].plan[1]);
        p->profiles[i].plan[0] = p->profiles[i].plan[1] = NULL;
    }
}
