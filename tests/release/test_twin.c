/*
 * test_twin.c - the license-marking suppression invariant (DESIGN.md).
 *
 * For records r and their twins r' (dmvf-gen --twins: identical except in M
 * and C fields, class "DP"/"D" and the "FLA" restriction), and for every
 * requester the example policy releases to without "marking: release", the
 * released bytes of r and r' must be identical. Also: the pairs really
 * differ (in bytes and in marking), they differ only where twins may, the
 * output is deterministic, and for the DMV's own internal use (marking
 * released) the same comparison does see differences, so it can fail.
 *
 * Spelling twins: in the fields where states write their marking values
 * (class N: class code, restrictions, endorsements) the marked side of a
 * pair holds an odd spelling of one ("dp", " DP", "DP\0", "fla", "FLA ",
 * "F\u200bLA") or a value on no allow list ("TVDL"), its twin holds nothing
 * there (or, for the class code, another value on no allow list): the
 * releases must be identical, under the example policy and under one whose
 * police profile releases endorsements too.
 *
 * The same holds for every valid encoding of the M and C fields and for
 * every limit (issue 11): the generator's --hostile pairs (groups, pieces,
 * M and C fields in other encodings), and shapes made here from the marked
 * pairs, each applied to the record and never to its twin: marking in two
 * pieces (also with an empty first piece), marking holding an unknown
 * group and unknown fields of every other wire type, M and C fields with
 * the wrong wire type (marking as a group, documents as fixed32, race as a
 * varint, ...), 10,001 documents, garbage inside marking that still frames,
 * and a marking of 3,000 bytes that takes the record past
 * max_record_bytes while its twin stays under. For every requester without
 * marking: release, with and without drop_malformed, record by record and
 * through dmvf_filter_stream with max_record_bytes 1024, the status, the
 * dropped flag, the error's record index and the released bytes of the
 * shaped record equal its twin's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"
#include "filter/core/varint.h"
#include "filter/wire/rewrite.h"
#include "filter/wire/schema.h"
#include "dmv/v1/record.pb-c.h"
#include "check.h"
#include "fixture.h"

typedef struct span { const uint8_t *p; size_t n; } span;

typedef struct stream {
    uint8_t *data;
    size_t size;
    span *rec;
    size_t n;
} stream;

/* Splits s->data[0..s->size) into its delimited records. */
static int split_stream(stream *s)
{
    size_t rcap = 1024, pos = 0;
    s->rec = malloc(rcap * sizeof *s->rec);
    while (pos < s->size) {
        uint64_t len = 0;
        unsigned shift = 0;
        for (;;) {
            if (pos >= s->size || shift > 63)
                return -1;
            uint8_t c = s->data[pos++];
            len |= (uint64_t)(c & 0x7f) << shift;
            shift += 7;
            if (!(c & 0x80))
                break;
        }
        if (len > s->size - pos)
            return -1;
        if (s->n == rcap)
            s->rec = realloc(s->rec, (rcap *= 2) * sizeof *s->rec);
        s->rec[s->n++] = (span){s->data + pos, (size_t)len};
        pos += (size_t)len;
    }
    return 0;
}

static int read_stream(const char *path, stream *s)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 20;
    s->data = malloc(cap);
    size_t got;
    while (s->data && (got = fread(s->data + s->size, 1, cap - s->size, f)) > 0) {
        s->size += got;
        if (s->size == cap)
            s->data = realloc(s->data, cap *= 2);
    }
    fclose(f);
    if (!s->data)
        return -1;
    return split_stream(s);
}

static void free_stream(stream *s)
{
    free(s->data);
    free(s->rec);
}

/* Output buffer that grows on DMVF_ESPACE. */
typedef struct obuf { uint8_t *p; size_t cap, len; } obuf;

static int filter_one(dmvf_filter *f, span in, obuf *o, dmvf_error *err)
{
    if (dmvf_filter_max_records(f))
        dmvf_filter_reset(f);  /* each record is judged as its own request */
    for (;;) {
        int dropped = 0;
        int rc = dmvf_filter_record(f, in.p, in.n, o->p, o->cap, &o->len, &dropped, err);
        if (rc != DMVF_ESPACE)
            return rc;
        o->cap = o->cap ? o->cap * 2 : 4096;
        o->p = realloc(o->p, o->cap);
        if (!o->p)
            return DMVF_ENOMEM;
    }
}

/* Every request is judged as of one day (the filter's as_of). */
static const dmvf_filter_options judged = {.as_of = 20250601};

/* ---- requesters ---- */

typedef struct requester {
    const char *name;
    dmvf_request req;
    int marking_released;   /* the rule says marking: release: differences expected */
} requester;

static const char *const immigration_tags[] = {"immigration-enforcement"};

