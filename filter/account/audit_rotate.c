/*
 * audit_rotate.c - rotation: when the active segment is rotate_bytes long
 * or rotate_seconds old (by its header's created_ns), a checkpoint ends it,
 * the next segment is created and becomes the active one, and with
 * compress the closed one is queued to be rewritten as .log.z by the
 * compressor thread (audit_compress.c): the batch that rotated does not
 * wait for a 64 MiB deflate, nor do the appends queued behind it.
 *
 * A new segment holds its header only, written aside and linked into
 * place, so that it never appears half written:
 *
 *   DIR/.audit-NNNNNNNN.log.tmp   open O_CREAT|O_TRUNC, write, fsync, close
 *   DIR/audit-NNNNNNNN.log        link, unlink the temporary, fsync DIR
 *
 *   SegmentHeader{segment N, first_seq = the next seq, prev_chain = the
 *                 chain of the log's last item, created_ns, public_key}
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_writer_int.h"

int dmvf__audit_segment_create(dmvf_audit *a, uint64_t n, dmvf_error *err)
{
    char tmp[4096], path[4096], name[64];
    dmvf__audit_seg_name(name, sizeof name, n, 0);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", a->dir, name);
    dmvf__audit_seg_path(a, path, sizeof path, n, 0);
    Dmv__V1__SegmentHeader sh = DMV__V1__SEGMENT_HEADER__INIT;
    uint64_t first_seq = a->next_seq == UINT64_MAX ? 0 : a->next_seq;
    sh.segment = n;
    sh.first_seq = first_seq;
    sh.prev_chain.data = a->chain;
    sh.prev_chain.len = 32;
    sh.created_ns = dmvf__now_ns();
    sh.public_key.data = a->pub;
    sh.public_key.len = 32;
    Dmv__V1__AuditItem item = DMV__V1__AUDIT_ITEM__INIT;
    item.body_case = DMV__V1__AUDIT_ITEM__BODY_HEADER;
    item.header = &sh;
    size_t len = dmv__v1__audit_item__get_packed_size(&item), total;
    uint8_t *buf, chain[32];
    if (dmvf__audit_frame_make(a, &item, len, &buf, &total, chain) != DMVF_OK)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(buf);
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    if (dmvf__write_all(fd, buf, total) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(buf);
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot write: %s", tmp, strerror(e));
    }
    close(fd);
    if (link(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(buf);
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    unlink(tmp);
    if (fsync(a->dirfd) != 0) {
        int e = errno;
        free(buf);
        return dmvf__seterr(err, DMVF_EIO, "%s: fsync of the directory failed: %s", a->dir,
                            strerror(e));
    }
    int rc = dmvf__audit_activate(a, path, n, err);
    if (rc != DMVF_OK) {
        free(buf);
        return rc;
    }
    a->off = total;
    a->created_ns = sh.created_ns;
    a->next_seq = first_seq;
    memcpy(a->chain, chain, 32);
    crypto_generichash_update(&a->h, buf, total);
    free(buf);
    return DMVF_OK;
}

int dmvf__audit_rotate(dmvf_audit *a, dmvf_error *err)
{
    uint64_t now = dmvf__now_ns();
    int old = now > a->created_ns && (now - a->created_ns) / 1000000000u >= a->o.rotate_seconds;
    if (a->off < a->o.rotate_bytes && !old)
        return DMVF_OK;
    int rc = DMVF_OK;
    if (!a->last_cp)
        rc = dmvf__audit_checkpoint_write(a, err);
    if (rc != DMVF_OK)
        return rc;
    uint64_t closed = a->seg;
    rc = dmvf__audit_segment_create(a, closed + 1, err);
    if (rc != DMVF_OK)
        return rc;
    if (a->o.compress)
        dmvf__audit_compress_later(a, closed);
    return DMVF_OK;
}
