/*
 * request_acct.h - one request's accounting, the same for `dmvfilter
 * filter` (filter/cli) and `dmvfilter serve` (filter/serve): the audit
 * entries, subject notices and review holds of a request, in the order
 * both keep (write-ahead: each step durable before the next, a failure
 * stops the request with nothing released; the service's REQUEST entry,
 * deferred, is durable with the next entry or dmvf__reqacct_settle before
 * anything leaves):
 *
 *   decided      audit REQUEST entry, before any output
 *                                       dmvf__reqacct_request
 *   its end      notices queued; audit RELEASE entry (refused: an entry
 *                when it notified subjects or passed its record limit;
 *                held: sealed into the review spool, REVIEW_HOLD entry)
 *                                       the hook does these steps:
 *                dmvf__reqacct_notify, _release, _hold, _event
 *   then         the trailer; the output leaves only after all of it
 *
 * A framed stream's audit hook (dmvf_framed_set_audit) is dmvf__reqacct_hook
 * with a dmvf__reqacct whose fr is the stream. Every entry names the
 * request's client (dmvf_filter_client: NULL on the command line).
 *
 * The where (dmvf__reqacct_where) is the caller's: where the audit log, the
 * notice queue and the review spool are; the calls only use it. Requests on
 * several threads may account at once, each with its own dmvf__reqacct: the
 * audit handle commits their entries in shared batches (group commit), the
 * notice queue and the review spool order their writers themselves.
 *
 * Each call returns DMVF_OK or -1: then ra->fail says which step failed and
 * why, for the caller to report in its own words (an exit code and a line
 * on stderr, a Connect error), and nothing of the request may be released.
 */
#ifndef DMVF_ACCOUNT_REQUEST_ACCT_H
#define DMVF_ACCOUNT_REQUEST_ACCT_H

#include <stddef.h>
#include <stdint.h>
#include "dmvfilter/dmvfilter.h"

typedef struct dmvf__reqacct_where {
    dmvf_audit *audit;              /* NULL: not audited */
    const char *notices;            /* the notice queue, NULL: none */
    const dmvf_policy_notices *ns;  /* its settings (with notices) */
    const char *spool, *review_pub; /* the review spool and its public key */
    int make_dirs;                  /* create the notice queue's directories */
} dmvf__reqacct_where;

/* The caller's overrides of the policy's audit, notices and review
 * sections (the --audit, --audit-subjects, --notices, --review-spool and
 * --review-public-key flags of `filter` and `serve`); NULL/0: the policy's. */
typedef struct dmvf__reqacct_flags {
    const char *audit_dir;
    int audit_subjects;
    const char *notices;
    const char *review_spool;
    const char *review_pub;
    int defer_request_sync;         /* serve: REQUEST entries made durable with the
                                       request's next entry or dmvf__reqacct_settle
                                       (dmvf_audit_options.defer_request_sync) */
} dmvf__reqacct_flags;

/* Where pol's requests send notices and review holds: w's notices, ns
 * (pointing at *ns, filled from pol), spool and review_pub, each the flag
 * when given, else the policy's; w's audit and make_dirs are left as they
 * are. */
void dmvf__reqacct_where_set(dmvf__reqacct_where *w, dmvf_policy_notices *ns, const dmvf_policy *pol,
                             const dmvf__reqacct_flags *fl);

/* The audit log pol's requests are accounted in: its directory (*dir, the
 * flag else the policy's; NULL: none, *audit NULL), whether entries name
 * subjects (*subjects), opened with kr and the policy's rotation and
 * compression into *audit.
 * @return  DMVF_OK; DMVF_EPOLICY (no message) when the policy requires an
 *          audit log and none is named; else dmvf_audit_open's failure
 *          (DMVF_EIO when it gave no code) with *err. */
int dmvf__reqacct_audit_open(const dmvf_policy *pol, const dmvf_keyring *kr, const dmvf__reqacct_flags *fl,
                             dmvf_audit **audit, const char **dir, int *subjects, dmvf_error *err);

