/*
 * framed.c - framed streams: requests and their records in one stream.
 *
 *   stream := frame*                          each varint-length-delimited
 *   frame  := Frame { request = 1 }           starts a request (decided now)
 *           | Frame { record = 2 }            a DriverRecord of the open request
 *           | Frame { trailer = 3 }           closes the open request (optional)
 *           (Frame { seal = 4 } is output only: malformed in the input)
 *
 * Output, per request: its released records as Frame{record}, then one
 * Frame{trailer} with the figures the requester may see (filter.h). A
 * request with a record limit has its output held until its trailer. After
 * the last request (end given, all input consumed) one Frame{seal}:
 *
 *   release := ( Frame{record}* Frame{trailer} )* Frame{seal}
 *
 *   out:  [rec][rec][trailer 1][rec][trailer 2][seal]
 *         \________/ H1: trailer 1's digest
 *         \________________________/ H2: trailer 2's
 *         \___________________________________/ H3: the seal's
 *
 * H = BLAKE2b-256 over every output byte before the frame (length prefixes
 * included), kept as a running state `hs`: record frames are hashed when
 * committed to the output queue, or, for a request whose output is held,
 * when its trailer releases them (a refused request's held bytes are
 * discarded unhashed); each trailer and the seal hash the state's copy and
 * then go into it themselves.
 *   trailer.digest = H, trailer.signature = Ed25519("dmvf-trailer-v1",
 *                    packed Trailer with signature empty)
 *   seal = {requests: trailers written, digest: H, public_key,
 *           signature: Ed25519("dmvf-seal-v1", packed Seal, signature empty)}
 * Ed25519 is deterministic: the same input gives the same bytes.
 *
 * The audit hook (dmvf_framed_set_audit) runs after a request is decided,
 * before any of its output is queued, and again when it ends, before the
 * dmvf_framed_cb callback and its trailer; a non-zero return fails the
 * stream (DMVF_EIO, sticky): no trailer, no seal.
 *
 * Held for review (options.hold_for_review, a request decided REVIEW whose
 * rule has a profile): its records are rewritten as a release would be,
 * into a queue of their own (`hq`, plain delimited records) that is never
 * drained into the output; the audit hook's second call reads it
 * (dmvf_framed_held), then it is wiped. Such a request's filter always
 * counts its fields and keeps its subjects (the review item carries both).
 * Its output is only its trailer, a review refusal's.
 *
 * Limits: a frame is at most dmvf_stream_record_limit(max_record_bytes) + 16
 * bytes (the record-size limit is judged on each record, as filter.c
 * does); a request carries
 * at most max_frames record frames (DMVF_ETOOBIG past it: the request gets
 * no trailer and the stream stops).
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/pballoc.h"
#include "filter/core/reqmap.h"
#include "filter/policy/decide.h"
#include "filter/wire/rewrite.h"
#include "filter/release/stream_int.h"
#include "keys/keys.h"
#include "dmv/v1/request.pb-c.h"
#include "filter/release/filter_int.h"

#define KEY_RECORD 0x12u   /* field 2, wire type 2 */
#define KEY_TRAILER 0x1au  /* field 3, wire type 2 */
#define KEY_SEAL 0x22u     /* field 4, wire type 2 */
#define DIGEST_LEN 32u

struct dmvf_framed {
    const dmvf_policy *policy;
    const dmvf_keyring *keyring;
    dmvf_filter_options opts;
    dmvf__reader rd;
    dmvf__outq oq;
    dmvf__outq hq;              /* the would-be release of a request held for review */
    dmvf_filter *cur;
    dmvf_framed_cb cb;
    void *ud;
    dmvf_framed_audit_cb acb;
    void *aud;
    dmvf_framed_stats st;
    uint64_t frames;            /* record frames of the open request */
    uint64_t max_frames;        /* the most one request may carry */
    uint64_t trailers;          /* trailer frames queued (the seal's count) */
    crypto_generichash_state hs; /* every output byte queued and released so far */
    int sealed;                 /* the seal is queued: the release is complete */
    int no_seal;                /* dmvf_framed_set_seal(fr, 0): complete without one */
    int sticky;                 /* error code, 0 if none */
    dmvf_error first;           /* and its error (common.h: sticky errors) */
};

