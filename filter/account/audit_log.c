/*
 * audit_log.c - the audit log's writer: open, append entries (write-ahead,
 * fsync'd), signed checkpoints, HEAD, rotation and compression.
 *
 * The format is drawn at the top of audit_read.c (and in
 * schema/dmv/v1/audit.proto). The writer keeps, per handle: the active
 * segment (the highest-numbered one, open O_APPEND), how many of its bytes
 * it has seen, the chain value and next seq after them, and a running
 * BLAKE2b-256 of the segment's bytes (for checkpoint digests).
 *
 * Every append, under flock(DIR/LOCK, LOCK_EX):
 *
 *   1. catch up: bytes another process appended since (the segment grew)
 *      are read and their chain MACs checked; a next segment another
 *      process started is followed (its header must continue our chain);
 *   2. rotate when the segment is rotate_bytes long or rotate_seconds old:
 *      a checkpoint ends it (HEAD updated), the next segment is created
 *      (written aside, renamed), and with compress the old one is rewritten
 *      as .log.z (written aside, fsync'd, renamed, the .log removed);
 *   3. the frame is written with one write() and fsync'd.
 *
 * A failure that leaves the handle's view of the file unknown (an fsync
 * error, a short write that could not be undone) makes the handle fail
 * every later call: reopen, which re-reads the segment. Nothing is ever
 * appended after bytes whose chain does not verify (DMVF_ETAMPER).
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
#include <sodium.h>
#include <zlib.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/reqmap.h"
#include "filter/account/audit_int.h"
#include "filter/core/varint.h"
#include "keys/keys.h"

#define DEFAULT_ROTATE_BYTES ((uint64_t)64 << 20)
#define DEFAULT_ROTATE_SECONDS ((uint64_t)86400)

struct dmvf_audit {
    char *dir;
    int dirfd, lockfd, fd;
    const dmvf_keyring *kr;
    uint8_t pub[32];
    dmvf_audit_options o;
    uint64_t seg;               /* the active segment */
    uint64_t off;               /* bytes of it seen (ours and others') */
    uint64_t created_ns;        /* its header's */
    uint8_t chain[32];          /* chain value of the log's last item */
    uint64_t next_seq;
    int last_cp;                /* the last item is a checkpoint */
    crypto_generichash_state h; /* BLAKE2b-256 of the segment's bytes so far */
    int broken;                 /* sticky: reopen */
    dmvf__audit_frame fr;       /* read buffer */
};

static void seg_path(const dmvf_audit *a, char *out, size_t cap, uint64_t n, int z)
{
    char name[64];
    dmvf__audit_seg_name(name, sizeof name, n, z);
    snprintf(out, cap, "%s/%s", a->dir, name);
}

static int lock(dmvf_audit *a, dmvf_error *err)
{
    while (flock(a->lockfd, LOCK_EX) != 0) {
        if (errno != EINTR)
            return dmvf__seterr(err, DMVF_EIO, "%s/LOCK: cannot lock: %s", a->dir, strerror(errno));
    }
    return DMVF_OK;
}

static void unlock(dmvf_audit *a)
{
    flock(a->lockfd, LOCK_UN);
}

/* ---- reading what is there ---- */

/* Reads frames of the active segment (a->fd) from a->off to its end,
 * checking every chain MAC (a header's against the chain it names, when
 * it is the first frame we see), seq order and, with so (may be NULL),
 * whether HEAD's frame is among them and a copy of the newest checkpoint
 * frame. */
typedef struct scan_out {
    int head_seen;              /* HEAD's frame was met */
    int cp_after_head;          /* a checkpoint came after it */
    uint8_t *newest_cp;         /* malloc'd copy of the newest checkpoint frame */
    size_t newest_cp_len;
    uint64_t ncp;               /* checkpoints seen */
} scan_out;