static void make_requesters(requester *r, size_t *n)
{
    size_t k = 0;
    memset(r, 0, 4 * sizeof *r);

    r[k].name = "in-state police";
    r[k].req.request_id = "twin-police";
    r[k].req.ori = "NY0303000";
    r[k].req.agency_kind = DMVF_AGENCY_LOCAL;
    r[k].req.jurisdiction = "NY";
    r[k].req.purpose = 1;
    r[k].req.legal_process = DMVF_LEGAL_NONE;
    r[k].req.query_kind = DMVF_QUERY_BY_LICENSE;
    k++;

    r[k].name = "immigration enforcement";
    r[k].req.request_id = "twin-ice";
    r[k].req.ori = "DCICE0100";
    r[k].req.agency_kind = DMVF_AGENCY_FEDERAL;
    r[k].req.jurisdiction = "DC";
    r[k].req.tags = immigration_tags;
    r[k].req.ntags = 1;
    r[k].req.purpose = 1;
    r[k].req.legal_process = DMVF_LEGAL_JUDICIAL_WARRANT;
    r[k].req.legal_reference = "1:25-mj-00042";
    r[k].req.query_kind = DMVF_QUERY_BY_LICENSE;
    k++;

    r[k].name = "researchers";
    r[k].req.request_id = "twin-research";
    r[k].req.ori = "NYUNIV001";
    r[k].req.agency_kind = DMVF_AGENCY_RESEARCH;
    r[k].req.jurisdiction = "NY";
    r[k].req.purpose = 5;
    r[k].req.query_kind = DMVF_QUERY_LIST;
    k++;

    r[k].name = "dmv internal";
    r[k].req.request_id = "twin-internal";
    r[k].req.ori = "NYDMV0000";
    r[k].req.agency_kind = DMVF_AGENCY_INTERNAL;
    r[k].req.jurisdiction = "NY";
    r[k].req.query_kind = DMVF_QUERY_BY_LICENSE;
    r[k].marking_released = 1;
    k++;
    *n = k;
}

/* ---- the generator's side of the contract: twins differ only where allowed ---- */

static const char *norm_class(const char *s) { return strcmp(s, "DP") == 0 ? "D" : s; }

static int same_shared(const ProtobufCMessage *a, const ProtobufCMessage *b, const dmvf_snode *node)
{
    for (size_t i = 0; i < node->nfields; i++) {
        const dmvf_sfield *sf = &node->fields[i];
        const ProtobufCFieldDescriptor *fd = sf->fd;
        if (sf->klass & (DMVF_CLASS_M | DMVF_CLASS_C))
            continue;
        const char *pa = (const char *)a + fd->offset, *pb = (const char *)b + fd->offset;
        if (sf->repeated) {
            size_t na = *(const size_t *)((const char *)a + fd->quantifier_offset);
            size_t nb = *(const size_t *)((const char *)b + fd->quantifier_offset);
            if (sf->type == DMVF_T_STRING) {
                char *const *sa = *(char *const *const *)pa, *const *sb = *(char *const *const *)pb;
                int drop = strcmp(sf->path, "license.restrictions") == 0;
                size_t x = 0, y = 0;
                for (;;) {
                    while (drop && x < na && strcmp(sa[x], "FLA") == 0) x++;
                    while (drop && y < nb && strcmp(sb[y], "FLA") == 0) y++;
                    if (x == na || y == nb)
                        break;
                    if (strcmp(sa[x++], sb[y++]) != 0)
                        return 0;
                }
                if (x != na || y != nb)
                    return 0;
            } else if (sf->type == DMVF_T_MESSAGE) {
                if (na != nb)
                    return 0;
                for (size_t k = 0; k < na; k++)
                    if (!same_shared((*(ProtobufCMessage *const *const *)pa)[k],
                                     (*(ProtobufCMessage *const *const *)pb)[k], sf->child))
                        return 0;
            } else {
                return 0;
            }
            continue;
        }
        switch (sf->type) {
        case DMVF_T_STRING: {
            const char *sa = *(const char *const *)pa, *sb = *(const char *const *)pb;
            if (strcmp(sf->path, "license.class_code") == 0) {
                sa = norm_class(sa);
                sb = norm_class(sb);
            }
            if (strcmp(sa, sb) != 0)
                return 0;
            break;
        }
        case DMVF_T_BYTES: {
            const ProtobufCBinaryData *x = (const void *)pa, *y = (const void *)pb;
            if (x->len != y->len || (x->len && memcmp(x->data, y->data, x->len) != 0))
                return 0;
            break;
        }
        case DMVF_T_MESSAGE: {
            const ProtobufCMessage *x = *(ProtobufCMessage *const *)pa, *y = *(ProtobufCMessage *const *)pb;
            if (!x != !y || (x && !same_shared(x, y, sf->child)))
                return 0;
            break;
        }
        default:
            if (*(const uint32_t *)pa != *(const uint32_t *)pb)
                return 0;
            break;
        }
    }
    return 1;
}

static int is_marked(const Dmv__V1__DriverRecord *r)
{
    return r->marking && r->marking->compliance == DMV__V1__MARKING__COMPLIANCE__COMPLIANCE_NONCOMPLIANT;
}

