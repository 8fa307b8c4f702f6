/*
 * policy/decide.h - what the policy layer gives the layers above it: the
 * verdict on one request, and the count of handles borrowing a policy.
 */
#ifndef DMVF_POLICY_DECIDE_H
#define DMVF_POLICY_DECIDE_H

#include "dmvfilter/filter.h"
#include "dmvfilter/policy.h"
#include "filter/wire/plan.h"

/* ---- the policy's verdict on one request ---- */
typedef struct dmvf_verdict {
    dmvf_decision decision;
    dmvf_refusal refusal;           /* how a DENY looks to the requester */
    const char *rule_name;          /* NULL when no rule matched */
    const dmvf_plan *plan;          /* set when decision is RELEASE, and for
                                       REVIEW when the rule has a profile (the
                                       would-be release, options.hold_for_review) */
    uint64_t max_records;           /* 0 = no limit */
    int notify_subject;
    char reason[256];               /* one line, for the DMV */
} dmvf_verdict;

/* Use counting for the handles that borrow a policy: dmvf_policy_free
 * aborts (misuse) while any is alive. Thread-safe. */
void dmvf__policy_acquire(const dmvf_policy *p);
void dmvf__policy_release(const dmvf_policy *p);

/* Evaluates the rules in order: the first whose match fits the requester
 * decides; then its requirements (purpose, legal process, query kind,
 * certification date) are checked; any unmet requirement refuses with the
 * rule's refusal form. No match: DENY with the policy's default refusal.
 * The record limit is enforced later, by the filter. Never fails. */
void dmvf__policy_decide(const dmvf_policy *p, const dmvf_request *req, dmvf_verdict *v);

#endif