static int read_forward(dmvf_audit *a, const dmvf__audit_frame *head, scan_out *so,
                        dmvf_error *err)
{
    char name[64];
    dmvf__audit_seg_name(name, sizeof name, a->seg, 0);
    dmvf__audit_rd *r = dmvf__audit_rd_new(a->fd, 0, a->off, UINT64_MAX);
    if (!r)
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", name);
    int rc;
    for (;;) {
        rc = dmvf__audit_rd_next(r, &a->fr, name, err);
        if (rc == DMVF_EMALFORMED) {
            if (err) {
                char msg[sizeof err->msg];
                uint64_t off = err->offset;
                snprintf(msg, sizeof msg, "%s", err->msg);
                dmvf__seterr(err, DMVF_ETAMPER, "%s/%s; the log must be verified and inspected "
                             "(dmvfilter audit verify): nothing more is appended", a->dir, msg);
                err->offset = off;
            }
            rc = DMVF_ETAMPER;
            break;
        }
        if (rc != DMVF_OK || a->fr.len == 0)
            break;
        const dmvf__audit_frame *fr = &a->fr;
        const uint8_t *item = fr->buf + fr->pre, *chain = item + fr->item_len;
        Dmv__V1__AuditItem *it = dmv__v1__audit_item__unpack(NULL, fr->item_len, item);
        const char *why = NULL;
        uint8_t want[32];
        if (!it) {
            why = "the item does not decode as dmv.v1.AuditItem";
        } else if (fr->off == 0) {
            const Dmv__V1__SegmentHeader *sh = it->header;
            if (it->body_case != DMV__V1__AUDIT_ITEM__BODY_HEADER || !sh)
                why = "the segment does not start with its header";
            else if (sh->segment != a->seg)
                why = "the header names another segment number: segments were renamed";
            else if (sh->public_key.len != 32 || memcmp(sh->public_key.data, a->pub, 32) != 0)
                why = "the segment was written with another keyring";
            else if (sh->prev_chain.len != 32)
                why = "the header's chain is malformed";
            else {
                /* the first frame we read of a segment: it names the chain
                 * it continues; when we followed from the previous segment
                 * that must be ours */
                if (a->next_seq != UINT64_MAX &&
                    (memcmp(sh->prev_chain.data, a->chain, 32) != 0 ||
                     sh->first_seq != a->next_seq))
                    why = "the segment does not continue the chain of the one before it";
                memcpy(a->chain, sh->prev_chain.data, 32);
                a->next_seq = sh->first_seq;
                a->created_ns = sh->created_ns;
            }
        } else if (it->body_case == DMV__V1__AUDIT_ITEM__BODY_HEADER) {
            why = "a segment header inside a segment";
        }
        if (!why) {
            dmvf__audit_chain(a->kr, a->chain, item, fr->item_len, want);
            if (sodium_memcmp(want, chain, 32) != 0)
                why = "chain does not match: the item was edited, removed or reordered";
        }
        if (!why && it->body_case == DMV__V1__AUDIT_ITEM__BODY_ENTRY) {
            if (!it->entry || it->entry->seq != a->next_seq)
                why = "the entry's seq is out of order: entries were removed, inserted or "
                      "reordered";
            else
                a->next_seq++;
        }
        int is_cp = it && it->body_case == DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT;
        if (it)
            dmv__v1__audit_item__free_unpacked(it, NULL);
        if (why) {
            rc = dmvf__seterr(err, DMVF_ETAMPER, "%s/%s: byte offset %" PRIu64 ": %s; the log "
                              "must be verified and inspected (dmvfilter audit verify): nothing "
                              "more is appended", a->dir, name, fr->off, why);
            if (err)
                err->offset = fr->off;
            break;
        }
        memcpy(a->chain, chain, 32);
        crypto_generichash_update(&a->h, fr->buf, fr->len);
        a->off = fr->off + fr->len;
        a->last_cp = is_cp;
        if (is_cp && so) {
            if (head && head->len == fr->len && memcmp(head->buf, fr->buf, fr->len) == 0) {
                so->head_seen = 1;
                so->cp_after_head = 0;
            } else if (so->head_seen) {
                so->cp_after_head = 1;
            }
            uint8_t *c = realloc(so->newest_cp, fr->len);
            if (!c) {
                rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
                break;
            }
            memcpy(c, fr->buf, fr->len);
            so->newest_cp = c;
            so->newest_cp_len = fr->len;
            so->ncp++;
        }
    }
    dmvf__audit_rd_free(r);
    return rc;
}

