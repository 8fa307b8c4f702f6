/*
 * audit_item.c - the active segment: opening it (O_APPEND), and one item
 * of the audit log framed, chained and written to it: one write() of the
 * whole frame, then fsync.
 *
 *   frame   = varint(len) || AuditItem (len bytes) || chain (32 bytes)
 *   chain_i = BLAKE2b-256(key = audit key,
 *                         "dmvf-audit-v1\0" || chain_{i-1} || AuditItem_i)
 *             (dmvf__audit_chain, keys/; chain_{-1}: 32 zero bytes)
 *
 * A write that fails part way is cut back off the file (ftruncate, fsync)
 * so that the segment stays whole; when that fails too, or the fsync
 * fails, the handle's view of the file is unknown and it is broken: every
 * later call fails until the log is reopened.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/varint.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_writer_int.h"
#include "keys/keys.h"

int dmvf__audit_activate(dmvf_audit *a, const char *path, uint64_t n, dmvf_error *err)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot open for appending: %s", path,
                            strerror(errno));
    if (a->fd >= 0)
        close(a->fd);
    a->fd = fd;
    a->seg = n;
    a->off = 0;
    a->last_cp = 0;
    crypto_generichash_init(&a->h, NULL, 0, 32);
    return DMVF_OK;
}

int dmvf__audit_frame_make(const dmvf_audit *a, const Dmv__V1__AuditItem *item, size_t n,
                           uint8_t **buf, size_t *len, uint8_t chain[32])
{
    size_t pre = dmvf__varint_size(n);
    size_t total = pre + n + DMVF__AUDIT_CHAIN_LEN;
    uint8_t *b = malloc(total);
    if (!b)
        return DMVF_ENOMEM;
    dmvf__put_varint(b, n);
    dmv__v1__audit_item__pack(item, b + pre);
    dmvf__audit_chain(a->kr, a->chain, b + pre, n, chain);
    memcpy(b + pre + n, chain, 32);
    *buf = b;
    *len = total;
    return DMVF_OK;
}

int dmvf__audit_item_append(dmvf_audit *a, const Dmv__V1__AuditItem *item, uint8_t **frame,
                            size_t *frame_len, dmvf_error *err)
{
    size_t n = dmv__v1__audit_item__get_packed_size(item);
    if (n > DMVF__AUDIT_MAX_ITEM)
        return dmvf__seterr(err, DMVF_ETOOBIG, "an audit item of %zu bytes is past the limit of %"
                            PRIu64 " (too many subjects in one release?)", n, DMVF__AUDIT_MAX_ITEM);
    uint8_t *buf, chain[32];
    size_t total;
    if (dmvf__audit_frame_make(a, item, n, &buf, &total, chain) != DMVF_OK)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory building an audit item of %zu bytes",
                            n);
    char name[64];
    dmvf__audit_seg_name(name, sizeof name, a->seg, 0);
    if (dmvf__write_all(a->fd, buf, total) != 0) {
        int e = errno;
        /* undo a partial frame so the log stays whole */
        if (ftruncate(a->fd, (off_t)a->off) != 0 || fsync(a->fd) != 0)
            a->broken = 1;
        free(buf);
        return dmvf__seterr(err, DMVF_EIO, "%s/%s: cannot append to the audit log: %s%s", a->dir,
                            name, strerror(e), a->broken ? " (and the partial item could not be "
                            "removed: verify and inspect the log)" : "");
    }
    if (fsync(a->fd) != 0) {
        int e = errno;
        a->broken = 1;
        free(buf);
        return dmvf__seterr(err, DMVF_EIO, "%s/%s: fsync failed: %s", a->dir, name, strerror(e));
    }
    crypto_generichash_update(&a->h, buf, total);
    a->off += total;
    memcpy(a->chain, chain, 32);
    a->last_cp = item->body_case == DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT;
    if (frame) {
        *frame = buf;
        *frame_len = total;
    } else {
        free(buf);
    }
    return DMVF_OK;
}
