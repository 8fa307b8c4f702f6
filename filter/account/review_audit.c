/*
 * review_audit.c - an item checked against the audit log before it is
 * approved (dmvf__review_hold_check): the log is verified whole (every
 * chain MAC under the keyring's audit key, every checkpoint), then read
 * once for what it says of the item:
 *
 *   REVIEW_HOLD, review_id = ID   exactly one, and it says what the
 *                                 signed meta says: ref = request_seq,
 *                                 the request (packed alike), rule,
 *                                 policy id, records_out = records
 *   REQUEST, seq = request_seq    there, decided REVIEW, the same request
 *   REVIEW_APPROVE / _DENY, ID    none: a decision already logged (its
 *                                 marker since removed, or an approval
 *                                 stopped before marking) is not repeated
 *
 * Any other answer is DMVF_ETAMPER naming it, and nothing is released.
 * An item held without an audit log (request_seq 0, no REVIEW_HOLD entry)
 * can therefore not be approved, only denied. Reading the log is linear
 * in its size (approvals are rare; the log is read twice: verified, then
 * scanned).
 */
#include <inttypes.h>
#include <string.h>
#include "dmv/v1/audit.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_writer_int.h"
#include "filter/account/review_int.h"

typedef struct hold_scan {
    const dmvf__review_item *it;
    uint64_t holds, hold_seq;       /* REVIEW_HOLD entries for the item; the first's seq */
    char differs[160];              /* what the first one says otherwise ("" when alike) */
    int request_seen;               /* the REQUEST entry request_seq was met */
    char request_differs[160];
    uint64_t decided_seq;           /* a logged decision's seq, when decided_kind */
    int decided_kind;
    int oom;
} hold_scan;

static void note(char *buf, size_t cap, const char *what)
{
    if (!buf[0])
        snprintf(buf, cap, "%s", what);
}

static int on_entry(void *ud, const Dmv__V1__AuditEntry *e)
{
    hold_scan *h = ud;
    const Dmv__V1__ReviewMeta *m = h->it->meta;
    int is_item = strcmp(dmvf__review_nz(e->review_id), h->it->id) == 0;

    if (e->kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_HOLD && is_item) {
        if (h->holds++ > 0)
            return 0;
        h->hold_seq = e->seq;
        int same = dmvf__review_same_request(e->request, m->request);
        if (same < 0) {
            h->oom = 1;
            return 1;
        }
        if (e->ref != m->request_seq)
            note(h->differs, sizeof h->differs, "the REQUEST entry it follows (ref)");
        else if (!same)
            note(h->differs, sizeof h->differs, "the request");
        else if (strcmp(dmvf__review_nz(e->rule), dmvf__review_nz(m->rule)) != 0)
            note(h->differs, sizeof h->differs, "the rule");
        else if (strcmp(dmvf__review_nz(e->policy_id), dmvf__review_nz(m->policy_id)) != 0)
            note(h->differs, sizeof h->differs, "the policy id");
        else if (e->records_out != m->records)
            note(h->differs, sizeof h->differs, "the record count");
    } else if ((e->kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_APPROVE ||
                e->kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_DENY) && is_item) {
        if (!h->decided_kind) {
            h->decided_kind = (int)e->kind;
            h->decided_seq = e->seq;
        }
    } else if (e->seq == m->request_seq) {
        h->request_seen = 1;
        int same = dmvf__review_same_request(e->request, m->request);
        if (same < 0) {
            h->oom = 1;
            return 1;
        }
        if (e->kind != DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST)
            note(h->request_differs, sizeof h->request_differs, "is not a REQUEST entry");
        else if (e->decision != DMV__V1__DECISION__DECISION_REVIEW)
            note(h->request_differs, sizeof h->request_differs, "was not decided 'review'");
        else if (!same)
            note(h->request_differs, sizeof h->request_differs, "holds another request");
    }
    return 0;
}

int dmvf__review_hold_check(dmvf_audit *a, const dmvf_keyring *kr, const dmvf__review_item *it,
                            dmvf_error *err)
{
    const char *dir = a->dir;
    const Dmv__V1__ReviewMeta *m = it->meta;
    dmvf_error verr;
    memset(&verr, 0, sizeof verr);
    int rc = dmvf_audit_verify(dir, a->kr ? a->kr : kr, NULL, NULL, &verr);
    if (rc == DMVF_ENOMEM)
        return dmvf__seterr(err, rc, "out of memory verifying the audit log %s", dir);
    if (rc != DMVF_OK)
        return dmvf__seterr(err, DMVF_ETAMPER,
                            "the audit log %s does not verify, so review item %s cannot be "
                            "checked against its REVIEW_HOLD entry: %s", dir, it->id, verr.msg);
    hold_scan h;
    memset(&h, 0, sizeof h);
    h.it = it;
    rc = dmvf__audit_scan(dir, on_entry, &h, err);
    if (h.oom)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory reading the audit log %s", dir);
    if (rc != DMVF_OK)
        return rc;
    if (h.decided_kind)
        return dmvf__seterr(err, DMVF_ETAMPER,
                            "the audit log %s already records a decision on review item %s (%s, "
                            "seq %" PRIu64 ") though the spool shows it pending: its marker was "
                            "removed, or an approval stopped before marking it", dir, it->id,
                            h.decided_kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_APPROVE
                                ? "REVIEW_APPROVE" : "REVIEW_DENY",
                            h.decided_seq);
    if (h.holds == 0)
        return dmvf__seterr(err, DMVF_ETAMPER,
                            "the audit log %s holds no REVIEW_HOLD entry for review item %s "
                            "(REQUEST seq %" PRIu64 "): it was held without this audit log, or "
                            "into another; only an item whose hold is logged can be approved "
                            "(it can still be denied)", dir, it->id, m->request_seq);
    if (h.holds > 1)
        return dmvf__seterr(err, DMVF_ETAMPER,
                            "the audit log %s holds %" PRIu64 " REVIEW_HOLD entries for review "
                            "item %s, not one", dir, h.holds, it->id);
    if (h.differs[0])
        return dmvf__seterr(err, DMVF_ETAMPER,
                            "review item %s does not match its REVIEW_HOLD entry (seq %" PRIu64
                            ") in the audit log %s: %s differs", it->id, h.hold_seq, dir,
                            h.differs);
    if (!h.request_seen)
        return dmvf__seterr(err, DMVF_ETAMPER,
                            "the audit log %s holds no entry seq %" PRIu64 ", the REQUEST entry "
                            "review item %s names", dir, m->request_seq, it->id);
    if (h.request_differs[0])
        return dmvf__seterr(err, DMVF_ETAMPER,
                            "the audit log's entry seq %" PRIu64 ", named by review item %s as "
                            "its REQUEST, %s", m->request_seq, it->id, h.request_differs);
    return DMVF_OK;
}