dmvf_framed *dmvf_framed_create(const dmvf_policy *policy, const dmvf_keyring *keyring,
                                const dmvf_filter_options *opts, dmvf_error *err)
{
    DMVF_REQUIRE(policy != NULL, "policy is NULL");
    DMVF_REQUIRE(keyring != NULL, "keyring is NULL (a framed release is signed with it)");
    dmvf_framed *fr = calloc(1, sizeof *fr);
    if (!fr) {
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory creating a framed stream");
        return NULL;
    }
    fr->policy = policy;
    fr->keyring = keyring;
    dmvf__keyring_acquire(keyring); /* released by dmvf_framed_free */
    dmvf__policy_acquire(policy);
    if (opts)
        fr->opts = *opts;
    if (!fr->opts.max_record_bytes)
        fr->opts.max_record_bytes = DMVF_DEFAULT_MAX_RECORD_BYTES;
    fr->max_frames = DMVF_DEFAULT_MAX_REQUEST_FRAMES;
    /* a frame is its record plus a few bytes of framing */
    dmvf__reader_init(&fr->rd, dmvf_stream_record_limit(fr->opts.max_record_bytes) + 16);
    fr->rd.what = "frame";
    dmvf__outq_init(&fr->oq);
    fr->oq.frame_key = KEY_RECORD;
    dmvf__outq_init(&fr->hq);
    crypto_generichash_init(&fr->hs, NULL, 0, DIGEST_LEN);
    return fr;
}

void dmvf_framed_free(dmvf_framed *fr)
{
    if (!fr)
        return;
    dmvf_filter_free(fr->cur);
    dmvf__reader_free(&fr->rd);
    dmvf__outq_free(&fr->oq);
    dmvf__outq_discard(&fr->hq);
    dmvf__outq_free(&fr->hq);
    dmvf__keyring_release(fr->keyring);
    dmvf__policy_release(fr->policy);
    free(fr);
}

void dmvf_framed_set_callback(dmvf_framed *fr, dmvf_framed_cb cb, void *ud)
{
    DMVF_REQUIRE(fr != NULL, "framed stream is NULL");
    fr->cb = cb;
    fr->ud = ud;
}

void dmvf_framed_set_audit(dmvf_framed *fr, dmvf_framed_audit_cb cb, void *ud)
{
    DMVF_REQUIRE(fr != NULL, "framed stream is NULL");
    fr->acb = cb;
    fr->aud = ud;
}

void dmvf_framed_set_max_request_frames(dmvf_framed *fr, uint64_t n)
{
    DMVF_REQUIRE(fr != NULL, "framed stream is NULL");
    fr->max_frames = n ? n : DMVF_DEFAULT_MAX_REQUEST_FRAMES;
}

void dmvf_framed_set_seal(dmvf_framed *fr, int seal)
{
    DMVF_REQUIRE(fr != NULL, "framed stream is NULL");
    fr->no_seal = !seal;
}

void dmvf_framed_stats_get(const dmvf_framed *fr, dmvf_framed_stats *st)
{
    DMVF_REQUIRE(fr != NULL && st != NULL, "NULL argument");
    *st = fr->st;
}

static int fail_at(dmvf_framed *fr, dmvf_error *err, int code, uint64_t at, const char *msg)
{
    dmvf__seterr(err, code, "%s", msg);
    if (err) {
        err->offset = at;
        err->record = fr->rd.index ? fr->rd.index - 1 : 0;
    }
    return fr->sticky = code;
}

/* Output bytes q->buf[from..len) are final: into the running digest. */
static void hash_out(dmvf_framed *fr, size_t from)
{
    if (fr->oq.len > from)
        crypto_generichash_update(&fr->hs, fr->oq.buf + from, fr->oq.len - from);
}

