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
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"
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

static void twin_set(const char *what, const char *genargs, size_t expect,
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

    size_t differ;
    size_t flips = check_pairs(what, &a, &b, &differ);
    /* marking flips in about half the pairs; almost every pair differs somewhere */
    CHECK_MSG(flips > expect / 4, "%s: only %zu of %zu pairs flip marking", what, flips, expect);
    CHECK_MSG(differ > expect * 9 / 10, "%s: only %zu of %zu pairs differ in input", what, differ, expect);
    printf("%s: %zu pairs, %zu differ in input, %zu flip marking\n", what, expect, differ, flips);

    twin_run(what, &a, &b, pol, kr, rq, nrq);
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
        twin_set("plain", "--count 3000 --seed 11", 3000, pol, kr, rq, nrq);
        twin_set("photo", "--count 200 --seed 12 --photo", 200, pol, kr, rq, nrq);
        twin_set("marked", "--count 500 --seed 13 --marked 0.5", 500, pol, kr, rq, nrq);
        twin_set("wild", "--count 500 --seed 14 --wild", 500, pol, kr, rq, nrq);
        dmvf_policy *pol_end = policy_with_endorsements();
        twin_spellings(pol, pol_end, kr, rq, nrq);
        dmvf_policy_free(pol_end);
    }
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    CHECK_DONE();
}