/* Opens segment n's .log as the active segment and reads it whole. */
static int enter_segment(dmvf_audit *a, uint64_t n, const dmvf__audit_frame *head, scan_out *so,
                         dmvf_error *err)
{
    char path[4096];
    seg_path(a, path, sizeof path, n, 0);
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
    int rc = read_forward(a, head, so, err);
    if (rc == DMVF_OK && a->off == 0)
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s: the segment is empty (it was truncated): "
                          "verify and inspect the log; nothing more is appended", path);
    return rc;
}

/* Under the lock: learns what other processes appended, following into
 * segments they started. */
static int catch_up(dmvf_audit *a, dmvf_error *err)
{
    for (;;) {
        struct stat st;
        if (fstat(a->fd, &st) != 0)
            return dmvf__seterr(err, DMVF_EIO, "%s: cannot stat the active segment: %s", a->dir,
                                strerror(errno));
        if ((uint64_t)st.st_size < a->off) {
            char name[64];
            dmvf__audit_seg_name(name, sizeof name, a->seg, 0);
            return dmvf__seterr(err, DMVF_ETAMPER, "%s/%s: the segment shrank from %" PRIu64
                                " to %" PRIu64 " bytes while open: it was truncated; nothing more "
                                "is appended", a->dir, name, a->off, (uint64_t)st.st_size);
        }
        if ((uint64_t)st.st_size > a->off) {
            int rc = read_forward(a, NULL, NULL, err);
            if (rc != DMVF_OK)
                return rc;
        }
        /* another process rotated (the next segment exists, plain or,
         * when it rotated again since, compressed): go to the newest */
        char path[4096];
        int newer = 0;
        for (int z = 0; z < 2 && !newer; z++) {
            seg_path(a, path, sizeof path, a->seg + 1, z);
            if (access(path, F_OK) == 0)
                newer = 1;
            else if (errno != ENOENT)
                return dmvf__seterr(err, DMVF_EIO, "%s: cannot check: %s", path, strerror(errno));
        }
        if (!newer)
            return DMVF_OK;
        dmvf__audit_seg *segs;
        size_t n;
        int rc = dmvf__audit_segments(a->dir, &segs, &n, err);
        if (rc != DMVF_OK)
            return rc;
        uint64_t last = n ? segs[n - 1].n : 0;
        int has_log = n ? segs[n - 1].has_log : 0;
        free(segs);
        if (last <= a->seg || !has_log) {
            char name[64];
            dmvf__audit_seg_name(name, sizeof name, last, !has_log);
            return dmvf__seterr(err, DMVF_ETAMPER, "%s: the newest segment (%s) is not after the "
                                "active one, or is compressed: segments were removed; nothing "
                                "more is appended", a->dir, n ? name : "none");
        }
        /* the header of the segment right after ours must continue our
         * chain (next_seq stays set, so read_forward compares); past
         * segments skipped whole, the newest one's header is taken as the
         * open does, and verify checks the links */
        if (last != a->seg + 1)
            a->next_seq = UINT64_MAX;
        rc = enter_segment(a, last, NULL, NULL, err);
        if (rc != DMVF_OK)
            return rc;
    }
}

/* ---- writing ---- */

static int fsync_dir(dmvf_audit *a)
{
    return fsync(a->dirfd);
}

/* Packs item, chains it and appends the frame; *frame (may be NULL)
 * receives a malloc'd copy. */
