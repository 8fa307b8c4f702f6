/*
 * test_sticky.c - the one rule for sticky errors (common.h) on each handle
 * that has them: a filter, a framed stream, a release verifier.
 *
 *   no error yet              *_last_error: DMVF_OK, record cleared
 *   the first error           kept with its message, offset and record,
 *                             also when the failing call had no err
 *   later failing calls       filter and framed: DMVF_ESTATE; verifier: the
 *                             same code and message; the kept error stays
 *                             the first
 *   not sticky                DMVF_ESPACE, DMVF_EREFUSED, a sealed framed
 *                             stream's DMVF_ESTATE: nothing is kept
 *   dmvf_filter_reset         clears the filter's; a later error is kept anew
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "fixture.h"

static dmvf_policy *pol;
static dmvf_keyring *kr;
static const dmvf_request police = {
    .request_id = "sticky-1", .ori = "NY0300000", .agency_kind = DMVF_AGENCY_LOCAL,
    .jurisdiction = "NY", .purpose = 1, .query_kind = DMVF_QUERY_BY_LICENSE};
/* a request without an ORI: denied as a bad request */
static const dmvf_request nobody = {.request_id = "sticky-2"};
/* Requests are judged as of one day (dmvf_filter_options.as_of), so that the
 * example policy's certification dates never expire under the test. */
static const dmvf_filter_options judged = {.as_of = 20261122};


/* A DriverRecord: record_id "R1", person { family_name "DOE" }. */
static const unsigned char good_rec[] = {0x0a, 0x02, 'R', '1', 0x12, 0x05, 0x0a, 0x03, 'D', 'O', 'E'};
/* The same as a delimited stream of one record. */
static const unsigned char good_delim[] = {0x0b, 0x0a, 0x02, 'R', '1', 0x12, 0x05, 0x0a, 0x03,
                                           'D', 'O', 'E'};
/* Not a record: a key with an unterminated varint. */
static const unsigned char bad_rec[] = {0xff, 0xff, 0xff};

/* The record *_last_error gives when there is none. */
static int is_cleared(const dmvf_error *e)
{
    return e->code == DMVF_OK && e->msg[0] == '\0' && e->line == 0 && e->column == 0 &&
           e->offset == 0 && e->record == UINT64_MAX;
}

static int same_error(const dmvf_error *a, const dmvf_error *b)
{
    return a->code == b->code && strcmp(a->msg, b->msg) == 0 && a->line == b->line &&
           a->column == b->column && a->offset == b->offset && a->record == b->record;
}

