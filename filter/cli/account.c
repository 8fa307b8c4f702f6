/*
 * account.c - what `dmvfilter filter` writes besides the release: the audit
 * log, subject notices and review holds.
 *
 * Order per request (write-ahead: every step is fsync'd before the next,
 * and a failure stops the request with nothing released):
 *
 *   decision -> audit REQUEST -> [records rewritten, output written aside]
 *            -> notices queued -> audit RELEASE -> output committed
 *
 * The steps are filter/account/request_acct.h's, which `dmvfilter serve`
 * takes too; this file holds where they write, and their failures in the
 * command line's words and exit codes. A refused request with
 * notify_subject reads its records (without releasing them) so that the
 * subjects it asked for are notified; a request held for review has its
 * would-be release sealed into the review spool, and both are audited.
 * Where the settings come from: the policy's audit, notices and review
 * sections, overridden by --audit, --notices, --review-spool and
 * --review-public-key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"

int dmvf__cli_acct_flag(dmvf_cli_args *a, dmvf__reqacct_flags *fl)
{
    const char *v;
    if (dmvf__cli_value(a, "--audit", &v))
        fl->audit_dir = v;
    else if (dmvf__cli_switch(a, "--audit-subjects"))
        fl->audit_subjects = 1;
    else if (dmvf__cli_value(a, "--notices", &v))
        fl->notices = v;
    else if (dmvf__cli_value(a, "--review-spool", &v))
        fl->review_spool = v;
    else if (dmvf__cli_value(a, "--review-public-key", &v))
        fl->review_pub = v;
    else
        return 0;
    return 1;
}

int dmvf__cli_acct_open(dmvf_cli_acct *ac, const dmvf__reqacct_flags *fl, const dmvf_policy *pol,
                        const dmvf_keyring *kr)
{
    memset(ac, 0, sizeof *ac);
    dmvf_error err;
    memset(&err, 0, sizeof err);
    const char *dir;
    int st = dmvf__reqacct_audit_open(pol, kr, fl, &ac->where.audit, &dir, &ac->subjects, &err);
    if (st == DMVF_EPOLICY && !dir) {
        dmvf__cli_err("the policy requires an audit log (audit: {required: true}) and none is "
                      "given: set audit: {dir: ...} in the policy or pass --audit DIR; nothing released");
        return DMVF_EXIT_POLICY;
    }
    if (st != DMVF_OK) {
        dmvf__cli_err("audit log %s: %s; nothing released", dir, err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return st == DMVF_ETAMPER ? DMVF_EXIT_TAMPER : st == DMVF_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_IOERR;
    }
    ac->dir = ac->where.audit ? dir : NULL;
    dmvf__reqacct_where_set(&ac->where, &ac->ns, pol, fl);
    ac->where.make_dirs = 1;
    return 0;
}

int dmvf__cli_acct_close(dmvf_cli_acct *ac)
{
    if (!ac->where.audit)
        return 0;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_audit_close(ac->where.audit, &err);
    ac->where.audit = NULL;
    if (st != DMVF_OK) {
        dmvf__cli_err("audit log %s: closing checkpoint: %s", ac->dir,
                      err.msg[0] ? err.msg : dmvf_strerror(st));
        return DMVF_EXIT_IOERR;
    }
    return 0;
}

void dmvf__cli_acct_options(const dmvf_cli_acct *ac, dmvf_filter_options *fo)
{
    fo->count_fields = ac->where.audit != NULL;
    fo->collect_subjects = ac->where.audit != NULL && ac->subjects;
}

int dmvf__cli_acct_failed(const dmvf_cli_acct *ac, const dmvf__reqacct *ra)
{
    const dmvf__reqacct_fail *fl = &ra->fail;
    const char *why = fl->err.msg[0] ? fl->err.msg : dmvf_strerror(fl->err.code);
    int nomem = fl->err.code == DMVF_ENOMEM;
    switch (fl->step) {
    case DMVF__RA_AUDIT:
        dmvf__cli_err("audit log %s: %s: %s; nothing released", ac->dir, fl->what, why);
        return nomem ? DMVF_EXIT_NOMEM : DMVF_EXIT_IOERR;
    case DMVF__RA_NO_QUEUE:
        dmvf__cli_err("the rule notifies subjects but no notice queue is set; nothing released");
        return DMVF_EXIT_POLICY;
    case DMVF__RA_QUEUE_DIR:
        dmvf__cli_err("notice queue %s: cannot create its directory: %s; nothing released",
                      ac->where.notices, strerror(fl->sys_errno));
        return DMVF_EXIT_IOERR;
    case DMVF__RA_NOTICES: /* the queue's own message names it */
        dmvf__cli_err("%s; nothing released", why);
        return nomem ? DMVF_EXIT_NOMEM : DMVF_EXIT_IOERR;
    case DMVF__RA_NO_SPOOL:
        dmvf__cli_err("the request is held for review but no review spool and public key are "
                      "set (review: {spool, public_key} in the policy, or --review-spool and "
                      "--review-public-key); nothing released");
        return DMVF_EXIT_POLICY;
    case DMVF__RA_REVIEW:
        dmvf__cli_err("review spool %s: %s; nothing released", ac->where.spool, why);
        return nomem ? DMVF_EXIT_NOMEM
               : fl->err.code == DMVF_EKEYRING ? DMVF_EXIT_KEYRING : DMVF_EXIT_IOERR;
    case DMVF__RA_OK:
        break;
    }
    return DMVF_EXIT_SOFTWARE;
}

