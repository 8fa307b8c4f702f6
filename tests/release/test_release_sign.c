/*
 * test_release_sign.c - signed framed releases (framed.c) and their
 * verification with the public key alone (release_verify.c), and the
 * framed stream's audit hook.
 *
 * The release under test is made from a generated framed input of five
 * requests: two police requests (streamed), an immigration request under a
 * warrant (record limit 1: its output is held until its trailer), a research
 * request and an immigration request under a subpoena (refused, not-found
 * form). It is a few KB, so that every single-byte change and every
 * truncation can be tried:
 *   - it verifies, with the right request count, whole and in pieces;
 *   - equal input gives equal bytes (Ed25519 is deterministic);
 *   - each byte flipped (two ways), each truncation, two request blocks
 *     swapped, a block dropped, a byte or a duplicated frame appended or
 *     inserted, the wrong public key, another keyring's release: all fail;
 *   - an empty input gives a release of the seal alone; a seal in the input
 *     is malformed; a not-found refusal is byte-identical to a genuine miss;
 *   - the audit hook is called after the decision and before any output of
 *     the request, and at its end before the callback and its trailer; a
 *     failing hook stops the stream: no trailer for the request, no seal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "fixture.h"
#include "filter/release/stream_int.h"
#include "dmv/v1/request.pb-c.h"
#include "filter/release/filter_int.h"

static dmvf_policy *pol;
static dmvf_keyring *kr;

/* ---- a growing byte buffer ---- */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *nb = realloc(b->p, cap);
        if (!nb)
            abort();
        b->p = nb;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t k = 0;
    while (v >= 0x80) {
        t[k++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[k++] = (uint8_t)v;
    put(b, t, k);
}

/* One frame: varint(len) key varint(blen) body. */
static void put_frame(buf *b, uint8_t key, const void *body, size_t n)
{
    put_varint(b, 1 + (n < 128 ? 1 : n < 16384 ? 2 : 3) + n);
    put(b, &key, 1);
    put_varint(b, n);
    put(b, body, n);
}

/* Requests are judged as of one day (dmvf_filter_options.as_of). */
static const dmvf_filter_options judged = {.as_of = 20261122};

static void put_request(buf *b, const char *id, const char *ori, Dmv__V1__AgencyKind kind,
                        Dmv__V1__LegalProcess lp)
{
    static char *tags[] = {"immigration-enforcement"};
    Dmv__V1__Request r = DMV__V1__REQUEST__INIT;
    r.request_id = (char *)id;
    r.ori = (char *)ori;
    r.agency_kind = kind;
    if (kind == DMV__V1__AGENCY_KIND__AGENCY_KIND_LOCAL)
        r.jurisdiction = "NY";
    r.purpose = 1;
    r.legal_process = lp;
    r.query_kind = DMV__V1__QUERY_KIND__QUERY_KIND_BY_LICENSE;
    if (kind == DMV__V1__AGENCY_KIND__AGENCY_KIND_FEDERAL) {
        r.tags = tags;
        r.n_tags = 1;
    }
    uint8_t tmp[512];
    size_t n = dmv__v1__request__pack(&r, tmp);
    put_frame(b, 0x0a, tmp, n);
}

/* ---- frames of an output ---- */
typedef struct frame {
    size_t at, len;     /* offset of the frame's prefix; prefix + frame bytes */
    size_t pre;         /* the prefix's bytes */
    uint8_t key;        /* 0x12 record, 0x1a trailer, 0x22 seal */
} frame;

/* Splits out[0..n) into frames; returns the count (at most max), or -1. */
static int frames_of(const uint8_t *p, size_t n, frame *fs, int max)
{
    size_t i = 0;
    int k = 0;
    while (i < n) {
        uint64_t len = 0;
        unsigned shift = 0;
        size_t at = i;
        while (i < n && (p[i] & 0x80) && shift < 63) {
            len |= (uint64_t)(p[i++] & 0x7f) << shift;
            shift += 7;
        }
        if (i >= n)
            return -1;
        len |= (uint64_t)p[i++] << shift;
        if (len == 0 || len > n - i || k >= max)
            return -1;
        fs[k].at = at;
        fs[k].len = (i - at) + (size_t)len;
        fs[k].pre = i - at;
        fs[k].key = p[i];
        k++;
        i += (size_t)len;
    }
    return k;
}

static int count_key(const frame *fs, int n, uint8_t key)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += fs[i].key == key;
    return c;
}

