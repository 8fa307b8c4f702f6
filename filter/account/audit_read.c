/*
 * audit_read.c - reading the audit log: the frame reader the writer shares,
 * dmvf__audit_scan (report, review), dmvf_audit_verify and
 * dmvf_audit_query_run.
 *
 * The log directory (schema/dmv/v1/audit.proto):
 *
 *   DIR/audit-00000001.log     segment 1; once rotated and compressed
 *   DIR/audit-00000001.log.z   the same bytes, zlib (compress2 format)
 *   DIR/audit-00000002.log ... the last one is the active segment
 *   DIR/HEAD                   the newest checkpoint frame, byte for byte
 *   DIR/LOCK                   flock'd: exclusive by writers, shared (for a
 *                              moment) by readers taking a snapshot
 *
 * A segment is a sequence of frames:
 *
 *   +--------------+---------------------------+------------------+
 *   | varint(len)  | AuditItem (len bytes)     | chain (32 bytes) |
 *   +--------------+---------------------------+------------------+
 *   chain_i = BLAKE2b-256(key = audit key,
 *                         "dmvf-audit-v1\0" || chain_{i-1} || AuditItem_i)
 *   chain_{-1} = 32 zero bytes (the first item of the log)
 *
 *   segment N := SegmentHeader{segment N, first_seq, prev_chain = chain of
 *                the log's previous item, created_ns, public_key}
 *                ( AuditEntry{seq = 0, 1, 2, ... across segments}
 *                | Checkpoint{segment N, entries = next seq, chain = the
 *                  previous item's chain, segment_digest = BLAKE2b-256 of the
 *                  segment's bytes before this frame, time_ns, public_key,
 *                  signature = Ed25519("dmvf-checkpoint-v1\0" || Checkpoint
 *                  with signature empty)} )*
 *   Every segment but the last ends with a Checkpoint (written when it was
 *   rotated); a writer's close appends one too.
 *
 * Readers take a snapshot under a shared lock (HEAD's bytes, the segment
 * list, the plain segments' sizes) and then read without any lock: writers
 * only append, and a rotated segment is compressed into the same bytes, so
 * the snapshot stays readable while writers go on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <zlib.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"
#include "filter/core/hex.h"
#include "filter/core/text.h"
#include "filter/account/audit_int.h"
#include "filter/core/varint.h"
#include "keys/keys.h"

#define RD_BUF ((size_t)64 << 10)
#define HEAD_MAX ((size_t)1 << 20)

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

static ssize_t pread_full(int fd, uint8_t *p, size_t n, uint64_t at)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, p + got, n - got, (off_t)(at + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
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
        ssize_t k = pread_full(r->fd, r->buf, want, r->fpos);
        if (k < 0)
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
            ssize_t k = pread_full(r->fd, r->in, RD_BUF, r->fpos);
            if (k < 0)
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
            if (r->zs.avail_in > 0 || pread_full(r->fd, &extra, 1, r->fpos) != 0)
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

/* Copies up to n bytes to dst; *got < n only at the end of the segment. */
static int rd_get(dmvf__audit_rd *r, uint8_t *dst, size_t n, size_t *got, const char *name,
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
        int rc = rd_get(r, fr->buf + pre, 1, &got, name, err);
        if (rc != DMVF_OK)
            return rc;
        if (got == 0) {
            if (pre == 0)
                return DMVF_OK;   /* a clean end */
            return torn(fr, name, err, pre, pre + 1);
        }
        len |= (uint64_t)(fr->buf[pre] & 0x7f) << (7 * pre);
        if (!(fr->buf[pre++] & 0x80))
            break;
        if (pre == 10) {
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
        int rc = rd_get(r, fr->buf + have, want, &got, name, err);
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

/* ---- the directory ---- */

void dmvf__audit_seg_name(char *out, size_t cap, uint64_t n, int z)
{
    snprintf(out, cap, "audit-%08" PRIu64 ".log%s", n, z ? ".z" : "");
}

/* 1 when name is a canonical segment name; *n and *z set. */
static int parse_seg_name(const char *name, uint64_t *n, int *z)
{
    if (strncmp(name, "audit-", 6) != 0)
        return 0;
    const char *p = name + 6;
    uint64_t v = 0;
    size_t digits = 0;
    while (p[digits] >= '0' && p[digits] <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(p[digits] - '0');
        digits++;
    }
    if (digits < 8 || v == 0)
        return 0;
    const char *rest = p + digits;
    int iz;
    if (strcmp(rest, ".log") == 0)
        iz = 0;
    else if (strcmp(rest, ".log.z") == 0)
        iz = 1;
    else
        return 0;
    char canon[64];
    dmvf__audit_seg_name(canon, sizeof canon, v, iz);
    if (strcmp(canon, name) != 0)
        return 0;   /* e.g. leading zeros beyond eight digits */
    *n = v;
    *z = iz;
    return 1;
}

static int seg_cmp(const void *a, const void *b)
{
    const dmvf__audit_seg *x = a, *y = b;
    return x->n < y->n ? -1 : x->n > y->n;
}

int dmvf__audit_segments(const char *dir, dmvf__audit_seg **segs, size_t *n, dmvf_error *err)
{
    *segs = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot open the audit log directory: %s", dir,
                            strerror(errno));
    dmvf__audit_seg *v = NULL;
    size_t len = 0, cap = 0;
    int rc = DMVF_OK;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t num;
        int z;
        if (!parse_seg_name(de->d_name, &num, &z))
            continue;
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            dmvf__audit_seg *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory listing segments", dir);
                break;
            }
            v = nv;
            cap = nc;
        }
        memset(&v[len], 0, sizeof v[len]);
        v[len].n = num;
        if (z) {
            v[len].has_z = 1;
        } else {
            char path[4096];
            struct stat st;
            v[len].has_log = 1;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (stat(path, &st) == 0)
                v[len].log_size = (uint64_t)st.st_size;
            else if (errno != ENOENT) {
                rc = dmvf__seterr(err, DMVF_EIO, "%s: cannot stat: %s", path, strerror(errno));
                break;
            } else {
                continue;   /* compressed and removed since readdir */
            }
        }
        len++;
        errno = 0;
    }
    if (rc == DMVF_OK && errno != 0)
        rc = dmvf__seterr(err, DMVF_EIO, "%s: cannot list: %s", dir, strerror(errno));
    closedir(d);
    if (rc != DMVF_OK) {
        free(v);
        return rc;
    }
    if (len > 1)
        qsort(v, len, sizeof *v, seg_cmp);
    /* merge the .log and .log.z of one number */
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (o > 0 && v[o - 1].n == v[i].n) {
            v[o - 1].has_z |= v[i].has_z;
            if (v[i].has_log) {
                v[o - 1].has_log = 1;
                v[o - 1].log_size = v[i].log_size;
            }
        } else {
            v[o++] = v[i];
        }
    }
    *segs = v;
    *n = o;
    return DMVF_OK;
}

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
        rc = rd_get(r, &extra, 1, &got, "HEAD", err);
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

