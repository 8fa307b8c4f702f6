/*
 * test_limits.c - every input limit is a clear error, never a crash or an
 * unbounded allocation.
 *
 *   record size          max_record_bytes: dmvf_filter_record, streams and
 *                        framed frames judge the record; the stream reader
 *                        refuses a length prefix over dmvf_stream_record_limit
 *                        before buffering; DMVF_ETOOBIG with offset and
 *                        record index
 *   repeated elements    10,000 pass, 10,001 are DMVF_ETOOBIG, for a redacted
 *                        and a released field, nested too, in the rewriter and
 *                        the reference path alike
 *   nesting              100,000 levels of length-delimited nesting return
 *                        (the schema bounds the depth the rewriter descends)
 *   frames per request   dmvf_framed_set_max_request_frames: N frames pass,
 *                        N + 1 are DMVF_ETOOBIG and the request gets no trailer
 *   policy size          more than 1 MiB is refused, from memory and from a file
 *   one byte at a time   input given and output taken one byte per call gives
 *                        the same bytes, records and framed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "dmvfilter/dmvfilter.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/policy/decide.h"
#include "filter/wire/plan.h"
#include "filter/wire/reference.h"
#include "filter/wire/rewrite.h"
#include "keys/keys.h"
#include "dmv/v1/request.pb-c.h"

/* ---- a tiny protobuf writer ---- */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (n == 0)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v)
{
    unsigned char t[10];
    size_t k = 0;
    while (v >= 0x80) {
        t[k++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    t[k++] = (unsigned char)v;
    put(b, t, k);
}

static void put_len(buf *b, uint32_t num, const void *p, size_t n)
{
    put_varint(b, (uint64_t)num << 3 | 2);
    put_varint(b, n);
    put(b, p, n);
}

static void put_str(buf *b, uint32_t num, const char *s)
{
    put_len(b, num, s, strlen(s));
}

static void put_uint(buf *b, uint32_t num, uint64_t v)
{
    put_varint(b, (uint64_t)num << 3);
    put_varint(b, v);
}

static void delimited(buf *out, const buf *msg)
{
    put_varint(out, msg->n);
    put(out, msg->p, msg->n);
}

/* ---- fixtures ---- */

static dmvf_policy *pol;
static dmvf_keyring *kr;
static const dmvf_request police = {
    .request_id = "limits-1", .ori = "NY0300000", .agency_kind = DMVF_AGENCY_LOCAL,
    .jurisdiction = "NY", .purpose = 1, .query_kind = DMVF_QUERY_BY_LICENSE};
/* Requests are judged as of one day (dmvf_filter_options.as_of), so that the
 * example policy's certification dates never expire under the test. */
static const dmvf_filter_options judged = {.as_of = 20261122};

/* Record with `n` elements in one repeated field, chosen by `which`:
 * 0 person.aliases (redacted for police), 1 vehicles (released),
 * 2 license.restrictions (released), 3 history (released). */
static void repeated_record(buf *rec, int which, unsigned n)
{
    buf inner = {0};
    rec->n = 0;
    put_str(rec, 1, "R-many");
    switch (which) {
    case 0:
        put_str(&inner, 1, "DOE");
        for (unsigned i = 0; i < n; i++)
            put_str(&inner, 5, "a");
        put_len(rec, 2, inner.p, inner.n);
        break;
    case 1:
        put_str(&inner, 1, "DOE");
        put_len(rec, 2, inner.p, inner.n);
        for (unsigned i = 0; i < n; i++) {
            inner.n = 0;
            put_str(&inner, 1, "PL8");
            put_len(rec, 7, inner.p, inner.n);
        }
        break;
    case 2:
        put_str(&inner, 1, "D1234567");
        for (unsigned i = 0; i < n; i++)
            put_str(&inner, 6, "B");
        put_len(rec, 3, inner.p, inner.n);
        break;
    default:
        for (unsigned i = 0; i < n; i++) {
            inner.n = 0;
            put_uint(&inner, 1, 20200101);
            put_str(&inner, 3, "S01");
            put_len(rec, 8, inner.p, inner.n);
        }
        break;
    }
    free(inner.p);
}

static int rewrite_rc(dmvf_filter *f, const buf *rec, dmvf_error *err)
{
    size_t cap = rec->n * 2 + 4096, n = 0;
    unsigned char *out = malloc(cap);
    int rc = dmvf_filter_record(f, rec->p, rec->n, out, cap, &n, NULL, err);
    free(out);
    return rc;
}

static int reference_rc(const dmvf_plan *plan, const dmvf_keyctx *kc, const buf *rec, dmvf_error *err)
{
    uint8_t *out = NULL;
    size_t n = 0;
    int rc = dmvf__reference_record(plan, kc, rec->p, rec->n, &out, &n, err);
    free(out);
    return rc;
}

static void test_repeated(void)
{
    dmvf_verdict v;
    dmvf__policy_decide(pol, &police, judged.as_of, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_RELEASE);
    dmvf_keyctx *kc = dmvf__keyctx_create(kr, "NY0300000", v.plan->pseudo_paths, v.plan->npseudo);
    CHECK(kc != NULL);
    static const char *const names[] = {"person.aliases", "vehicles", "license.restrictions", "history"};
    buf rec = {0};
    for (int which = 0; which < 4; which++) {
        dmvf_error err;
        dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &judged, &err);
        CHECK(f != NULL);
        if (!f)
            break;
        repeated_record(&rec, which, DMVF_MAX_REPEATED);
        int rc = rewrite_rc(f, &rec, &err);
        CHECK_MSG(rc == DMVF_OK, "%s: %u elements: rc %d (%s)", names[which], DMVF_MAX_REPEATED, rc, err.msg);
        rc = reference_rc(v.plan, kc, &rec, &err);
        CHECK_MSG(rc == DMVF_OK, "%s: reference: %u elements: rc %d (%s)", names[which],
                  DMVF_MAX_REPEATED, rc, err.msg);

        repeated_record(&rec, which, DMVF_MAX_REPEATED + 1);
        memset(&err, 0, sizeof err);
        rc = rewrite_rc(f, &rec, &err);
        CHECK_MSG(rc == DMVF_ETOOBIG, "%s: %u elements: rc %d, want DMVF_ETOOBIG", names[which],
                  DMVF_MAX_REPEATED + 1, rc);
        CHECK_MSG(strstr(err.msg, "10000") != NULL, "%s: message names the limit: %s", names[which], err.msg);
        CHECK_EQ_INT(err.record, 1);
        CHECK_MSG(err.offset > 0 && err.offset < rec.n, "%s: offset %llu inside the record", names[which],
                  (unsigned long long)err.offset);
        memset(&err, 0, sizeof err);
        rc = reference_rc(v.plan, kc, &rec, &err);
        CHECK_MSG(rc == DMVF_ETOOBIG, "%s: reference: %u elements: rc %d, want DMVF_ETOOBIG",
                  names[which], DMVF_MAX_REPEATED + 1, rc);
        /* the error is sticky: the filter reports it until reset */
        CHECK_EQ_INT(rewrite_rc(f, &rec, &err), DMVF_ESTATE);
        dmvf_filter_free(f);
    }
    free(rec.p);
    dmvf__keyctx_free(kc);
}

static void test_record_size(void)
{
    dmvf_error err;
    dmvf_filter_options o = {.max_record_bytes = 64, .as_of = 20261122};
    dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &o, &err);
    CHECK(f != NULL);
    if (!f)
        return;
    buf rec = {0}, stream = {0};
    put_str(&rec, 1, "R1");
    unsigned char out[4096];
    size_t n;
    CHECK_EQ_INT(dmvf_filter_record(f, rec.p, rec.n, out, sizeof out, &n, NULL, &err), DMVF_OK);
    char big[100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    rec.n = 0;
    put_str(&rec, 1, big);
    CHECK_EQ_INT(dmvf_filter_record(f, rec.p, rec.n, out, sizeof out, &n, NULL, &err), DMVF_ETOOBIG);
    CHECK_MSG(strstr(err.msg, "64") != NULL, "names the limit: %s", err.msg);
    CHECK_EQ_INT(err.record, 1);
    dmvf_filter_free(f);

    /* the stream refuses the length prefix itself, before buffering: a
     * record that claims 1 TiB fails at once, with no allocation for it */
    f = dmvf_filter_create(pol, kr, &police, &judged, &err);
    CHECK(f != NULL);
    if (!f)
        return;
    rec.n = 0;
    put_str(&rec, 1, "R1");
    delimited(&stream, &rec);
    delimited(&stream, &rec);
    size_t at = stream.n;
    put_varint(&stream, (uint64_t)1 << 40);
    put(&stream, "abc", 3);
    dmvf_in_buffer in = {stream.p, stream.n, 0};
    dmvf_out_buffer ob = {out, sizeof out, 0};
    memset(&err, 0, sizeof err);
    CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &in, 0, &err), DMVF_ETOOBIG);
    CHECK_EQ_INT(err.offset, at);
    CHECK_EQ_INT(err.record, 2);
    CHECK_MSG(strstr(err.msg, "exceeds the limit") != NULL, "%s", err.msg);
    dmvf_filter_free(f);

    /* what a stream holds of one record: 16 x max_record_bytes, at least
     * 256 MiB; a prefix one byte past it fails before buffering, whatever
     * max_record_bytes is */
    CHECK(dmvf_stream_record_limit(0) == DMVF_STREAM_RECORD_LIMIT_MIN);
    CHECK(dmvf_stream_record_limit(64) == DMVF_STREAM_RECORD_LIMIT_MIN);
    CHECK(dmvf_stream_record_limit((size_t)32 << 20) == (size_t)512 << 20);
    CHECK(dmvf_stream_record_limit(SIZE_MAX) >= DMVF_STREAM_RECORD_LIMIT_MIN);
    for (int extra = 0; extra <= 1; extra++) {
        o.max_record_bytes = 64;
        f = dmvf_filter_create(pol, kr, &police, &o, &err);
        stream.n = 0;
        put_varint(&stream, dmvf_stream_record_limit(64) + (size_t)extra);
        put(&stream, "abc", 3);
        dmvf_in_buffer in3 = {stream.p, stream.n, 0};
        ob.pos = 0;
        memset(&err, 0, sizeof err);
        int rc = dmvf_filter_stream(f, &ob, &in3, 0, &err);
        CHECK_EQ_INT(rc, extra ? DMVF_ETOOBIG : DMVF_OK); /* at the limit: buffered, waiting for more */
        if (extra)
            CHECK_EQ_INT(err.offset, 0);
        dmvf_filter_free(f);
    }

    /* a record exactly at the limit passes; one byte more does not */
    rec.n = 0;
    put_str(&rec, 1, big); /* 101 bytes */
    size_t lim = rec.n;
    for (int extra = 0; extra <= 1; extra++) {
        o.max_record_bytes = lim - (size_t)extra;
        f = dmvf_filter_create(pol, kr, &police, &o, &err);
        stream.n = 0;
        delimited(&stream, &rec);
        dmvf_in_buffer in2 = {stream.p, stream.n, 0};
        ob.pos = 0;
        int rc = dmvf_filter_stream(f, &ob, &in2, 1, &err);
        CHECK_EQ_INT(rc, extra ? DMVF_ETOOBIG : DMVF_OK);
        dmvf_filter_free(f);
    }
    free(rec.p);
    free(stream.p);
}

