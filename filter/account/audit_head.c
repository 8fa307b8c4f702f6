/*
 * audit_head.c - DIR/HEAD, the newest checkpoint frame of the log byte for
 * byte: reading it (one frame, at most 1 MiB, nothing after it) and
 * replacing it (written aside, fsync'd, renamed, the directory fsync'd).
 *
 *   DIR/HEAD := varint(len) || AuditItem{checkpoint} || chain (32 bytes)
 *               (the frame as it stands in its segment, audit_segment.c)
 *
 * A reader compares it with the log to see a log cut back; the writer
 * moves it on after every checkpoint (audit_checkpoint.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/account/audit_int.h"

#define HEAD_MAX ((size_t)1 << 20)

int dmvf__audit_head_read(const char *dir, dmvf__audit_frame *fr, dmvf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/HEAD", dir);
    fr->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        dmvf__seterr(err, DMVF_EIO, "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return DMVF_EIO;
    }
    dmvf__audit_rd *r = dmvf__audit_rd_new(fd, 0, 0, HEAD_MAX);
    if (!r) {
        close(fd);
        errno = ENOMEM;
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", path);
    }
    int rc = dmvf__audit_rd_next(r, fr, "HEAD", err);
    if (rc == DMVF_OK && fr->len == 0)
        rc = dmvf__seterr(err, DMVF_EMALFORMED, "HEAD is empty");
    if (rc == DMVF_OK) {
        uint8_t extra;
        size_t got;
        rc = dmvf__audit_rd_get(r, &extra, 1, &got, "HEAD", err);
        if (rc == DMVF_OK && got)
            rc = dmvf__seterr(err, DMVF_EMALFORMED, "HEAD holds more than one checkpoint item");
    }
    dmvf__audit_rd_free(r);
    close(fd);
    if (rc != DMVF_OK)
        fr->len = 0;
    errno = 0;
    return rc;
}

int dmvf__audit_head_write(const char *dir, int dirfd, const uint8_t *frame, size_t len,
                           dmvf_error *err)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/.HEAD.tmp", dir);
    snprintf(path, sizeof path, "%s/HEAD", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    if (dmvf__write_all(fd, frame, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot write: %s", tmp, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0 || fsync(dirfd) != 0) {
        int e = errno;
        unlink(tmp);
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot put in place: %s", path, strerror(e));
    }
    return DMVF_OK;
}