int dmvf__audit_checkpoint_signed_bytes(const Dmv__V1__Checkpoint *cp, uint8_t **out, size_t *n)
{
    Dmv__V1__Checkpoint c = *cp;
    c.signature.len = 0;
    c.signature.data = NULL;
    *n = dmv__v1__checkpoint__get_packed_size(&c);
    *out = malloc(*n ? *n : 1);
    if (!*out)
        return DMVF_ENOMEM;
    dmv__v1__checkpoint__pack(&c, *out);
    return DMVF_OK;
}

/* ---- snapshots ---- */

typedef struct snap {
    dmvf__audit_seg *segs;
    size_t nsegs;
    dmvf__audit_frame head;   /* head.len == 0: no HEAD */
} snap;

static void snap_free(snap *s)
{
    free(s->segs);
    dmvf__audit_frame_free(&s->head);
    memset(s, 0, sizeof *s);
}

/* HEAD and the segment list as one consistent moment: under a shared lock
 * on DIR/LOCK when there is one we may open (a copied log may have none). */
static int snap_take(const char *dir, snap *s, dmvf_error *err)
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
        snap_free(s);
    return rc;
}

/* Opens segment i of the snapshot for reading: the .log.z when there is
 * one, else the .log up to its snapshot size (or, if it was compressed and
 * removed since, the .log.z). name receives the file's name. */
