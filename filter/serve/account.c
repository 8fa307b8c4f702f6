/*
 * account.c - one service request's accounting, in the order the command
 * line keeps (filter/cli/filter_framed.c):
 *
 *   decided      audit REQUEST entry, before any output
 *   its end      notices queued; audit RELEASE entry (refused: an entry
 *                when it notified subjects or passed its record limit;
 *                held: sealed into the review spool, REVIEW_HOLD entry)
 *   then         its trailer; the reply is sent only after all of it
 *
 * Every entry names the client (dmvf_filter_client). Requests on several
 * threads call these at once: the audit handle commits their entries in
 * shared batches (group commit, audit.h), the notice queue and the review
 * spool order their writers themselves, so no lock is held here.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "filter/serve/serve_int.h"

int dmvf__acct_open(dmvf__acct *a, const dmvf_serve_config *cfg, const dmvf__snap *sn, char *msg, size_t cap)
{
    memset(a, 0, sizeof *a);
    dmvf_policy_audit as;
    dmvf_policy_audit_settings(sn->pol, &as);
    const char *dir = cfg->audit_dir ? cfg->audit_dir : as.dir;
    if (!dir && as.required) {
        snprintf(msg, cap, "the policy requires an audit log (audit: {required: true}) and none is given: "
                 "set audit: {dir: ...} in the policy or pass --audit DIR");
        return DMVF_EPOLICY;
    }
    a->subjects = cfg->audit_subjects || as.subjects;
    if (!dir)
        return DMVF_OK;
    dmvf_audit_options ao;
    memset(&ao, 0, sizeof ao);
    ao.rotate_bytes = as.rotate_bytes;
    ao.rotate_seconds = as.rotate_seconds;
    ao.compress = as.compress;
    ao.subjects = a->subjects;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    a->audit = dmvf_audit_open(dir, sn->kr, &ao, &err);
    if (!a->audit) {
        snprintf(msg, cap, "audit log %s: %s", dir, err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return err.code ? err.code : DMVF_EIO;
    }
    a->dir = dir;
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

static int fail(dmvf__racct *ra, const char *what, const dmvf_error *err)
{
    snprintf(ra->msg, sizeof ra->msg, "%s: %s; nothing released", what,
             err->msg[0] ? err->msg : dmvf_strerror(err->code));
    ra->failed = 1;
    return -1;
}

static int event(dmvf__racct *ra, const dmvf_filter *f, dmvf_audit_kind kind, const dmvf_audit_counts *c,
                 const char *review_id, const char *note, int decision)
{
    if (!ra->a->audit)
        return 0;
    dmvf_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.request = dmvf_filter_request(f);
    ev.rule = dmvf_filter_rule(f);
    ev.policy_id = dmvf_filter_policy_id(f);
    ev.review_id = review_id;
    ev.note = note;
    ev.ref = ra->seq;
    ev.decision = decision;
    ev.client = dmvf_filter_client(f);
    if (c)
        ev.counts = *c;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (dmvf_audit_event_write(ra->a->audit, &ev, NULL, &err) != DMVF_OK)
        return fail(ra, "audit log: writing an entry", &err);
    return 0;
}

static int notify(dmvf__racct *ra, const dmvf_filter *f, uint32_t *queued)
{
    *queued = 0;
    if (!dmvf_filter_notify_subject(f))
        return 0;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (!ra->sn->notices) {
        dmvf__seterr(&err, DMVF_EPOLICY, "the rule notifies subjects but no notice queue is set");
        return fail(ra, "notices", &err);
    }
    if (dmvf_notices_queue(ra->sn->notices, f, &ra->sn->ns, 0, queued, &err) != DMVF_OK)
        return fail(ra, "notice queue", &err);
    return 0;
}

static int hold(dmvf__racct *ra, const dmvf_filter *f, const dmvf_audit_counts *c)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (!ra->sn->spool || !ra->sn->review_pub) {
        dmvf__seterr(&err, DMVF_EPOLICY, "held for review but no review spool and public key are set");
        return fail(ra, "review", &err);
    }
    const void *held;
    size_t len;
    dmvf_framed_held(ra->fr, &held, &len);
    if (dmvf_review_hold(ra->sn->spool, ra->sn->review_pub, f, held, len, c, ra->seq, ra->held, &err) != DMVF_OK)
        return fail(ra, "review spool", &err);
    return event(ra, f, DMVF_AUDIT_REVIEW_HOLD, c, ra->held, NULL, 0);
}

static int hook_steps(dmvf__racct *ra, dmvf_filter *f, const dmvf_trailer *t)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (!t) {
        ra->decision0 = dmvf_filter_decision(f);
        ra->held[0] = '\0';
        ra->seq = 0;
        if (ra->a->audit && dmvf_audit_request(ra->a->audit, f, &ra->seq, &err) != DMVF_OK)
            return fail(ra, "audit log: writing the request entry", &err);
        return 0;
    }
    dmvf_audit_counts c;
    memset(&c, 0, sizeof c);
    dmvf_filter_counts(f, &c.records_in, &c.records_out, &c.records_dropped);
    dmvf_decision d = dmvf_filter_decision(f);
    int over = ra->decision0 == DMVF_DECISION_RELEASE && d != DMVF_DECISION_RELEASE;
    if (d == DMVF_DECISION_DENY)
        c.records_out = 0;
    if (notify(ra, f, &c.notices))
        return -1;
    if (d == DMVF_DECISION_RELEASE) {
        if (ra->a->audit && dmvf_audit_release(ra->a->audit, f, &c, ra->seq, &err) != DMVF_OK)
            return fail(ra, "audit log: writing the release entry", &err);
        return 0;
    }
    if (d == DMVF_DECISION_REVIEW)
        return hold(ra, f, &c);
    if (over)
        return event(ra, f, DMVF_AUDIT_RELEASE, &c, NULL, "refused: more than the record limit; nothing released", 0);
    if (c.notices)
        return event(ra, f, DMVF_AUDIT_RELEASE, &c, NULL, "refused: nothing released; subjects notified", 0);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int dmvf__racct_hook(void *ud, dmvf_filter *f, const dmvf_trailer *t)
{
    dmvf__racct *ra = ud;
    double t0 = now_s();
    int rc = hook_steps(ra, f, t);
    if (ra->a->audit)
        dmvf__metrics_audit(ra->a->m, now_s() - t0);
    return rc;
}

int dmvf__racct_refused(dmvf__racct *ra, const dmvf_filter *f, const char *note)
{
    int rc = event(ra, f, DMVF_AUDIT_REQUEST, NULL, NULL, note, DMVF_DECISION_DENY);
    return rc;
}

int dmvf__racct_no_subject(dmvf__racct *ra, const dmvf_filter *f, uint64_t record)
{
    char note[200];
    dmvf_audit_counts c;
    memset(&c, 0, sizeof c);
    c.records_in = record + 1;
    snprintf(note, sizeof note, "refused: record %llu has no record_id and the rule notifies subjects; "
             "nothing released", (unsigned long long)record);
    int rc = event(ra, f, DMVF_AUDIT_RELEASE, &c, NULL, note, 0);
    return rc;
}