static int append_item(dmvf_audit *a, const Dmv__V1__AuditItem *item, uint8_t **frame,
                       size_t *frame_len, dmvf_error *err)
{
    size_t n = dmv__v1__audit_item__get_packed_size(item);
    if (n > DMVF__AUDIT_MAX_ITEM)
        return dmvf__seterr(err, DMVF_ETOOBIG, "an audit item of %zu bytes is past the limit of %"
                            PRIu64 " (too many subjects in one release?)", n, DMVF__AUDIT_MAX_ITEM);
    size_t pre = dmvf__varint_size(n);
    size_t total = pre + n + DMVF__AUDIT_CHAIN_LEN;
    uint8_t *buf = malloc(total);
    if (!buf)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory building an audit item of %zu bytes",
                            n);
    dmvf__put_varint(buf, n);
    dmv__v1__audit_item__pack(item, buf + pre);
    uint8_t chain[32];
    dmvf__audit_chain(a->kr, a->chain, buf + pre, n, chain);
    memcpy(buf + pre + n, chain, 32);
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

static int write_head(dmvf_audit *a, const uint8_t *frame, size_t len, dmvf_error *err)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/.HEAD.tmp", a->dir);
    snprintf(path, sizeof path, "%s/HEAD", a->dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    if (dmvf__write_all(fd, frame, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot write: %s", tmp, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0 || fsync_dir(a) != 0) {
        int e = errno;
        unlink(tmp);
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot put in place: %s", path, strerror(e));
    }
    return DMVF_OK;
}

static int write_checkpoint(dmvf_audit *a, dmvf_error *err)
{
    uint8_t digest[32], sig[64];
    crypto_generichash_state t = a->h;
    crypto_generichash_final(&t, digest, 32);
    Dmv__V1__Checkpoint cp = DMV__V1__CHECKPOINT__INIT;
    cp.segment = a->seg;
    cp.entries = a->next_seq;
    cp.chain.data = a->chain;
    cp.chain.len = 32;
    cp.segment_digest.data = digest;
    cp.segment_digest.len = 32;
    cp.time_ns = dmvf__now_ns();
    cp.public_key.data = a->pub;
    cp.public_key.len = 32;
    uint8_t *msg;
    size_t mlen;
    if (dmvf__audit_checkpoint_signed_bytes(&cp, &msg, &mlen) != DMVF_OK)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    dmvf__sign(a->kr, DMVF__AUDIT_CHECKPOINT_CTX, msg, mlen, sig);
    free(msg);
    uint8_t chain_copy[32];
    memcpy(chain_copy, a->chain, 32);   /* append_item moves a->chain on */
    cp.chain.data = chain_copy;
    cp.signature.data = sig;
    cp.signature.len = 64;
    Dmv__V1__AuditItem item = DMV__V1__AUDIT_ITEM__INIT;
    item.body_case = DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT;
    item.checkpoint = &cp;
    uint8_t *frame;
    size_t flen;
    int rc = append_item(a, &item, &frame, &flen, err);
    if (rc != DMVF_OK)
        return rc;
    rc = write_head(a, frame, flen, err);
    free(frame);
    return rc;
}

/* Creates segment n (header only), written aside and renamed, and makes
 * it the active segment. The lock is held. */
static int create_segment(dmvf_audit *a, uint64_t n, dmvf_error *err)
{
    char tmp[4096], path[4096], name[64];
    dmvf__audit_seg_name(name, sizeof name, n, 0);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", a->dir, name);
    seg_path(a, path, sizeof path, n, 0);
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
    size_t len = dmv__v1__audit_item__get_packed_size(&item);
    size_t pre = dmvf__varint_size(len), total = pre + len + 32;
    uint8_t *buf = malloc(total);
    if (!buf)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    dmvf__put_varint(buf, len);
    dmv__v1__audit_item__pack(&item, buf + pre);
    uint8_t chain[32];
    dmvf__audit_chain(a->kr, a->chain, buf + pre, len, chain);
    memcpy(buf + pre + len, chain, 32);
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
    if (fsync_dir(a) != 0) {
        int e = errno;
        free(buf);
        return dmvf__seterr(err, DMVF_EIO, "%s: fsync of the directory failed: %s", a->dir,
                            strerror(e));
    }
    fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        free(buf);
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot open for appending: %s", path,
                            strerror(errno));
    }
    if (a->fd >= 0)
        close(a->fd);
    a->fd = fd;
    a->seg = n;
    a->off = total;
    a->created_ns = sh.created_ns;
    a->next_seq = first_seq;
    a->last_cp = 0;
    memcpy(a->chain, chain, 32);
    crypto_generichash_init(&a->h, NULL, 0, 32);
    crypto_generichash_update(&a->h, buf, total);
    free(buf);
    return DMVF_OK;
}

