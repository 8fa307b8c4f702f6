/*
 * audit_snapshot.c - reading the audit log while writers go on: a
 * snapshot, a segment of it opened, and dmvf__audit_scan (every entry,
 * oldest first, for the report and the query).
 *
 * Readers take a snapshot under a shared lock on DIR/LOCK (HEAD's bytes,
 * the segment list, the plain segments' sizes) and then read without any
 * lock: writers only append, and a rotated segment is compressed into the
 * same bytes, so the snapshot stays readable while writers go on
 * (audit_dir.c draws the directory, audit_segment.c a segment's frames).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_snapshot_int.h"

void dmvf__audit_snap_free(dmvf__audit_snap *s)
{
    free(s->segs);
    dmvf__audit_frame_free(&s->head);
    memset(s, 0, sizeof *s);
}

int dmvf__audit_snap_take(const char *dir, dmvf__audit_snap *s, dmvf_error *err)
{
    memset(s, 0, sizeof *s);
    struct stat st;
    if (stat(dir, &st) != 0)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot open the audit log directory: %s", dir,
                            strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return dmvf__seterr(err, DMVF_EIO, "%s: not a directory", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int lfd = open(path, O_RDONLY | O_CLOEXEC);
    if (lfd >= 0) {
        while (flock(lfd, LOCK_SH) != 0 && errno == EINTR)
            ;
    }
    int rc = dmvf__audit_segments(dir, &s->segs, &s->nsegs, err);
    if (rc == DMVF_OK) {
        dmvf_error herr;
        rc = dmvf__audit_head_read(dir, &s->head, &herr);
        if (rc == DMVF_EIO && errno == ENOENT) {
            rc = DMVF_OK;
        } else if (rc == DMVF_EMALFORMED) {
            /* verify reports it; keep the raw bytes' absence distinct */
            s->head.len = 0;
            s->head.off = UINT64_MAX;
            rc = DMVF_OK;
        } else if (rc != DMVF_OK && err) {
            *err = herr;
        }
    }
    if (lfd >= 0)
        close(lfd);   /* releases the lock */
    if (rc != DMVF_OK)
        dmvf__audit_snap_free(s);
    return rc;
}

int dmvf__audit_seg_open(const char *dir, const dmvf__audit_seg *sg, int *fd, dmvf__audit_rd **r,
                         char *name, size_t ncap, dmvf_error *err)
{
    char path[4096];
    int z = sg->has_z;
    for (int attempt = 0; attempt < 2; attempt++) {
        dmvf__audit_seg_name(name, ncap, sg->n, z);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd >= 0)
            break;
        if (errno != ENOENT || z)
            return dmvf__seterr(err, DMVF_EIO, "%s: cannot open: %s", path, strerror(errno));
        z = 1;
    }
    if (*fd < 0)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot open: %s", path, strerror(errno));
    *r = dmvf__audit_rd_new(*fd, z, 0, z ? UINT64_MAX : sg->log_size);
    if (!*r) {
        close(*fd);
        *fd = -1;
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", name);
    }
    return DMVF_OK;
}

int dmvf__audit_scan(const char *dir, dmvf__audit_entry_fn fn, void *ud, dmvf_error *err)
{
    DMVF_REQUIRE(dir != NULL && fn != NULL, "dir or fn is NULL");
    dmvf__audit_snap s;
    int rc = dmvf__audit_snap_take(dir, &s, err);
    if (rc != DMVF_OK)
        return rc;
    dmvf__audit_frame fr;
    memset(&fr, 0, sizeof fr);
    for (size_t i = 0; i < s.nsegs && rc == DMVF_OK; i++) {
        int fd;
        dmvf__audit_rd *r;
        char name[64];
        rc = dmvf__audit_seg_open(dir, &s.segs[i], &fd, &r, name, sizeof name, err);
        if (rc != DMVF_OK)
            break;
        for (;;) {
            rc = dmvf__audit_rd_next(r, &fr, name, err);
            if (rc != DMVF_OK || fr.len == 0)
                break;
            Dmv__V1__AuditItem *it =
                dmv__v1__audit_item__unpack(NULL, fr.item_len, fr.buf + fr.pre);
            if (!it) {
                rc = dmvf__seterr(err, DMVF_EMALFORMED, "%s: byte offset %" PRIu64 ": the item "
                                  "does not decode as dmv.v1.AuditItem", name, fr.off);
                if (err)
                    err->offset = fr.off;
                break;
            }
            if (it->body_case == DMV__V1__AUDIT_ITEM__BODY_ENTRY && it->entry)
                rc = fn(ud, it->entry);
            dmv__v1__audit_item__free_unpacked(it, NULL);
            if (rc != DMVF_OK)
                break;
        }
        dmvf__audit_rd_free(r);
        close(fd);
    }
    dmvf__audit_frame_free(&fr);
    dmvf__audit_snap_free(&s);
    return rc;
}