/* A request's accounting at seq, for the steps of the records format. */
static dmvf__reqacct at(const dmvf_cli_acct *ac, uint64_t seq)
{
    dmvf__reqacct ra;
    dmvf__reqacct_init(&ra, &ac->where);
    ra.seq = seq;
    return ra;
}

int dmvf__cli_acct_request(dmvf_cli_acct *ac, const dmvf_filter *f, uint64_t *seq)
{
    dmvf__reqacct ra = at(ac, 0);
    int rc = dmvf__reqacct_request(&ra, f);
    *seq = ra.seq;
    return rc ? dmvf__cli_acct_failed(ac, &ra) : 0;
}

int dmvf__cli_acct_notify(dmvf_cli_acct *ac, const dmvf_filter *f, uint32_t *queued)
{
    dmvf__reqacct ra = at(ac, 0);
    return dmvf__reqacct_notify(&ra, f, queued) ? dmvf__cli_acct_failed(ac, &ra) : 0;
}

int dmvf__cli_acct_release(dmvf_cli_acct *ac, const dmvf_filter *f, const dmvf_audit_counts *c,
                           uint64_t seq, const char *note)
{
    dmvf__reqacct ra = at(ac, seq);
    return dmvf__reqacct_release(&ra, f, c, note) ? dmvf__cli_acct_failed(ac, &ra) : 0;
}

int dmvf__cli_acct_event(dmvf_cli_acct *ac, const dmvf_filter *f, dmvf_audit_kind kind,
                         const dmvf_audit_counts *c, uint64_t seq, const char *review_id,
                         const char *note)
{
    dmvf__reqacct ra = at(ac, seq);
    return dmvf__reqacct_event(&ra, f, kind, c, review_id, note, 0) ? dmvf__cli_acct_failed(ac, &ra) : 0;
}

int dmvf__cli_acct_hold(dmvf_cli_acct *ac, const dmvf_filter *f, const void *release, size_t len,
                        const dmvf_audit_counts *c, uint64_t seq, char id[DMVF_REVIEW_ID_LEN + 1])
{
    dmvf__reqacct ra = at(ac, seq);
    int rc = dmvf__reqacct_hold(&ra, f, release, len, c);
    memcpy(id, ra.held, sizeof ra.held);
    return rc ? dmvf__cli_acct_failed(ac, &ra) : 0;
}

int dmvf__cli_acct_no_subject(dmvf_cli_acct *ac, const dmvf_filter *f, uint64_t seq, uint64_t record)
{
    dmvf__reqacct ra = at(ac, seq);
    return dmvf__reqacct_no_subject(&ra, f, record) ? dmvf__cli_acct_failed(ac, &ra) : 0;
}