static void test_nesting(void)
{
    /* 100,000 levels: each level is field 2 (person at the top, given_name
     * below it) wrapping the next. */
    buf a = {0}, b = {0};
    put_str(&a, 1, "X");
    for (int i = 0; i < 100000; i++) {
        b.n = 0;
        put_len(&b, 2, a.p, a.n);
        buf t = a;
        a = b;
        b = t;
    }
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &judged, &err);
    CHECK(f != NULL);
    if (f) {
        int rc = rewrite_rc(f, &a, &err);
        CHECK_MSG(rc == DMVF_OK || rc == DMVF_EMALFORMED, "deep nesting: rc %d", rc);
        dmvf_filter_free(f);
    }
    /* unknown fields nested deeply are skipped, never descended into */
    buf rec = {0};
    put_str(&rec, 1, "R1");
    put_len(&rec, 30, a.p, a.n);
    f = dmvf_filter_create(pol, kr, &police, &judged, &err);
    if (f) {
        size_t cap = 4096, n = 0;
        unsigned char *out = malloc(cap);
        int rc = dmvf_filter_record(f, rec.p, rec.n, out, cap, &n, NULL, &err);
        CHECK_EQ_INT(rc, DMVF_OK);
        CHECK_MSG(n < 100, "the unknown nested field is gone (%zu bytes out)", n);
        free(out);
        dmvf_filter_free(f);
    }
    free(rec.p);
    free(a.p);
    free(b.p);
}