static int seg_open(const char *dir, const dmvf__audit_seg *sg, int *fd, dmvf__audit_rd **r,
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

/* ---- scan ---- */

int dmvf__audit_scan(const char *dir, dmvf__audit_entry_fn fn, void *ud, dmvf_error *err)
{
    DMVF_REQUIRE(dir != NULL && fn != NULL, "dir or fn is NULL");
    snap s;
    int rc = snap_take(dir, &s, err);
    if (rc != DMVF_OK)
        return rc;
    dmvf__audit_frame fr;
    memset(&fr, 0, sizeof fr);
    for (size_t i = 0; i < s.nsegs && rc == DMVF_OK; i++) {
        int fd;
        dmvf__audit_rd *r;
        char name[64];
        rc = seg_open(dir, &s.segs[i], &fd, &r, name, sizeof name, err);
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
    snap_free(&s);
    return rc;
}

/* ---- verify ---- */

typedef struct verifier {
    const char *dir;
    const dmvf_keyring *kr;
    uint8_t pub[32];
    dmvf_error *err;
    uint8_t chain[32];            /* chain value of the last item */
    uint64_t next_seq;
    uint64_t items, checkpoints, compressed, both;
    uint64_t since_cp;            /* entries after the last checkpoint */
    uint64_t last_cp_seg, last_cp_entries;
    /* HEAD */
    Dmv__V1__Checkpoint *head_cp; /* from the unpacked head item */
    Dmv__V1__AuditItem *head_item;
    const dmvf__audit_frame *head;
    int head_found;
    uint64_t cps_after_head;
    /* the item being checked, for messages */
    char name[64];
    uint64_t end_off;             /* where the last segment ends */
    int last_kind;                /* the log's last item */
    int head_missing_ok;          /* HEAD missing: a writer stopped before its first */
} verifier;

static const char *item_word(int body_case)
{
    switch (body_case) {
    case DMV__V1__AUDIT_ITEM__BODY_HEADER: return "segment header";
    case DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT: return "checkpoint";
    default: return "entry";
    }
}

/* "NAME: byte offset X (entry N): why" with err->offset and ->record. */
static int vfail(verifier *v, uint64_t off, int kind, const char *why, ...) DMVF_PRINTF(4, 5);
static int vfail(verifier *v, uint64_t off, int kind, const char *why, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, why);
    vsnprintf(what, sizeof what, why, ap);
    va_end(ap);
    char where[96];
    if (kind == DMV__V1__AUDIT_ITEM__BODY_HEADER)
        snprintf(where, sizeof where, "segment header");
    else if (kind == DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT)
        snprintf(where, sizeof where, "checkpoint after entry %" PRIu64 "%s",
                 v->next_seq ? v->next_seq - 1 : 0, v->next_seq ? "" : " (none)");
    else
        snprintf(where, sizeof where, "entry %" PRIu64, v->next_seq);
    dmvf__seterr(v->err, DMVF_ETAMPER, "%s: byte offset %" PRIu64 " (%s): %s", v->name, off,
                 where, what);
    if (v->err) {
        v->err->offset = off;
        v->err->record = v->next_seq;
    }
    return DMVF_ETAMPER;
}

static int check_checkpoint(verifier *v, const Dmv__V1__Checkpoint *cp, uint64_t segno,
                            const uint8_t digest[32], uint64_t off)
{
    const int K = DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT;
    if (cp->public_key.len != 32 || memcmp(cp->public_key.data, v->pub, 32) != 0)
        return vfail(v, off, K, "the checkpoint names another public key: the log was written "
                     "with another keyring, or the checkpoint was edited");
    if (cp->signature.len != 64)
        return vfail(v, off, K, "the checkpoint's signature is missing or malformed");
    uint8_t *msg;
    size_t mlen;
    if (dmvf__audit_checkpoint_signed_bytes(cp, &msg, &mlen) != DMVF_OK)
        return dmvf__seterr(v->err, DMVF_ENOMEM, "out of memory");
    int bad = dmvf__sign_verify(v->pub, DMVF__AUDIT_CHECKPOINT_CTX, msg, mlen, cp->signature.data);
    free(msg);
    if (bad)
        return vfail(v, off, K, "the checkpoint's signature does not verify: the checkpoint was "
                     "edited or forged");
    if (cp->segment != segno)
        return vfail(v, off, K, "the checkpoint names segment %" PRIu64 ": segments were renamed "
                     "or spliced", cp->segment);
    if (cp->entries != v->next_seq)
        return vfail(v, off, K, "the checkpoint counts %" PRIu64 " entries but %" PRIu64
                     " precede it: entries were removed or inserted", cp->entries, v->next_seq);
    if (cp->chain.len != 32 || memcmp(cp->chain.data, v->chain, 32) != 0)
        return vfail(v, off, K, "the checkpoint's chain is not the chain of the item before it: "
                     "items were removed, inserted or reordered");
    if (cp->segment_digest.len != 32 || memcmp(cp->segment_digest.data, digest, 32) != 0)
        return vfail(v, off, K, "the segment's bytes before the checkpoint do not match its "
                     "signed digest: they were edited, removed, inserted or reordered");
    return DMVF_OK;
}

/* The frames of one segment. */
static int verify_segment(verifier *v, dmvf__audit_rd *r, uint64_t segno, int last,
                          dmvf__audit_frame *fr)
{
    crypto_generichash_state h, before;
    crypto_generichash_init(&h, NULL, 0, 32);
    int first = 1, last_kind = 0;
    int rc;
    for (;;) {
        rc = dmvf__audit_rd_next(r, fr, v->name, v->err);
        if (rc == DMVF_EMALFORMED) {
            /* rd_next says "NAME: byte offset X: why"; name the entry too */
            if (v->err) {
                char msg[sizeof v->err->msg], pfx[128];
                uint64_t off = v->err->offset;
                snprintf(msg, sizeof msg, "%s", v->err->msg);
                int pl = snprintf(pfx, sizeof pfx, "%s: byte offset %" PRIu64 ": ", v->name, off);
                char at[64];
                if (first)
                    snprintf(at, sizeof at, "segment header");
                else
                    snprintf(at, sizeof at, "entry %" PRIu64, v->next_seq);
                if (pl > 0 && strncmp(msg, pfx, (size_t)pl) == 0)
                    dmvf__seterr(v->err, DMVF_ETAMPER, "%s: byte offset %" PRIu64 " (%s): %s",
                                 v->name, off, at, msg + pl);
                else
                    dmvf__seterr(v->err, DMVF_ETAMPER, "%s (%s)", msg, at);
                v->err->offset = off;
                v->err->record = v->next_seq;
            }
            return DMVF_ETAMPER;
        }
        if (rc != DMVF_OK)
            return rc;
        if (fr->len == 0)
            break;
        const uint8_t *item = fr->buf + fr->pre;
        const uint8_t *chain = item + fr->item_len;
        uint64_t off = fr->off;
        before = h;
        crypto_generichash_update(&h, fr->buf, fr->len);
        Dmv__V1__AuditItem *it = dmv__v1__audit_item__unpack(NULL, fr->item_len, item);
        int kind = it ? (int)it->body_case : DMV__V1__AUDIT_ITEM__BODY_ENTRY;
        if (it && kind == DMV__V1__AUDIT_ITEM__BODY_HEADER && it->header &&
            (it->header->public_key.len != 32 ||
             memcmp(it->header->public_key.data, v->pub, 32) != 0)) {
            char got[17] = "?", want[17];
            if (it->header->public_key.len == 32)
                dmvf__hex_encode(got, it->header->public_key.data, 8);
            dmvf__hex_encode(want, v->pub, 8);
            dmv__v1__audit_item__free_unpacked(it, NULL);
            return vfail(v, off, kind, "the segment header names public key %s..., not %s...: "
                         "the log was written with another keyring, or the header was edited",
                         got, want);
        }
        /* where the item stands, before its MAC: a header or a missing one
         * says more about renamed, spliced or cut segments than a chain */
        rc = DMVF_OK;
        if (it && first && kind != DMV__V1__AUDIT_ITEM__BODY_HEADER &&
            kind != DMV__V1__AUDIT_ITEM__BODY__NOT_SET)
            rc = vfail(v, off, kind, "the segment does not start with its header: its beginning "
                       "was cut off or replaced");
        else if (it && !first && kind == DMV__V1__AUDIT_ITEM__BODY_HEADER)
            rc = vfail(v, off, kind, "a segment header inside a segment: items were inserted or "
                       "segments spliced");
        else if (it && kind == DMV__V1__AUDIT_ITEM__BODY_HEADER) {
            const Dmv__V1__SegmentHeader *sh = it->header;
            if (sh->segment != segno)
                rc = vfail(v, off, kind, "the header says segment %" PRIu64 ": segments were "
                           "renamed or reordered", sh->segment);
            else if (sh->first_seq != v->next_seq)
                rc = vfail(v, off, kind, "the segment starts at entry %" PRIu64 " but %" PRIu64
                           " entries precede it: entries or segments were removed or inserted",
                           sh->first_seq, v->next_seq);
            else if (sh->prev_chain.len != 32 || memcmp(sh->prev_chain.data, v->chain, 32) != 0)
                rc = vfail(v, off, kind, "the segment does not continue the chain of the one "
                           "before it: a segment was removed, replaced or reordered");
        }
        if (rc == DMVF_OK && v->kr) {
            uint8_t want[32];
            dmvf__audit_chain(v->kr, v->chain, item, fr->item_len, want);
            if (sodium_memcmp(want, chain, 32) != 0)
                rc = vfail(v, off, kind, "chain does not match: the %s was edited, removed or "
                           "reordered", item_word(kind));
        }
        if (rc != DMVF_OK) {
            /* reported */
        } else if (!it || kind == DMV__V1__AUDIT_ITEM__BODY__NOT_SET) {
            rc = vfail(v, off, kind, "the item does not decode as dmv.v1.AuditItem");
        } else if (kind == DMV__V1__AUDIT_ITEM__BODY_HEADER) {
            /* checked above */
        } else if (kind == DMV__V1__AUDIT_ITEM__BODY_ENTRY) {
            if (!it->entry || it->entry->seq != v->next_seq)
                rc = vfail(v, off, kind, "the entry has seq %" PRIu64 ": entries were removed, "
                           "inserted or reordered", it->entry ? it->entry->seq : 0);
            else {
                v->next_seq++;
                v->since_cp++;
            }
        } else {
            uint8_t dg[32];
            crypto_generichash_state t = before;
            crypto_generichash_final(&t, dg, 32);
            rc = check_checkpoint(v, it->checkpoint, segno, dg, off);
            if (rc == DMVF_OK) {
                v->checkpoints++;
                v->since_cp = 0;
                v->last_cp_seg = segno;
                v->last_cp_entries = v->next_seq;
                if (v->head && v->head->len == fr->len &&
                    memcmp(v->head->buf, fr->buf, fr->len) == 0)
                    v->head_found = 1, v->cps_after_head = 0;
                else if (v->head_found)
                    v->cps_after_head++;
            }
        }
        if (it)
            dmv__v1__audit_item__free_unpacked(it, NULL);
        if (rc != DMVF_OK)
            return rc;
        memcpy(v->chain, chain, 32);
        v->items++;
        first = 0;
        last_kind = kind;
        v->last_kind = kind;
        v->end_off = fr->off + fr->len;
    }
    if (first) {
        v->end_off = 0;
        return vfail(v, 0, DMV__V1__AUDIT_ITEM__BODY_HEADER, "the segment is empty: truncated");
    }
    if (!last && last_kind != DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT)
        return vfail(v, v->end_off, DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT, "the segment ends "
                     "without its closing checkpoint: it was truncated");
    return DMVF_OK;
}

/* Both forms of one segment present: they must hold the same bytes. */
static int compare_forms(verifier *v, const dmvf__audit_seg *sg)
{
    char nl[64], nz[64], pl[4096], pz[4096];
    dmvf__audit_seg_name(nl, sizeof nl, sg->n, 0);
    dmvf__audit_seg_name(nz, sizeof nz, sg->n, 1);
    snprintf(pl, sizeof pl, "%s/%s", v->dir, nl);
    snprintf(pz, sizeof pz, "%s/%s", v->dir, nz);
    int fl = open(pl, O_RDONLY | O_CLOEXEC);
    if (fl < 0 && errno == ENOENT)
        return DMVF_OK;   /* removed since: the compression finished */
    if (fl < 0)
        return dmvf__seterr(v->err, DMVF_EIO, "%s: cannot open: %s", pl, strerror(errno));
    int fz = open(pz, O_RDONLY | O_CLOEXEC);
    if (fz < 0) {
        close(fl);
        return dmvf__seterr(v->err, DMVF_EIO, "%s: cannot open: %s", pz, strerror(errno));
    }
    int rc = DMVF_ENOMEM;
    dmvf__audit_rd *rl = dmvf__audit_rd_new(fl, 0, 0, UINT64_MAX);
    dmvf__audit_rd *rz = dmvf__audit_rd_new(fz, 1, 0, UINT64_MAX);
    uint8_t *a = malloc(RD_BUF), *b = malloc(RD_BUF);
    if (!rl || !rz || !a || !b) {
        dmvf__seterr(v->err, DMVF_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        size_t ga, gb;
        rc = rd_get(rl, a, RD_BUF, &ga, nl, v->err);
        if (rc == DMVF_OK)
            rc = rd_get(rz, b, RD_BUF, &gb, nz, v->err);
        if (rc == DMVF_EMALFORMED) {
            rc = DMVF_ETAMPER;
            if (v->err)
                v->err->code = rc;
        }
        if (rc != DMVF_OK)
            break;
        if (ga != gb || memcmp(a, b, ga) != 0) {
            uint64_t at = rl->pos - ga;
            size_t k = 0;
            while (k < ga && k < gb && a[k] == b[k])
                k++;
            rc = dmvf__seterr(v->err, DMVF_ETAMPER, "%s and %s differ at byte offset %" PRIu64
                              ": one of them was edited (a segment has one set of bytes)", nl, nz,
                              at + k);
            if (v->err)
                v->err->offset = at + k;
            break;
        }
        if (ga < RD_BUF)
            break;
    }
out:
    dmvf__audit_rd_free(rl);
    dmvf__audit_rd_free(rz);
    free(a);
    free(b);
    close(fl);
    close(fz);
    return rc;
}

/* HEAD on its own: one signed checkpoint frame (with kr: its chain too). */
static int check_head(verifier *v, const dmvf__audit_frame *hf)
{
    Dmv__V1__AuditItem *it = dmv__v1__audit_item__unpack(NULL, hf->item_len, hf->buf + hf->pre);
    if (!it || it->body_case != DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT || !it->checkpoint) {
        if (it)
            dmv__v1__audit_item__free_unpacked(it, NULL);
        return dmvf__seterr(v->err, DMVF_ETAMPER, "HEAD does not hold a checkpoint: it was edited");
    }
    const Dmv__V1__Checkpoint *cp = it->checkpoint;
    uint8_t *msg = NULL;
    size_t mlen = 0;
    int bad = cp->public_key.len != 32 || memcmp(cp->public_key.data, v->pub, 32) != 0;
    if (bad) {
        dmv__v1__audit_item__free_unpacked(it, NULL);
        return dmvf__seterr(v->err, DMVF_ETAMPER, "HEAD names another public key: it was "
                            "written with another keyring, or edited");
    }
    if (dmvf__audit_checkpoint_signed_bytes(cp, &msg, &mlen) != DMVF_OK) {
        dmv__v1__audit_item__free_unpacked(it, NULL);
        return dmvf__seterr(v->err, DMVF_ENOMEM, "out of memory");
    }
    bad = cp->signature.len != 64 ||
          dmvf__sign_verify(v->pub, DMVF__AUDIT_CHECKPOINT_CTX, msg, mlen, cp->signature.data) != 0;
    free(msg);
    if (!bad && v->kr && cp->chain.len == 32) {
        uint8_t want[32];
        dmvf__audit_chain(v->kr, cp->chain.data, hf->buf + hf->pre, hf->item_len, want);
        bad = sodium_memcmp(want, hf->buf + hf->pre + hf->item_len, 32) != 0;
    }
    if (bad) {
        dmv__v1__audit_item__free_unpacked(it, NULL);
        return dmvf__seterr(v->err, DMVF_ETAMPER, "HEAD's checkpoint does not verify (signature "
                            "or chain): HEAD was edited");
    }
    v->head_item = it;
    v->head_cp = it->checkpoint;
    return DMVF_OK;
}

int dmvf_audit_verify(const char *dir, const dmvf_keyring *kr, const uint8_t *pub, FILE *out,
                      dmvf_error *err)
{
    DMVF_REQUIRE(dir != NULL, "dir is NULL");
    DMVF_REQUIRE(kr != NULL || pub != NULL, "neither a keyring nor a public key given");
    if (sodium_init() < 0)
        return dmvf__seterr(err, DMVF_ENOMEM, "libsodium failed to initialize");
    verifier v;
    memset(&v, 0, sizeof v);
    v.dir = dir;
    v.kr = kr;
    v.err = err;
    if (pub)
        memcpy(v.pub, pub, 32);
    else
        dmvf_keyring_public_key(kr, v.pub);
    snap s;
    int rc = snap_take(dir, &s, err);
    if (rc != DMVF_OK)
        return rc;
    dmvf__audit_frame fr;
    memset(&fr, 0, sizeof fr);
    if (s.head.len == 0 && s.head.off == UINT64_MAX) {
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s/HEAD is not one checkpoint item: it was edited "
                          "or cut", dir);
        goto done;
    }
    if (s.head.len > 0) {
        rc = check_head(&v, &s.head);
        if (rc != DMVF_OK)
            goto done;
        v.head = &s.head;
    }
    if (s.nsegs == 0) {
        /* a writer makes LOCK before its first segment: stopped between
         * the two, it leaves an empty log */
        char lp[4096];
        snprintf(lp, sizeof lp, "%s/LOCK", dir);
        if (!v.head && access(lp, F_OK) == 0) {
            if (out)
                fprintf(out, "audit log %s: intact, empty (no segment yet: a writer created it "
                        "and stopped before its first entry)\n", dir);
            goto done;
        }
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s: no audit segments%s", dir,
                          v.head ? ", but HEAD names a checkpoint: the log was removed (truncated)"
                                 : ": not an audit log, or every segment was removed");
        goto done;
    }
    for (size_t i = 0; i < s.nsegs; i++) {
        const dmvf__audit_seg *sg = &s.segs[i];
        uint64_t want = (uint64_t)i + 1;
        if (sg->n != want) {
            char miss[64];
            dmvf__audit_seg_name(miss, sizeof miss, want, 0);
            rc = dmvf__seterr(err, DMVF_ETAMPER, "%s: missing (the log has segments up to %"
                              PRIu64 "): a segment was deleted or renamed, after entry %" PRIu64,
                              miss, s.segs[s.nsegs - 1].n, v.next_seq);
            if (err)
                err->record = v.next_seq;
            goto done;
        }
        if (sg->has_z && sg->has_log) {
            v.both++;
            rc = compare_forms(&v, sg);
            if (rc != DMVF_OK)
                goto done;
        }
        v.compressed += sg->has_z != 0;
        int fd;
        dmvf__audit_rd *r;
        rc = seg_open(dir, sg, &fd, &r, v.name, sizeof v.name, err);
        if (rc != DMVF_OK)
            goto done;
        rc = verify_segment(&v, r, sg->n, i + 1 == s.nsegs, &fr);
        dmvf__audit_rd_free(r);
        close(fd);
        if (rc != DMVF_OK)
            goto done;
    }
    /* HEAD against the log */
    /* the one crash window without HEAD: the log's first checkpoint
     * written, the writer stopped before HEAD (the next writer writes it) */
    v.head_missing_ok = !v.head && v.checkpoints == 1 &&
                        v.last_kind == DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT;
    if (!v.head && v.checkpoints > 0 && !v.head_missing_ok) {
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s/HEAD is missing, but the log has %" PRIu64
                          " checkpoint%s: HEAD was removed", dir, v.checkpoints,
                          v.checkpoints == 1 ? "" : "s");
        goto done;
    }
    if (v.head && !v.head_found) {
        const Dmv__V1__Checkpoint *hc = v.head_cp;
        uint64_t lastn = s.segs[s.nsegs - 1].n;
        if (hc->segment > lastn || (hc->segment == lastn && hc->entries >= v.next_seq)) {
            rc = dmvf__seterr(err, DMVF_ETAMPER, "%s: byte offset %" PRIu64 ": the log ends "
                              "after %" PRIu64 " entries, but HEAD's checkpoint is in segment %"
                              PRIu64 " after %" PRIu64 " entries: the log was truncated (items "
                              "or segments removed from its end)", v.name, v.end_off, v.next_seq,
                              hc->segment, hc->entries);
            if (err) {
                err->offset = v.end_off;
                err->record = v.next_seq;
            }
        } else {
            rc = dmvf__seterr(err, DMVF_ETAMPER, "HEAD's checkpoint (segment %" PRIu64 ", after %"
                              PRIu64 " entries) is not in the log at that place: the log was "
                              "truncated and rewritten, or HEAD was replaced", hc->segment,
                              hc->entries);
        }
        goto done;
    }
    if (out) {
        char first[64], lastn[64], hx[65];
        dmvf__audit_seg_name(first, sizeof first, 1, s.segs[0].has_z);
        dmvf__audit_seg_name(lastn, sizeof lastn, s.nsegs, s.segs[s.nsegs - 1].has_z);
        dmvf__hex_encode(hx, v.pub, 32);
        fprintf(out, "audit log %s: intact\n", dir);
        if (s.nsegs == 1)
            fprintf(out, "  segments:    1 (%s)\n", first);
        else
            fprintf(out, "  segments:    %zu (%s .. %s), %" PRIu64 " compressed\n", s.nsegs, first,
                    lastn, v.compressed);
        if (v.next_seq)
            fprintf(out, "  entries:     %" PRIu64 " (seq 0..%" PRIu64 ", consecutive)\n",
                    v.next_seq, v.next_seq - 1);
        else
            fprintf(out, "  entries:     0\n");
        fprintf(out, "  checkpoints: %" PRIu64 ", every signature and segment digest verified "
                "with public key %s\n", v.checkpoints, hx);
        if (kr)
            fprintf(out, "  chain:       every item's MAC checked with the keyring's audit key\n");
        else
            fprintf(out, "  chain:       MACs not checked (no keyring): checkpoints vouch for "
                    "the items before them\n");
        if (v.head)
            fprintf(out, "  HEAD:        the checkpoint after %" PRIu64 " entries in segment %"
                    PRIu64 "%s\n", v.head_cp->entries, v.head_cp->segment,
                    v.cps_after_head ? "" : " (the newest)");
        else if (v.head_missing_ok)
            fprintf(out, "  HEAD:        missing: a writer stopped between the log's first "
                    "checkpoint and HEAD (the next writer writes it)\n");
        else
            fprintf(out, "  HEAD:        none (no checkpoint yet)\n");
        if (v.cps_after_head)
            fprintf(out, "  note: %" PRIu64 " newer checkpoint%s than HEAD's: a writer stopped "
                    "between a checkpoint and HEAD, or HEAD was replaced by an older copy\n",
                    v.cps_after_head, v.cps_after_head == 1 ? "" : "s");
        if (v.since_cp)
            fprintf(out, "  note: %" PRIu64 " entr%s after the last checkpoint (writer did not "
                    "close)%s\n", v.since_cp, v.since_cp == 1 ? "y" : "ies",
                    kr ? "" : ": only the keyring can check them");
        if (!kr && v.since_cp)
            fprintf(out, "  unchecked:   entries %" PRIu64 "..%" PRIu64 " (no signature covers "
                    "them yet)\n", v.next_seq - v.since_cp, v.next_seq - 1);
        if (v.both)
            fprintf(out, "  note: %" PRIu64 " segment%s present both plain and compressed "
                    "(identical)\n", v.both, v.both == 1 ? "" : "s");
        fprintf(out, "  limit: a log cut back to an older checkpoint together with that "
                "checkpoint's HEAD needs an outside copy of HEAD to detect\n");
    }