/* The digest of every output byte so far (the running state goes on). */
static void digest_now(const dmvf_framed *fr, uint8_t out[DIGEST_LEN])
{
    crypto_generichash_state copy = fr->hs;
    crypto_generichash_final(&copy, out, DIGEST_LEN);
}

/* Queues Frame{key: msg} and hashes its bytes. 0 or -1 (no memory). */
static int emit_frame(dmvf_framed *fr, uint8_t key, const uint8_t *msg, size_t n)
{
    uint8_t *buf = malloc(n + 16);
    if (!buf)
        return -1;
    buf[0] = key;
    uint8_t *o = dmvf__put_varint(buf + 1, n);
    if (n)
        memcpy(o, msg, n);
    size_t total = (size_t)(o - buf) + n;
    int rc = dmvf__outq_append(&fr->oq, buf, total);
    free(buf);
    if (rc == 0) /* the append may move the queue: count back from its end */
        hash_out(fr, fr->oq.len - dmvf__varint_size(total) - total);
    return rc;
}

/* The signed trailer frame: digest of everything before it, then the
 * signature over the Trailer packed with signature empty. */
static int emit_trailer(dmvf_framed *fr, const dmvf_trailer *t)
{
    uint8_t digest[DIGEST_LEN], sig[DMVF_SIGNATURE_LEN];
    digest_now(fr, digest);
    Dmv__V1__Trailer tr = DMV__V1__TRAILER__INIT;
    tr.request_id = (char *)t->request_id;
    tr.records_in = t->records_in;
    tr.records_out = t->records_out;
    tr.records_dropped = t->records_dropped;
    tr.decision = (Dmv__V1__Decision)t->decision;
    tr.policy_id = (char *)t->policy_id;
    tr.key_epoch = t->key_epoch;
    tr.digest.data = digest;
    tr.digest.len = sizeof digest;
    size_t n = dmv__v1__trailer__get_packed_size(&tr);
    uint8_t *buf = malloc(n + 2 + sizeof sig);
    if (!buf)
        return -1;
    dmv__v1__trailer__pack(&tr, buf);
    dmvf__sign(fr->keyring, "dmvf-trailer-v1", buf, n, sig);
    tr.signature.data = sig;
    tr.signature.len = sizeof sig;
    n = dmv__v1__trailer__pack(&tr, buf);
    int rc = emit_frame(fr, KEY_TRAILER, buf, n);
    free(buf);
    if (rc == 0)
        fr->trailers++;
    return rc;
}

/* The last frame: the digest of everything before it, the number of
 * trailers, the public key, signed. */
static int emit_seal(dmvf_framed *fr)
{
    uint8_t digest[DIGEST_LEN], pub[DMVF_PUBLIC_KEY_LEN], sig[DMVF_SIGNATURE_LEN];
    uint8_t buf[256];
    if (fr->no_seal) {
        fr->sealed = 1;
        return 0;
    }
    digest_now(fr, digest);
    dmvf_keyring_public_key(fr->keyring, pub);
    Dmv__V1__Seal se = DMV__V1__SEAL__INIT;
    se.requests = fr->trailers;
    se.digest.data = digest;
    se.digest.len = sizeof digest;
    se.public_key.data = pub;
    se.public_key.len = sizeof pub;
    size_t n = dmv__v1__seal__pack(&se, buf); /* at most 11 + 34 + 34 bytes */
    dmvf__sign(fr->keyring, "dmvf-seal-v1", buf, n, sig);
    se.signature.data = sig;
    se.signature.len = sizeof sig;
    n = dmv__v1__seal__pack(&se, buf); /* + 66: fits buf */
    if (emit_frame(fr, KEY_SEAL, buf, n))
        return -1;
    fr->sealed = 1;
    return 0;
}

/* The audit hook refused: the stream fails, nothing more of the request is
 * written (its held output, if any, is dropped). */