/* A framed stream: one request frame, then `nrec` record frames. */
static void framed_input(buf *s, const char *id, unsigned nrec)
{
    Dmv__V1__Request r = DMV__V1__REQUEST__INIT;
    r.request_id = (char *)id;
    r.ori = "NY0300000";
    r.agency_kind = DMV__V1__AGENCY_KIND__AGENCY_KIND_LOCAL;
    r.jurisdiction = "NY";
    r.purpose = 1;
    r.query_kind = DMV__V1__QUERY_KIND__QUERY_KIND_BY_LICENSE;
    size_t rn = dmv__v1__request__get_packed_size(&r);
    unsigned char *rp = malloc(rn);
    dmv__v1__request__pack(&r, rp);
    buf frame = {0}, rec = {0};
    put_len(&frame, 1, rp, rn);
    delimited(s, &frame);
    put_str(&rec, 1, "R1");
    for (unsigned i = 0; i < nrec; i++) {
        frame.n = 0;
        put_len(&frame, 2, rec.p, rec.n);
        delimited(s, &frame);
    }
    free(rp);
    free(frame.p);
    free(rec.p);
}

/* Counts trailer frames (Frame field 3) in a framed output; -1 if it does
 * not parse as whole frames. */
static int count_trailers(const unsigned char *p, size_t n)
{
    size_t i = 0;
    int t = 0;
    while (i < n) {
        uint64_t len = 0;
        unsigned shift = 0;
        while (i < n && (p[i] & 0x80)) {
            len |= (uint64_t)(p[i++] & 0x7f) << shift;
            shift += 7;
        }
        if (i >= n)
            return -1;
        len |= (uint64_t)p[i++] << shift;
        if (len == 0 || len > n - i)
            return -1;
        if (p[i] == 0x1a)
            t++;
        i += (size_t)len;
    }
    return t;
}

