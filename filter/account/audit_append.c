/*
 * audit_append.c - appending entries to the audit log: write-ahead, under
 * the writers' lock, fsync'd before the caller goes on; the entries that
 * several threads append at the same time share one write and one fsync
 * (group commit).
 *
 * Group commit, on one handle (the queue under a->mu):
 *
 *   thread:  queue its entry; when no batch is being written, lead the
 *            next one; else sleep on its own semaphore until the leader
 *            of its batch says it is done, or hands it the lead
 *   leader:  take the whole queue (its own entry among them), write the
 *            batch (below) without holding a->mu; then hand the lead to
 *            the first entry still queued, if any, and post every entry
 *            of the batch done: only those threads wake
 *
 *      queue: e4 e5 ...           (waiting)
 *      batch: e1 e2 e3 (leader)   one write() of three frames, one fsync
 *
 * A thread alone always finds no batch being written and leads a batch of
 * its one entry: one write() and one fsync, as an append always had.
 *
 * Deferred entries (dmvf_audit_options.defer_request_sync: REQUEST entries
 * of a caller that sends nothing before its RELEASE entry) are done once
 * written: the leader posts them before its batch's fsync, and a batch of
 * deferred entries only has none; a->pending then says that written
 * entries wait for one. The next batch that holds an entry that is not
 * deferred, or a barrier (dmvf_audit_sync), fsyncs, and that one fsync
 * makes the deferred entries before it durable too (they are in the same
 * file, or in a segment a rotation's checkpoint fsync'd).
 *
 * A batch, under flock(DIR/LOCK, LOCK_EX) but for its fsync:
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
 *      bytes as one at a time), written with one write() (audit_item.c);
 *   4. the lock released, the deferred entries posted, one fsync.
 * An entry too large fails alone (DMVF_ETOOBIG); every other failure fails
 * every entry of the batch (a failed fsync: every entry not yet posted).
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

/* Steps 1 to 3 of the batch b (oldest first), under the lock: its entries
 * framed and written. Each entry's rc says whether it was (an entry too
 * large fails alone); the batch's failure is returned, in berr. */