static int audit_failed(dmvf_framed *fr, dmvf_error *err, const char *when)
{
    char m[300];
    snprintf(m, sizeof m, "the audit hook failed %s request '%s': nothing more is released",
             when, fr->cur ? dmvf__filter_request_id(fr->cur) : "");
    if (fr->oq.hold)
        dmvf__outq_discard(&fr->oq);
    dmvf__outq_discard(&fr->hq);
    return fail_at(fr, err, DMVF_EIO, fr->rd.consumed, m);
}

/* Closes the open request: the audit hook and the callback are told, its
 * held output (if any) is released, its signed trailer frame goes out. */
static int finish_request(dmvf_framed *fr, dmvf_error *err)
{
    dmvf_filter *f = fr->cur;
    dmvf_trailer t;
    if (dmvf_filter_finish(f, &t) != DMVF_OK)
        return fail_at(fr, err, DMVF_ESTATE, fr->rd.consumed, "request ended in an error state");
    if (fr->acb && fr->acb(fr->aud, f, &t) != 0)
        return audit_failed(fr, err, "at the end of");
    dmvf__outq_discard(&fr->hq); /* the held release was the hook's to take */
    uint64_t in, out, dropped;
    dmvf_filter_counts(f, &in, &out, &dropped);
    switch (dmvf_filter_decision(f)) {
    case DMVF_DECISION_RELEASE: fr->st.released++; break;
    case DMVF_DECISION_REVIEW: fr->st.reviewed++; break;
    default: fr->st.refused++; break;
    }
    fr->st.records_in += in;
    if (dmvf_filter_decision(f) == DMVF_DECISION_RELEASE)
        fr->st.records_out += out; /* a held request's would-be records did not leave */
    fr->st.records_dropped += dropped;
    if (fr->cb)
        fr->cb(fr->ud, f, &t);

    if (fr->oq.hold)
        hash_out(fr, fr->oq.mark); /* the held records are released now */
    if (emit_trailer(fr, &t))
        return fail_at(fr, err, DMVF_ENOMEM, fr->rd.consumed, "out of memory for a trailer");
    fr->oq.hold = 0;
    dmvf_filter_free(f);
    fr->cur = NULL;
    return DMVF_OK;
}

static int start_request(dmvf_framed *fr, const uint8_t *p, size_t n, uint64_t at, dmvf_error *err)
{
    dmvf__pballoc pa;
    Dmv__V1__Request *m = dmv__v1__request__unpack(dmvf__pballoc_init(&pa, DMVF__PB_PLAIN), n, p);
    if (!m && pa.oom)
        return fail_at(fr, err, DMVF_ENOMEM, at, "out of memory decoding a request frame");
    if (!m)
        return fail_at(fr, err, DMVF_EMALFORMED, at, "request frame does not decode as dmv.v1.Request");
    dmvf_request req;
    dmvf__request_from_pb(m, &req);
    fr->cur = dmvf_filter_create(fr->policy, fr->keyring, &req, &fr->opts, err);
    if (fr->cur && fr->opts.hold_for_review && dmvf_filter_decision(fr->cur) == DMVF_DECISION_REVIEW &&
        !(fr->opts.collect_subjects && fr->opts.count_fields)) {
        /* a held request counts its fields and keeps its subjects: decide again with both */
        dmvf_filter_options o = fr->opts;
        o.collect_subjects = o.count_fields = 1;
        dmvf_filter_free(fr->cur);
        fr->cur = dmvf_filter_create(fr->policy, fr->keyring, &req, &o, err);
    }
    dmv__v1__request__free_unpacked(m, &pa.pb);
    if (!fr->cur) {
        if (err)
            err->offset = at;
        return fr->sticky = err ? err->code : DMVF_EINVAL;
    }
    fr->st.requests++;
    fr->frames = 0;
    dmvf__outq_discard(&fr->hq);
    fr->oq.mark = fr->oq.len;
    fr->oq.hold = dmvf_filter_max_records(fr->cur) > 0;
    /* write-ahead: the decision is recorded before any output of the request */
    if (fr->acb && fr->acb(fr->aud, fr->cur, NULL) != 0)
        return audit_failed(fr, err, "to record the decision of");
    return DMVF_OK;
}

