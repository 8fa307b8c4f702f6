/*
 * audit_open.c - opening and closing an audit log for writing.
 *
 * Open makes DIR (0700) and DIR/LOCK when they are not there, and under
 * the lock:
 *
 *   - no segment (and no HEAD): segment 1 is created;
 *   - else the newest segment, which must be plain, becomes the active one
 *     and is read whole, chain checked (audit_catch_up.c);
 *   - HEAD, when there is one, must be a checkpoint signed with this
 *     keyring's key and stand in the log: a log cut back behind it is
 *     DMVF_ETAMPER. A writer that stopped between a checkpoint and HEAD
 *     left HEAD behind: it is moved on to the newest checkpoint. No HEAD
 *     but checkpoints in the log is DMVF_ETAMPER, except for the one crash
 *     window in which the log's first checkpoint is written and HEAD not
 *     yet (HEAD is written then).
 *
 * Close catches up and, unless the log's last item is one, appends a
 * checkpoint (and HEAD), so that a closed log is vouched for whole. It
 * comes after every append has returned (audit.h, Threads:): no batch is
 * being written then, and no entry is queued. Then the compressor finishes
 * the segments queued to it and is joined (audit_compress.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_writer_int.h"
#include "keys/keys.h"

#define DEFAULT_ROTATE_BYTES ((uint64_t)64 << 20)
#define DEFAULT_ROTATE_SECONDS ((uint64_t)86400)

static void audit_free(dmvf_audit *a)
{
    dmvf__audit_compress_drain(a);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->zmu);
    pthread_cond_destroy(&a->zcv);
    if (a->fd >= 0)
        close(a->fd);
    if (a->lockfd >= 0)
        close(a->lockfd);
    if (a->dirfd >= 0)
        close(a->dirfd);
    dmvf__audit_frame_free(&a->fr);
    if (a->kr)
        dmvf__keyring_release(a->kr);
    free(a->dir);
    sodium_memzero(&a->h, sizeof a->h);
    free(a);
}

/* Under the lock at open: the active segment read whole, HEAD checked
 * against it (and moved on to the newest checkpoint when a writer stopped
 * between writing a checkpoint and HEAD). */
static int load(dmvf_audit *a, dmvf_error *err)
{
    dmvf__audit_seg *segs = NULL;
    size_t nsegs = 0;
    dmvf__audit_frame head;
    memset(&head, 0, sizeof head);
    dmvf__audit_seen so;
    memset(&so, 0, sizeof so);
    Dmv__V1__AuditItem *hit = NULL;
    int rc = dmvf__audit_segments(a->dir, &segs, &nsegs, err);
    if (rc != DMVF_OK)
        return rc;
    dmvf_error herr;
    int hrc = dmvf__audit_head_read(a->dir, &head, &herr);
    int have_head = hrc == DMVF_OK;
    if (hrc != DMVF_OK && !(hrc == DMVF_EIO && errno == ENOENT)) {
        rc = dmvf__seterr(err, hrc == DMVF_EIO ? DMVF_EIO : DMVF_ETAMPER, "%s: %s; verify and "
                          "inspect the log (dmvfilter audit verify): nothing is appended", a->dir,
                          herr.msg);
        goto out;
    }
    if (have_head) {
        hit = dmv__v1__audit_item__unpack(NULL, head.item_len, head.buf + head.pre);
        int bad = !hit || hit->body_case != DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT ||
                  !hit->checkpoint;
        if (!bad) {
            int c = dmvf__audit_checkpoint_check(a->pub, hit->checkpoint);
            if (c == DMVF_ENOMEM) {
                rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
                goto out;
            }
            bad = c != DMVF_OK;
        }
        if (bad) {
            rc = dmvf__seterr(err, DMVF_ETAMPER, "%s/HEAD is not a checkpoint signed by this "
                              "keyring: verify and inspect the log; nothing is appended", a->dir);
            goto out;
        }
    }
    if (nsegs == 0) {
        if (have_head) {
            rc = dmvf__seterr(err, DMVF_ETAMPER, "%s: HEAD names a checkpoint but there are no "
                              "segments: the log was removed; nothing is appended", a->dir);
            goto out;
        }
        a->next_seq = UINT64_MAX;
        memset(a->chain, 0, 32);
        rc = dmvf__audit_segment_create(a, 1, err);
        goto out;
    }
    const dmvf__audit_seg *last = &segs[nsegs - 1];
    if (!last->has_log) {
        char name[64];
        dmvf__audit_seg_name(name, sizeof name, last->n, 1);
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s/%s is the newest segment but compressed: the "
                          "segment after it was removed; verify and inspect the log", a->dir, name);
        goto out;
    }
    a->next_seq = UINT64_MAX;   /* learnt from the header */
    rc = dmvf__audit_enter(a, last->n, have_head ? &head : NULL, &so, err);
    if (rc != DMVF_OK)
        goto out;
    if (have_head) {
        const Dmv__V1__Checkpoint *hc = hit->checkpoint;
        if (hc->segment > a->seg || (hc->segment == a->seg && !so.head_seen)) {
            rc = dmvf__seterr(err, DMVF_ETAMPER, "%s: HEAD's checkpoint (segment %" PRIu64
                              ", after %" PRIu64 " entries) is not in the log: it was truncated "
                              "or edited; verify and inspect the log, nothing is appended", a->dir,
                              hc->segment, hc->entries);
            goto out;
        }
        if (so.newest_cp && (!so.head_seen || so.cp_after_head))
            rc = dmvf__audit_head_write(a->dir, a->dirfd, so.newest_cp, so.newest_cp_len, err);
    } else if (a->seg == 1 && so.ncp == 1 && a->last_cp) {
        /* a writer stopped between the log's first checkpoint and the
         * first HEAD (verify allows exactly this): write HEAD now */
        rc = dmvf__audit_head_write(a->dir, a->dirfd, so.newest_cp, so.newest_cp_len, err);
    } else if (so.newest_cp || a->seg > 1) {
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s/HEAD is missing but the log has checkpoints: "
                          "it was removed; verify and inspect the log, nothing is appended",
                          a->dir);
    }