static void test_frames_per_request(void)
{
    CHECK_EQ_INT(DMVF_DEFAULT_MAX_REQUEST_FRAMES, 10000000);
    buf s = {0};
    framed_input(&s, "first", 3);
    framed_input(&s, "many", 7);
    size_t cap = 1 << 16;
    unsigned char *out = malloc(cap);
    for (unsigned limit = 6; limit <= 7; limit++) {
        dmvf_error err;
        memset(&err, 0, sizeof err);
        dmvf_framed *fr = dmvf_framed_create(pol, kr, &judged, &err);
        CHECK(fr != NULL);
        if (!fr)
            break;
        dmvf_framed_set_max_request_frames(fr, limit);
        dmvf_in_buffer in = {s.p, s.n, 0};
        dmvf_out_buffer ob = {out, cap, 0};
        int rc = dmvf_framed_stream(fr, &ob, &in, 1, &err);
        if (limit == 7) {
            CHECK_EQ_INT(rc, DMVF_OK);
            CHECK_EQ_INT(count_trailers(out, ob.pos), 2);
        } else {
            CHECK_EQ_INT(rc, DMVF_ETOOBIG);
            CHECK_MSG(strstr(err.msg, "'many'") && strstr(err.msg, "more than 6 record frames"),
                      "message names the request and the limit: %s", err.msg);
            CHECK_EQ_INT(err.record, 1 + 3 + 1 + 6); /* frame index of the 7th record frame */
            CHECK(err.offset > 0 && err.offset < s.n);
            /* the first request is complete, the failed one has no trailer */
            CHECK_EQ_INT(count_trailers(out, ob.pos), 1);
            dmvf_framed_stats st;
            dmvf_framed_stats_get(fr, &st);
            CHECK_EQ_INT(st.requests, 2);
            CHECK_EQ_INT(st.released, 1);
            ob.pos = 0;
            CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &in, 1, &err), DMVF_ESTATE);
            CHECK_EQ_INT(ob.pos, 0);
        }
        dmvf_framed_free(fr);
    }
    /* 0 restores the default */
    dmvf_framed *fr = dmvf_framed_create(pol, kr, &judged, NULL);
    dmvf_framed_set_max_request_frames(fr, 1);
    dmvf_framed_set_max_request_frames(fr, 0);
    dmvf_in_buffer in = {s.p, s.n, 0};
    dmvf_out_buffer ob = {out, cap, 0};
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &in, 1, NULL), DMVF_OK);
    dmvf_framed_free(fr);

    /* a frame larger than max_record_bytes + 16 is refused */
    dmvf_filter_options o = {.max_record_bytes = 32, .as_of = 20261122};
    fr = dmvf_framed_create(pol, kr, &o, NULL);
    buf big = {0}, frame = {0}, rec = {0};
    framed_input(&big, "big", 0);
    put_str(&rec, 1, "0123456789012345678901234567890123456789012345678901234567890123456789");
    put_len(&frame, 2, rec.p, rec.n);
    delimited(&big, &frame);
    dmvf_error err;
    dmvf_in_buffer bin = {big.p, big.n, 0};
    ob.pos = 0;
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &bin, 1, &err), DMVF_ETOOBIG);
    CHECK_EQ_INT(count_trailers(out, ob.pos), 0);
    dmvf_framed_free(fr);
    free(big.p);
    free(frame.p);
    free(rec.p);
    free(out);
    free(s.p);
}

