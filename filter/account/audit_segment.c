/*
 * audit_segment.c - the segment reader: the frames of one segment of the
 * audit log, from the plain file or inflated from its .log.z, in bounded
 * memory (the writer, HEAD, the scan and verify all read through it).
 *
 * A segment is a sequence of frames (audit_verify.c says what the items
 * must be):
 *
 *   +--------------+---------------------------+------------------+
 *   | varint(len)  | AuditItem (len bytes)     | chain (32 bytes) |
 *   +--------------+---------------------------+------------------+
 *   varint   at most 10 bytes, 7 bits a byte, little end first
 *   len      1 .. DMVF__AUDIT_MAX_ITEM (2^30)
 *
 *   audit-NNNNNNNN.log     the frames as written
 *   audit-NNNNNNNN.log.z   the same bytes as one zlib stream (compress2's
 *                          format) and nothing after it
 *
 * A frame's buffer grows with the bytes that arrive, so a bogus length
 * cannot make the reader allocate more than the segment holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/varint.h"
#include "filter/account/audit_int.h"

#define RD_BUF DMVF__AUDIT_RD_BUF

/* ---- frames ---- */

void dmvf__audit_frame_free(dmvf__audit_frame *fr)
{
    if (!fr)
        return;
    free(fr->buf);
    memset(fr, 0, sizeof *fr);
}

static int frame_reserve(dmvf__audit_frame *fr, size_t need)
{
    if (need <= fr->cap)
        return 0;
    size_t cap = fr->cap ? fr->cap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(fr->buf, cap);
    if (!p)
        return -1;
    fr->buf = p;
    fr->cap = cap;
    return 0;
}

/* ---- the segment reader ---- */

struct dmvf__audit_rd {
    int fd;
    int z, zinit, zend;
    z_stream zs;
    uint64_t fpos;      /* next file offset to read */
    uint64_t limit;     /* plain: stop here */
    uint64_t pos;       /* bytes handed out: the offset in the segment */
    uint8_t *in;        /* z: compressed input */
    uint8_t *buf;       /* bytes ready to hand out */
    size_t blen, bpos;
    int eof;
};

dmvf__audit_rd *dmvf__audit_rd_new(int fd, int z, uint64_t off, uint64_t limit)
{
    dmvf__audit_rd *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = fd;
    r->z = z != 0;
    r->fpos = r->z ? 0 : off;
    r->pos = r->z ? 0 : off;
    r->limit = r->z ? UINT64_MAX : limit;
    r->buf = malloc(RD_BUF);
    if (r->z)
        r->in = malloc(RD_BUF);
    if (!r->buf || (r->z && !r->in)) {
        dmvf__audit_rd_free(r);
        return NULL;
    }
    if (r->z) {
        if (inflateInit(&r->zs) != Z_OK) {
            dmvf__audit_rd_free(r);
            return NULL;
        }
        r->zinit = 1;
    }
    return r;
}

void dmvf__audit_rd_free(dmvf__audit_rd *r)
{
    if (!r)
        return;
    if (r->zinit)
        inflateEnd(&r->zs);
    free(r->in);
    free(r->buf);
    free(r);
}

/* Refills r->buf. DMVF_OK (r->eof set at the end), or an error. */
static int rd_fill(dmvf__audit_rd *r, const char *name, dmvf_error *err)
{
    r->bpos = r->blen = 0;
    if (r->eof)
        return DMVF_OK;
    if (!r->z) {
        size_t want = RD_BUF;
        if (r->limit != UINT64_MAX) {
            if (r->fpos >= r->limit) {
                r->eof = 1;
                return DMVF_OK;
            }
            if (r->limit - r->fpos < want)
                want = (size_t)(r->limit - r->fpos);
        }
        size_t k;
        if (dmvf__pread_full(r->fd, r->buf, want, r->fpos, &k) != 0)
            return dmvf__seterr(err, DMVF_EIO, "%s: read failed at byte offset %" PRIu64 ": %s",
                                name, r->fpos, strerror(errno));
        if (k == 0)
            r->eof = 1;
        r->fpos += (uint64_t)k;
        r->blen = (size_t)k;
        return DMVF_OK;
    }
    if (r->zend) {
        r->eof = 1;
        return DMVF_OK;
    }
    r->zs.next_out = r->buf;
    r->zs.avail_out = (uInt)RD_BUF;
    while (r->zs.avail_out > 0 && !r->zend) {
        if (r->zs.avail_in == 0) {
            size_t k;
            if (dmvf__pread_full(r->fd, r->in, RD_BUF, r->fpos, &k) != 0)
                return dmvf__seterr(err, DMVF_EIO, "%s: read failed: %s", name, strerror(errno));
            if (k == 0) {
                if (r->zs.avail_out < RD_BUF)
                    break;   /* hand out what we have; the next fill reports */
                return dmvf__seterr(err, DMVF_EMALFORMED, "%s: the compressed segment is cut "
                                    "short (the zlib stream ends early, after %" PRIu64
                                    " bytes inflated)", name, r->pos);
            }
            r->fpos += (uint64_t)k;
            r->zs.next_in = r->in;
            r->zs.avail_in = (uInt)k;
        }
        int zr = inflate(&r->zs, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            r->zend = 1;
            uint8_t extra;
            size_t more;
            if (r->zs.avail_in > 0 || dmvf__pread_full(r->fd, &extra, 1, r->fpos, &more) != 0 ||
                more != 0)
                return dmvf__seterr(err, DMVF_EMALFORMED, "%s: bytes follow the end of the "
                                    "zlib stream", name);
        } else if (zr == Z_MEM_ERROR) {
            return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory inflating", name);
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            return dmvf__seterr(err, DMVF_EMALFORMED, "%s: the compressed segment is corrupt "
                                "(zlib: %s) after %" PRIu64 " bytes inflated", name,
                                r->zs.msg ? r->zs.msg : "error", r->pos);
        }
    }
    r->blen = RD_BUF - r->zs.avail_out;
    if (r->blen == 0 && r->zend)
        r->eof = 1;
    return DMVF_OK;
}