/* Rewrites closed segment n as .log.z (zlib format, as compress2 writes
 * it), streamed in bounded memory; then removes the .log. Best effort: on
 * failure the plain segment stays, which readers accept as well. */
static void compress_segment(dmvf_audit *a, uint64_t n)
{
    char src[4096], dst[4096], tmp[4096], name[64];
    seg_path(a, src, sizeof src, n, 0);
    seg_path(a, dst, sizeof dst, n, 1);
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
    if (rename(tmp, dst) != 0) {
        unlink(tmp);
        return;
    }
    fsync_dir(a);
    unlink(src);
    fsync_dir(a);
}

static int maybe_rotate(dmvf_audit *a, dmvf_error *err)
{
    uint64_t now = dmvf__now_ns();
    int old = now > a->created_ns && (now - a->created_ns) / 1000000000u >= a->o.rotate_seconds;
    if (a->off < a->o.rotate_bytes && !old)
        return DMVF_OK;
    int rc = DMVF_OK;
    if (!a->last_cp)
        rc = write_checkpoint(a, err);
    if (rc != DMVF_OK)
        return rc;
    uint64_t closed = a->seg;
    rc = create_segment(a, closed + 1, err);
    if (rc != DMVF_OK)
        return rc;
    if (a->o.compress)
        compress_segment(a, closed);
    return DMVF_OK;
}

/* ---- open and close ---- */

static void audit_free(dmvf_audit *a)
{
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
    scan_out so;
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
        uint8_t *msg = NULL;
        size_t mlen = 0;
        int bad = !hit || hit->body_case != DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT ||
                  !hit->checkpoint || hit->checkpoint->signature.len != 64;
        if (!bad && dmvf__audit_checkpoint_signed_bytes(hit->checkpoint, &msg, &mlen) != DMVF_OK) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
            goto out;
        }
        if (!bad)
            bad = dmvf__sign_verify(a->pub, DMVF__AUDIT_CHECKPOINT_CTX, msg, mlen,
                                    hit->checkpoint->signature.data) != 0;
        free(msg);
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
        rc = create_segment(a, 1, err);
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
    rc = enter_segment(a, last->n, have_head ? &head : NULL, &so, err);
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
            rc = write_head(a, so.newest_cp, so.newest_cp_len, err);
    } else if (a->seg == 1 && so.ncp == 1 && a->last_cp) {
        /* a writer stopped between the log's first checkpoint and the
         * first HEAD (verify allows exactly this): write HEAD now */
        rc = write_head(a, so.newest_cp, so.newest_cp_len, err);
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
    if (lock(a, err) != DMVF_OK) {
        audit_free(a);
        return NULL;
    }
    int rc = load(a, err);
    unlock(a);
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
    int rc;
    if (a->broken) {
        rc = dmvf__seterr(err, DMVF_EIO, "%s: an earlier append failed: no checkpoint written",
                          a->dir);
    } else if ((rc = lock(a, err)) == DMVF_OK) {
        rc = catch_up(a, err);
        if (rc == DMVF_OK && !a->last_cp)
            rc = write_checkpoint(a, err);
        unlock(a);
    }
    audit_free(a);
    return rc;
}

/* ---- entries ---- */

