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
 * A refused request with notify_subject reads its records (without
 * releasing them) so that the subjects it asked for are notified; a request
 * held for review has its would-be release sealed into the review spool,
 * and both are audited. Where the settings come from: the policy's audit,
 * notices and review sections, overridden by --audit, --notices,
 * --review-spool and --review-public-key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "filter/cli/cli.h"

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

int dmvf__cli_acct_open(dmvf_cli_acct *ac, const dmvf_cli_acct_flags *fl, const dmvf_policy *pol,
                        const dmvf_keyring *kr)
{
    memset(ac, 0, sizeof *ac);
    dmvf_policy_audit as;
    dmvf_policy_review rs;
    dmvf_policy_audit_settings(pol, &as);
    dmvf_policy_notice_settings(pol, &ac->ns);
    dmvf_policy_review_settings(pol, &rs);
    const char *dir = fl->audit_dir ? fl->audit_dir : as.dir;
    if (!dir && as.required) {
        dmvf__cli_err("the policy requires an audit log (audit: {required: true}) and none is "
                      "given: set audit: {dir: ...} in the policy or pass --audit DIR; nothing released");
        return DMVF_EXIT_POLICY;
    }
    ac->notices = fl->notices ? fl->notices : ac->ns.queue;
    ac->spool = fl->review_spool ? fl->review_spool : rs.spool;
    ac->review_pub = fl->review_pub ? fl->review_pub : rs.public_key;
    ac->subjects = fl->audit_subjects || as.subjects;
    if (dir) {
        dmvf_audit_options ao;
        memset(&ao, 0, sizeof ao);
        ao.rotate_bytes = as.rotate_bytes;
        ao.rotate_seconds = as.rotate_seconds;
        ao.compress = as.compress;
        ao.subjects = ac->subjects;
        dmvf_error err;
        memset(&err, 0, sizeof err);
        ac->audit = dmvf_audit_open(dir, kr, &ao, &err);
        if (!ac->audit) {
            dmvf__cli_err("audit log %s: %s; nothing released", dir,
                          err.msg[0] ? err.msg : dmvf_strerror(err.code));
            return err.code == DMVF_ETAMPER ? DMVF_EXIT_TAMPER
                   : err.code == DMVF_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_IOERR;
        }
        ac->dir = dir;
    }
    return 0;
}

int dmvf__cli_acct_close(dmvf_cli_acct *ac)
{
    if (!ac->audit)
        return 0;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_audit_close(ac->audit, &err);
    ac->audit = NULL;
    if (st != DMVF_OK) {
        dmvf__cli_err("audit log %s: closing checkpoint: %s", ac->dir,
                      err.msg[0] ? err.msg : dmvf_strerror(st));
        return DMVF_EXIT_IOERR;
    }
    return 0;
}

void dmvf__cli_acct_options(const dmvf_cli_acct *ac, dmvf_filter_options *fo)
{
    fo->count_fields = ac->audit != NULL;
    fo->collect_subjects = ac->audit != NULL && ac->subjects;
}

static int audit_fail(const dmvf_cli_acct *ac, const char *what, const dmvf_error *err)
{
    dmvf__cli_err("audit log %s: %s: %s; nothing released", ac->dir, what,
                  err->msg[0] ? err->msg : dmvf_strerror(err->code));
    return err->code == DMVF_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_IOERR;
}

int dmvf__cli_acct_request(dmvf_cli_acct *ac, const dmvf_filter *f, uint64_t *seq)
{
    *seq = 0;
    if (!ac->audit)
        return 0;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (dmvf_audit_request(ac->audit, f, seq, &err) != DMVF_OK)
        return audit_fail(ac, "writing the request entry", &err);
    return 0;
}