done:
    if (rc != DMVF_OK && out && err)
        fprintf(out, "audit log %s: NOT intact: %s\n", dir, err->msg);
    if (v.head_item)
        dmv__v1__audit_item__free_unpacked(v.head_item, NULL);
    dmvf__audit_frame_free(&fr);
    snap_free(&s);
    if (out && fflush(out) != 0 && rc == DMVF_OK)
        rc = dmvf__seterr(err, DMVF_EIO, "writing the summary failed: %s", strerror(errno));
    return rc;
}

/* ---- query ---- */

static void json_key_str(FILE *o, const char *key, const char *s)
{
    fprintf(o, ",\"%s\":", key);
    dmvf__json_fput(o, s);
}

/* ,"key":{...}: the request (key "request"), or what it claimed ("claimed"). */
static void json_request(FILE *o, const char *key, const Dmv__V1__Request *q)
{
    fprintf(o, ",\"%s\":{\"request_id\":", key);
    dmvf__json_fput(o, q->request_id);
    json_key_str(o, "ori", q->ori);
    json_key_str(o, "agency_name", q->agency_name);
    fprintf(o, ",\"agency_kind\":\"%s\"", dmvf_agency_kind_name((dmvf_agency_kind)q->agency_kind));
    json_key_str(o, "jurisdiction", q->jurisdiction);
    fputs(",\"tags\":", o);
    dmvf__json_fput_strs(o, (const char *const *)q->tags, q->n_tags);
    json_key_str(o, "operator_id", q->operator_id);
    fprintf(o, ",\"purpose\":%u", (unsigned)q->purpose);
    fprintf(o, ",\"legal_process\":\"%s\"",
            dmvf_legal_process_name((dmvf_legal_process)q->legal_process));
    json_key_str(o, "legal_reference", q->legal_reference);
    fprintf(o, ",\"query_kind\":\"%s\"", dmvf_query_kind_name((dmvf_query_kind)q->query_kind));
    fputs(",\"fields\":", o);
    dmvf__json_fput_strs(o, (const char *const *)q->fields, q->n_fields);
    json_key_str(o, "channel", q->channel);
    char date[DMVF__DATE_CAP];
    if (q->date)
        fprintf(o, ",\"date\":\"%s\"", dmvf__date_format(q->date, date));
    putc('}', o);
}

