/*
 * account.c - the service's audit log, and one request's accounting: the
 * steps of filter/account/request_acct.h, which the command line takes
 * too (filter/cli/filter_framed.c), in the same order:
 *
 *   decided      audit REQUEST entry, written before the rewrite
 *   its end      notices queued; audit RELEASE entry (refused: an entry
 *                when it notified subjects or passed its record limit;
 *                held: sealed into the review spool, REVIEW_HOLD entry)
 *   then         its trailer; the reply is sent only after all of it
 *
 * The service's REQUEST entries are deferred (audit.h: defer_request_sync):
 * written before the rewrite, made durable by the request's next entry
 * (its RELEASE entry's fsync) or, for a reply that follows no later entry
 * (a refusal without one, an error), by dmvf__racct_settle before the reply
 * is sent: one group commit a call instead of two, and still nothing of a
 * call leaves before every entry of it is durable.
 *
 * Every entry names the client (dmvf_filter_client). Requests on several
 * threads call these at once: the audit handle commits their entries in
 * shared batches (group commit, audit.h), the notice queue and the review
 * spool order their writers themselves, so no lock is held here. A failed
 * step is put in the log's words (ra->msg) here.
 */
#include <stdio.h>
#include <string.h>
#include "filter/serve/serve_int.h"

int dmvf__acct_open(dmvf__acct *a, const dmvf_serve_config *cfg, const dmvf__snap *sn, char *msg, size_t cap)
{
    memset(a, 0, sizeof *a);
    dmvf_error err;
    memset(&err, 0, sizeof err);
    const char *dir;
    dmvf__reqacct_flags fl = cfg->acct;
    fl.defer_request_sync = 1;   /* nothing leaves before dmvf__racct_settle */
    int st = dmvf__reqacct_audit_open(sn->pol, sn->kr, &fl, &a->audit, &dir, &a->subjects, &err);
    if (st == DMVF_EPOLICY && !dir) {
        snprintf(msg, cap, "the policy requires an audit log (audit: {required: true}) and none is given: "
                 "set audit: {dir: ...} in the policy or pass --audit DIR");
        return st;
    }
    if (st != DMVF_OK) {
        snprintf(msg, cap, "audit log %s: %s", dir, err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return st;
    }
    a->dir = a->audit ? dir : NULL;
    return DMVF_OK;
}

int dmvf__acct_close(dmvf__acct *a, char *msg, size_t cap)
{
    int st = DMVF_OK;
    if (a->audit) {
        dmvf_error err;
        memset(&err, 0, sizeof err);
        st = dmvf_audit_close(a->audit, &err);
        a->audit = NULL;
        if (st != DMVF_OK)
            snprintf(msg, cap, "audit log %s: closing checkpoint: %s", a->dir,
                     err.msg[0] ? err.msg : dmvf_strerror(st));
    }
    return st;
}

void dmvf__racct_init(dmvf__racct *ra, dmvf__acct *a, const dmvf__snap *sn)
{
    memset(ra, 0, sizeof *ra);
    ra->a = a;
    ra->w = sn->where;
    ra->w.audit = a->audit;
    dmvf__reqacct_init(&ra->r, &ra->w);
}

/* The failure of a step (ra->r.fail) in the service's log words; returns -1. */
static int failed(dmvf__racct *ra)
{
    const dmvf__reqacct_fail *fl = &ra->r.fail;
    const char *why = fl->err.msg[0] ? fl->err.msg : dmvf_strerror(fl->err.code);
    const char *what = fl->step == DMVF__RA_NO_QUEUE ? "notices"
                       : fl->step == DMVF__RA_NO_SPOOL ? "review"
                       : fl->step == DMVF__RA_REVIEW ? "review spool"
                       : fl->step == DMVF__RA_AUDIT ? "audit log" : "notice queue";
    if (fl->step == DMVF__RA_NOTICES) /* the queue's own message names it */
        snprintf(ra->msg, sizeof ra->msg, "%s; nothing released", why);
    else
        snprintf(ra->msg, sizeof ra->msg, "%s%s%s: %s; nothing released", what, fl->what ? ": " : "",
                 fl->what ? fl->what : "", why);
    ra->kind = what;
    ra->failed = 1;
    return -1;
}

void dmvf__racct_reply(const dmvf__racct *ra, dmvf__reply *r)
{
    fprintf(stderr, "dmvfilter serve: %s\n", ra->msg);
    dmvf__reply_error(r, DMVF__C_INTERNAL, "the request could not be accounted for (%s); nothing released",
                      ra->kind ? ra->kind : "audit log");
}

int dmvf__racct_hook(void *ud, dmvf_filter *f, const dmvf_trailer *t)
{
    dmvf__racct *ra = ud;
    double t0 = dmvf__metrics_now();
    int rc = dmvf__reqacct_hook(&ra->r, f, t) ? failed(ra) : 0;
    if (ra->a->audit)
        dmvf__metrics_audit(ra->a->m, dmvf__metrics_now() - t0);
    return rc;
}

int dmvf__racct_refused(dmvf__racct *ra, const dmvf_filter *f, const char *note)
{
    return dmvf__reqacct_event(&ra->r, f, DMVF_AUDIT_REQUEST, NULL, NULL, note, DMVF_DECISION_DENY) ? failed(ra)
                                                                                                : 0;
}

void dmvf__racct_settle(dmvf__racct *ra, dmvf__reply *r)
{
    if (dmvf__reqacct_settle(&ra->r) != DMVF_OK && !ra->failed) {
        failed(ra);
        dmvf__racct_reply(ra, r);
    }
}

int dmvf__racct_no_subject(dmvf__racct *ra, const dmvf_filter *f, uint64_t record)
{
    return dmvf__reqacct_no_subject(&ra->r, f, record) ? failed(ra) : 0;
}