/* ---- running a framed stream ---- */

typedef struct audit_log {
    int fail_at;            /* the call (1-based) that returns non-zero; 0 none */
    int calls;
    char ev[64][80];        /* "D id @pos", "F id @pos", "C id" */
    size_t pos[64];
    int n;
    const dmvf_out_buffer *ob;  /* the output the stream is writing into */
} audit_log;

static int on_audit(void *ud, dmvf_filter *f, const dmvf_trailer *t)
{
    audit_log *lg = ud;
    lg->calls++;
    if (lg->n < 64) {
        snprintf(lg->ev[lg->n], sizeof lg->ev[0], "%c %s", t ? 'F' : 'D', dmvf__filter_request_id(f));
        lg->pos[lg->n] = lg->ob ? lg->ob->pos : 0;
        lg->n++;
    }
    return lg->fail_at && lg->calls == lg->fail_at;
}

static void on_done(void *ud, const dmvf_filter *f, const dmvf_trailer *t)
{
    audit_log *lg = ud;
    if (lg->n < 64) {
        snprintf(lg->ev[lg->n], sizeof lg->ev[0], "C %s", t->request_id);
        lg->pos[lg->n] = lg->ob ? lg->ob->pos : 0;
        lg->n++;
    }
    (void)f;
}

/* Streams in[0..n) (whole, end given) into a fresh buffer. */
static int run(const dmvf_keyring *k, const uint8_t *in, size_t n, audit_log *lg, buf *out,
               dmvf_error *err)
{
    memset(err, 0, sizeof *err);
    dmvf_framed *fr = dmvf_framed_create(pol, k, &judged, err);
    if (!fr)
        return err->code;
    out->n = 0;
    size_t cap = 4 * n + 65536;
    uint8_t *o = malloc(cap);
    dmvf_out_buffer ob = {o, cap, 0};
    if (lg) {
        lg->ob = &ob;
        dmvf_framed_set_audit(fr, on_audit, lg);
        dmvf_framed_set_callback(fr, on_done, lg);
    }
    dmvf_in_buffer ib = {in, n, 0};
    int rc = dmvf_framed_stream(fr, &ob, &ib, 1, err);
    put(out, o, ob.pos);
    if (rc != DMVF_OK) {
        /* sticky: nothing more comes out */
        dmvf_error e2;
        ob.pos = 0;
        dmvf_in_buffer i2 = {in, n, 0};
        CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &i2, 1, &e2), DMVF_ESTATE);
        CHECK_EQ_INT(ob.pos, 0);
    }
    if (lg)
        lg->ob = NULL;
    free(o);
    dmvf_framed_free(fr);
    return rc;
}

static int verify(const uint8_t *p, size_t n, const dmvf_keyring *k, uint64_t *requests,
                  dmvf_error *err)
{
    uint8_t pub[32];
    dmvf_keyring_public_key(k, pub);
    memset(err, 0, sizeof *err);
    return dmvf_release_verify(p, n, pub, requests, err);
}

/* ---- the tests ---- */