int dmvf__audit_rd_get(dmvf__audit_rd *r, uint8_t *dst, size_t n, size_t *got, const char *name,
                       dmvf_error *err)
{
    *got = 0;
    while (*got < n) {
        if (r->bpos == r->blen) {
            int rc = rd_fill(r, name, err);
            if (rc != DMVF_OK)
                return rc;
            if (r->blen == 0)
                return DMVF_OK;
        }
        size_t k = r->blen - r->bpos;
        if (k > n - *got)
            k = n - *got;
        memcpy(dst + *got, r->buf + r->bpos, k);
        r->bpos += k;
        *got += k;
        r->pos += k;
    }
    return DMVF_OK;
}

uint64_t dmvf__audit_rd_pos(const dmvf__audit_rd *r)
{
    return r->pos;
}

static int torn(dmvf__audit_frame *fr, const char *name, dmvf_error *err, uint64_t have,
                uint64_t want)
{
    dmvf__seterr(err, DMVF_EMALFORMED, "%s: byte offset %" PRIu64 ": the segment ends inside "
                 "an item (%" PRIu64 " of %" PRIu64 " bytes): truncated, or cut short by a "
                 "crash while it was written", name, fr->off, have, want);
    if (err)
        err->offset = fr->off;
    return DMVF_EMALFORMED;
}

int dmvf__audit_rd_next(dmvf__audit_rd *r, dmvf__audit_frame *fr, const char *name,
                        dmvf_error *err)
{
    fr->len = fr->pre = fr->item_len = 0;
    fr->off = r->pos;
    if (frame_reserve(fr, 16))
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", name);
    /* the length prefix, a byte at a time */
    uint64_t len = 0;
    size_t pre = 0;
    for (;;) {
        size_t got;
        int rc = dmvf__audit_rd_get(r, fr->buf + pre, 1, &got, name, err);
        if (rc != DMVF_OK)
            return rc;
        if (got == 0) {
            if (pre == 0)
                return DMVF_OK;   /* a clean end */
            return torn(fr, name, err, pre, pre + 1);
        }
        size_t used;   /* == pre once it ends: the bytes before had their high bit set */
        int v = dmvf__varint_prefix(fr->buf, ++pre, &len, &used);
        if (v > 0)
            break;
        if (v < 0) {
            dmvf__seterr(err, DMVF_EMALFORMED, "%s: byte offset %" PRIu64 ": the item length "
                         "is not a varint", name, fr->off);
            if (err)
                err->offset = fr->off;
            return DMVF_EMALFORMED;
        }
    }
    if (len == 0 || len > DMVF__AUDIT_MAX_ITEM) {
        dmvf__seterr(err, DMVF_EMALFORMED, "%s: byte offset %" PRIu64 ": item length %" PRIu64
                     " is %s", name, fr->off, len, len ? "too large" : "zero");
        if (err)
            err->offset = fr->off;
        return DMVF_EMALFORMED;
    }
    size_t total = pre + (size_t)len + DMVF__AUDIT_CHAIN_LEN;
    size_t have = pre;
    /* grow with the bytes that actually arrive: a bogus length cannot make
     * us allocate more than the segment holds (and twice that at most) */
    while (have < total) {
        size_t want = total - have;
        if (have + want > fr->cap) {
            size_t step = fr->cap < RD_BUF ? RD_BUF : fr->cap;
            if (frame_reserve(fr, have + (want < step ? want : step)))
                return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory reading an item of %"
                                    PRIu64 " bytes", name, len);
            want = fr->cap - have < want ? fr->cap - have : want;
        }
        size_t got;
        int rc = dmvf__audit_rd_get(r, fr->buf + have, want, &got, name, err);
        if (rc != DMVF_OK)
            return rc;
        have += got;
        if (got < want)
            return torn(fr, name, err, have, total);
    }
    fr->pre = pre;
    fr->item_len = (size_t)len;
    fr->len = total;
    return DMVF_OK;
}
