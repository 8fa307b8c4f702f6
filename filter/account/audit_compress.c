/*
 * audit_compress.c - a closed segment rewritten as .log.z: the same bytes
 * as one zlib stream (the format compress2 writes), deflated in 64 KiB
 * steps so that memory stays bounded whatever the segment's size.
 *
 *   DIR/.audit-NNNNNNNN.log.z.tmp   written, fsync'd, closed
 *   DIR/audit-NNNNNNNN.log.z        renamed into place, DIR fsync'd
 *   DIR/audit-NNNNNNNN.log          then removed, DIR fsync'd
 *
 * Best effort: on any failure the temporary file is removed and the plain
 * segment stays, which readers accept as well; between the rename and the
 * removal both forms exist, which verify checks are the same bytes.
 *
 * Rotation queues the closed segment (dmvf__audit_compress_later) for the
 * handle's compressor, a thread started at the first rotation that takes
 * the segments in order; it holds neither the handle's mutex nor
 * DIR/LOCK while it deflates, so appends go on (a closed segment is never
 * written again, and only the process that closed it compresses it), and
 * takes DIR/LOCK only for the rename and the removal, as readers take
 * their snapshot of the directory under it. (It keeps the process's
 * priority: a lower one measured no better, and setpriority is among the
 * calls examples/dmvfilter.service denies.) Close drains the queue and joins the thread, so a closed handle has
 * compressed every segment it rotated. A process that dies first leaves
 * the plain segment, as a failed compression does.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/fileio.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_writer_int.h"

void dmvf__audit_compress(dmvf_audit *a, uint64_t n, int locked)
{
    char src[4096], dst[4096], tmp[4096], name[64];
    dmvf__audit_seg_path(a, src, sizeof src, n, 0);
    dmvf__audit_seg_path(a, dst, sizeof dst, n, 1);
    dmvf__audit_seg_name(name, sizeof name, n, 1);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", a->dir, name);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return;
    }
    enum { CH = 64 << 10 };
    uint8_t *ib = malloc(CH), *ob = malloc(CH);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int ok = ib && ob && deflateInit(&zs, Z_DEFAULT_COMPRESSION) == Z_OK;
    int zinit = ok;
    while (ok) {
        ssize_t k = read(in, ib, CH);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            ok = 0;
            break;
        }
        int flush = k == 0 ? Z_FINISH : Z_NO_FLUSH;
        zs.next_in = ib;
        zs.avail_in = (uInt)k;
        int zr;
        do {
            zs.next_out = ob;
            zs.avail_out = CH;
            zr = deflate(&zs, flush);
            if (zr == Z_STREAM_ERROR || dmvf__write_all(out, ob, CH - zs.avail_out) != 0) {
                ok = 0;
                break;
            }
        } while (zs.avail_out == 0);
        if (!ok || flush == Z_FINISH)
            break;
    }
    if (zinit)
        deflateEnd(&zs);
    free(ib);
    free(ob);
    close(in);
    if (ok && fsync(out) != 0)
        ok = 0;
    if (close(out) != 0)
        ok = 0;
    if (!ok) {
        unlink(tmp);
        return;
    }
    /* the swap under DIR/LOCK, taken on a descriptor of its own (flock
     * locks are per open file: the handle's lockfd would not exclude its
     * own leader): a reader's snapshot lists the segment in one form or
     * both, never in neither */
    int lfd = -1;
    if (!locked) {
        lfd = openat(a->dirfd, "LOCK", O_RDONLY | O_CLOEXEC);
        int r = lfd < 0 ? -1 : 0;
        while (r == 0 && flock(lfd, LOCK_EX) != 0) {
            if (errno != EINTR)
                r = -1;
        }
        if (r != 0) {
            if (lfd >= 0)
                close(lfd);
            unlink(tmp);
            return;
        }
    }
    if (rename(tmp, dst) != 0) {
        unlink(tmp);
    } else {
        fsync(a->dirfd);
        unlink(src);
    }
    if (lfd >= 0) {
        flock(lfd, LOCK_UN);   /* not only close: a child forked meanwhile shares lfd */
        close(lfd);
    }
    fsync(a->dirfd);
}

static void *compressor(void *arg)
{
    dmvf_audit *a = arg;
    pthread_mutex_lock(&a->zmu);
    for (;;) {
        while (a->zhead == a->zn && !a->zstop)
            pthread_cond_wait(&a->zcv, &a->zmu);
        if (a->zhead == a->zn)
            break;   /* stopped, and nothing left */
        uint64_t n = a->zq[a->zhead++];
        pthread_mutex_unlock(&a->zmu);
        dmvf__audit_compress(a, n, 0);
        pthread_mutex_lock(&a->zmu);
    }
    pthread_mutex_unlock(&a->zmu);
    return NULL;
}

void dmvf__audit_compress_later(dmvf_audit *a, uint64_t n)
{
    pthread_mutex_lock(&a->zmu);
    if (a->zhead == a->zn)
        a->zhead = a->zn = 0;
    int queued = 0;
    if (a->zn == a->zcap) {
        size_t cap = a->zcap ? 2 * a->zcap : 8;
        uint64_t *q = realloc(a->zq, cap * sizeof *q);
        if (q) {
            a->zq = q;
            a->zcap = cap;
        }
    }
    if (a->zn < a->zcap && !a->zstarted) {
        /* the thread takes no signal: they are the process's other threads' */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        a->zstarted = pthread_create(&a->zth, NULL, compressor, a) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (a->zn < a->zcap && a->zstarted) {
        a->zq[a->zn++] = n;
        pthread_cond_signal(&a->zcv);
        queued = 1;
    }
    pthread_mutex_unlock(&a->zmu);
    if (!queued)
        dmvf__audit_compress(a, n, 1);
}

void dmvf__audit_compress_drain(dmvf_audit *a)
{
    pthread_mutex_lock(&a->zmu);
    int started = a->zstarted;
    a->zstop = 1;
    pthread_cond_signal(&a->zcv);
    pthread_mutex_unlock(&a->zmu);
    if (started)
        pthread_join(a->zth, NULL);
    a->zstarted = 0;
    free(a->zq);
    a->zq = NULL;
    a->zhead = a->zn = a->zcap = 0;
}
