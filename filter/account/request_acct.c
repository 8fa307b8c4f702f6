/*
 * request_acct.c - one request's accounting (request_acct.h): the audit
 * entries, notices and review holds of `dmvfilter filter` and `dmvfilter
 * serve`, and the framed stream's audit hook that orders them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "filter/core/error.h"
#include "filter/account/request_acct.h"

void dmvf__reqacct_init(dmvf__reqacct *ra, const dmvf__reqacct_where *w)
{
    memset(ra, 0, sizeof *ra);
    ra->w = w;
}

void dmvf__reqacct_where_set(dmvf__reqacct_where *w, dmvf_policy_notices *ns, const dmvf_policy *pol,
                             const dmvf__reqacct_flags *fl)
{
    dmvf_policy_review rs;
    dmvf_policy_notice_settings(pol, ns);
    dmvf_policy_review_settings(pol, &rs);
    w->notices = fl->notices ? fl->notices : ns->queue;
    w->ns = ns;
    w->spool = fl->review_spool ? fl->review_spool : rs.spool;
    w->review_pub = fl->review_pub ? fl->review_pub : rs.public_key;
}

int dmvf__reqacct_audit_open(const dmvf_policy *pol, const dmvf_keyring *kr, const dmvf__reqacct_flags *fl,
                             dmvf_audit **audit, const char **dir, int *subjects, dmvf_error *err)
{
    dmvf_policy_audit as;
    dmvf_policy_audit_settings(pol, &as);
    *audit = NULL;
    *dir = fl->audit_dir ? fl->audit_dir : as.dir;
    *subjects = fl->audit_subjects || as.subjects;
    if (!*dir)
        return as.required ? DMVF_EPOLICY : DMVF_OK;
    dmvf_audit_options ao;
    memset(&ao, 0, sizeof ao);
    ao.rotate_bytes = as.rotate_bytes;
    ao.rotate_seconds = as.rotate_seconds;
    ao.compress = as.compress;
    ao.subjects = *subjects;
    ao.defer_request_sync = fl->defer_request_sync;
    *audit = dmvf_audit_open(*dir, kr, &ao, err);
    if (!*audit)
        return err->code ? err->code : DMVF_EIO;
    return DMVF_OK;
}

/* Notes the failure of step (err copied when given); returns -1. */
static int fail(dmvf__reqacct *ra, dmvf__reqacct_step step, const char *what, const dmvf_error *err)
{
    ra->fail.step = step;
    ra->fail.what = what;
    if (err)
        ra->fail.err = *err;
    return -1;
}

/* Creates the directories leading to file path (mode 0700), as a spool's
 * would be: a queue named by the policy may live in a directory not made
 * yet. Existing directories are left as they are. 0 or -1 (errno). */
static int make_parents(const char *path)
{
    char *d = strdup(path);
    if (!d)
        return -1;
    char *slash = strrchr(d, '/');
    int rc = 0;
    if (slash && slash != d) {
        *slash = '\0';
        for (char *p = d + 1; rc == 0; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            char c = *p;
            *p = '\0';
            if (mkdir(d, 0700) != 0 && errno != EEXIST)
                rc = -1;
            *p = c;
            if (c == '\0')
                break;
        }
    }
    free(d);
    return rc;
}

int dmvf__reqacct_request(dmvf__reqacct *ra, const dmvf_filter *f)
{
    ra->decision0 = dmvf_filter_decision(f);
    ra->held[0] = '\0';
    ra->seq = 0;
    if (!ra->w->audit)
        return DMVF_OK;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (dmvf_audit_request(ra->w->audit, f, &ra->seq, &err) != DMVF_OK)
        return fail(ra, DMVF__RA_AUDIT, "writing the request entry", &err);
    ra->unsynced = 1;
    return DMVF_OK;
}

int dmvf__reqacct_settle(dmvf__reqacct *ra)
{
    if (!ra->unsynced)
        return DMVF_OK;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (dmvf_audit_sync(ra->w->audit, &err) != DMVF_OK)
        return fail(ra, DMVF__RA_AUDIT, "making the request entry durable", &err);
    ra->unsynced = 0;
    return DMVF_OK;
}