static int append_entry(dmvf_audit *a, Dmv__V1__AuditEntry *e, uint64_t *seq, dmvf_error *err)
{
    if (a->broken)
        return dmvf__seterr(err, DMVF_EIO, "%s: an earlier append failed: reopen the audit log",
                            a->dir);
    int rc = lock(a, err);
    if (rc != DMVF_OK)
        return rc;
    rc = catch_up(a, err);
    if (rc == DMVF_ETAMPER)
        a->broken = 1;
    if (rc == DMVF_OK)
        rc = maybe_rotate(a, err);
    if (rc == DMVF_OK) {
        e->seq = a->next_seq;
        e->time_ns = dmvf__now_ns();
        Dmv__V1__AuditItem item = DMV__V1__AUDIT_ITEM__INIT;
        item.body_case = DMV__V1__AUDIT_ITEM__BODY_ENTRY;
        item.entry = e;
        rc = append_item(a, &item, NULL, NULL, err);
        if (rc == DMVF_OK) {
            if (seq)
                *seq = a->next_seq;
            a->next_seq++;
        }
    }
    unlock(a);
    return rc;
}

static char *s_or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

/* The tags and fields arrays may hold NULL strings in a careless caller's
 * request; protobuf-c would crash on them, so they are checked here. */
static int request_ok(const dmvf_request *r, dmvf_error *err)
{
    for (size_t i = 0; i < r->ntags; i++)
        if (!r->tags[i])
            return dmvf__seterr(err, DMVF_EINVAL, "the request's tag %zu is NULL", i);
    for (size_t i = 0; i < r->nfields; i++)
        if (!r->fields[i])
            return dmvf__seterr(err, DMVF_EINVAL, "the request's field %zu is NULL", i);
    return DMVF_OK;
}

static int subj_cmp(const void *x, const void *y)
{
    return memcmp(x, y, DMVF_SUBJECT_HASH_LEN);
}

/* Sorted, de-duplicated subject hashes as ProtobufCBinaryData pointing into
 * *store. */
static int subjects_msg(const uint8_t *hashes, size_t n, uint8_t **store, ProtobufCBinaryData **out,
                        size_t *nout)
{
    *store = NULL;
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return DMVF_OK;
    uint8_t *s = malloc(n * DMVF_SUBJECT_HASH_LEN);
    ProtobufCBinaryData *b = malloc(n * sizeof *b);
    if (!s || !b) {
        free(s);
        free(b);
        return DMVF_ENOMEM;
    }
    memcpy(s, hashes, n * DMVF_SUBJECT_HASH_LEN);
    qsort(s, n, DMVF_SUBJECT_HASH_LEN, subj_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *h = s + i * DMVF_SUBJECT_HASH_LEN;
        if (k > 0 && memcmp(b[k - 1].data, h, DMVF_SUBJECT_HASH_LEN) == 0)
            continue;
        b[k].data = (uint8_t *)(uintptr_t)h;
        b[k].len = DMVF_SUBJECT_HASH_LEN;
        k++;
    }
    *store = s;
    *out = b;
    *nout = k;
    return DMVF_OK;
}

/* Field counts as messages; paths borrowed. */
static int fields_msg(const dmvf_field_count *fc, size_t n, Dmv__V1__FieldCount **store,
                      Dmv__V1__FieldCount ***out)
{
    *store = NULL;
    *out = NULL;
    if (n == 0)
        return DMVF_OK;
    Dmv__V1__FieldCount *m = malloc(n * sizeof *m);
    Dmv__V1__FieldCount **p = malloc(n * sizeof *p);
    if (!m || !p) {
        free(m);
        free(p);
        return DMVF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        dmv__v1__field_count__init(&m[i]);
        m[i].path = s_or_empty(fc[i].path);
        m[i].action = (Dmv__V1__FieldAction)fc[i].action;
        m[i].klass = fc[i].klass;
        m[i].values = fc[i].values;
        p[i] = &m[i];
    }
    *store = m;
    *out = p;
    return DMVF_OK;
}