static void test_release(const buf *in, const buf *rel)
{
    dmvf_error err;
    uint64_t req = 99;
    int rc = verify(rel->p, rel->n, kr, &req, &err);
    CHECK_MSG(rc == DMVF_OK, "the release verifies: %s", err.msg);
    CHECK_EQ_INT(req, 5);
    frame fs[64];
    int nf = frames_of(rel->p, rel->n, fs, 64);
    CHECK(nf > 6);
    if (nf <= 0)
        return;
    CHECK_EQ_INT(count_key(fs, nf, 0x1a), 5);
    CHECK_EQ_INT(count_key(fs, nf, 0x22), 1);
    CHECK_EQ_INT(fs[nf - 1].key, 0x22);
    CHECK_MSG(rel->n > 1500 && rel->n < 20000, "a release of a few KB (%zu bytes)", rel->n);

    /* the trailers carry digest and signature, and still their figures */
    int t = 0;
    for (int i = 0; i < nf; i++) {
        if (fs[i].key != 0x1a)
            continue;
        Dmv__V1__Frame *m = dmv__v1__frame__unpack(NULL, fs[i].len - fs[i].pre,
                                                   rel->p + fs[i].at + fs[i].pre);
        CHECK(m != NULL && m->body_case == DMV__V1__FRAME__BODY_TRAILER);
        if (!m || m->body_case != DMV__V1__FRAME__BODY_TRAILER) {
            dmv__v1__frame__free_unpacked(m, NULL);
            continue;
        }
        CHECK_EQ_INT(m->trailer->digest.len, 32);
        CHECK_EQ_INT(m->trailer->signature.len, 64);
        CHECK_EQ_INT(m->trailer->decision, DMV__V1__DECISION__DECISION_RELEASE);
        if (t == 4) { /* the not-found refusal: what a miss reports */
            CHECK_EQ_STR(m->trailer->request_id, "ices");
            CHECK_EQ_INT(m->trailer->records_out, 0);
        }
        t++;
        dmv__v1__frame__free_unpacked(m, NULL);
    }

    /* deterministic: the same input gives the same bytes */
    buf again = {0};
    CHECK_EQ_INT(run(kr, in->p, in->n, NULL, &again, &err), DMVF_OK);
    CHECK(again.n == rel->n && memcmp(again.p, rel->p, rel->n) == 0);
    free(again.p);

    /* the input itself is no release: its first frame is a request */
    rc = verify(in->p, in->n, kr, &req, &err);
    CHECK_EQ_INT(rc, DMVF_ETAMPER);
    CHECK_EQ_INT(req, 0);
    CHECK_MSG(strstr(err.msg, "frame 0 at byte offset 0") && strstr(err.msg, "request frame"),
              "%s", err.msg);
}

