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
    dmvf_precheck precheck;         /* a refusal before any rule was judged, or
                                       DMVF_PRECHECK_PASSED */
    const dmvf_requester *who;      /* the directory's entry for the requester
                                       (owned by the policy); NULL when none
                                       identified it (a bad request, an ORI
                                       not in the directory) */
    uint32_t judged;                /* YYYYMMDD the request was judged on */
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

/* Judges the request on the day as_of (YYYYMMDD, a valid date; 0: today,
 * UTC). First the requester check, each failure a DENY in the policy's
 * default refusal form with v->precheck saying which:
 *   a bad request: dmvf_request_validate refuses it, or its date is set
 *     and is not the day judged on;
 *   its ORI is not in the requester directory;
 *   it says an agency kind, jurisdiction or tag set that the directory's
 *     entry contradicts.
 * Then the rules in order: the first whose match fits (ori and ori_prefix
 * on the request's ORI; agency_kind, tags and jurisdiction on the
 * directory's entry) decides; a release rule's requirements (purpose,
 * legal process, query kind, the rule's certification date, the entry's
 * certification date) are checked, and a review rule's entry
 * certification; any unmet requirement refuses with the rule's refusal
 * form. No match: DENY with the policy's default refusal. The record limit
 * is enforced later, by the filter. Never fails. */
void dmvf__policy_decide(const dmvf_policy *p, const dmvf_request *req, uint32_t as_of, dmvf_verdict *v);

#endif
