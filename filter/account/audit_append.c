/*
 * audit_append.c - appending entries to the audit log: write-ahead, under
 * the writers' lock, fsync'd before the caller goes on; the entries that
 * several threads append at the same time share one write and one fsync
 * (group commit).
 *
 * Group commit, on one handle (the queue under a->mu):
 *
 *   thread:  queue its entry; wait until it is done, or until no batch is
 *            being written: then lead the next one
 *   leader:  take the whole queue (its own entry among them), write the
 *            batch (below) without holding a->mu, mark every entry done,
 *            wake the others; the first of those still queued leads next
 *
 *      queue: e4 e5 ...           (waiting)
 *      batch: e1 e2 e3 (leader)   one write() of three frames, one fsync
 *
 * A thread alone always finds no batch being written and leads a batch of
 * its one entry: one write() and one fsync, as an append always had.
 *
 * A batch, under flock(DIR/LOCK, LOCK_EX):
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
 *   3. the entries, in the order they were queued, each with the next seq
 *      and the time, are framed and chained one after another (the same
 *      bytes as one at a time), written with one write() and fsync'd
 *      (audit_item.c). An entry too large fails alone (DMVF_ETOOBIG);
 *      every other failure fails every entry of the batch.
 *
 * A failure that leaves the handle's view of the file unknown (an fsync
 * error, a short write that could not be undone) makes the handle fail
 * every later call: reopen, which re-reads the segment. Nothing is ever
 * appended after bytes whose chain does not verify (DMVF_ETAMPER).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
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

/* w failed as the batch did. */
static void waiter_fail(dmvf__audit_waiter *w, int rc, const dmvf_error *berr)
{
    w->rc = rc;
    if (w->err)
        *w->err = *berr;
}

/* Entries the batch frames without a heap allocation: a lone append's. */
#define BATCH_STACK 16

/* The leader's part: the batch b (oldest first) appended under the lock. */
static void batch_write(dmvf_audit *a, dmvf__audit_waiter *b)
{
    dmvf_error berr;
    memset(&berr, 0, sizeof berr);
    size_t n = 0;
    for (const dmvf__audit_waiter *w = b; w; w = w->next)
        n++;
    Dmv__V1__AuditItem st_items[BATCH_STACK], *items = st_items;
    const Dmv__V1__AuditItem *st_ptrs[BATCH_STACK], **ptrs = st_ptrs;
    int rc = DMVF_OK, locked = 0;
    if (a->broken) {
        rc = dmvf__seterr(&berr, DMVF_EIO, "%s: an earlier append failed: reopen the audit log",
                          a->dir);
    } else if (n > BATCH_STACK) {
        items = malloc(n * sizeof *items);
        ptrs = malloc(n * sizeof *ptrs);
        if (!items || !ptrs)
            rc = dmvf__seterr(&berr, DMVF_ENOMEM, "out of memory queueing %zu audit entries", n);
    }
    if (rc == DMVF_OK) {
        rc = dmvf__audit_lock(a, &berr);
        locked = rc == DMVF_OK;
    }
    if (rc == DMVF_OK) {
        rc = dmvf__audit_catch_up(a, &berr);
        if (rc == DMVF_ETAMPER)
            a->broken = 1;
    }
    if (rc == DMVF_OK)
        rc = dmvf__audit_rotate(a, &berr);
    size_t k = 0;
    if (rc == DMVF_OK) {
        for (dmvf__audit_waiter *w = b; w; w = w->next) {
            Dmv__V1__AuditItem *it = &items[k];
            dmv__v1__audit_item__init(it);
            it->body_case = DMV__V1__AUDIT_ITEM__BODY_ENTRY;
            it->entry = w->e;
            w->e->seq = a->next_seq + k;
            w->e->time_ns = dmvf__now_ns();
            size_t len;
            w->rc = dmvf__audit_item_size(it, &len, w->err);
            if (w->rc == DMVF_OK)
                ptrs[k++] = it;   /* else it fails alone, its seq unused */
        }
        if (k > 0)
            rc = dmvf__audit_items_append(a, ptrs, k, NULL, NULL, &berr);
    }
    if (locked)
        dmvf__audit_unlock(a);
    for (dmvf__audit_waiter *w = b; w; w = w->next) {
        if (rc != DMVF_OK && w->rc == DMVF_OK)
            waiter_fail(w, rc, &berr);
        else if (w->rc == DMVF_OK && w->seq)
            *w->seq = w->e->seq;
    }
    if (rc == DMVF_OK)
        a->next_seq += k;
    if (items != st_items)
        free(items);
    if (ptrs != st_ptrs)
        free(ptrs);
}

int dmvf__audit_entry_append(dmvf_audit *a, Dmv__V1__AuditEntry *e, uint64_t *seq,
                             dmvf_error *err)
{
    dmvf__audit_waiter w = { e, seq, err, DMVF_OK, 0, NULL };
    pthread_mutex_lock(&a->mu);
    *a->queue_tail = &w;
    a->queue_tail = &w.next;
    a->queued++;
    while (!w.done) {
        if (a->leading) {
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        dmvf__audit_waiter *b = a->queue;
        a->queue = NULL;
        a->queue_tail = &a->queue;
        a->queued = 0;
        a->leading = 1;
        pthread_mutex_unlock(&a->mu);
        batch_write(a, b);
        pthread_mutex_lock(&a->mu);
        a->leading = 0;
        a->batches++;
        while (b) {
            dmvf__audit_waiter *next = b->next;
            b->done = 1;
            b = next;
        }
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return w.rc;
}