/* Every single byte changed, every truncation: all fail. */
static void test_every_byte(const buf *rel)
{
    uint8_t *c = malloc(rel->n);
    size_t passed = 0, odd = 0, first = SIZE_MAX;
    dmvf_error err;
    static const uint8_t masks[] = {0x01, 0xff};
    for (size_t m = 0; m < sizeof masks; m++) {
        for (size_t i = 0; i < rel->n; i++) {
            memcpy(c, rel->p, rel->n);
            c[i] ^= masks[m];
            int rc = verify(c, rel->n, kr, NULL, &err);
            if (rc == DMVF_OK) {
                passed++;
                if (first == SIZE_MAX)
                    first = i;
            } else if (rc != DMVF_ETAMPER && rc != DMVF_EMALFORMED) {
                odd++;
            }
        }
    }
    CHECK_MSG(passed == 0, "%zu single-byte changes verify (the first at byte %zu)", passed, first);
    CHECK_MSG(odd == 0, "%zu changes gave a code other than ETAMPER/EMALFORMED", odd);

    passed = 0;
    first = SIZE_MAX;
    for (size_t len = 0; len < rel->n; len++) {
        int rc = verify(rel->p, len, kr, NULL, &err);
        if (rc != DMVF_ETAMPER && rc != DMVF_EMALFORMED) {
            passed++;
            if (first == SIZE_MAX)
                first = len;
        }
    }
    CHECK_MSG(passed == 0, "%zu truncations verify (the first at length %zu)", passed, first);
    /* a cut inside the seal says so */
    CHECK_EQ_INT(verify(rel->p, rel->n - 1, kr, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    free(c);
}

/* Request blocks swapped, dropped; bytes and frames appended, inserted. */
static void test_blocks(const buf *rel)
{
    frame fs[64];
    int nf = frames_of(rel->p, rel->n, fs, 64);
    size_t ends[8], nb = 0;    /* end offset of each request's block */
    for (int i = 0; i < nf && nb < 8; i++)
        if (fs[i].key == 0x1a)
            ends[nb++] = fs[i].at + fs[i].len;
    CHECK_EQ_INT(nb, 5);
    if (nb != 5)
        return;
    const frame *seal = &fs[nf - 1];
    dmvf_error err;
    buf b = {0};

    /* blocks 0 and 1 swapped (two police requests) */
    put(&b, rel->p + ends[0], ends[1] - ends[0]);
    put(&b, rel->p, ends[0]);
    put(&b, rel->p + ends[1], rel->n - ends[1]);
    CHECK_EQ_INT(b.n, rel->n);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "frame ") && strstr(err.msg, "byte offset") && strstr(err.msg, "digest"),
              "swap: %s", err.msg);

    /* blocks 2 and 3 swapped */
    b.n = 0;
    put(&b, rel->p, ends[1]);
    put(&b, rel->p + ends[2], ends[3] - ends[2]);
    put(&b, rel->p + ends[1], ends[2] - ends[1]);
    put(&b, rel->p + ends[3], rel->n - ends[3]);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);

    /* a block dropped: the second, and the last */
    b.n = 0;
    put(&b, rel->p, ends[0]);
    put(&b, rel->p + ends[1], rel->n - ends[1]);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);
    b.n = 0;
    put(&b, rel->p, ends[3]);
    put(&b, rel->p + seal->at, seal->len);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "seal") != NULL, "dropped last block: %s", err.msg);

    /* the seal dropped */
    CHECK_EQ_INT(verify(rel->p, seal->at, kr, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "without a seal") != NULL, "%s", err.msg);

    /* one byte appended; the seal duplicated */
    b.n = 0;
    put(&b, rel->p, rel->n);
    put(&b, "\0", 1);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "follow the seal") != NULL, "%s", err.msg);
    b.n = 0;
    put(&b, rel->p, rel->n);
    put(&b, rel->p + seal->at, seal->len);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);

    /* a record frame duplicated before the seal; inside a block */
    int rec = -1;
    for (int i = 0; i < nf && rec < 0; i++)
        if (fs[i].key == 0x12)
            rec = i;
    CHECK(rec >= 0);
    if (rec >= 0) {
        b.n = 0;
        put(&b, rel->p, seal->at);
        put(&b, rel->p + fs[rec].at, fs[rec].len);
        put(&b, rel->p + seal->at, seal->len);
        CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);
        b.n = 0;
        put(&b, rel->p, fs[rec].at + fs[rec].len);
        put(&b, rel->p + fs[rec].at, rel->n - fs[rec].at);
        CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);
    }
    /* the last trailer duplicated */
    const frame *lt = &fs[nf - 2];
    CHECK_EQ_INT(lt->key, 0x1a);
    b.n = 0;
    put(&b, rel->p, seal->at);
    put(&b, rel->p + lt->at, lt->len);
    put(&b, rel->p + seal->at, seal->len);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);

    /* an empty trailer or seal body in place of the seal: not signed */
    b.n = 0;
    put(&b, rel->p, seal->at);
    put(&b, "\x02\x1a\x00", 3);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "not signed") != NULL, "%s", err.msg);
    b.n = 0;
    put(&b, rel->p, seal->at);
    put(&b, "\x02\x22\x00", 3);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "incomplete") != NULL, "%s", err.msg);

    /* a frame that is no release frame: EMALFORMED, with its offset */
    b.n = 0;
    put(&b, rel->p, ends[0]);
    put(&b, "\x02\x08\x01", 3);
    put(&b, rel->p + ends[0], rel->n - ends[0]);
    CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_EMALFORMED);
    CHECK_EQ_INT(err.offset, ends[0]);
    free(b.p);
}

