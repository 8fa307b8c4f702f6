/*
 * audit_writer_int.h - the audit log's writer (a dmvf_audit handle), as
 * its files share it. From the top down, each calling only those below:
 *
 *   audit_entry.c       the public calls: an event or a filter's verdict
 *                       as an AuditEntry
 *   audit_open.c        open (HEAD checked against the log), close
 *   audit_append.c      group commit: the threads' entries queued, one
 *                       leader appending each batch under the lock:
 *                       catch up, rotate, write
 *   audit_catch_up.c    what other writers appended since, chain checked
 *   audit_rotate.c      a new segment, after a checkpoint
 *   audit_compress.c    a closed segment rewritten as .log.z, on a thread
 *                       of its own (the compressor), off the lock
 *   audit_checkpoint.c  a signed checkpoint, then HEAD (audit_head.c)
 *   audit_item.c        the active segment opened; one item framed, chained
 *                       and written
 *
 * Every call but open and close runs under flock(DIR/LOCK, LOCK_EX), in
 * the one thread that leads the batch (audit_append.c): the fields below
 * mu are the leader's alone, the queue is under mu. The compressor's
 * queue is under zmu; the compressor reads only dir and dirfd, which do
 * not change while the handle is open.
 */
#ifndef DMVF_AUDIT_WRITER_INT_H
#define DMVF_AUDIT_WRITER_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/account/audit_int.h"
#include "dmv/v1/audit.pb-c.h"

/* One append waiting in the queue, on its thread's stack: an entry, or
 * (e NULL) a barrier that asks for what was written before it to be made
 * durable (dmvf_audit_sync). The thread sleeps on sem; the leader of the
 * batch that took it posts it when it is done, or after setting lead when
 * it is to lead the next batch. */
typedef struct dmvf__audit_waiter {
    Dmv__V1__AuditEntry *e;
    uint64_t *seq;
    dmvf_error *err;
    int rc;
    int sync;                   /* durable before the call returns (else deferred) */
    int lead;                   /* set by a leader before it posts sem */
    sem_t sem;
    struct dmvf__audit_waiter *next;
} dmvf__audit_waiter;

struct dmvf_audit {
    pthread_mutex_t mu;
    dmvf__audit_waiter *queue, **queue_tail;
    size_t queued;
    int leading;                /* a leader is writing a batch */
    int pending;                /* entries written but not yet fsync'd (deferred) */
    uint64_t batches;           /* batches written (each one write, and one fsync
                                   unless every entry of it was deferred) */
    char *dir;
    int dirfd, lockfd, fd;
    const dmvf_keyring *kr;
    uint8_t pub[32];
    dmvf_audit_options o;
    uint64_t seg;               /* the active segment */
    uint64_t off;               /* bytes of it seen (ours and others') */
    uint64_t created_ns;        /* its header's */
    uint8_t chain[32];          /* chain value of the log's last item */
    uint64_t next_seq;
    int last_cp;                /* the last item is a checkpoint */
    crypto_generichash_state h; /* BLAKE2b-256 of the segment's bytes so far */
    int broken;                 /* sticky: reopen */
    dmvf__audit_frame fr;       /* read buffer */
    /* the compressor (audit_compress.c): closed segments to compress,
     * queued by rotation, taken by a thread started at the first one */
    pthread_mutex_t zmu;
    pthread_cond_t zcv;
    uint64_t *zq;               /* segment numbers, zq[zhead..zn) waiting */
    size_t zhead, zn, zcap;
    int zstarted, zstop;
    pthread_t zth;
};

/* DIR/audit-NNNNNNNN.log[.z] */
static inline void dmvf__audit_seg_path(const dmvf_audit *a, char *out, size_t cap, uint64_t n,
                                        int z)
{
    char name[64];
    dmvf__audit_seg_name(name, sizeof name, n, z);
    snprintf(out, cap, "%s/%s", a->dir, name);
}

/* ---- audit_append.c ---- */

/* flock(DIR/LOCK, LOCK_EX), retrying EINTR. DMVF_OK or DMVF_EIO. */
int dmvf__audit_lock(dmvf_audit *a, dmvf_error *err);
void dmvf__audit_unlock(dmvf_audit *a);
/* Appends e (its seq and time_ns are set here) under the lock, in a batch
 * with the entries other threads are appending at the same time; returns
 * when e is durable (sync; or failed), or with defer when it is written
 * (the next batch with an entry that is not deferred, a barrier, a
 * rotation or close makes it durable). *seq (may be NULL) receives its
 * seq. e NULL: a barrier (dmvf_audit_sync); returns at once when nothing
 * written is waiting for an fsync. */
int dmvf__audit_entry_append(dmvf_audit *a, Dmv__V1__AuditEntry *e, int sync, uint64_t *seq,
                             dmvf_error *err);

/* ---- audit_catch_up.c ---- */