static void filter_last_error(void)
{
    dmvf_error err, got, first;
    unsigned char out[4096];
    size_t n;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &judged, &err);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_RELEASE);

    /* none yet: DMVF_OK, the record cleared (whatever it held), out may be NULL */
    memset(&got, 0x5a, sizeof got);
    CHECK_EQ_INT(dmvf_filter_last_error(f, &got), DMVF_OK);
    CHECK(is_cleared(&got));
    CHECK_EQ_INT(dmvf_filter_last_error(f, NULL), DMVF_OK);

    /* DMVF_ESPACE is not an error */
    CHECK_EQ_INT(dmvf_filter_record(f, good_rec, sizeof good_rec, out, 1, &n, NULL, &err), DMVF_ESPACE);
    CHECK_EQ_INT(dmvf_filter_last_error(f, &got), DMVF_OK);
    CHECK_EQ_INT(dmvf_filter_record(f, good_rec, sizeof good_rec, out, sizeof out, &n, NULL, &err),
                 DMVF_OK);

    /* the first error, made by a call without an err, is kept whole */
    CHECK_EQ_INT(dmvf_filter_record(f, bad_rec, sizeof bad_rec, out, sizeof out, &n, NULL, NULL),
                 DMVF_EMALFORMED);
    CHECK_EQ_INT(dmvf_filter_last_error(f, &first), DMVF_EMALFORMED);
    CHECK_EQ_INT(first.code, DMVF_EMALFORMED);
    CHECK(first.msg[0] != '\0');
    CHECK_EQ_INT(first.record, 1);
    CHECK_EQ_INT(dmvf_filter_last_error(f, NULL), DMVF_EMALFORMED);

    /* several failing calls later it is still the first */
    dmvf_in_buffer in = {good_delim, sizeof good_delim, 0};
    dmvf_out_buffer ob = {out, sizeof out, 0};
    dmvf_trailer t;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(dmvf_filter_record(f, good_rec, sizeof good_rec, out, sizeof out, &n, NULL, &err),
                     DMVF_ESTATE);
        CHECK_EQ_INT(err.code, DMVF_ESTATE);
        CHECK(strstr(err.msg, dmvf_strerror(DMVF_EMALFORMED)) != NULL);
        CHECK_EQ_INT(dmvf_filter_record(f, bad_rec, sizeof bad_rec, out, sizeof out, &n, NULL, NULL),
                     DMVF_ESTATE);
        CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &in, 1, &err), DMVF_ESTATE);
        CHECK_EQ_INT(dmvf_filter_finish(f, &t), DMVF_ESTATE);
    }
    CHECK_EQ_INT(in.pos, 0);
    CHECK_EQ_INT(ob.pos, 0);
    CHECK_EQ_INT(dmvf_filter_last_error(f, &got), DMVF_EMALFORMED);
    CHECK(same_error(&got, &first));

    /* reset clears it */
    dmvf_filter_reset(f);
    memset(&got, 0x5a, sizeof got);
    CHECK_EQ_INT(dmvf_filter_last_error(f, &got), DMVF_OK);
    CHECK(is_cleared(&got));
    CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &in, 1, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf_filter_last_error(f, NULL), DMVF_OK);

    /* a stream error after the reset is kept anew, as the stream gave it:
     * the second record's length prefix runs past the end */
    dmvf_filter_reset(f);
    unsigned char two[sizeof good_delim + 3];
    memcpy(two, good_delim, sizeof good_delim);
    two[sizeof good_delim] = 0x20;
    two[sizeof good_delim + 1] = 0x0a;
    two[sizeof good_delim + 2] = 0x02;
    dmvf_in_buffer tin = {two, sizeof two, 0};
    ob.pos = 0;
    CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &tin, 1, &err), DMVF_EMALFORMED);
    CHECK_EQ_INT(dmvf_filter_last_error(f, &first), DMVF_EMALFORMED);
    CHECK(same_error(&first, &err));
    CHECK_EQ_INT(first.offset, sizeof good_delim);
    CHECK_EQ_INT(first.record, 1);
    for (int i = 0; i < 2; i++) {
        in.pos = 0;
        CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &in, 1, &err), DMVF_ESTATE);
        CHECK_EQ_INT(dmvf_filter_record(f, bad_rec, sizeof bad_rec, out, sizeof out, &n, NULL, &err),
                     DMVF_ESTATE);
    }
    CHECK_EQ_INT(dmvf_filter_last_error(f, &got), DMVF_EMALFORMED);
    CHECK(same_error(&got, &first));
    dmvf_filter_free(f);
}

/* A call without an err returns the code it keeps (a record over the
 * limit is DMVF_ETOOBIG, not a generic malformed). */
static void filter_no_err(void)
{
    dmvf_error err, got;
    unsigned char out[256];
    dmvf_filter_options o = {.max_record_bytes = 4, .as_of = 20261122};
    dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &o, &err);
    CHECK(f != NULL);
    if (!f)
        return;
    dmvf_in_buffer in = {good_delim, sizeof good_delim, 0};
    dmvf_out_buffer ob = {out, sizeof out, 0};
    CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &in, 1, NULL), DMVF_ETOOBIG);
    CHECK_EQ_INT(dmvf_filter_last_error(f, &got), DMVF_ETOOBIG);
    CHECK(strstr(got.msg, "exceeds the limit") != NULL);
    CHECK_EQ_INT(got.record, 0);
    dmvf_filter_free(f);
}