/* The wrong public key; a release made with another keyring. */
static void test_keys(const buf *in, const buf *rel)
{
    uint8_t pub[32];
    dmvf_error err;
    dmvf_keyring_public_key(kr, pub);
    pub[5] ^= 0x10;
    CHECK_EQ_INT(dmvf_release_verify(rel->p, rel->n, pub, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "signature") != NULL, "%s", err.msg);

    static const uint8_t seed2[32] = "release sign test, other keyring";
    char path[400];
    snprintf(path, sizeof path, "%s/keyring2", g_dir);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(path, seed2, 1, &err), DMVF_OK);
    dmvf_keyring *k2 = dmvf_keyring_load(path, NULL, &err);
    CHECK(k2 != NULL);
    if (!k2)
        return;
    buf r2 = {0};
    CHECK_EQ_INT(run(k2, in->p, in->n, NULL, &r2, &err), DMVF_OK);
    CHECK_EQ_INT(verify(r2.p, r2.n, k2, NULL, &err), DMVF_OK);
    CHECK_EQ_INT(verify(r2.p, r2.n, kr, NULL, &err), DMVF_ETAMPER);
    CHECK_EQ_INT(verify(rel->p, rel->n, k2, NULL, &err), DMVF_ETAMPER);
    /* the other keyring's seal, put on this release */
    frame f1[64], f2[64];
    int n1 = frames_of(rel->p, rel->n, f1, 64), n2 = frames_of(r2.p, r2.n, f2, 64);
    CHECK(n1 > 0 && n2 > 0);
    if (n1 > 0 && n2 > 0) {
        buf b = {0};
        put(&b, rel->p, f1[n1 - 1].at);
        put(&b, r2.p + f2[n2 - 1].at, f2[n2 - 1].len);
        CHECK_EQ_INT(verify(b.p, b.n, kr, NULL, &err), DMVF_ETAMPER);
        CHECK_MSG(strstr(err.msg, "public key") != NULL, "foreign seal: %s", err.msg);
        free(b.p);
    }
    free(r2.p);
    dmvf_keyring_free(k2);
}

/* The incremental verifier: pieces of any size; errors are sticky. */
static void test_incremental(const buf *rel)
{
    uint8_t pub[32];
    dmvf_keyring_public_key(kr, pub);
    static const size_t steps[] = {1, 2, 7, 64, 4096};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        dmvf_error err;
        dmvf_release_verifier *v = dmvf_release_verifier_create(pub, &err);
        CHECK(v != NULL);
        if (!v)
            return;
        int rc = DMVF_OK;
        for (size_t i = 0; i < rel->n && rc == DMVF_OK; i += steps[s]) {
            size_t k = rel->n - i < steps[s] ? rel->n - i : steps[s];
            rc = dmvf_release_verifier_update(v, rel->p + i, k, &err);
        }
        uint64_t req = 0;
        if (rc == DMVF_OK)
            rc = dmvf_release_verifier_final(v, &req, &err);
        CHECK_MSG(rc == DMVF_OK && req == 5, "pieces of %zu: %s", steps[s], err.msg);
        dmvf_release_verifier_free(v);
    }
    /* sticky */
    uint8_t *c = malloc(rel->n);
    memcpy(c, rel->p, rel->n);
    c[rel->n / 2] ^= 0x20;
    dmvf_error e1, e2, e3;
    dmvf_release_verifier *v = dmvf_release_verifier_create(pub, &e1);
    int r1 = dmvf_release_verifier_update(v, c, rel->n, &e1);
    CHECK(r1 == DMVF_ETAMPER || r1 == DMVF_EMALFORMED);
    int r2 = dmvf_release_verifier_update(v, rel->p, 0, &e2);
    uint64_t req = 7;
    int r3 = dmvf_release_verifier_final(v, &req, &e3);
    CHECK_EQ_INT(r2, r1);
    CHECK_EQ_INT(r3, r1);
    CHECK_EQ_INT(req, 0);
    CHECK_EQ_STR(e3.msg, e1.msg);
    CHECK_EQ_INT(e3.offset, e1.offset);
    dmvf_release_verifier_free(v);
    dmvf_release_verifier_free(NULL);
    free(c);
}