static Dmv__V1__Decision decision_for(const dmvf_audit_event *ev)
{
    if (ev->decision)
        return (Dmv__V1__Decision)ev->decision;
    switch (ev->kind) {
    case DMVF_AUDIT_REVIEW_HOLD: return DMV__V1__DECISION__DECISION_REVIEW;
    case DMVF_AUDIT_REVIEW_APPROVE: return DMV__V1__DECISION__DECISION_RELEASE;
    case DMVF_AUDIT_REVIEW_DENY: return DMV__V1__DECISION__DECISION_DENY;
    default: return DMV__V1__DECISION__DECISION_UNSPECIFIED;
    }
}

int dmvf_audit_event_write(dmvf_audit *a, const dmvf_audit_event *ev, uint64_t *seq,
                           dmvf_error *err)
{
    DMVF_REQUIRE(a != NULL, "audit handle is NULL");
    DMVF_REQUIRE(ev != NULL, "event is NULL");
    DMVF_REQUIRE(ev->kind >= DMVF_AUDIT_REQUEST && ev->kind <= DMVF_AUDIT_NOTICE_SENT,
                 "unknown audit event kind");
    DMVF_REQUIRE(ev->nfields == 0 || ev->fields != NULL, "nfields > 0 but fields is NULL");
    DMVF_REQUIRE(ev->nsubjects == 0 || ev->subjects != NULL, "nsubjects > 0 but subjects is NULL");
    Dmv__V1__AuditEntry e = DMV__V1__AUDIT_ENTRY__INIT;
    Dmv__V1__Request rq;
    if (ev->request) {
        int rc = request_ok(ev->request, err);
        if (rc != DMVF_OK)
            return rc;
        dmvf__request_to_pb(ev->request, &rq);
        e.request = &rq;
    }
    e.kind = (Dmv__V1__AuditKind)ev->kind;
    e.rule = s_or_empty(ev->rule);
    e.policy_id = s_or_empty(ev->policy_id);
    e.decision = decision_for(ev);
    e.review_id = s_or_empty(ev->review_id);
    e.actor = s_or_empty(ev->actor);
    e.note = s_or_empty(ev->note);
    e.ref = ev->ref;
    e.records_in = ev->counts.records_in;
    e.records_out = ev->counts.records_out;
    e.records_dropped = ev->counts.records_dropped;
    e.notices = ev->counts.notices;
    Dmv__V1__FieldCount *fstore;
    uint8_t *sstore;
    if (fields_msg(ev->fields, ev->nfields, &fstore, &e.fields) != DMVF_OK)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    e.n_fields = ev->nfields;
    if (subjects_msg(ev->subjects, ev->nsubjects, &sstore, &e.subjects, &e.n_subjects) != DMVF_OK) {
        free(fstore);
        free(e.fields);
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    }
    int rc = append_entry(a, &e, seq, err);
    free(fstore);
    free(e.fields);
    free(sstore);
    free(e.subjects);
    return rc;
}

/* What the request said of its requester (ori, agency name, kind,
 * jurisdiction, tags, date), when it said any of it: recorded beside the
 * directory's word. 1 when there is something to record. */
static int claimed_from_filter(const dmvf_filter *f, Dmv__V1__Request *cl)
{
    const dmvf_request *q = dmvf_filter_request_received(f);
    if (!(q->agency_name && *q->agency_name) && !q->agency_kind && !(q->jurisdiction && *q->jurisdiction) &&
        !q->ntags && !q->date)
        return 0;
    dmvf_request said;
    memset(&said, 0, sizeof said);
    said.ori = q->ori;
    said.agency_name = q->agency_name;
    said.agency_kind = q->agency_kind;
    said.jurisdiction = q->jurisdiction;
    said.tags = q->tags;
    said.ntags = q->ntags;
    said.date = q->date;
    dmvf__request_to_pb(&said, cl);
    return 1;
}

/* What REQUEST and RELEASE entries share: the request (as the DMV records
 * it, and what it claimed), the day it was judged as of, and the verdict. */