/* Checks the generated pairs themselves; returns how many pairs flip marking. */
static size_t check_pairs(const char *what, const stream *a, const stream *b, size_t *differ)
{
    size_t flips = 0, bad = 0, unpack_fail = 0;
    *differ = 0;
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        if (a->rec[i].n != b->rec[i].n || memcmp(a->rec[i].p, b->rec[i].p, a->rec[i].n) != 0)
            (*differ)++;
        Dmv__V1__DriverRecord *x = dmv__v1__driver_record__unpack(NULL, a->rec[i].n, a->rec[i].p);
        Dmv__V1__DriverRecord *y = dmv__v1__driver_record__unpack(NULL, b->rec[i].n, b->rec[i].p);
        if (!x || !y) {
            unpack_fail++;
        } else {
            if (!same_shared(&x->base, &y->base, dmvf__schema_root())) {
                if (bad++ < 3)
                    fprintf(stderr, "%s: pair %zu differs outside M/C fields\n", what, i);
            }
            flips += is_marked(x) != is_marked(y);
        }
        if (x) dmv__v1__driver_record__free_unpacked(x, NULL);
        if (y) dmv__v1__driver_record__free_unpacked(y, NULL);
    }
    CHECK_EQ_INT(unpack_fail, 0);
    CHECK_EQ_INT(bad, 0);
    return flips;
}

static void hexdump(const char *label, const uint8_t *p, size_t n)
{
    fprintf(stderr, "  %s (%zu bytes):", label, n);
    for (size_t i = 0; i < n && i < 96; i++)
        fprintf(stderr, " %02x", p[i]);
    fprintf(stderr, n > 96 ? " ...\n" : "\n");
}

/* Runs every pair of a/b through every requester. */
static void twin_run(const char *what, const stream *a, const stream *b,
                     const dmvf_policy *pol, const dmvf_keyring *kr,
                     const requester *rq, size_t nrq)
{
    obuf oa = {0}, ob = {0}, oc = {0};
    for (size_t k = 0; k < nrq; k++) {
        dmvf_error err;
        dmvf_filter *f = dmvf_filter_create(pol, kr, &rq[k].req, &judged, &err);
        CHECK_MSG(f != NULL, "%s: filter for %s: %s", what, rq[k].name, err.msg);
        if (!f)
            continue;
        CHECK_MSG(dmvf_filter_decision(f) == DMVF_DECISION_RELEASE, "%s: %s not released: %s",
                  what, rq[k].name, dmvf_filter_reason(f));
        dmvf_filter *f2 = dmvf_filter_create(pol, kr, &rq[k].req, &judged, &err);
        CHECK(f2 != NULL);
        size_t mismatch = 0, errors = 0, nondet = 0, empty = 0;
        for (size_t i = 0; i < a->n && i < b->n && f2; i++) {
            int ra = filter_one(f, a->rec[i], &oa, &err);
            if (ra != DMVF_OK && errors++ < 3)
                fprintf(stderr, "%s: %s: record %zu: %s: %s\n", what, rq[k].name, i,
                        dmvf_strerror(ra), err.msg);
            int rb = filter_one(f, b->rec[i], &ob, &err);
            if (rb != DMVF_OK && errors++ < 3)
                fprintf(stderr, "%s: %s: twin %zu: %s: %s\n", what, rq[k].name, i,
                        dmvf_strerror(rb), err.msg);
            if (ra != DMVF_OK || rb != DMVF_OK) {
                dmvf_filter_reset(f);
                continue;
            }
            empty += oa.len == 0;
            if (oa.len != ob.len || memcmp(oa.p, ob.p, oa.len) != 0) {
                if (mismatch++ < 2 && !rq[k].marking_released) {
                    fprintf(stderr, "%s: %s: pair %zu released different bytes\n", what, rq[k].name, i);
                    hexdump("record", oa.p, oa.len);
                    hexdump("twin  ", ob.p, ob.len);
                }
            }
            /* determinism: the same record again, through this filter and a fresh one */
            if (i % 7 == 0) {
                int rc = filter_one(f, a->rec[i], &oc, &err);
                if (rc != DMVF_OK || oc.len != oa.len || memcmp(oc.p, oa.p, oa.len) != 0)
                    nondet++;
                rc = filter_one(f2, a->rec[i], &oc, &err);
                if (rc != DMVF_OK || oc.len != oa.len || memcmp(oc.p, oa.p, oa.len) != 0)
                    nondet++;
            }
        }
        CHECK_MSG(errors == 0, "%s: %s: %zu filter errors", what, rq[k].name, errors);
        CHECK_MSG(nondet == 0, "%s: %s: %zu nondeterministic outputs", what, rq[k].name, nondet);
        CHECK_MSG(empty == 0, "%s: %s: %zu records released as nothing", what, rq[k].name, empty);
        if (rq[k].marking_released)
            CHECK_MSG(mismatch > 0, "%s: %s releases marking, yet no pair differs: the comparison is blind",
                      what, rq[k].name);
        else
            CHECK_MSG(mismatch == 0, "%s: %s: %zu of %zu pairs released different bytes",
                      what, rq[k].name, mismatch, a->n);
        printf("%s: %-24s %zu pairs, %zu differ in output\n", what, rq[k].name, a->n, mismatch);
        dmvf_filter_free(f2);
        dmvf_filter_free(f);
    }
    free(oa.p);
    free(ob.p);
    free(oc.p);
}

