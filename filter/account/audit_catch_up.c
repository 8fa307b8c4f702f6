/*
 * audit_catch_up.c - what is in the active segment before the writer
 * appends: at open the segment read whole, under the lock before every
 * append the bytes other processes appended since (the file grew), and a
 * next segment another process started (followed, to the newest).
 *
 * Each frame read (audit_segment.c) is checked before it is taken in:
 *
 *   first frame      a SegmentHeader naming this segment's number and
 *                    the keyring's public key; when the writer came from
 *                    the segment before, its prev_chain and first_seq
 *                    continue that one's chain and seq
 *   every frame      chain == BLAKE2b-256(audit key, "dmvf-audit-v1\0" ||
 *                    previous chain || item) (audit_item.c)
 *   an entry         seq == the next seq
 *   no other header  inside a segment
 *
 * Anything else, or a segment that shrank or vanished, is DMVF_ETAMPER:
 * nothing is ever appended after bytes that do not verify.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_writer_int.h"
#include "keys/keys.h"

/* Reads frames of the active segment (a->fd) from a->off to its end,
 * checking every chain MAC (a header's against the chain it names, when
 * it is the first frame we see), seq order and, with so (may be NULL),
 * whether HEAD's frame is among them and a copy of the newest checkpoint
 * frame. */
static int read_forward(dmvf_audit *a, const dmvf__audit_frame *head, dmvf__audit_seen *so,
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

int dmvf__audit_enter(dmvf_audit *a, uint64_t n, const dmvf__audit_frame *head,
                      dmvf__audit_seen *so, dmvf_error *err)
{
    char path[4096];
    dmvf__audit_seg_path(a, path, sizeof path, n, 0);
    int rc = dmvf__audit_activate(a, path, n, err);
    if (rc != DMVF_OK)
        return rc;
    rc = read_forward(a, head, so, err);
    if (rc == DMVF_OK && a->off == 0)
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s: the segment is empty (it was truncated): "
                          "verify and inspect the log; nothing more is appended", path);
    return rc;
}

int dmvf__audit_catch_up(dmvf_audit *a, dmvf_error *err)
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
            dmvf__audit_seg_path(a, path, sizeof path, a->seg + 1, z);
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
        rc = dmvf__audit_enter(a, last, NULL, NULL, err);
        if (rc != DMVF_OK)
            return rc;
    }
}
