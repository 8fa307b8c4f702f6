/*
 * audit_append.c - appending an entry to the audit log: write-ahead, under
 * the writers' lock, fsync'd before the caller goes on.
 *
 * Every append, under flock(DIR/LOCK, LOCK_EX):
 *
 *   1. catch up: bytes another process appended since (the segment grew)
 *      are read and their chain MACs checked; a next segment another
 *      process started is followed (its header must continue our chain)
 *      (audit_catch_up.c);
 *   2. rotate when the segment is rotate_bytes long or rotate_seconds old:
 *      a checkpoint ends it (HEAD updated), the next segment is created
 *      (written aside, linked into place), and with compress the old one
 *      is rewritten as .log.z (written aside, fsync'd, renamed, the .log
 *      removed) (audit_rotate.c);
 *   3. the entry, with the next seq and the time, is framed, chained and
 *      written with one write() and fsync'd (audit_item.c).
 *
 * A failure that leaves the handle's view of the file unknown (an fsync
 * error, a short write that could not be undone) makes the handle fail
 * every later call: reopen, which re-reads the segment. Nothing is ever
 * appended after bytes whose chain does not verify (DMVF_ETAMPER).
 */
#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/account/audit_writer_int.h"

int dmvf__audit_lock(dmvf_audit *a, dmvf_error *err)
{
    while (flock(a->lockfd, LOCK_EX) != 0) {
        if (errno != EINTR)
            return dmvf__seterr(err, DMVF_EIO, "%s/LOCK: cannot lock: %s", a->dir, strerror(errno));
    }
    return DMVF_OK;
}

void dmvf__audit_unlock(dmvf_audit *a)
{
    flock(a->lockfd, LOCK_UN);
}

int dmvf__audit_entry_append(dmvf_audit *a, Dmv__V1__AuditEntry *e, uint64_t *seq,
                             dmvf_error *err)
{
    if (a->broken)
        return dmvf__seterr(err, DMVF_EIO, "%s: an earlier append failed: reopen the audit log",
                            a->dir);
    int rc = dmvf__audit_lock(a, err);
    if (rc != DMVF_OK)
        return rc;
    rc = dmvf__audit_catch_up(a, err);
    if (rc == DMVF_ETAMPER)
        a->broken = 1;
    if (rc == DMVF_OK)
        rc = dmvf__audit_rotate(a, err);
    if (rc == DMVF_OK) {
        e->seq = a->next_seq;
        e->time_ns = dmvf__now_ns();
        Dmv__V1__AuditItem item = DMV__V1__AUDIT_ITEM__INIT;
        item.body_case = DMV__V1__AUDIT_ITEM__BODY_ENTRY;
        item.entry = e;
        rc = dmvf__audit_item_append(a, &item, NULL, NULL, err);
        if (rc == DMVF_OK) {
            if (seq)
                *seq = a->next_seq;
            a->next_seq++;
        }
    }
    dmvf__audit_unlock(a);
    return rc;
}