/* Empty input: the seal alone. A seal in the input: malformed. */
static void test_empty_and_seal_input(void)
{
    buf rel = {0}, in = {0};
    dmvf_error err;
    CHECK_EQ_INT(run(kr, (const uint8_t *)"", 0, NULL, &rel, &err), DMVF_OK);
    frame fs[4];
    CHECK_EQ_INT(frames_of(rel.p, rel.n, fs, 4), 1);
    CHECK_EQ_INT(fs[0].key, 0x22);
    uint64_t req = 9;
    CHECK_EQ_INT(verify(rel.p, rel.n, kr, &req, &err), DMVF_OK);
    CHECK_EQ_INT(req, 0);

    /* the seal fed back as input */
    CHECK_EQ_INT(run(kr, rel.p, rel.n, NULL, &in, &err), DMVF_EMALFORMED);
    CHECK_MSG(strstr(err.msg, "seal frame is output only") != NULL, "%s", err.msg);
    CHECK_EQ_INT(in.n, 0);

    /* more input after the seal: refused, the release stays whole */
    dmvf_framed *fr = dmvf_framed_create(pol, kr, &judged, &err);
    uint8_t o[512];
    dmvf_out_buffer ob = {o, sizeof o, 0};
    dmvf_in_buffer ib = {"", 0, 0};
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &ib, 1, &err), DMVF_OK);
    CHECK_EQ_INT(ob.pos, rel.n);
    dmvf_in_buffer more = {rel.p, rel.n, 0};
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &more, 1, &err), DMVF_ESTATE);
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &ib, 1, &err), DMVF_OK);
    CHECK_EQ_INT(ob.pos, rel.n);
    dmvf_framed_free(fr);
    free(rel.p);
    free(in.p);
}

/* dmvf_framed_set_seal(fr, 0): the same output but the seal frame, every
 * trailer still signed and verifying; the release is complete all the same
 * (more input after the end is refused). */
static void test_no_seal(const buf *in, const buf *rel)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_framed *fr = dmvf_framed_create(pol, kr, &judged, &err);
    CHECK(fr != NULL);
    if (!fr)
        return;
    dmvf_framed_set_seal(fr, 0);
    size_t cap = 4 * in->n + 65536;
    uint8_t *o = malloc(cap);
    dmvf_out_buffer ob = {o, cap, 0};
    dmvf_in_buffer ib = {in->p, in->n, 0};
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &ib, 1, &err), DMVF_OK);
    frame fs[64];
    int n = frames_of(rel->p, rel->n, fs, 64);
    CHECK(n > 1 && fs[n - 1].key == 0x22);
    frame seal = n > 1 ? fs[n - 1] : (frame){0};
    if (n > 1) {
        CHECK_EQ_INT(ob.pos, seal.at);
        CHECK(memcmp(o, rel->p, seal.at) == 0);
        int m = frames_of(o, ob.pos, fs, 64);
        CHECK_EQ_INT(count_key(fs, m, 0x22), 0);
        CHECK(count_key(fs, m, 0x1a) > 0);
    }
    /* what is left still verifies as a release once the seal is put back */
    buf back = {0};
    put(&back, o, ob.pos);
    if (n > 1)
        put(&back, rel->p + seal.at, seal.len);
    uint64_t req = 0;
    CHECK_EQ_INT(verify(back.p, back.n, kr, &req, &err), DMVF_OK);
    dmvf_in_buffer more = {in->p, in->n, 0};
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &more, 1, &err), DMVF_ESTATE);
    free(back.p);
    free(o);
    dmvf_framed_free(fr);
}

/* A not-found refusal's output is byte for byte a genuine miss's. */
static void test_not_found(void)
{
    buf a = {0}, b = {0}, ra = {0}, rb = {0};
    /* refused: immigration enforcement under an administrative subpoena */
    put_request(&a, "q-1", "DCICE0100", DMV__V1__AGENCY_KIND__AGENCY_KIND_FEDERAL,
                DMV__V1__LEGAL_PROCESS__LEGAL_PROCESS_ADMINISTRATIVE_SUBPOENA);
    put_frame(&a, 0x12, "\x0a\x02R1", 4);
    put_frame(&a, 0x12, "\x0a\x02R2", 4);
    /* a miss: the same request id, a released request that found nothing */
    put_request(&b, "q-1", "NY0300000", DMV__V1__AGENCY_KIND__AGENCY_KIND_LOCAL,
                DMV__V1__LEGAL_PROCESS__LEGAL_PROCESS_NONE);
    dmvf_error err;
    CHECK_EQ_INT(run(kr, a.p, a.n, NULL, &ra, &err), DMVF_OK);
    CHECK_EQ_INT(run(kr, b.p, b.n, NULL, &rb, &err), DMVF_OK);
    CHECK_MSG(ra.n == rb.n && ra.n > 0 && memcmp(ra.p, rb.p, ra.n) == 0,
              "a not-found refusal (%zu bytes) is exactly a miss (%zu bytes)", ra.n, rb.n);
    CHECK_EQ_INT(verify(ra.p, ra.n, kr, NULL, &err), DMVF_OK);
    free(a.p);
    free(b.p);
    free(ra.p);
    free(rb.p);
}