/* Streams `in` through a new filter (framed: a framed stream) taking `step`
 * input bytes and at most `room` output bytes per call; the output, or NULL
 * on an error. */
static unsigned char *stream_by(int framed, const buf *in, size_t step, size_t room, size_t *n)
{
    dmvf_filter *f = framed ? NULL : dmvf_filter_create(pol, kr, &police, &judged, NULL);
    dmvf_framed *fr = framed ? dmvf_framed_create(pol, kr, &judged, NULL) : NULL;
    buf out = {0};
    unsigned char *tmp = malloc(room);
    size_t pos = 0;
    int rc = DMVF_OK;
    *n = 0;
    while (rc == DMVF_OK) {
        size_t k = in->n - pos < step ? in->n - pos : step;
        int end = pos + k == in->n;
        dmvf_in_buffer ib = {in->p + pos, k, 0};
        do {
            dmvf_out_buffer ob = {tmp, room, 0};
            rc = framed ? dmvf_framed_stream(fr, &ob, &ib, end, NULL)
                        : dmvf_filter_stream(f, &ob, &ib, end, NULL);
            put(&out, tmp, ob.pos);
        } while (rc == DMVF_ESPACE);
        if (rc == DMVF_OK && ib.pos != k)
            rc = -1;
        pos += k;
        if (end)
            break;
    }
    free(tmp);
    dmvf_filter_free(f);
    dmvf_framed_free(fr);
    if (rc != DMVF_OK) {
        free(out.p);
        return NULL;
    }
    *n = out.n;
    return out.p ? out.p : malloc(1);
}