int dmvf__reqacct_notify(dmvf__reqacct *ra, const dmvf_filter *f, uint32_t *queued)
{
    *queued = 0;
    if (!dmvf_filter_notify_subject(f))
        return DMVF_OK;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (!ra->w->notices) {
        /* the policy compiler refuses such a policy; a flag cannot remove the queue */
        dmvf__seterr(&err, DMVF_EPOLICY, "the rule notifies subjects but no notice queue is set");
        return fail(ra, DMVF__RA_NO_QUEUE, NULL, &err);
    }
    if (ra->w->make_dirs && make_parents(ra->w->notices) != 0) {
        ra->fail.sys_errno = errno;
        dmvf__seterr(&err, DMVF_EIO, "cannot create its directory: %s", strerror(errno));
        return fail(ra, DMVF__RA_QUEUE_DIR, NULL, &err);
    }
    if (dmvf_notices_queue(ra->w->notices, f, ra->w->ns, 0, queued, &err) != DMVF_OK)
        return fail(ra, DMVF__RA_NOTICES, NULL, &err);
    return DMVF_OK;
}

int dmvf__reqacct_release(dmvf__reqacct *ra, const dmvf_filter *f, const dmvf_audit_counts *c,
                          const char *note)
{
    if (!ra->w->audit)
        return DMVF_OK;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (dmvf_audit_release_note(ra->w->audit, f, c, ra->seq, note, &err) != DMVF_OK)
        return fail(ra, DMVF__RA_AUDIT, "writing the release entry", &err);
    ra->unsynced = 0;   /* its fsync covered the REQUEST entry */
    return DMVF_OK;
}

int dmvf__reqacct_event(dmvf__reqacct *ra, const dmvf_filter *f, dmvf_audit_kind kind,
                        const dmvf_audit_counts *c, const char *review_id, const char *note,
                        int decision)
{
    if (!ra->w->audit)
        return DMVF_OK;
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
    if (dmvf_audit_event_write(ra->w->audit, &ev, NULL, &err) != DMVF_OK)
        return fail(ra, DMVF__RA_AUDIT, "writing an entry", &err);
    ra->unsynced = 0;
    return DMVF_OK;
}

int dmvf__reqacct_hold(dmvf__reqacct *ra, const dmvf_filter *f, const void *release, size_t len,
                       const dmvf_audit_counts *c)
{
    ra->held[0] = '\0';
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (!ra->w->spool || !ra->w->review_pub) {
        dmvf__seterr(&err, DMVF_EPOLICY, "held for review but no review spool and public key are set");
        return fail(ra, DMVF__RA_NO_SPOOL, NULL, &err);
    }
    if (dmvf_review_hold(ra->w->spool, ra->w->review_pub, f, release, len, c, ra->seq, ra->held,
                         &err) != DMVF_OK)
        return fail(ra, DMVF__RA_REVIEW, NULL, &err);
    return dmvf__reqacct_event(ra, f, DMVF_AUDIT_REVIEW_HOLD, c, ra->held, NULL, 0);
}

int dmvf__reqacct_no_subject(dmvf__reqacct *ra, const dmvf_filter *f, uint64_t record)
{
    char note[200];
    dmvf_audit_counts c;
    memset(&c, 0, sizeof c);
    c.records_in = record + 1;
    snprintf(note, sizeof note, "refused: record %llu has no record_id and the rule notifies "
             "subjects; nothing released", (unsigned long long)record);
    return dmvf__reqacct_event(ra, f, DMVF_AUDIT_RELEASE, &c, NULL, note, 0);
}

int dmvf__reqacct_hook(void *ud, dmvf_filter *f, const dmvf_trailer *t)
{
    dmvf__reqacct *ra = ud;
    if (!t)
        return dmvf__reqacct_request(ra, f);
    dmvf_audit_counts c;
    memset(&c, 0, sizeof c);
    dmvf_filter_counts(f, &c.records_in, &c.records_out, &c.records_dropped);
    dmvf_decision d = dmvf_filter_decision(f);
    /* the library turns a release past its record limit into a refusal; the
       limit counts released records (dmvf_filter_max_records) */
    int over = ra->decision0 == DMVF_DECISION_RELEASE && d != DMVF_DECISION_RELEASE;
    if (d == DMVF_DECISION_DENY)
        c.records_out = 0;
    if (dmvf__reqacct_notify(ra, f, &c.notices))
        return -1;
    if (d == DMVF_DECISION_RELEASE)
        return dmvf__reqacct_release(ra, f, &c, NULL);
    if (d == DMVF_DECISION_REVIEW) {
        const void *held;
        size_t len;
        dmvf_framed_held(ra->fr, &held, &len);
        return dmvf__reqacct_hold(ra, f, held, len, &c);
    }
    if (over)
        return dmvf__reqacct_event(ra, f, DMVF_AUDIT_RELEASE, &c, NULL,
                                   "refused: more than the record limit; nothing released", 0);
    if (c.notices)
        return dmvf__reqacct_event(ra, f, DMVF_AUDIT_RELEASE, &c, NULL,
                                   "refused: nothing released; subjects notified", 0);
    return DMVF_OK;
}