static void entry_from_filter(const dmvf_filter *f, Dmv__V1__AuditEntry *e, Dmv__V1__Request *rq,
                              Dmv__V1__Request *cl)
{
    dmvf__request_to_pb(dmvf_filter_request(f), rq);
    e->request = rq;
    if (claimed_from_filter(f, cl))
        e->claimed = cl;
    e->judged_as_of = dmvf_filter_as_of(f);
    const char *rule = dmvf_filter_rule(f);
    e->rule = s_or_empty(rule);
    e->policy_id = s_or_empty(dmvf_filter_policy_id(f));
    e->key_epoch = dmvf_filter_key_epoch(f);
    dmvf_decision d = dmvf_filter_decision(f);
    e->decision = (Dmv__V1__Decision)d;
    e->not_found_reply = d != DMVF_DECISION_RELEASE &&
                         dmvf_filter_refusal(f) == DMVF_REFUSAL_NOT_FOUND;
    e->reason = s_or_empty(dmvf_filter_reason(f));
    e->notify_subject = dmvf_filter_notify_subject(f) != 0;
}

int dmvf_audit_request(dmvf_audit *a, const dmvf_filter *f, uint64_t *seq, dmvf_error *err)
{
    DMVF_REQUIRE(a != NULL, "audit handle is NULL");
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    int rc = request_ok(dmvf_filter_request(f), err);
    if (rc != DMVF_OK)
        return rc;
    Dmv__V1__AuditEntry e = DMV__V1__AUDIT_ENTRY__INIT;
    Dmv__V1__Request rq, cl;
    entry_from_filter(f, &e, &rq, &cl);
    e.kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST;
    return append_entry(a, &e, seq, err);
}

int dmvf_audit_release(dmvf_audit *a, const dmvf_filter *f, const dmvf_audit_counts *c,
                       uint64_t ref, dmvf_error *err)
{
    DMVF_REQUIRE(a != NULL, "audit handle is NULL");
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    DMVF_REQUIRE(c != NULL, "counts is NULL");
    int rc = request_ok(dmvf_filter_request(f), err);
    if (rc != DMVF_OK)
        return rc;
    Dmv__V1__AuditEntry e = DMV__V1__AUDIT_ENTRY__INIT;
    Dmv__V1__Request rq, cl;
    entry_from_filter(f, &e, &rq, &cl);
    e.kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_RELEASE;
    e.ref = ref;
    e.records_in = c->records_in;
    e.records_out = c->records_out;
    e.records_dropped = c->records_dropped;
    e.notices = c->notices;

    size_t nf = dmvf_filter_field_counts(f, NULL, 0);
    dmvf_field_count *fc = nf ? calloc(nf, sizeof *fc) : NULL;
    if (nf && !fc)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    if (nf)
        nf = dmvf_filter_field_counts(f, fc, nf);
    size_t ns = a->o.subjects ? dmvf_filter_subject_count(f) : 0;
    uint8_t *hashes = ns ? malloc(ns * DMVF_SUBJECT_HASH_LEN) : NULL;
    if (ns && !hashes) {
        free(fc);
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ns; i++) {
        size_t len = 0;
        const char *id = dmvf_filter_subject(f, i, &len);
        dmvf_keyring_subject_hash(a->kr, id, len, hashes + i * DMVF_SUBJECT_HASH_LEN);
    }
    Dmv__V1__FieldCount *fstore = NULL;
    uint8_t *sstore = NULL;
    rc = fields_msg(fc, nf, &fstore, &e.fields);
    e.n_fields = nf;
    if (rc == DMVF_OK)
        rc = subjects_msg(hashes, ns, &sstore, &e.subjects, &e.n_subjects);
    if (rc != DMVF_OK)
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    else
        rc = append_entry(a, &e, NULL, err);
    free(fstore);
    free(e.fields);
    free(sstore);
    free(e.subjects);
    free(hashes);
    free(fc);
    return rc;
}