/* decodable: protobuf-c reads the pairs (not --hostile), so that what
 * they hold can be compared. */
static void twin_set(const char *what, const char *genargs, size_t expect, int decodable,
                     const dmvf_policy *pol, const dmvf_keyring *kr,
                     const requester *rq, size_t nrq)
{
    char args[2048], pa[300], pb[300];
    snprintf(pa, sizeof pa, "%s/%s.a", g_dir, what);
    snprintf(pb, sizeof pb, "%s/%s.b", g_dir, what);
    snprintf(args, sizeof args, "%s --out '%s' --twins '%s'", genargs, pa, pb);
    int rc = run_gen(args);
    CHECK_MSG(rc == 0, "%s: dmvf-gen %s failed (%d)", what, args, rc);
    if (rc != 0)
        return;
    stream a, b;
    CHECK(read_stream(pa, &a) == 0);
    CHECK(read_stream(pb, &b) == 0);
    CHECK_EQ_INT(a.n, expect);
    CHECK_EQ_INT(b.n, expect);

    size_t differ = 0;
    if (decodable) {
        size_t flips = check_pairs(what, &a, &b, &differ);
        /* marking flips in about half the pairs; almost every pair differs somewhere */
        CHECK_MSG(flips > expect / 4, "%s: only %zu of %zu pairs flip marking", what, flips, expect);
        printf("%s: %zu pairs, %zu differ in input, %zu flip marking\n", what, expect, differ, flips);
    } else {
        for (size_t i = 0; i < a.n && i < b.n; i++)
            differ += a.rec[i].n != b.rec[i].n || memcmp(a.rec[i].p, b.rec[i].p, a.rec[i].n) != 0;
        printf("%s: %zu pairs, %zu differ in input\n", what, expect, differ);
    }
    CHECK_MSG(differ > expect * 9 / 10, "%s: only %zu of %zu pairs differ in input", what, differ, expect);

    twin_run(what, &a, &b, pol, kr, rq, nrq);
    free_stream(&a);
    free_stream(&b);
}

/* ---- shapes: the record re-encoded in its M and C fields only ---- */

typedef struct buf { uint8_t *p; size_t n, cap; } buf;

static void put(buf *b, const void *v, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v)
{
    uint8_t t[10];
    put(b, t, (size_t)(dmvf__put_varint(t, v) - t));
}

static void put_key(buf *b, uint32_t num, unsigned wt)
{
    put_varint(b, (uint64_t)num << 3 | wt);
}

static void put_len(buf *b, uint32_t num, const void *v, size_t n)
{
    put_key(b, num, 2);
    put_varint(b, n);
    put(b, v, n);
}

/* One field of a record: number, wire type, the whole field [at, end) and
 * its value [val, val + vlen) (dmvf__wire_field steps it). */
typedef struct fld { uint32_t num; unsigned wt; const uint8_t *at, *end, *val; size_t vlen; } fld;

static size_t fields_of(const uint8_t *p, size_t n, fld *out, size_t max)
{
    const uint8_t *e = p + n;
    size_t k = 0;
    while (p < e && k < max) {
        fld f;
        uint32_t vlen;
        size_t used = dmvf__wire_field(p, e, &f.num, &f.wt, &f.val, &vlen);
        if (!used)
            abort(); /* the generator's records step */
        f.at = p;
        f.end = p + used;
        f.vlen = vlen;
        out[k++] = f;
        p += used;
    }
    return k;
}

enum { SH_PIECES, SH_PIECES_EMPTY, SH_GROUP, SH_WIRE_TYPES, SH_WRONG_TYPES, SH_DOCUMENTS, SH_GARBAGE,
       SH_BIG, SH_ALL, SH_N };
static const char *const shape_names[SH_N] = {
    "marking in two pieces", "marking after an empty piece", "marking with an unknown group",
    "marking with unknown fields of every wire type", "M and C fields with the wrong wire type",
    "10,001 documents", "garbage inside marking", "a 3,000-byte marking", "every shape at once"};

static const uint8_t default_marking[] = {0x08, 0x02, 0x10, 0x01, 0x1a, 0x04, 'T', 'V', 'D', 'L'};

/* The marking body of r (a default one if r has none). */
static void marking_of(const fld *f, size_t nf, const uint8_t **body, size_t *n)
{
    *body = default_marking;
    *n = sizeof default_marking;
    for (size_t i = 0; i < nf; i++)
        if (f[i].num == 4 && f[i].vlen) {
            *body = f[i].val;
            *n = f[i].vlen;
        }
}