out:
    if (hit)
        dmv__v1__audit_item__free_unpacked(hit, NULL);
    free(so.newest_cp);
    dmvf__audit_frame_free(&head);
    free(segs);
    return rc;
}

dmvf_audit *dmvf_audit_open(const char *dir, const dmvf_keyring *kr, const dmvf_audit_options *opts,
                            dmvf_error *err)
{
    DMVF_REQUIRE(dir != NULL, "dir is NULL");
    DMVF_REQUIRE(kr != NULL, "keyring is NULL");
    if (sodium_init() < 0) {
        dmvf__seterr(err, DMVF_ENOMEM, "libsodium failed to initialize");
        return NULL;
    }
    dmvf_audit *a = calloc(1, sizeof *a);
    if (!a || !(a->dir = strdup(dir))) {
        free(a);
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
        return NULL;
    }
    int m = pthread_mutex_init(&a->mu, NULL) == 0;
    int zm = m && pthread_mutex_init(&a->zmu, NULL) == 0;
    if (!zm || pthread_cond_init(&a->zcv, NULL) != 0) {
        if (zm)
            pthread_mutex_destroy(&a->zmu);
        if (m)
            pthread_mutex_destroy(&a->mu);
        free(a->dir);
        free(a);
        dmvf__seterr(err, DMVF_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    a->queue_tail = &a->queue;
    a->dirfd = a->lockfd = a->fd = -1;
    if (opts)
        a->o = *opts;
    if (!a->o.rotate_bytes)
        a->o.rotate_bytes = DEFAULT_ROTATE_BYTES;
    if (!a->o.rotate_seconds)
        a->o.rotate_seconds = DEFAULT_ROTATE_SECONDS;
    dmvf__keyring_acquire(kr);
    a->kr = kr;
    dmvf_keyring_public_key(kr, a->pub);
    int created = mkdir(dir, 0700) == 0;
    if (!created && errno != EEXIST) {
        dmvf__seterr(err, DMVF_EIO, "%s: cannot create the audit log directory: %s", dir,
                     strerror(errno));
        audit_free(a);
        return NULL;
    }
    a->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (a->dirfd < 0) {
        dmvf__seterr(err, DMVF_EIO, "%s: cannot open the audit log directory: %s", dir,
                     strerror(errno));
        audit_free(a);
        return NULL;
    }
    /* LOCK first: a directory with LOCK is a log (verify takes one with
     * no segment yet, a writer stopped before its first, as empty) */
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    a->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (a->lockfd < 0) {
        dmvf__seterr(err, DMVF_EIO, "%s: cannot create: %s", path, strerror(errno));
        audit_free(a);
        return NULL;
    }
    if (created) {
        /* the new directory's entry is durable before anything is logged */
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (!slash)
            snprintf(parent, sizeof parent, ".");
        else if (slash == parent)
            parent[1] = '\0';
        else
            *slash = '\0';
        int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd >= 0) {
            fsync(pfd);   /* best effort: the segment's own fsyncs follow */
            close(pfd);
        }
    }
    if (dmvf__audit_lock(a, err) != DMVF_OK) {
        audit_free(a);
        return NULL;
    }
    int rc = load(a, err);
    dmvf__audit_unlock(a);
    if (rc != DMVF_OK) {
        audit_free(a);
        return NULL;
    }
    return a;
}

int dmvf_audit_close(dmvf_audit *a, dmvf_error *err)
{
    if (!a)
        return DMVF_OK;
    pthread_mutex_lock(&a->mu);
    int in_flight = a->leading || a->queue;
    pthread_mutex_unlock(&a->mu);
    DMVF_REQUIRE(!in_flight, "dmvf_audit_close while an append is in flight");
    int rc;
    if (a->broken) {
        rc = dmvf__seterr(err, DMVF_EIO, "%s: an earlier append failed: no checkpoint written",
                          a->dir);
    } else if ((rc = dmvf__audit_lock(a, err)) == DMVF_OK) {
        rc = dmvf__audit_catch_up(a, err);
        if (rc == DMVF_OK && !a->last_cp)
            rc = dmvf__audit_checkpoint_write(a, err);
        dmvf__audit_unlock(a);
    }
    audit_free(a);
    return rc;
}
