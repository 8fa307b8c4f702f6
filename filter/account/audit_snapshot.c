/*
 * audit_snapshot.c - reading the audit log while writers go on: a
 * snapshot, a segment of it opened, a cursor over its entries, oldest
 * first, and dmvf__audit_scan (every entry, through a callback) for the
 * report and the query; a query over several logs merges their cursors.
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

struct dmvf__audit_cursor {
    const char *dir;
    dmvf__audit_snap s;
    size_t seg;                 /* the segment being read, s.nsegs at the end */
    int fd;
    dmvf__audit_rd *r;
    char name[64];
    dmvf__audit_frame fr;
    Dmv__V1__AuditItem *it;     /* the item the last entry came from */
};

int dmvf__audit_cursor_open(const char *dir, dmvf__audit_cursor **out, dmvf_error *err)
{
    DMVF_REQUIRE(dir != NULL && out != NULL, "dir or out is NULL");
    *out = NULL;
    dmvf__audit_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", dir);
    c->dir = dir;
    c->fd = -1;
    int rc = dmvf__audit_snap_take(dir, &c->s, err);
    if (rc != DMVF_OK) {
        free(c);
        return rc;
    }
    *out = c;
    return DMVF_OK;
}

void dmvf__audit_cursor_free(dmvf__audit_cursor *c)
{
    if (!c)
        return;
    if (c->it)
        dmv__v1__audit_item__free_unpacked(c->it, NULL);
    dmvf__audit_rd_free(c->r);
    if (c->fd >= 0)
        close(c->fd);
    dmvf__audit_frame_free(&c->fr);
    dmvf__audit_snap_free(&c->s);
    free(c);
}

int dmvf__audit_cursor_next(dmvf__audit_cursor *c, const Dmv__V1__AuditEntry **e,
                            dmvf_error *err)
{
    *e = NULL;
    if (c->it) {
        dmv__v1__audit_item__free_unpacked(c->it, NULL);
        c->it = NULL;
    }
    while (c->seg < c->s.nsegs) {
        if (!c->r) {
            int rc = dmvf__audit_seg_open(c->dir, &c->s.segs[c->seg], &c->fd, &c->r, c->name,
                                          sizeof c->name, err);
            if (rc != DMVF_OK)
                return rc;
        }
        int rc = dmvf__audit_rd_next(c->r, &c->fr, c->name, err);
        if (rc != DMVF_OK)
            return rc;
        if (c->fr.len == 0) {
            /* this segment is done: the next one */
            dmvf__audit_rd_free(c->r);
            c->r = NULL;
            close(c->fd);
            c->fd = -1;
            c->seg++;
            continue;
        }
        c->it = dmv__v1__audit_item__unpack(NULL, c->fr.item_len, c->fr.buf + c->fr.pre);
        if (!c->it) {
            rc = dmvf__seterr(err, DMVF_EMALFORMED, "%s: byte offset %" PRIu64 ": the item "
                              "does not decode as dmv.v1.AuditItem", c->name, c->fr.off);
            if (err)
                err->offset = c->fr.off;
            return rc;
        }
        if (c->it->body_case == DMV__V1__AUDIT_ITEM__BODY_ENTRY && c->it->entry) {
            *e = c->it->entry;
            return DMVF_OK;
        }
        dmv__v1__audit_item__free_unpacked(c->it, NULL);
        c->it = NULL;
    }
    return DMVF_OK;
}

int dmvf__audit_scan(const char *dir, dmvf__audit_entry_fn fn, void *ud, dmvf_error *err)
{
    DMVF_REQUIRE(dir != NULL && fn != NULL, "dir or fn is NULL");
    dmvf__audit_cursor *c;
    int rc = dmvf__audit_cursor_open(dir, &c, err);
    while (rc == DMVF_OK) {
        const Dmv__V1__AuditEntry *e;
        rc = dmvf__audit_cursor_next(c, &e, err);
        if (rc != DMVF_OK || !e)
            break;
        rc = fn(ud, e);
    }
    dmvf__audit_cursor_free(c);
    return rc;
}