/* The marking field(s) of shape sh. */
static void shaped_marking(int sh, const uint8_t *m, size_t n, buf *out)
{
    buf b = {0};
    switch (sh) {
    case SH_PIECES: {
        fld f[16];
        size_t nf = fields_of(m, n, f, 16);
        size_t cut = nf > 1 ? (size_t)(f[nf / 2].at - m) : n;
        put_len(out, 4, m, cut);
        put_len(out, 4, m + cut, n - cut);
        break;
    }
    case SH_PIECES_EMPTY:
        put_len(out, 4, "", 0);
        put_len(out, 4, m, n);
        break;
    case SH_GROUP:
        put(&b, m, n);
        put_key(&b, 10, 3);       /* START_GROUP 10 */
        put_key(&b, 1, 0);
        put_varint(&b, 7);
        put_len(&b, 2, "in a group", 10);
        put_key(&b, 11, 3);       /* nested */
        put_key(&b, 11, 4);
        put_key(&b, 10, 4);       /* END_GROUP 10 */
        put_len(out, 4, b.p, b.n);
        break;
    case SH_WIRE_TYPES:
        put(&b, m, n);
        put_key(&b, 20, 0);
        put_varint(&b, 123456789);
        put_key(&b, 21, 1);
        put(&b, "\1\2\3\4\5\6\7\10", 8);
        put_len(&b, 22, "unknown", 7);
        put_key(&b, 23, 5);
        put(&b, "\1\2\3\4", 4);
        put_key(&b, 24, 3);
        put_key(&b, 24, 4);
        put_len(out, 4, b.p, b.n);
        break;
    case SH_GARBAGE:
        put_len(out, 4, "\xff\xff\xff\x80\x80\x0f\xfe", 7); /* no field steps in it */
        break;
    case SH_BIG: {
        put(&b, m, n);
        char legend[3000];
        memset(legend, 'F', sizeof legend);
        put_len(&b, 4, legend, sizeof legend);
        put_len(out, 4, b.p, b.n);
        break;
    }
    default:
        put_len(out, 4, m, n);
        break;
    }
    free(b.p);
}

/* A message body with C fields re-encoded: person (race as a varint,
 * voter_registered as LEN, ssn as a group) or license (expiration_date as
 * fixed32, enhanced as a group); other fields as they are. */
static void wrong_inner(uint32_t msg, const uint8_t *p, size_t n, buf *out)
{
    fld f[64];
    size_t nf = fields_of(p, n, f, 64);
    for (size_t i = 0; i < nf; i++)
        put(out, f[i].at, (size_t)(f[i].end - f[i].at));
    if (msg == 2) {
        put_key(out, 12, 0);
        put_varint(out, 42);
        put_len(out, 23, "\x01", 1);
        put_key(out, 14, 3);
        put_len(out, 1, "123-45-6789", 11);
        put_key(out, 14, 4);
    } else {
        put_key(out, 9, 5);
        put(out, "\x20\x30\x40\x50", 4);
        put_key(out, 14, 3);
        put_key(out, 14, 4);
    }
}

/* r with shape sh applied to its M and C fields only. */
static void shape_record(int sh, span r, buf *out)
{
    fld f[256];
    size_t nf = fields_of(r.p, r.n, f, 256);
    const uint8_t *m;
    size_t mn;
    marking_of(f, nf, &m, &mn);
    out->n = 0;
    int all = sh == SH_ALL;
    for (size_t i = 0; i < nf; i++) {
        if (f[i].num == 4)
            continue; /* written below */
        if ((all || sh == SH_WRONG_TYPES) && (f[i].num == 2 || f[i].num == 3)) {
            buf b = {0};
            wrong_inner(f[i].num, f[i].val, f[i].vlen, &b);
            put_len(out, f[i].num, b.p, b.n);
            free(b.p);
            continue;
        }
        if ((all || sh == SH_WRONG_TYPES) && f[i].num == 5) { /* a document as fixed32 */
            put_key(out, 5, 5);
            put(out, "DOC1", 4);
            continue;
        }
        put(out, f[i].at, (size_t)(f[i].end - f[i].at));
    }
    if (all) {
        for (int k = SH_PIECES; k <= SH_BIG; k++)
            if (k != SH_WRONG_TYPES && k != SH_DOCUMENTS)
                shaped_marking(k, m, mn, out);
    } else if (sh == SH_WRONG_TYPES) {
        put_key(out, 4, 3);           /* marking as a group */
        put(out, m, mn);
        put_key(out, 4, 4);
        put_key(out, 9, 1);           /* application as fixed64 */
        put(out, "\1\2\3\4\5\6\7\10", 8);
    } else if (sh != SH_DOCUMENTS) {
        shaped_marking(sh, m, mn, out);
    }
    if (all || sh == SH_DOCUMENTS)
        for (int k = 0; k < 10001; k++)
            put(out, "\x2a\x00", 2);
}

/* One shaped record and its twin through filters made with o: the same
 * status, dropped flag, error record and bytes. 1 when they differ. */