static int one_record(dmvf_framed *fr, const uint8_t *p, size_t n, uint64_t at, dmvf_error *err)
{
    dmvf_filter *f = fr->cur;
    if (++fr->frames > fr->max_frames) {
        char m[200];
        const char *id = dmvf__filter_request_id(f);
        snprintf(m, sizeof m, "request '%s' carries more than %llu record frames (the limit per request)",
                 id, (unsigned long long)fr->max_frames);
        dmvf__outq_discard(&fr->oq); /* its held output, if any */
        dmvf__outq_discard(&fr->hq);
        return fail_at(fr, err, DMVF_ETOOBIG, at, m);
    }
    dmvf_decision d = dmvf_filter_decision(f);
    /* held for review: rewritten into hq, never into the output (a review
       rule without a profile, or one past its record limit, rewrites none) */
    int held = d == DMVF_DECISION_REVIEW && fr->opts.hold_for_review && dmvf__filter_rewrites(f);
    if (d != DMVF_DECISION_RELEASE && !held) {
        dmvf__filter_count_refused(f, p, n);
        return DMVF_OK;
    }
    dmvf__outq *q = held ? &fr->hq : &fr->oq;
    for (;;) {
        uint8_t *dst;
        size_t room, olen = 0;
        int dropped = 0;
        dmvf__outq_reserve(q, n, &dst, &room);
        if (!dst)
            return fail_at(fr, err, DMVF_ENOMEM, at, "out of memory for output");
        int rc = dmvf_filter_record(f, p, n, dst, room, &olen, &dropped, err);
        if (rc == DMVF_ESPACE) {
            if (dmvf__outq_grow(q))
                return fail_at(fr, err, DMVF_ENOMEM, at, "out of memory for output");
            continue;
        }
        if (rc == DMVF_EREFUSED) {
            dmvf__outq_discard(q); /* the record limit refused the request */
            return DMVF_OK;
        }
        if (rc) {
            if (err) {
                err->offset += at;
                err->record = fr->rd.index - 1;
            }
            return fr->sticky = rc;
        }
        if (!dropped && held) {
            dmvf__outq_commit(q, olen);
            if (q->len > DMVF_REVIEW_MAX_BODY) {
                char m[240];
                snprintf(m, sizeof m, "the would-be release of request '%s', held for review, is "
                         "larger than %zu bytes, the most a review item holds",
                         dmvf__filter_request_id(f), DMVF_REVIEW_MAX_BODY);
                dmvf__outq_discard(q);
                return fail_at(fr, err, DMVF_ETOOBIG, at, m);
            }
        } else if (!dropped) {
            size_t from = fr->oq.len;
            dmvf__outq_commit(&fr->oq, olen);
            if (!fr->oq.hold)
                hash_out(fr, from); /* held output is hashed when released */
        }
        return DMVF_OK;
    }
}