static int batch_write(dmvf_audit *a, dmvf__audit_waiter *b, dmvf_error *berr)
{
    size_t n = 0;
    for (const dmvf__audit_waiter *w = b; w; w = w->next)
        n += w->e != NULL;
    Dmv__V1__AuditItem st_items[BATCH_STACK], *items = st_items;
    const Dmv__V1__AuditItem *st_ptrs[BATCH_STACK], **ptrs = st_ptrs;
    int rc = DMVF_OK, locked = 0;
    if (a->broken) {
        rc = dmvf__seterr(berr, DMVF_EIO, "%s: an earlier append failed: reopen the audit log", a->dir);
    } else if (n > BATCH_STACK) {
        items = malloc(n * sizeof *items);
        ptrs = malloc(n * sizeof *ptrs);
        if (!items || !ptrs)
            rc = dmvf__seterr(berr, DMVF_ENOMEM, "out of memory queueing %zu audit entries", n);
    }
    if (rc == DMVF_OK) {
        rc = dmvf__audit_lock(a, berr);
        locked = rc == DMVF_OK;
    }
    if (rc == DMVF_OK) {
        rc = dmvf__audit_catch_up(a, berr);
        if (rc == DMVF_ETAMPER)
            a->broken = 1;
    }
    if (rc == DMVF_OK)
        rc = dmvf__audit_rotate(a, berr);
    size_t k = 0;
    if (rc == DMVF_OK) {
        for (dmvf__audit_waiter *w = b; w; w = w->next) {
            if (!w->e)
                continue;
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
            rc = dmvf__audit_items_append(a, ptrs, k, 0, NULL, NULL, berr);
        if (rc == DMVF_OK)
            a->next_seq += k;
    }
    if (locked)
        dmvf__audit_unlock(a);
    for (dmvf__audit_waiter *w = b; w; w = w->next) {
        if (rc != DMVF_OK && w->rc == DMVF_OK)
            waiter_fail(w, rc, berr);
        else if (w->rc == DMVF_OK && w->seq && w->e)
            *w->seq = w->e->seq;
    }
    if (items != st_items)
        free(items);
    if (ptrs != st_ptrs)
        free(ptrs);
    return rc;
}

/* Sleeps until a leader posts w. */
static void waiter_sleep(dmvf__audit_waiter *w)
{
    while (sem_wait(&w->sem) != 0)
        ;   /* EINTR */
}

/* Posts the waiters of *list (with deferred_only, only the deferred ones
 * that were written) but self, the leader's own, which returns by itself;
 * unlinks them. A thread may return once posted: nothing of its waiter is
 * touched after. */
static void post_done(dmvf__audit_waiter **list, const dmvf__audit_waiter *self, int deferred_only)
{
    while (*list) {
        dmvf__audit_waiter *w = *list;
        if (w == self || (deferred_only && (w->sync || !w->e || w->rc != DMVF_OK))) {
            list = &w->next;
            continue;
        }
        *list = w->next;
        sem_post(&w->sem);
    }
}

/* a->pending set (under a->mu) before any waiter is posted: a barrier
 * called by a thread just posted must see what it waits for. */
static void set_pending(dmvf_audit *a, int pending)
{
    pthread_mutex_lock(&a->mu);
    a->pending = pending;
    pthread_mutex_unlock(&a->mu);
}

/* The leader's batch b: written, the deferred entries posted, fsync'd when
 * an entry asks for it; every waiter but self posted, a->pending set first.
 * pending: written entries were waiting for an fsync before it. */
static void lead(dmvf_audit *a, dmvf__audit_waiter *b, const dmvf__audit_waiter *self, int pending)
{
    dmvf_error berr;
    memset(&berr, 0, sizeof berr);
    int sync = 0, wrote = 0;
    int rc = batch_write(a, b, &berr);
    for (const dmvf__audit_waiter *w = b; w; w = w->next) {
        sync |= w->sync;
        wrote |= w->e && w->rc == DMVF_OK;
    }
    if (rc == DMVF_OK && sync && (wrote || pending)) {
        /* the deferred entries are done once written: they need not wait
         * for the disk, but they do wait for an fsync until this one ends */
        set_pending(a, 1);
        post_done(&b, self, 1);
        rc = dmvf__audit_fsync(a, &berr);
        if (rc != DMVF_OK)
            for (dmvf__audit_waiter *w = b; w; w = w->next)
                if (w->rc == DMVF_OK)
                    waiter_fail(w, rc, &berr);
    }
    /* after a failed fsync what was written stays pending: a barrier then
     * meets the broken handle and fails, never returns at once */
    set_pending(a, rc == DMVF_OK && sync ? 0 : pending || wrote);
    post_done(&b, self, 0);
}

int dmvf__audit_entry_append(dmvf_audit *a, Dmv__V1__AuditEntry *e, int sync, uint64_t *seq,
                             dmvf_error *err)
{
    dmvf__audit_waiter w;
    memset(&w, 0, sizeof w);
    w.e = e;
    w.seq = seq;
    w.err = err;
    w.sync = sync || !e;
    pthread_mutex_lock(&a->mu);
    if (!e && !a->pending) {   /* a barrier with nothing to make durable */
        pthread_mutex_unlock(&a->mu);
        return DMVF_OK;
    }
    if (sem_init(&w.sem, 0, 0) != 0) {
        pthread_mutex_unlock(&a->mu);
        return dmvf__seterr(err, DMVF_ENOMEM, "cannot create a semaphore: %s", strerror(errno));
    }
    *a->queue_tail = &w;
    a->queue_tail = &w.next;
    a->queued++;
    w.lead = !a->leading;
    a->leading = 1;
    pthread_mutex_unlock(&a->mu);
    if (!w.lead)
        waiter_sleep(&w);   /* done, or handed the lead */
    if (w.lead) {
        /* the batch: every entry queued so far, this one among them */
        pthread_mutex_lock(&a->mu);
        dmvf__audit_waiter *b = a->queue;
        a->queue = NULL;
        a->queue_tail = &a->queue;
        a->queued = 0;
        int pending = a->pending;
        pthread_mutex_unlock(&a->mu);
        /* a->pending is the leader's to change: no other batch runs */
        lead(a, b, &w, pending);
        pthread_mutex_lock(&a->mu);
        a->batches++;
        dmvf__audit_waiter *next = a->queue;
        if (next)
            next->lead = 1;   /* a->leading stays set: the lead passes on */
        else
            a->leading = 0;
        pthread_mutex_unlock(&a->mu);
        if (next)
            sem_post(&next->sem);
    }
    sem_destroy(&w.sem);
    return w.rc;
}