static int shape_pair(dmvf_filter *fa, dmvf_filter *fb, span ra, span rb, obuf *oa, obuf *ob)
{
    dmvf_error ea, eb;
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    dmvf_filter_reset(fa);
    dmvf_filter_reset(fb);
    int da = 0, db = 0, a, b;
    for (;;) {
        a = dmvf_filter_record(fa, ra.p, ra.n, oa->p, oa->cap, &oa->len, &da, &ea);
        if (a != DMVF_ESPACE)
            break;
        oa->p = realloc(oa->p, oa->cap = oa->cap ? oa->cap * 2 : 4096);
    }
    for (;;) {
        b = dmvf_filter_record(fb, rb.p, rb.n, ob->p, ob->cap, &ob->len, &db, &eb);
        if (b != DMVF_ESPACE)
            break;
        ob->p = realloc(ob->p, ob->cap = ob->cap ? ob->cap * 2 : 4096);
    }
    if (a != b || da != db || (a && ea.record != eb.record))
        return 1;
    return a == DMVF_OK && (oa->len != ob->len || (oa->len && memcmp(oa->p, ob->p, oa->len) != 0));
}

/* A delimited stream of recs[0..n) through a new filter, in 700-byte
 * chunks: status, error record, output, counts. */
typedef struct srun { int rc; uint64_t record, in, out, dropped; buf o; } srun;

static void stream_run(const dmvf_policy *pol, const dmvf_keyring *kr, const dmvf_request *req,
                       const dmvf_filter_options *opt, const buf *in, srun *res)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    memset(res, 0, sizeof *res);
    dmvf_filter *f = dmvf_filter_create(pol, kr, req, opt, &err);
    if (!f) {
        res->rc = -1;
        return;
    }
    uint8_t win[512];
    int rc = DMVF_OK;
    for (size_t off = 0; off < in->n && rc == DMVF_OK;) {
        size_t k = in->n - off < 700 ? in->n - off : 700;
        dmvf_in_buffer ib = {in->p + off, k, 0};
        int end = off + k == in->n;
        do {
            dmvf_out_buffer obf = {win, sizeof win, 0};
            rc = dmvf_filter_stream(f, &obf, &ib, end, &err);
            put(&res->o, win, obf.pos);
        } while (rc == DMVF_ESPACE);
        off += ib.pos;
        if (rc == DMVF_OK && ib.pos != k)
            rc = -2;
    }
    res->rc = rc;
    res->record = rc ? err.record : 0;
    dmvf_filter_counts(f, &res->in, &res->out, &res->dropped);
    dmvf_filter_free(f);
}

static void twin_shapes(const char *genargs, const dmvf_policy *pol, const dmvf_keyring *kr,
                        const requester *rq, size_t nrq)
{
    char args[1024], pa[300], pb[300];
    snprintf(pa, sizeof pa, "%s/shapes.a", g_dir);
    snprintf(pb, sizeof pb, "%s/shapes.b", g_dir);
    snprintf(args, sizeof args, "%s --out '%s' --twins '%s'", genargs, pa, pb);
    CHECK(run_gen(args) == 0);
    stream a, b;
    if (read_stream(pa, &a) != 0 || read_stream(pb, &b) != 0) {
        CHECK_MSG(0, "shapes: cannot read the generated pairs");
        return;
    }
    const size_t npairs = a.n < 200 ? a.n : 200, nstream = 40;
    buf shaped = {0}, sa = {0}, sb = {0};
    obuf oa = {0}, ob = {0};
    for (int sh = 0; sh < SH_N; sh++) {
        for (size_t k = 0; k < nrq; k++) {
            if (rq[k].marking_released)
                continue;
            for (int drop = 0; drop <= 1; drop++) {
                dmvf_filter_options o;
                memset(&o, 0, sizeof o);
                o.as_of = judged.as_of;
                o.drop_malformed = drop;
                if (sh == SH_BIG)
                    o.max_record_bytes = 1024;
                dmvf_error err;
                dmvf_filter *fa = dmvf_filter_create(pol, kr, &rq[k].req, &o, &err);
                dmvf_filter *fb = dmvf_filter_create(pol, kr, &rq[k].req, &o, &err);
                CHECK(fa && fb);
                size_t differ = 0, released = 0;
                for (size_t i = 0; fa && fb && i < npairs; i++) {
                    shape_record(sh, a.rec[i], &shaped);
                    span ra = {shaped.p, shaped.n};
                    int d = shape_pair(fa, fb, ra, b.rec[i], &oa, &ob);
                    if (d && differ++ < 2) {
                        fprintf(stderr, "shapes: %s: %s%s: pair %zu: the shaped record and its twin differ\n",
                                shape_names[sh], rq[k].name, drop ? " (drop_malformed)" : "", i);
                        hexdump("shaped", shaped.p, shaped.n);
                    }
                    released += !d && oa.len > 0;
                }
                CHECK_MSG(differ == 0, "shapes: %s: %s%s: %zu of %zu pairs differ", shape_names[sh], rq[k].name,
                          drop ? " (drop_malformed)" : "", differ, npairs);
                CHECK_MSG(released > npairs / 2, "shapes: %s: %s: only %zu of %zu released", shape_names[sh],
                          rq[k].name, released, npairs);
                dmvf_filter_free(fa);
                dmvf_filter_free(fb);

                /* the stream, max_record_bytes 1024: the same run */
                sa.n = sb.n = 0;
                for (size_t i = 0; i < nstream && i < a.n; i++) {
                    shape_record(sh, a.rec[i], &shaped);
                    put_varint(&sa, shaped.n);
                    put(&sa, shaped.p, shaped.n);
                    put_varint(&sb, b.rec[i].n);
                    put(&sb, b.rec[i].p, b.rec[i].n);
                }
                o.max_record_bytes = 1024;
                srun x, y;
                stream_run(pol, kr, &rq[k].req, &o, &sa, &x);
                stream_run(pol, kr, &rq[k].req, &o, &sb, &y);
                CHECK_MSG(x.rc == y.rc && x.record == y.record && x.in == y.in && x.out == y.out &&
                              x.dropped == y.dropped && x.o.n == y.o.n && (x.o.n == 0 || memcmp(x.o.p, y.o.p, x.o.n) == 0),
                          "shapes: %s: %s%s: stream: %s record %llu, %llu out vs twins %s record %llu, %llu out",
                          shape_names[sh], rq[k].name, drop ? " (drop_malformed)" : "", dmvf_strerror(x.rc),
                          (unsigned long long)x.record, (unsigned long long)x.out, dmvf_strerror(y.rc),
                          (unsigned long long)y.record, (unsigned long long)y.out);
                free(x.o.p);
                free(y.o.p);
            }
        }
        printf("shapes: %-48s identical to the twins for every requester without marking: release\n",
               shape_names[sh]);
    }
    free(shaped.p);
    free(sa.p);
    free(sb.p);
    free(oa.p);
    free(ob.p);
    free_stream(&a);
    free_stream(&b);
}