int dmvf__cli_acct_notify(dmvf_cli_acct *ac, const dmvf_filter *f, uint32_t *queued)
{
    *queued = 0;
    if (!dmvf_filter_notify_subject(f))
        return 0;
    if (!ac->notices) {
        /* the policy compiler refuses such a policy; a flag cannot remove the queue */
        dmvf__cli_err("the rule notifies subjects but no notice queue is set; nothing released");
        return DMVF_EXIT_POLICY;
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (make_parents(ac->notices) != 0) {
        dmvf__cli_err("notice queue %s: cannot create its directory: %s; nothing released",
                      ac->notices, strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    if (dmvf_notices_queue(ac->notices, f, &ac->ns, 0, queued, &err) != DMVF_OK) {
        dmvf__cli_err("notice queue %s: %s; nothing released", ac->notices,
                      err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return err.code == DMVF_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_IOERR;
    }
    return 0;
}

int dmvf__cli_acct_release(dmvf_cli_acct *ac, const dmvf_filter *f, const dmvf_audit_counts *c,
                           uint64_t seq, const char *note)
{
    if (!ac->audit)
        return 0;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (dmvf_audit_release_note(ac->audit, f, c, seq, note, &err) != DMVF_OK)
        return audit_fail(ac, "writing the release entry", &err);
    return 0;
}

int dmvf__cli_acct_event(dmvf_cli_acct *ac, const dmvf_filter *f, dmvf_audit_kind kind,
                         const dmvf_audit_counts *c, uint64_t seq, const char *review_id,
                         const char *note)
{
    if (!ac->audit)
        return 0;
    dmvf_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.request = dmvf_filter_request(f);
    ev.rule = dmvf_filter_rule(f);
    ev.policy_id = dmvf_filter_policy_id(f);
    ev.review_id = review_id;
    ev.note = note;
    ev.ref = seq;
    if (c)
        ev.counts = *c;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (dmvf_audit_event_write(ac->audit, &ev, NULL, &err) != DMVF_OK)
        return audit_fail(ac, "writing an entry", &err);
    return 0;
}

int dmvf__cli_acct_hold(dmvf_cli_acct *ac, const dmvf_filter *f, const void *release, size_t len,
                        const dmvf_audit_counts *c, uint64_t seq, char id[DMVF_REVIEW_ID_LEN + 1])
{
    id[0] = '\0';
    if (!ac->spool || !ac->review_pub) {
        dmvf__cli_err("the request is held for review but no review spool and public key are "
                      "set (review: {spool, public_key} in the policy, or --review-spool and "
                      "--review-public-key); nothing released");
        return DMVF_EXIT_POLICY;
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (dmvf_review_hold(ac->spool, ac->review_pub, f, release, len, c, seq, id, &err) != DMVF_OK) {
        dmvf__cli_err("review spool %s: %s; nothing released", ac->spool,
                      err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return err.code == DMVF_ENOMEM ? DMVF_EXIT_NOMEM
               : err.code == DMVF_EKEYRING ? DMVF_EXIT_KEYRING : DMVF_EXIT_IOERR;
    }
    return dmvf__cli_acct_event(ac, f, DMVF_AUDIT_REVIEW_HOLD, c, seq, id, NULL);
}

/* A record without a subject under a rule that notifies subjects refuses
 * the request (DMVF_ENOSUBJECT): the audit log says so, with a RELEASE entry
 * that releases nothing, as a refusal for the record limit does. record is
 * the record's 0-based index in the request. */
int dmvf__cli_acct_no_subject(dmvf_cli_acct *ac, const dmvf_filter *f, uint64_t seq, uint64_t record)
{
    char note[200];
    dmvf_audit_counts c;
    memset(&c, 0, sizeof c);
    c.records_in = record + 1;
    snprintf(note, sizeof note, "refused: record %llu has no record_id and the rule notifies "
             "subjects; nothing released", (unsigned long long)record);
    return dmvf__cli_acct_event(ac, f, DMVF_AUDIT_RELEASE, &c, seq, NULL, note);
}