/* What reading a segment met, for the open's check of HEAD. */
typedef struct dmvf__audit_seen {
    int head_seen;              /* HEAD's frame was met */
    int cp_after_head;          /* a checkpoint came after it */
    uint8_t *newest_cp;         /* malloc'd copy of the newest checkpoint frame */
    size_t newest_cp_len;
    uint64_t ncp;               /* checkpoints seen */
} dmvf__audit_seen;

/* Opens segment n's .log as the active segment and reads it whole,
 * checking it; with seen (may be NULL), notes HEAD's frame (head, may be
 * NULL) and the checkpoints. a->next_seq UINT64_MAX: the header's chain
 * and seq are taken as they are, else they must continue a->chain. */
int dmvf__audit_enter(dmvf_audit *a, uint64_t n, const dmvf__audit_frame *head,
                      dmvf__audit_seen *seen, dmvf_error *err);
/* Under the lock: learns what other processes appended, following into
 * segments they started. DMVF_ETAMPER when the bytes do not verify. */
int dmvf__audit_catch_up(dmvf_audit *a, dmvf_error *err);

/* ---- audit_rotate.c ---- */

/* Creates segment n (header only), written aside and linked into place,
 * and makes it the active segment. */
int dmvf__audit_segment_create(dmvf_audit *a, uint64_t n, dmvf_error *err);
/* When the active segment is rotate_bytes long or rotate_seconds old: a
 * checkpoint ends it, the next one is created and, with compress, the
 * closed one compressed. */
int dmvf__audit_rotate(dmvf_audit *a, dmvf_error *err);

/* ---- audit_compress.c ---- */

/* Rewrites closed segment n as .log.z and removes the .log, the two
 * under DIR/LOCK (locked: the caller holds it, else it is taken here for
 * them). Best effort: on failure the plain segment stays, which readers
 * accept as well. */
void dmvf__audit_compress(dmvf_audit *a, uint64_t n, int locked);
/* Queues closed segment n for the compressor thread (started at the
 * first call) and returns at once, so that appends do not wait on a
 * segment's deflate. When the thread cannot be started or the queue not
 * grown, n is compressed here, as before the compressor existed. */
void dmvf__audit_compress_later(dmvf_audit *a, uint64_t n);
/* At close: the compressor finishes what is queued and is joined. Safe to
 * call when it never started. */
void dmvf__audit_compress_drain(dmvf_audit *a);

/* ---- audit_checkpoint.c ---- */

/* Appends a signed checkpoint of the active segment, then makes it HEAD. */
int dmvf__audit_checkpoint_write(dmvf_audit *a, dmvf_error *err);

/* ---- audit_item.c ---- */

/* Opens path (segment n's .log) for appending as the active segment, in
 * place of the one before: a->fd, a->seg, nothing of it seen yet (off 0,
 * the digest restarted). DMVF_OK or DMVF_EIO. */
int dmvf__audit_activate(dmvf_audit *a, const char *path, uint64_t n, dmvf_error *err);

/* The frame of item (n: its packed size) chained after prev, into out
 * (varint_size(n) + n + 32 bytes); its chain value into chain. Returns the
 * frame's length. */
size_t dmvf__audit_frame_put(const dmvf_audit *a, const uint8_t prev[32],
                             const Dmv__V1__AuditItem *item, size_t n, uint8_t *out,
                             uint8_t chain[32]);
/* The frame of item (n: its packed size) chained after a->chain:
 * malloc'd into *buf, *len bytes; its chain value into chain. DMVF_OK or
 * DMVF_ENOMEM (nothing set in an error). a is not changed. */
int dmvf__audit_frame_make(const dmvf_audit *a, const Dmv__V1__AuditItem *item, size_t n,
                           uint8_t **buf, size_t *len, uint8_t chain[32]);
/* item's packed size into *n: DMVF_OK, or DMVF_ETOOBIG past
 * DMVF__AUDIT_MAX_ITEM. */
int dmvf__audit_item_size(const Dmv__V1__AuditItem *item, size_t *n, dmvf_error *err);
/* fsync of the active segment; a failure breaks the handle. DMVF_OK or
 * DMVF_EIO. */
int dmvf__audit_fsync(dmvf_audit *a, dmvf_error *err);
/* Packs items[0..n), chains each after the one before (from a->chain) and
 * appends the frames to the active segment with one write() and, with
 * sync, one fsync;
 * *frames (may be NULL) receives them, malloc'd. A failed write is cut
 * back off the file; what cannot be undone, and a failed fsync, break the
 * handle (a->broken). DMVF_ETOOBIG (one item too large: nothing written),
 * DMVF_ENOMEM, DMVF_EIO. */
int dmvf__audit_items_append(dmvf_audit *a, const Dmv__V1__AuditItem *const *items, size_t n,
                             int sync, uint8_t **frames, size_t *frames_len, dmvf_error *err);
/* dmvf__audit_items_append of the one item, fsync'd. */
int dmvf__audit_item_append(dmvf_audit *a, const Dmv__V1__AuditItem *item, uint8_t **frame,
                            size_t *frame_len, dmvf_error *err);

#endif