/* A reader that delivers one byte at a time and a writer that takes one
 * byte at a time see the same bytes as whole buffers. */
static void test_one_byte(void)
{
    buf recs = {0}, rec = {0}, framed = {0};
    for (unsigned i = 0; i < 40; i++) {
        repeated_record(&rec, (int)(i % 4), 1 + i * 7);
        delimited(&recs, &rec);
    }
    framed_input(&framed, "one-a", 5);
    framed_input(&framed, "one-b", 9);
    for (int fm = 0; fm <= 1; fm++) {
        const buf *in = fm ? &framed : &recs;
        size_t n1 = 0, n2 = 0;
        unsigned char *whole = stream_by(fm, in, in->n, 1 << 20, &n1);
        unsigned char *bytes = stream_by(fm, in, 1, 1, &n2);
        CHECK_MSG(whole != NULL && n1 > 0, "%s: whole-buffer run", fm ? "framed" : "records");
        CHECK_MSG(bytes != NULL && n1 == n2 && whole && memcmp(whole, bytes, n1) == 0,
                  "%s: one byte at a time gives the same %zu bytes (got %zu)", fm ? "framed" : "records",
                  n1, n2);
        free(whole);
        free(bytes);
    }
    free(recs.p);
    free(rec.p);
    free(framed.p);
}

static void test_policy_size(const char *dir)
{
    size_t n = ((size_t)1 << 20) + 1;
    char *y = malloc(n);
    memset(y, '#', n);
    y[0] = '#';
    for (size_t i = 80; i < n; i += 80)
        y[i] = '\n';
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_policy *p = dmvf_policy_load_buffer(y, n, "big.yaml", &err);
    CHECK(p == NULL);
    CHECK_EQ_INT(err.code, DMVF_EPOLICY);
    CHECK_MSG(strstr(err.msg, "1 MiB") != NULL, "%s", err.msg);
    char path[4096];
    snprintf(path, sizeof path, "%s/big.yaml", dir);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp) {
        fwrite(y, 1, n, fp);
        fclose(fp);
        memset(&err, 0, sizeof err);
        p = dmvf_policy_load_file(path, &err);
        CHECK(p == NULL);
        CHECK_EQ_INT(err.code, DMVF_EPOLICY);
        CHECK_MSG(strstr(err.msg, "1 MiB") != NULL, "%s", err.msg);
    }
    dmvf_policy_free(p);
    free(y);
}

int main(void)
{
    char dir[] = "/tmp/dmvf-limits-XXXXXX", path[4096];
    const char *src = getenv("DMVF_SRC");
    CHECK(src != NULL);
    if (!src || !mkdtemp(dir))
        CHECK_DONE();
    static const uint8_t seed[32] = "dmvfilter limits test keyring!!";
    dmvf_error err;
    snprintf(path, sizeof path, "%s/keyring", dir);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(path, seed, 1, &err), DMVF_OK);
    kr = dmvf_keyring_load(path, NULL, &err);
    snprintf(path, sizeof path, "%s/examples/policy.yaml", src);
    pol = dmvf_policy_load_file(path, &err);
    CHECK(kr != NULL && pol != NULL);
    if (kr && pol) {
        test_repeated();
        test_record_size();
        test_nesting();
        test_frames_per_request();
        test_one_byte();
        test_policy_size(dir);
    }
    dmvf_policy_free(pol);
    dmvf_keyring_free(kr);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    CHECK(system(path) == 0);
    CHECK_DONE();
}