/* A refusal is the decision, not an error: nothing is kept. */
static void filter_refusal(void)
{
    dmvf_error err, got;
    unsigned char out[256];
    size_t n;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &nobody, &judged, &err);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_DENY);
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(dmvf_filter_record(f, good_rec, sizeof good_rec, out, sizeof out, &n, NULL, &err),
                     DMVF_EREFUSED);
    CHECK_EQ_INT(dmvf_filter_last_error(f, &got), DMVF_OK);
    CHECK(is_cleared(&got));
    dmvf_trailer t;
    CHECK_EQ_INT(dmvf_filter_finish(f, &t), DMVF_OK);
    dmvf_filter_free(f);
}

static void framed_last_error(void)
{
    dmvf_error err, got, first;
    dmvf_framed *fr = dmvf_framed_create(pol, kr, NULL, &err);
    CHECK(fr != NULL);
    if (!fr)
        return;
    memset(&got, 0x5a, sizeof got);
    CHECK_EQ_INT(dmvf_framed_last_error(fr, &got), DMVF_OK);
    CHECK(is_cleared(&got));

    /* a record frame before any request frame, given without an err */
    unsigned char out[256];
    unsigned char frame[3 + sizeof good_rec];
    frame[0] = (unsigned char)(2 + sizeof good_rec);
    frame[1] = 0x12;
    frame[2] = sizeof good_rec;
    memcpy(frame + 3, good_rec, sizeof good_rec);
    dmvf_in_buffer in = {frame, sizeof frame, 0};
    dmvf_out_buffer ob = {out, sizeof out, 0};
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &in, 1, NULL), DMVF_EMALFORMED);
    CHECK_EQ_INT(dmvf_framed_last_error(fr, &first), DMVF_EMALFORMED);
    CHECK(strstr(first.msg, "outside a request") != NULL);
    CHECK_EQ_INT(first.offset, 0);
    CHECK_EQ_INT(first.record, 0);

    /* later calls: DMVF_ESTATE, for good; the first stays */
    for (int i = 0; i < 3; i++) {
        in.pos = 0;
        memset(&err, 0, sizeof err);
        CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &in, 1, &err), DMVF_ESTATE);
        CHECK_EQ_INT(err.code, DMVF_ESTATE);
        CHECK_EQ_INT(in.pos, 0);
        CHECK_EQ_INT(ob.pos, 0);
    }
    CHECK_EQ_INT(dmvf_framed_last_error(fr, &got), DMVF_EMALFORMED);
    CHECK(same_error(&got, &first));
    CHECK_EQ_INT(dmvf_framed_last_error(fr, NULL), DMVF_EMALFORMED);
    dmvf_framed_free(fr);

    /* after the seal, more input is DMVF_ESTATE but not an error kept */
    fr = dmvf_framed_create(pol, kr, NULL, &err);
    CHECK(fr != NULL);
    if (!fr)
        return;
    dmvf_in_buffer none = {frame, 0, 0};
    ob.pos = 0;
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &none, 1, &err), DMVF_OK);
    CHECK(ob.pos > 0);
    in.pos = 0;
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &in, 1, &err), DMVF_ESTATE);
    CHECK_EQ_INT(dmvf_framed_last_error(fr, &got), DMVF_OK);
    CHECK(is_cleared(&got));
    dmvf_framed_free(fr);
}

/* The release of an empty framed input: the seal alone. */
static size_t seal_only(unsigned char *out, size_t cap)
{
    dmvf_error err;
    dmvf_framed *fr = dmvf_framed_create(pol, kr, NULL, &err);
    if (!fr)
        return 0;
    dmvf_in_buffer none = {out, 0, 0};
    dmvf_out_buffer ob = {out, cap, 0};
    int rc = dmvf_framed_stream(fr, &ob, &none, 1, &err);
    dmvf_framed_free(fr);
    return rc == DMVF_OK ? ob.pos : 0;
}