/* The step that failed. */
typedef enum dmvf__reqacct_step {
    DMVF__RA_OK = 0,
    DMVF__RA_AUDIT,         /* an audit entry (what, err) */
    DMVF__RA_NO_QUEUE,      /* the rule notifies subjects, no notice queue is set */
    DMVF__RA_QUEUE_DIR,     /* the notice queue's directory (sys_errno) */
    DMVF__RA_NOTICES,       /* the notice queue (err) */
    DMVF__RA_NO_SPOOL,      /* held for review, no review spool and public key set */
    DMVF__RA_REVIEW         /* the review spool (err) */
} dmvf__reqacct_step;

typedef struct dmvf__reqacct_fail {
    dmvf__reqacct_step step;
    const char *what;       /* DMVF__RA_AUDIT: "writing the request entry", ... */
    int sys_errno;          /* DMVF__RA_QUEUE_DIR */
    dmvf_error err;         /* the library's error; msg says why for every step */
} dmvf__reqacct_fail;

typedef struct dmvf__reqacct {
    const dmvf__reqacct_where *w;
    const dmvf_framed *fr;          /* the hook's stream (its held release) */
    uint64_t seq;                   /* the request's REQUEST entry */
    int unsynced;                   /* written, no later entry of the request since */
    dmvf_decision decision0;        /* its decision when it was decided */
    char held[DMVF_REVIEW_ID_LEN + 1]; /* its review item, "" if none */
    dmvf__reqacct_fail fail;
} dmvf__reqacct;

/* ra for a request accounted in w (seq 0, nothing held, no failure). */
void dmvf__reqacct_init(dmvf__reqacct *ra, const dmvf__reqacct_where *w);

/* Decided: notes the decision; the REQUEST entry (ra->seq). */
int dmvf__reqacct_request(dmvf__reqacct *ra, const dmvf_filter *f);
/* The framed stream's audit hook: ud is a dmvf__reqacct with fr set; t NULL:
 * decided (dmvf__reqacct_request), else its end: notices, then the RELEASE
 * entry, the review hold (the stream's held release) or the refusal's
 * entry, as above. */
int dmvf__reqacct_hook(void *ud, dmvf_filter *f, const dmvf_trailer *t);

/* The steps. notify: the subjects' notices when the rule asks (*queued). */
int dmvf__reqacct_notify(dmvf__reqacct *ra, const dmvf_filter *f, uint32_t *queued);
/* The RELEASE entry; note what else it says (unknown keys dropped), NULL:
 * none. */
int dmvf__reqacct_release(dmvf__reqacct *ra, const dmvf_filter *f, const dmvf_audit_counts *c,
                          const char *note);
/* The would-be release release[0..len) sealed into the review spool
 * (ra->held), then its REVIEW_HOLD entry. */
int dmvf__reqacct_hold(dmvf__reqacct *ra, const dmvf_filter *f, const void *release, size_t len,
                       const dmvf_audit_counts *c);
/* An entry of kind referring to the REQUEST entry; decision 0: none. */
int dmvf__reqacct_event(dmvf__reqacct *ra, const dmvf_filter *f, dmvf_audit_kind kind,
                        const dmvf_audit_counts *c, const char *review_id, const char *note,
                        int decision);
/* Before anything of the request leaves: its REQUEST entry durable when no
 * later entry of it made it so (a refusal without a RELEASE entry, an error
 * reply). At once when it is, or was never deferred. */
int dmvf__reqacct_settle(dmvf__reqacct *ra);
/* A request refused because record (its 0-based index) has no record_id
 * under a rule that notifies subjects: a RELEASE entry that releases
 * nothing, as a refusal for the record limit. */
int dmvf__reqacct_no_subject(dmvf__reqacct *ra, const dmvf_filter *f, uint64_t record);

#endif