static int framed_stream(dmvf_framed *fr, dmvf_out_buffer *out, dmvf_in_buffer *in,
                         int end, dmvf_error *err)
{
    if (fr->sticky)
        return dmvf__seterr(err, DMVF_ESTATE, "framed stream is in an error state (%s)",
                            dmvf_strerror(fr->sticky));
    if (fr->sealed) {
        if (in->pos < in->size)
            return dmvf__seterr(err, DMVF_ESTATE, "the release is sealed (the end was given): "
                                "more input needs a new framed stream");
        return dmvf__outq_flush(&fr->oq, out) ? DMVF_ESPACE : DMVF_OK;
    }
    for (;;) {
        if (dmvf__outq_flush(&fr->oq, out))
            return DMVF_ESPACE;
        const uint8_t *msg;
        size_t len;
        uint64_t at;
        int rc = dmvf__reader_next(&fr->rd, in, end, &msg, &len, &at, err);
        if (rc < 0)
            return fr->sticky = err ? err->code : DMVF_EMALFORMED;
        if (rc == 0)
            break;

        /* exactly one body field; unknown fields are ignored */
        const uint8_t *p = msg, *e = msg + len, *body = NULL;
        uint32_t blen = 0, bnum = 0;
        unsigned nbody = 0;
        while (p < e) {
            uint32_t num, vlen;
            unsigned wt;
            const uint8_t *val;
            size_t used = dmvf__wire_field(p, e, &num, &wt, &val, &vlen);
            if (!used)
                return fail_at(fr, err, DMVF_EMALFORMED, at + (uint64_t)(p - msg) + 1,
                               "frame is not a valid dmv.v1.Frame");
            if (num >= 1 && num <= 4) {
                if (wt != 2)
                    return fail_at(fr, err, DMVF_EMALFORMED, at, "frame body has the wrong wire type");
                body = val;
                blen = vlen;
                bnum = num;
                nbody++;
            }
            p += used;
        }
        if (nbody != 1)
            return fail_at(fr, err, DMVF_EMALFORMED, at,
                           nbody ? "frame carries more than one body" : "frame carries no body");
        uint64_t body_at = at + dmvf__varint_size(len) + (uint64_t)(body - msg);
        if (bnum == 4)
            return fail_at(fr, err, DMVF_EMALFORMED, at, "a seal frame is output only (the input "
                           "is a signed release, not a request stream)");
        if (bnum == 1) {
            if (fr->cur && (rc = finish_request(fr, err)) != DMVF_OK)
                return rc;
            if ((rc = start_request(fr, body, blen, body_at, err)) != DMVF_OK)
                return rc;
        } else if (bnum == 2) {
            if (!fr->cur)
                return fail_at(fr, err, DMVF_EMALFORMED, at, "record frame outside a request");
            if ((rc = one_record(fr, body, blen, body_at, err)) != DMVF_OK)
                return rc;
        } else {
            if (!fr->cur)
                return fail_at(fr, err, DMVF_EMALFORMED, at, "trailer frame outside a request");
            if ((rc = finish_request(fr, err)) != DMVF_OK)
                return rc;
        }
    }
    if (end && fr->cur) {
        int rc = finish_request(fr, err);
        if (rc)
            return rc;
    }
    if (end && emit_seal(fr))
        return fail_at(fr, err, DMVF_ENOMEM, fr->rd.consumed, "out of memory for the seal");
    if (dmvf__outq_flush(&fr->oq, out))
        return DMVF_ESPACE;
    return DMVF_OK;
}

/* The call that makes the stream's error sticky leaves it in fr->first,
 * also when the caller gave no err (the inner calls then fill a local
 * one). */
int dmvf_framed_stream(dmvf_framed *fr, dmvf_out_buffer *out, dmvf_in_buffer *in,
                       int end, dmvf_error *err)
{
    DMVF_REQUIRE(fr != NULL && out != NULL && in != NULL, "NULL argument");
    dmvf_error local;
    dmvf_error *e = err ? err : &local;
    int was = fr->sticky;
    local.code = DMVF_OK;
    int rc = framed_stream(fr, out, in, end, e);
    if (fr->sticky != was)
        dmvf__error_keep(&fr->first, fr->sticky, e);
    return rc;
}

void dmvf_framed_held(const dmvf_framed *fr, const void **release, size_t *len)
{
    DMVF_REQUIRE(fr != NULL && release != NULL && len != NULL, "NULL argument");
    *release = fr->hq.len > fr->hq.pos ? fr->hq.buf + fr->hq.pos : NULL;
    *len = fr->hq.len - fr->hq.pos;
}

const dmvf_filter *dmvf_framed_open_request(const dmvf_framed *fr)
{
    DMVF_REQUIRE(fr != NULL, "framed stream is NULL");
    return fr->cur;
}

int dmvf_framed_last_error(const dmvf_framed *fr, dmvf_error *out)
{
    DMVF_REQUIRE(fr != NULL, "framed stream is NULL");
    return dmvf__error_get(fr->sticky, &fr->first, out);
}