static dmvf_release_verifier *new_verifier(const uint8_t pub[32])
{
    dmvf_error err;
    dmvf_release_verifier *v = dmvf_release_verifier_create(pub, &err);
    CHECK(v != NULL);
    return v;
}

static void verifier_last_error(void)
{
    unsigned char rel[512];
    size_t n = seal_only(rel, sizeof rel);
    CHECK(n > 0);
    if (!n)
        return;
    uint8_t pub[DMVF_PUBLIC_KEY_LEN];
    dmvf_keyring_public_key(kr, pub);
    uint64_t requests = 99;
    dmvf_error err, got, first;
    CHECK_EQ_INT(dmvf_release_verify(rel, n, pub, &requests, &err), DMVF_OK);
    CHECK_EQ_INT(requests, 0);

    /* a good release: no error, before and after final */
    dmvf_release_verifier *v = new_verifier(pub);
    if (!v)
        return;
    memset(&got, 0x5a, sizeof got);
    CHECK_EQ_INT(dmvf_release_verifier_last_error(v, &got), DMVF_OK);
    CHECK(is_cleared(&got));
    CHECK_EQ_INT(dmvf_release_verifier_update(v, rel, n, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf_release_verifier_final(v, &requests, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf_release_verifier_last_error(v, NULL), DMVF_OK);
    dmvf_release_verifier_free(v);

    /* the last byte changed (inside the seal's signature), given without
     * an err: kept; every later update and final repeat it */
    rel[n - 1] ^= 0x01;
    if (!(v = new_verifier(pub)))
        return;
    CHECK_EQ_INT(dmvf_release_verifier_update(v, rel, n, NULL), DMVF_ETAMPER);
    CHECK_EQ_INT(dmvf_release_verifier_last_error(v, &first), DMVF_ETAMPER);
    CHECK(strstr(first.msg, "frame 0 at byte offset 0") != NULL);
    CHECK_EQ_INT(first.record, 0);
    for (int i = 0; i < 3; i++) {
        memset(&err, 0, sizeof err);
        CHECK_EQ_INT(dmvf_release_verifier_update(v, rel, n, &err), DMVF_ETAMPER);
        CHECK(same_error(&err, &first));
        memset(&err, 0, sizeof err);
        CHECK_EQ_INT(dmvf_release_verifier_final(v, &requests, &err), DMVF_ETAMPER);
        CHECK(same_error(&err, &first));
        CHECK_EQ_INT(requests, 0);
    }
    CHECK_EQ_INT(dmvf_release_verifier_last_error(v, &got), DMVF_ETAMPER);
    CHECK(same_error(&got, &first));
    dmvf_release_verifier_free(v);
    rel[n - 1] ^= 0x01;

    /* cut short: update is content, final fails, and that is kept too */
    if (!(v = new_verifier(pub)))
        return;
    CHECK_EQ_INT(dmvf_release_verifier_update(v, rel, n - 1, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf_release_verifier_last_error(v, NULL), DMVF_OK);
    CHECK_EQ_INT(dmvf_release_verifier_final(v, &requests, &first), DMVF_ETAMPER);
    CHECK(strstr(first.msg, "truncated") != NULL);
    CHECK_EQ_INT(dmvf_release_verifier_update(v, rel + n - 1, 1, &err), DMVF_ETAMPER);
    CHECK(same_error(&err, &first));
    CHECK_EQ_INT(dmvf_release_verifier_last_error(v, &got), DMVF_ETAMPER);
    CHECK(same_error(&got, &first));
    dmvf_release_verifier_free(v);
}

int main(void)
{
    static const uint8_t seed[32] = "dmvfilter sticky test keyring!!";
    if (fixture_open("sticky", seed, 1, &pol, &kr) != 0)
        CHECK_DONE();

    filter_last_error();
    filter_no_err();
    filter_refusal();
    framed_last_error();
    verifier_last_error();

    dmvf_policy_free(pol);
    dmvf_keyring_free(kr);
    CHECK_DONE();
}