static void json_entry(FILE *o, const Dmv__V1__AuditEntry *e)
{
    char when[DMVF__TIME_CAP];
    dmvf__time_format(e->time_ns / 1000000000u, (uint32_t)(e->time_ns % 1000000000u), DMVF__TIME_NANOS,
                      when);
    fprintf(o, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"time_ns\":%" PRIu64 ",\"kind\":\"%s\"",
            e->seq, when, e->time_ns, dmvf__name(&dmvf__audit_kinds, (unsigned)e->kind, "unknown"));
    if (e->kind != DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST)
        fprintf(o, ",\"ref\":%" PRIu64, e->ref);
    fprintf(o, ",\"decision\":\"%s\"", dmvf__name(&dmvf__decisions, (unsigned)e->decision, "unknown"));
    if (e->not_found_reply)
        fputs(",\"not_found_reply\":true", o);
    if (e->request)
        json_request(o, "request", e->request);
    if (e->claimed)
        json_request(o, "claimed", e->claimed);
    if (e->judged_as_of) {
        char d[DMVF__DATE_CAP];
        fprintf(o, ",\"judged_as_of\":\"%s\"", dmvf__date_format(e->judged_as_of, d));
    }
    json_key_str(o, "rule", e->rule);
    json_key_str(o, "policy_id", e->policy_id);
    fprintf(o, ",\"key_epoch\":%u", (unsigned)e->key_epoch);
    if (e->reason && e->reason[0])
        json_key_str(o, "reason", e->reason);
    fprintf(o, ",\"records_in\":%" PRIu64 ",\"records_out\":%" PRIu64
            ",\"records_dropped\":%" PRIu64, e->records_in, e->records_out, e->records_dropped);
    if (e->n_fields) {
        fputs(",\"fields\":[", o);
        for (size_t i = 0; i < e->n_fields; i++) {
            const Dmv__V1__FieldCount *fc = e->fields[i];
            char cls[4];
            dmvf__field_class_letters(fc->klass, cls);
            fputs(i ? ",{\"path\":" : "{\"path\":", o);
            dmvf__json_fput(o, fc->path);
            fprintf(o, ",\"action\":\"%s\",\"class\":\"%s\",\"values\":%" PRIu64 "}",
                    dmvf__name(&dmvf__actions, (unsigned)fc->action, "unknown"),
                    cls[0] ? cls : "ordinary", fc->values);
        }
        putc(']', o);
    }
    if (e->n_subjects) {
        fputs(",\"subjects\":[", o);
        for (size_t i = 0; i < e->n_subjects; i++) {
            char hx[2 * 64 + 1];
            size_t l = e->subjects[i].len > 64 ? 64 : e->subjects[i].len;
            dmvf__hex_encode(hx, e->subjects[i].data, l);
            fprintf(o, "%s\"%s\"", i ? "," : "", hx);
        }
        putc(']', o);
    }
    if (e->review_id && e->review_id[0])
        json_key_str(o, "review_id", e->review_id);
    if (e->actor && e->actor[0])
        json_key_str(o, "actor", e->actor);
    if (e->note && e->note[0])
        json_key_str(o, "note", e->note);
    fprintf(o, ",\"notices\":%u,\"notify_subject\":%s}\n", (unsigned)e->notices,
            e->notify_subject ? "true" : "false");
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               (hay[i] | (hay[i] >= 'A' && hay[i] <= 'Z' ? 0x20 : 0)) ==
                   (needle[i] | (needle[i] >= 'A' && needle[i] <= 'Z' ? 0x20 : 0)))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