static int find_ev(const audit_log *lg, const char *ev)
{
    for (int i = 0; i < lg->n; i++)
        if (strcmp(lg->ev[i], ev) == 0)
            return i;
    return -1;
}

/* The audit hook: order and write-ahead; a failing hook stops the stream. */
static void test_audit(const buf *in, const buf *rel)
{
    static const char *ids[] = {"pol-1", "pol-2", "icew", "res", "ices"};
    audit_log lg;
    memset(&lg, 0, sizeof lg);
    buf out = {0};
    dmvf_error err;
    CHECK_EQ_INT(run(kr, in->p, in->n, &lg, &out, &err), DMVF_OK);
    CHECK(out.n == rel->n && memcmp(out.p, rel->p, rel->n) == 0);
    CHECK_EQ_INT(lg.n, 15);
    frame fs[64];
    int nf = frames_of(rel->p, rel->n, fs, 64);
    size_t start = 0; /* the block of request k starts here */
    int fi = 0;
    for (int k = 0; k < 5 && lg.n == 15; k++) {
        char e[80];
        snprintf(e, sizeof e, "D %s", ids[k]);
        CHECK_MSG(find_ev(&lg, e) == 3 * k, "%s is event %d", e, 3 * k);
        snprintf(e, sizeof e, "F %s", ids[k]);
        CHECK_MSG(find_ev(&lg, e) == 3 * k + 1, "%s is event %d", e, 3 * k + 1);
        snprintf(e, sizeof e, "C %s", ids[k]);
        CHECK_MSG(find_ev(&lg, e) == 3 * k + 2, "%s is event %d (after the hook)", e, 3 * k + 2);
        /* nothing of request k had been written when it was decided */
        CHECK_MSG(lg.pos[3 * k] <= start, "request %s decided at output byte %zu, its output "
                  "starts at %zu", ids[k], lg.pos[3 * k], start);
        while (fi < nf && fs[fi].key != 0x1a)
            fi++;
        if (fi >= nf)
            break;
        /* ... and its trailer had not when it ended */
        CHECK_MSG(lg.pos[3 * k + 1] <= fs[fi].at, "request %s ended at output byte %zu, its trailer "
                  "is at %zu", ids[k], lg.pos[3 * k + 1], fs[fi].at);
        if (k == 3) /* no record limit: its records went out between the two calls */
            CHECK_MSG(lg.pos[3 * k + 1] > start, "request res's records stream (%zu, its block "
                      "starts at %zu)", lg.pos[3 * k + 1], start);
        start = fs[fi].at + fs[fi].len;
        fi++;
    }

    /* the hook fails when the first request is decided: nothing at all */
    memset(&lg, 0, sizeof lg);
    lg.fail_at = 1;
    CHECK_EQ_INT(run(kr, in->p, in->n, &lg, &out, &err), DMVF_EIO);
    CHECK_EQ_INT(out.n, 0);
    CHECK_MSG(strstr(err.msg, "audit") && strstr(err.msg, "pol-1"), "%s", err.msg);
    CHECK_EQ_INT(lg.n, 1);

    /* ... at the end of pol-2 (call 4): pol-1 complete, pol-2 gets no
     * trailer, the callback is not told, there is no seal */
    memset(&lg, 0, sizeof lg);
    lg.fail_at = 4;
    CHECK_EQ_INT(run(kr, in->p, in->n, &lg, &out, &err), DMVF_EIO);
    nf = frames_of(out.p, out.n, fs, 64);
    CHECK(nf > 0);
    CHECK_EQ_INT(count_key(fs, nf, 0x1a), 1);
    CHECK_EQ_INT(count_key(fs, nf, 0x22), 0);
    CHECK_EQ_INT(find_ev(&lg, "C pol-2"), -1);
    CHECK_MSG(nf > 0 && fs[nf - 1].key == 0x1a, "pol-2's held records are dropped");
    CHECK(verify(out.p, out.n, kr, NULL, &err) != DMVF_OK);

    /* ... at the end of res (call 8), which streams: its records are out,
     * its trailer is not */
    memset(&lg, 0, sizeof lg);
    lg.fail_at = 8;
    CHECK_EQ_INT(run(kr, in->p, in->n, &lg, &out, &err), DMVF_EIO);
    CHECK_EQ_STR(lg.ev[lg.n - 1], "F res");
    nf = frames_of(out.p, out.n, fs, 64);
    CHECK(nf > 0);
    CHECK_EQ_INT(count_key(fs, nf, 0x1a), 3);
    CHECK_EQ_INT(count_key(fs, nf, 0x22), 0);
    CHECK_MSG(nf > 0 && fs[nf - 1].key == 0x12, "res's records, then nothing");

    /* ... at the end of the held request icew (call 6): its held record
     * is dropped, never written */
    memset(&lg, 0, sizeof lg);
    lg.fail_at = 6;
    CHECK_EQ_INT(run(kr, in->p, in->n, &lg, &out, &err), DMVF_EIO);
    CHECK_EQ_STR(lg.ev[lg.n - 1], "F icew");
    nf = frames_of(out.p, out.n, fs, 64);
    CHECK(nf > 0);
    CHECK_EQ_INT(count_key(fs, nf, 0x1a), 2);
    CHECK_EQ_INT(count_key(fs, nf, 0x22), 0);
    CHECK_MSG(nf > 0 && fs[nf - 1].key == 0x1a, "nothing follows pol-2's trailer");
    free(out.p);
}