/* ---- spelling twins (class N fields) ---- */

typedef struct sbuf { uint8_t *p; size_t n, cap; } sbuf;

static void sb_put(sbuf *b, const void *v, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void sb_varint(sbuf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    sb_put(b, t, n);
}

/* Appends rec to b as one delimited record, its license written last with
 * the field (license field number num) holding v[0..n) appended inside it
 * when v is not NULL: a value protobuf-c could not hold (a NUL byte) gets
 * onto the wire so. */
static void put_record(sbuf *b, Dmv__V1__DriverRecord *rec, uint32_t num, const char *v, size_t n)
{
    Dmv__V1__License *lic = rec->license;
    rec->license = NULL;
    size_t rn = dmv__v1__driver_record__get_packed_size(rec), ln = dmv__v1__license__get_packed_size(lic);
    uint8_t *r = malloc(rn + 1), *l = malloc(ln + 1);
    if (!r || !l)
        abort();
    dmv__v1__driver_record__pack(rec, r);
    dmv__v1__license__pack(lic, l);
    rec->license = lic;
    sbuf li = {0};
    sb_put(&li, l, ln);
    if (v) {
        sb_varint(&li, (uint64_t)num << 3 | 2);
        sb_varint(&li, n);
        sb_put(&li, v, n);
    }
    sbuf whole = {0};
    sb_put(&whole, r, rn);
    sb_varint(&whole, (uint64_t)3 << 3 | 2);
    sb_varint(&whole, li.n);
    sb_put(&whole, li.p, li.n);
    sb_varint(b, whole.n);
    sb_put(b, whole.p, whole.n);
    free(whole.p);
    free(li.p);
    free(r);
    free(l);
}

static const struct { const char *v; size_t n; } odd_spellings[] = {
    {"dp", 2}, {" DP", 3}, {"DP\0", 3}, {"fla", 3}, {"FLA ", 4}, {"F\xe2\x80\x8bLA", 6},
    {"TVDL", 4}, /* not an odd spelling: a value on no allow list */
};
#define N_ODD (sizeof odd_spellings / sizeof odd_spellings[0])

/* The example policy, its police profile releasing endorsements too (so
 * that all three class N fields are released); NULL when it does not load. */
static dmvf_policy *policy_with_endorsements(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/examples/policy.yaml", getenv("DMVF_SRC"));
    size_t n;
    char *y = (char *)slurp(path, &n);
    const char *at = y ? strstr(y, "      license.restrictions: release\n") : NULL;
    CHECK_MSG(at != NULL, "examples/policy.yaml: no license.restrictions entry to add endorsements after");
    if (!at) {
        free(y);
        return NULL;
    }
    static const char add[] = "      license.endorsements: release\n";
    size_t cut = (size_t)(at - y) + strlen("      license.restrictions: release\n");
    char *z = malloc(n + sizeof add);
    memcpy(z, y, cut);
    memcpy(z + cut, add, sizeof add - 1);
    memcpy(z + cut + sizeof add - 1, y + cut, n - cut);
    dmvf_error err;
    dmvf_policy *p = dmvf_policy_load_buffer(z, n + sizeof add - 1, "policy+endorsements", &err);
    CHECK_MSG(p != NULL, "policy with endorsements: %s", p ? "" : err.msg);
    free(y);
    free(z);
    return p;
}

/* From generated pairs: for every pair, every class N field and every odd
 * spelling, a pair whose marked side holds the spelling in that field. */
static void twin_spellings(const dmvf_policy *pol, const dmvf_policy *pol_end, const dmvf_keyring *kr,
                           const requester *rq, size_t nrq)
{
    char pa[300], pb[300], args[1024];
    snprintf(pa, sizeof pa, "%s/spell.a", g_dir);
    snprintf(pb, sizeof pb, "%s/spell.b", g_dir);
    snprintf(args, sizeof args, "--count 40 --seed 15 --marked 0.5 --out '%s' --twins '%s'", pa, pb);
    int rc = run_gen(args);
    CHECK_MSG(rc == 0, "spellings: dmvf-gen %s failed (%d)", args, rc);
    stream a, b;
    if (rc != 0 || read_stream(pa, &a) != 0 || read_stream(pb, &b) != 0) {
        CHECK_MSG(0, "spellings: cannot read the generated pairs");
        return;
    }
    static const uint32_t nums[] = {5, 6, 7}; /* class_code, restrictions, endorsements */
    sbuf sa = {0}, sbb = {0};
    size_t pairs = 0, holding = 0;
    for (size_t i = 0; i < a.n && i < b.n; i++) {
        for (size_t f = 0; f < 3; f++) {
            for (size_t k = 0; k < N_ODD; k++) {
                Dmv__V1__DriverRecord *x = dmv__v1__driver_record__unpack(NULL, a.rec[i].n, a.rec[i].p);
                Dmv__V1__DriverRecord *y = dmv__v1__driver_record__unpack(NULL, b.rec[i].n, b.rec[i].p);
                CHECK(x && y && x->license && y->license);
                if (!x || !y || !x->license || !y->license) {
                    if (x) dmv__v1__driver_record__free_unpacked(x, NULL);
                    if (y) dmv__v1__driver_record__free_unpacked(y, NULL);
                    continue;
                }
                int a_marked = is_marked(x) || !is_marked(y);
                Dmv__V1__DriverRecord *m = a_marked ? x : y, *u = a_marked ? y : x;
                char *mc = m->license->class_code, *uc = u->license->class_code;
                if (f == 0) {
                    /* neither side keeps its own class code; the twin has none or another bad one */
                    m->license->class_code = (char *)"";
                    u->license->class_code = (char *)((i + k) % 2 ? "" : "ZZ");
                }
                sbuf *sm = a_marked ? &sa : &sbb, *su = a_marked ? &sbb : &sa;
                put_record(sm, m, nums[f], odd_spellings[k].v, odd_spellings[k].n);
                put_record(su, u, 0, NULL, 0);
                holding += is_marked(m);
                m->license->class_code = mc;
                u->license->class_code = uc;
                dmv__v1__driver_record__free_unpacked(x, NULL);
                dmv__v1__driver_record__free_unpacked(y, NULL);
                pairs++;
            }
        }
    }
    free_stream(&a);
    free_stream(&b);
    CHECK_EQ_INT(pairs, 40 * 3 * N_ODD);
    CHECK_MSG(holding > pairs / 4, "spellings: only %zu of %zu spellings on a marked record", holding, pairs);
    stream ta = {sa.p, sa.n, NULL, 0}, tb = {sbb.p, sbb.n, NULL, 0};
    CHECK(split_stream(&ta) == 0 && split_stream(&tb) == 0);
    CHECK_EQ_INT(ta.n, pairs);
    CHECK_EQ_INT(tb.n, pairs);
    size_t differ = 0;
    for (size_t i = 0; i < ta.n && i < tb.n; i++)
        differ += ta.rec[i].n != tb.rec[i].n || memcmp(ta.rec[i].p, tb.rec[i].p, ta.rec[i].n) != 0;
    CHECK_EQ_INT(differ, pairs);
    printf("spellings: %zu pairs, each a spelling in class code, restrictions or endorsements\n", pairs);
    twin_run("spellings", &ta, &tb, pol, kr, rq, nrq);
    if (pol_end)
        twin_run("spellings+endorsements", &ta, &tb, pol_end, kr, rq, nrq);
    free_stream(&ta);
    free_stream(&tb);
}

int main(void)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 7 + 1);
    dmvf_policy *pol;
    dmvf_keyring *kr;
    fixture_open("twin", seed, 2, &pol, &kr);

    if (pol && kr) {
        requester rq[4];
        size_t nrq;
        make_requesters(rq, &nrq);
        twin_set("plain", "--count 3000 --seed 11", 3000, 1, pol, kr, rq, nrq);
        twin_set("photo", "--count 200 --seed 12 --photo", 200, 1, pol, kr, rq, nrq);
        twin_set("marked", "--count 500 --seed 13 --marked 0.5", 500, 1, pol, kr, rq, nrq);
        twin_set("wild", "--count 500 --seed 14 --wild", 500, 1, pol, kr, rq, nrq);
        dmvf_policy *pol_end = policy_with_endorsements();
        twin_spellings(pol, pol_end, kr, rq, nrq);
        dmvf_policy_free(pol_end);
        /* hostile records are valid only where marking is not looked at:
         * not for the internal rule (the last requester) */
        twin_set("hostile", "--count 500 --seed 15 --hostile", 500, 0, pol, kr, rq, nrq - 1);
        twin_shapes("--count 200 --seed 16 --marked 0.5", pol, kr, rq, nrq);
    }
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    CHECK_DONE();
}