typedef struct query_ctx {
    const dmvf_audit_query *q;
    FILE *out;
    int have_subject;
    uint8_t subject[DMVF_SUBJECT_HASH_LEN];
    uint64_t matched;
} query_ctx;

static int query_match(const query_ctx *c, const Dmv__V1__AuditEntry *e)
{
    const dmvf_audit_query *q = c->q;
    if (q->kind && (int)e->kind != q->kind)
        return 0;
    if (q->decision && (int)e->decision != q->decision)
        return 0;
    if (q->from_ns && e->time_ns < q->from_ns)
        return 0;
    if (q->to_ns && e->time_ns >= q->to_ns)
        return 0;
    if (q->ori || q->agency || q->tag || q->request_id) {
        const Dmv__V1__Request *r = e->request;
        if (!r)
            return 0;
        if (q->ori && strcmp(r->ori ? r->ori : "", q->ori) != 0)
            return 0;
        if (q->agency && !ci_contains(r->agency_name ? r->agency_name : "", q->agency))
            return 0;
        if (q->request_id && strcmp(r->request_id ? r->request_id : "", q->request_id) != 0)
            return 0;
        if (q->tag) {
            size_t i = 0;
            while (i < r->n_tags && strcmp(r->tags[i], q->tag) != 0)
                i++;
            if (i == r->n_tags)
                return 0;
        }
    }
    if (c->have_subject) {
        size_t i = 0;
        while (i < e->n_subjects &&
               !(e->subjects[i].len == DMVF_SUBJECT_HASH_LEN &&
                 memcmp(e->subjects[i].data, c->subject, DMVF_SUBJECT_HASH_LEN) == 0))
            i++;
        if (i == e->n_subjects)
            return 0;
    }
    return 1;
}

