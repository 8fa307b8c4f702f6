/*
 * audit_item.c - the active segment: opening it (O_APPEND), and one item
 * of the audit log framed, chained and written to it, or several (a group
 * commit, audit_append.c), each chained after the one before: one write()
 * of all the frames; a lone item (a checkpoint) is fsync'd here, a batch by
 * its leader once it has posted the batch's deferred entries (none when
 * every entry of it is deferred: a later fsync covers them).
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

size_t dmvf__audit_frame_put(const dmvf_audit *a, const uint8_t prev[32],
                             const Dmv__V1__AuditItem *item, size_t n, uint8_t *out,
                             uint8_t chain[32])
{
    size_t pre = (size_t)(dmvf__put_varint(out, n) - out);
    dmv__v1__audit_item__pack(item, out + pre);
    dmvf__audit_chain(a->kr, prev, out + pre, n, chain);
    memcpy(out + pre + n, chain, 32);
    return pre + n + DMVF__AUDIT_CHAIN_LEN;
}

int dmvf__audit_frame_make(const dmvf_audit *a, const Dmv__V1__AuditItem *item, size_t n,
                           uint8_t **buf, size_t *len, uint8_t chain[32])
{
    uint8_t *b = malloc(dmvf__varint_size(n) + n + DMVF__AUDIT_CHAIN_LEN);
    if (!b)
        return DMVF_ENOMEM;
    *len = dmvf__audit_frame_put(a, a->chain, item, n, b, chain);
    *buf = b;
    return DMVF_OK;
}

int dmvf__audit_item_size(const Dmv__V1__AuditItem *item, size_t *n, dmvf_error *err)
{
    *n = dmv__v1__audit_item__get_packed_size(item);
    if (*n > DMVF__AUDIT_MAX_ITEM)
        return dmvf__seterr(err, DMVF_ETOOBIG, "an audit item of %zu bytes is past the limit of %"
                            PRIu64 " (too many subjects in one release?)", *n, DMVF__AUDIT_MAX_ITEM);
    return DMVF_OK;
}

int dmvf__audit_fsync(dmvf_audit *a, dmvf_error *err)
{
    if (fsync(a->fd) == 0)
        return DMVF_OK;
    int e = errno;
    a->broken = 1;
    char name[64];
    dmvf__audit_seg_name(name, sizeof name, a->seg, 0);
    return dmvf__seterr(err, DMVF_EIO, "%s/%s: fsync failed: %s", a->dir, name, strerror(e));
}

int dmvf__audit_items_append(dmvf_audit *a, const Dmv__V1__AuditItem *const *items, size_t n,
                             int sync, uint8_t **frames, size_t *frames_len, dmvf_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        int rc = dmvf__audit_item_size(items[i], &len, err);
        if (rc != DMVF_OK)
            return rc;
        total += dmvf__varint_size(len) + len + DMVF__AUDIT_CHAIN_LEN;
    }
    uint8_t *buf = malloc(total ? total : 1), chain[32];
    if (!buf)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory building %zu audit items of %zu "
                            "bytes", n, total);
    /* each frame chained after the one before it: the bytes are those the
     * items would have written one at a time */
    memcpy(chain, a->chain, 32);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t prev[32];
        memcpy(prev, chain, 32);
        at += dmvf__audit_frame_put(a, prev, items[i],
                                    dmv__v1__audit_item__get_packed_size(items[i]), buf + at,
                                    chain);
    }
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
    if (sync && dmvf__audit_fsync(a, err) != DMVF_OK) {
        free(buf);
        return DMVF_EIO;
    }
    crypto_generichash_update(&a->h, buf, total);
    a->off += total;
    memcpy(a->chain, chain, 32);
    a->last_cp = n > 0 && items[n - 1]->body_case == DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT;
    if (frames) {
        *frames = buf;
        *frames_len = total;
    } else {
        free(buf);
    }
    return DMVF_OK;
}

int dmvf__audit_item_append(dmvf_audit *a, const Dmv__V1__AuditItem *item, uint8_t **frame,
                            size_t *frame_len, dmvf_error *err)
{
    return dmvf__audit_items_append(a, &item, 1, 1, frame, frame_len, err);
}
