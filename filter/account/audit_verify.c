/*
 * audit_verify.c - dmvf_audit_verify: every segment of a snapshot of the
 * log read and checked, HEAD against the log, and a summary.
 *
 * What it relies on (schema/dmv/v1/audit.proto; frames: audit_segment.c;
 * the directory: audit_dir.c):
 *
 *   segment N := SegmentHeader{segment N, first_seq, prev_chain = chain of
 *                the log's previous item, created_ns, public_key}
 *                ( AuditEntry{seq = 0, 1, 2, ... across segments}
 *                | Checkpoint{segment N, entries = next seq, chain = the
 *                  previous item's chain, segment_digest = BLAKE2b-256 of the
 *                  segment's bytes before this frame, time_ns, public_key,
 *                  signature = Ed25519("dmvf-checkpoint-v1\0" || Checkpoint
 *                  with signature empty)} )*
 *   chain_i = BLAKE2b-256(key = audit key,
 *                         "dmvf-audit-v1\0" || chain_{i-1} || AuditItem_i)
 *   chain_{-1} = 32 zero bytes (the first item of the log)
 *
 *   Segments are numbered 1, 2, ... without a gap. Every segment but the
 *   last ends with a Checkpoint (written when it was rotated); a writer's
 *   close appends one too. A segment present both plain and compressed
 *   holds the same bytes in both. HEAD is one of the log's checkpoints,
 *   byte for byte (a writer may have stopped before moving it on to a
 *   newer one).
 *
 * With a keyring every item's chain MAC is checked; with the public key
 * only, the signatures and digests vouch for the items before the last
 * checkpoint. A failure is DMVF_ETAMPER naming the file, byte offset and
 * entry (err->offset, err->record).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/hex.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_snapshot_int.h"
#include "keys/keys.h"

#define RD_BUF DMVF__AUDIT_RD_BUF

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
    int rc = dmvf__audit_checkpoint_check(v->pub, cp);
    if (rc == DMVF_ENOMEM)
        return dmvf__seterr(v->err, DMVF_ENOMEM, "out of memory");
    if (rc != DMVF_OK)
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
        rc = dmvf__audit_rd_get(rl, a, RD_BUF, &ga, nl, v->err);
        if (rc == DMVF_OK)
            rc = dmvf__audit_rd_get(rz, b, RD_BUF, &gb, nz, v->err);
        if (rc == DMVF_EMALFORMED) {
            rc = DMVF_ETAMPER;
            if (v->err)
                v->err->code = rc;
        }
        if (rc != DMVF_OK)
            break;
        if (ga != gb || memcmp(a, b, ga) != 0) {
            uint64_t at = dmvf__audit_rd_pos(rl) - ga;
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
    dmvf__audit_snap s;
    int rc = dmvf__audit_snap_take(dir, &s, err);
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
        rc = dmvf__audit_seg_open(dir, sg, &fd, &r, v.name, sizeof v.name, err);
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
    dmvf__audit_snap_free(&s);
    if (out && fflush(out) != 0 && rc == DMVF_OK)
        rc = dmvf__seterr(err, DMVF_EIO, "writing the summary failed: %s", strerror(errno));
    return rc;
}