static int query_one(void *ud, const Dmv__V1__AuditEntry *e)
{
    query_ctx *c = ud;
    if (!query_match(c, e))
        return DMVF_OK;
    json_entry(c->out, e);
    c->matched++;
    return ferror(c->out) ? DMVF_EIO : DMVF_OK;
}

int dmvf_audit_query_run(const char *dir, const dmvf_audit_query *q, const dmvf_keyring *kr,
                         FILE *out, dmvf_error *err)
{
    DMVF_REQUIRE(dir != NULL && q != NULL && out != NULL, "dir, q or out is NULL");
    query_ctx c;
    memset(&c, 0, sizeof c);
    c.q = q;
    c.out = out;
    if (q->subject) {
        if (!kr)
            return dmvf__seterr(err, DMVF_EINVAL, "a subject query needs the keyring (subjects "
                                "are logged as keyed hashes)");
        dmvf_keyring_subject_hash(kr, q->subject, strlen(q->subject), c.subject);
        c.have_subject = 1;
    }
    int rc = dmvf__audit_scan(dir, query_one, &c, err);
    if (rc == DMVF_EIO && ferror(out))
        rc = dmvf__seterr(err, DMVF_EIO, "writing the query output failed");
    if (rc == DMVF_OK && fflush(out) != 0)
        rc = dmvf__seterr(err, DMVF_EIO, "writing the query output failed: %s", strerror(errno));
    return rc;
}