int main(void)
{
    static const uint8_t seed[32] = "release signing test keyring...";
    if (fixture_open("sign", seed, 1, &pol, &kr) != 0)
        CHECK_DONE();
    char args[2048];
    static const char *const gens[] = {
        "--framed --count 6 --requests 2 --seed 21 --request-id pol --ori NY0300000 "
        "--agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license --marked 0.5",
        "--framed --count 1 --seed 23 --request-id icew --ori DCICE0100 --agency-kind federal "
        "--tag immigration-enforcement --legal-process judicial_warrant --query-kind by_license",
        "--framed --count 2 --seed 22 --request-id res --ori NYUNIV000 --agency-kind research "
        "--purpose 5 --query-kind list",
        "--framed --count 2 --seed 24 --request-id ices --ori DCICE0100 --agency-kind federal "
        "--tag immigration-enforcement --legal-process administrative_subpoena "
        "--query-kind by_license",
    };
    buf in = {0};
    for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++) {
        snprintf(args, sizeof args, "%s --out '%s/in%zu.bin'", gens[i], g_dir, i);
        CHECK_EQ_INT(run_gen(args), 0);
        snprintf(args, sizeof args, "%s/in%zu.bin", g_dir, i);
        size_t n = 0;
        uint8_t *p = slurp(args, &n);
        CHECK(p != NULL && n > 0);
        if (p)
            put(&in, p, n);
        free(p);
    }
    buf rel = {0};
    dmvf_error err;
    int rc = run(kr, in.p, in.n, NULL, &rel, &err);
    CHECK_MSG(rc == DMVF_OK, "the framed stream: %s", err.msg);
    if (rc == DMVF_OK) {
        test_release(&in, &rel);
        test_every_byte(&rel);
        test_blocks(&rel);
        test_keys(&in, &rel);
        test_incremental(&rel);
        test_audit(&in, &rel);
        test_no_seal(&in, &rel);
    }
    test_empty_and_seal_input();
    test_not_found();
    free(in.p);
    free(rel.p);
    dmvf_policy_free(pol);
    dmvf_keyring_free(kr);
    CHECK_DONE();
}
