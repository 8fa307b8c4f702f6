/*
 * test_filter_stats.c - what a filter keeps for the audit: field counts,
 * subjects, held releases (hold_for_review), merge and reset, the request
 * copy; and the policy's audit, notices and review sections.
 *
 * Field counts are checked against an independent count: the input records
 * are unpacked with protobuf-c and the values at every schema path counted
 * from the structs (a singular scalar counts when it is not the default,
 * every repeated element counts, sub-messages are walked). For every path
 * the filter's counts summed over actions must equal that, and the values
 * it counts under an action that writes something must equal the values at
 * that path in the OUTPUT, decoded with protobuf-c the same way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"
#include "filter/wire/schema.h"
#include "filter/wire/plan.h"
#include "dmv/v1/record.pb-c.h"
#include "dmv/v1/request.pb-c.h"
#include "check.h"
#include "fixture.h"

/* ------------------------------------------------------------------ data */

typedef struct span { const uint8_t *p; size_t n; } span;

typedef struct stream {
    uint8_t *data;
    size_t size;
    span *rec;
    size_t n;
} stream;

/* Splits a delimited buffer into records (data is borrowed unless owned). */
static int split(const uint8_t *data, size_t size, span **rec, size_t *n)
{
    size_t cap = 64, pos = 0;
    *n = 0;
    *rec = malloc(cap * sizeof **rec);
    while (*rec && pos < size) {
        uint64_t len = 0;
        size_t pre = 0;
        if (dmvf_stream_prefix(data + pos, size - pos, &len, &pre) != 1 || len > size - pos - pre)
            return -1;
        pos += pre;
        if (*n == cap)
            *rec = realloc(*rec, (cap *= 2) * sizeof **rec);
        (*rec)[(*n)++] = (span){data + pos, (size_t)len};
        pos += (size_t)len;
    }
    return *rec ? 0 : -1;
}

static int read_stream(const char *path, stream *s)
{
    memset(s, 0, sizeof *s);
    s->data = slurp(path, &s->size);
    if (!s->data)
        return -1;
    return split(s->data, s->size, &s->rec, &s->n);
}

static void free_stream(stream *s)
{
    free(s->data);
    free(s->rec);
    memset(s, 0, sizeof *s);
}

/* Generates records with dmvf-gen into g_dir/name (and name.twin with twins). */
static int gen(const char *name, const char *args, stream *s, stream *twin)
{
    char path[400], tpath[420], cmd[1200];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    snprintf(tpath, sizeof tpath, "%s/%s.twin", g_dir, name);
    if (twin)
        snprintf(cmd, sizeof cmd, "%s --out '%s' --twins '%s'", args, path, tpath);
    else
        snprintf(cmd, sizeof cmd, "%s --out '%s'", args, path);
    int rc = run_gen(cmd);
    CHECK_MSG(rc == 0, "dmvf-gen %s failed", cmd);
    if (rc)
        return -1;
    CHECK(read_stream(path, s) == 0);
    if (twin)
        CHECK(read_stream(tpath, twin) == 0);
    return 0;
}

/* A buffer of delimited records made from spans. */
static uint8_t *join(const span *r, size_t n, size_t *size)
{
    size_t cap = 16;
    for (size_t i = 0; i < n; i++)
        cap += r[i].n + 10;
    uint8_t *b = malloc(cap), *o = b;
    for (size_t i = 0; b && i < n; i++) {
        uint64_t v = r[i].n;
        while (v >= 0x80) {
            *o++ = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        *o++ = (uint8_t)v;
        memcpy(o, r[i].p, r[i].n);
        o += r[i].n;
    }
    *size = b ? (size_t)(o - b) : 0;
    return b;
}

/* Runs in[0..n) through dmvf_filter_stream in one go (end = 1), output
 * growing as needed. Returns the stream's status; the output in *out, *olen bytes. */
static int run_stream(dmvf_filter *f, const uint8_t *in, size_t n, size_t *consumed, uint8_t **out,
                      size_t *olen, dmvf_error *err)
{
    size_t cap = 4096;
    *out = malloc(cap);
    *olen = 0;
    dmvf_in_buffer ib = {in, n, 0};
    int rc;
    for (;;) {
        dmvf_out_buffer ob = {*out + *olen, cap - *olen, 0};
        rc = dmvf_filter_stream(f, &ob, &ib, 1, err);
        *olen += ob.pos;
        if (rc != DMVF_ESPACE)
            break;
        *out = realloc(*out, cap *= 2);
    }
    if (consumed)
        *consumed = ib.pos;
    return rc;
}

/* ------------------------------------------------------------------ requests */

/* Requests are judged as of the day they are dated (dmvf_filter_options.as_of). */
static const dmvf_filter_options judged = {.as_of = 20250601};

static dmvf_request police_req(void)
{
    dmvf_request q;
    memset(&q, 0, sizeof q);
    q.request_id = "stats-police";
    q.ori = "NY0303000";
    q.agency_kind = DMVF_AGENCY_LOCAL;
    q.jurisdiction = "NY";
    q.purpose = 1;
    q.legal_process = DMVF_LEGAL_NONE;
    q.query_kind = DMVF_QUERY_BY_LICENSE;
    q.date = 20250601;
    return q;
}

static dmvf_request research_req(void)
{
    dmvf_request q;
    memset(&q, 0, sizeof q);
    q.request_id = "stats-research";
    q.ori = "NYUNIV001";
    q.agency_kind = DMVF_AGENCY_RESEARCH;
    q.jurisdiction = "NY";
    q.purpose = 5;
    q.query_kind = DMVF_QUERY_LIST;
    q.date = 20250601;
    return q;
}

/* Matches no rule of the example policy: denied. */
static dmvf_request stranger_req(void)
{
    dmvf_request q;
    memset(&q, 0, sizeof q);
    q.request_id = "stats-stranger";
    q.ori = "XX0000000";
    q.agency_kind = DMVF_AGENCY_COMMERCIAL;
    q.jurisdiction = "XX";
    q.date = 20250601;
    return q;
}

/* ------------------------------------------------------------------ independent counts */

/* Values per schema position in an unpacked message, as protobuf-c holds them. */
static void values_of(const ProtobufCMessage *m, const dmvf_snode *node, uint64_t *v)
{
    for (size_t i = 0; i < node->nfields; i++) {
        const dmvf_sfield *sf = &node->fields[i];
        const ProtobufCFieldDescriptor *fd = sf->fd;
        const char *at = (const char *)m + fd->offset;
        if (sf->repeated) {
            size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
            if (sf->type == DMVF_T_MESSAGE) {
                for (size_t k = 0; k < n; k++)
                    values_of((*(ProtobufCMessage *const *const *)at)[k], sf->child, v);
            } else {
                v[sf->id] += n;
            }
            continue;
        }
        switch (sf->type) {
        case DMVF_T_MESSAGE: {
            const ProtobufCMessage *c = *(ProtobufCMessage *const *)at;
            if (c)
                values_of(c, sf->child, v);
            break;
        }
        case DMVF_T_STRING: {
            const char *s = *(const char *const *)at;
            v[sf->id] += s && *s;
            break;
        }
        case DMVF_T_BYTES:
            v[sf->id] += ((const ProtobufCBinaryData *)(const void *)at)->len > 0;
            break;
        default:
            v[sf->id] += *(const uint32_t *)(const void *)at != 0;
            break;
        }
    }
}

/* Adds the values of every record of a delimited buffer; -1 if one does not unpack. */
static int values_of_stream(const uint8_t *data, size_t size, uint64_t *v)
{
    span *rec;
    size_t n;
    if (split(data, size, &rec, &n) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        Dmv__V1__DriverRecord *r = dmv__v1__driver_record__unpack(NULL, rec[i].n, rec[i].p);
        if (!r) {
            rc = -1;
            continue;
        }
        values_of(&r->base, dmvf__schema_root(), v);
        dmv__v1__driver_record__free_unpacked(r, NULL);
    }
    free(rec);
    return rc;
}

/* The filter's counts as a table [id][action]. */
static void table_of(const dmvf_filter *f, uint64_t (*t)[7], int *ordered)
{
    size_t npaths = dmvf__schema_npaths();
    memset(t, 0, npaths * sizeof *t);
    size_t n = dmvf_filter_field_counts(f, NULL, 0);
    dmvf_field_count *c = calloc(n ? n : 1, sizeof *c);
    size_t got = dmvf_filter_field_counts(f, c, n);
    CHECK_EQ_INT(got, n);
    *ordered = 1;
    long prev = -1;
    for (size_t i = 0; i < n; i++) {
        const dmvf_sfield *sf = dmvf__schema_find(c[i].path);
        CHECK_MSG(sf != NULL && sf->type != DMVF_T_MESSAGE, "count for '%s', not a leaf path", c[i].path);
        if (!sf)
            continue;
        CHECK(c[i].values > 0);
        CHECK_EQ_INT(c[i].klass, sf->klass);
        long key = (long)sf->id * 8 + (long)c[i].action;
        if (key <= prev)
            *ordered = 0;
        prev = key;
        t[sf->id][c[i].action] += c[i].values;
    }
    free(c);
}

static uint64_t row_sum(const uint64_t *row, int writes_only)
{
    uint64_t s = 0;
    for (int a = writes_only ? 1 : 0; a < 7; a++)
        s += row[a];
    return s;
}

/* Runs the records through a filter for req with count_fields and checks
 * its counts against the input and the output. Returns the number of
 * paths with values. */
static size_t check_counts(const char *what, const dmvf_policy *pol, const dmvf_keyring *kr,
                           const dmvf_request *req, const stream *s, int expect_drop)
{
    dmvf_filter_options o;
    memset(&o, 0, sizeof o);
    o.as_of = 20250601;
    o.count_fields = 1;
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(pol, kr, req, &o, &err);
    CHECK_MSG(f != NULL, "%s: %s", what, err.msg);
    if (!f)
        return 0;
    CHECK_MSG(dmvf_filter_decision(f) == DMVF_DECISION_RELEASE, "%s: %s", what, dmvf_filter_reason(f));
    uint8_t *out;
    size_t olen;
    int rc = run_stream(f, s->data, s->size, NULL, &out, &olen, &err);
    CHECK_MSG(rc == DMVF_OK, "%s: stream: %s", what, err.msg);

    size_t npaths = dmvf__schema_npaths();
    uint64_t *vin = calloc(npaths, sizeof *vin), *vout = calloc(npaths, sizeof *vout);
    uint64_t (*t)[7] = calloc(npaths, sizeof *t);
    CHECK(values_of_stream(s->data, s->size, vin) == 0);
    CHECK(values_of_stream(out, olen, vout) == 0);
    int ordered;
    table_of(f, t, &ordered);
    CHECK_MSG(ordered, "%s: counts not in schema order (path, then action)", what);

    size_t bad_in = 0, bad_out = 0, paths = 0, dropped_paths = 0, written = 0;
    for (size_t id = 0; id < npaths; id++) {
        const dmvf_sfield *sf = dmvf__schema_field(id);
        if (sf->type == DMVF_T_MESSAGE)
            continue;
        paths += vin[id] > 0;
        if (row_sum(t[id], 0) != vin[id] && bad_in++ < 5)
            fprintf(stderr, "%s: %s: counted %llu values, the input holds %llu\n", what, sf->path,
                    (unsigned long long)row_sum(t[id], 0), (unsigned long long)vin[id]);
        if (row_sum(t[id], 1) != vout[id] && bad_out++ < 5)
            fprintf(stderr, "%s: %s: counted %llu values written, the output holds %llu\n", what, sf->path,
                    (unsigned long long)row_sum(t[id], 1), (unsigned long long)vout[id]);
        /* one action per path, plus REDACT for values normalization dropped */
        int actions = 0;
        for (int a = 1; a < 7; a++)
            actions += t[id][a] > 0;
        CHECK_MSG(actions <= 1, "%s: %s counted under %d actions", what, sf->path, actions);
        if (actions && t[id][0])
            dropped_paths++;
        written += row_sum(t[id], 1);
        if (sf->klass & DMVF_CLASS_M)
            CHECK_MSG(row_sum(t[id], 1) == 0, "%s: marking path %s counted as written", what, sf->path);
    }
    CHECK_MSG(bad_in == 0, "%s: %zu paths where counts and input disagree", what, bad_in);
    CHECK_MSG(bad_out == 0, "%s: %zu paths where counts and output disagree", what, bad_out);
    CHECK_MSG(written > 0, "%s: nothing counted as written", what);
    if (expect_drop)
        CHECK_MSG(dropped_paths > 0, "%s: no value dropped by normalization was counted", what);
    printf("%s: %zu records, %zu paths with values, %llu values written\n", what, s->n, paths,
           (unsigned long long)written);
    free(vin);
    free(vout);
    free(t);
    free(out);
    dmvf_filter_free(f);
    return paths;
}

/* A count for path/action in f, 0 if none. */
static uint64_t count_at(const dmvf_filter *f, const char *path, dmvf_field_action a)
{
    size_t n = dmvf_filter_field_counts(f, NULL, 0);
    dmvf_field_count *c = calloc(n ? n : 1, sizeof *c);
    dmvf_filter_field_counts(f, c, n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].path, path) == 0 && c[i].action == a)
            v = c[i].values;
    free(c);
    return v;
}

static void test_counts(const dmvf_policy *pol, const dmvf_keyring *kr)
{
    stream plain, wild, marked, many;
    dmvf_request police = police_req(), research = research_req();
    if (gen("plain", "--count 45 --seed 31", &plain, NULL) == 0) {
        check_counts("police plain", pol, kr, &police, &plain, 0);
        check_counts("research plain", pol, kr, &research, &plain, 0);
        free_stream(&plain);
    }
    if (gen("wild", "--count 45 --seed 32 --wild", &wild, NULL) == 0) {
        check_counts("police wild", pol, kr, &police, &wild, 0);
        check_counts("research wild", pol, kr, &research, &wild, 0);
        free_stream(&wild);
    }
    if (gen("marked", "--count 45 --seed 33 --marked 0.8", &marked, NULL) == 0) {
        /* FLA restrictions are dropped by normalization: counted as redacted */
        check_counts("police marked", pol, kr, &police, &marked, 1);
        free_stream(&marked);
    }
    if (gen("many", "--count 400 --seed 34 --photo", &many, NULL) == 0) {
        size_t paths = check_counts("research photo", pol, kr, &research, &many, 0);
        CHECK_MSG(paths > 60, "only %zu paths hold values", paths);
        free_stream(&many);
    }

    /* by hand: a value under a redacted message is redacted at its own
     * path; an unknown field is not counted; a repeated singular scalar
     * counts once; a default value not at all */
    static const uint8_t rec[] = {
        0x0a, 0x01, 'A',                   /* record_id "A" */
        0x0a, 0x01, 'B',                   /* record_id "B": the last wins */
        0x22, 0x03, 0x1a, 0x01, 'X',       /* marking { program "X" } */
        0x12, 0x05, 0x0a, 0x03, 'D', 'o', 'e', /* person { family_name "Doe" } */
        0xf8, 0x01, 0x05,                  /* field 31 (unknown) = 5 */
        0x1a, 0x02, 0x50, 0x00,            /* license { status 0 (default) } */
    };
    dmvf_filter_options o;
    memset(&o, 0, sizeof o);
    o.as_of = 20250601;
    o.count_fields = 1;
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &o, &err);
    CHECK(f != NULL);
    if (f) {
        uint8_t out[256];
        size_t olen;
        CHECK_EQ_INT(dmvf_filter_record(f, rec, sizeof rec, out, sizeof out, &olen, NULL, &err), DMVF_OK);
        CHECK_EQ_INT(count_at(f, "record_id", DMVF_FIELD_PSEUDONYMIZE), 1);
        CHECK_EQ_INT(count_at(f, "marking.program", DMVF_FIELD_REDACT), 1);
        CHECK_EQ_INT(count_at(f, "person.family_name", DMVF_FIELD_RELEASE), 1);
        CHECK_EQ_INT(dmvf_filter_field_counts(f, NULL, 0), 3);
        dmvf_field_count c[3];
        memset(c, 0, sizeof c);
        CHECK_EQ_INT(dmvf_filter_field_counts(f, c, 1), 3); /* total, one written */
        CHECK_EQ_STR(c[0].path, "record_id");
        CHECK(c[1].path == NULL);
        dmvf_filter_field_counts(f, c, 3);
        CHECK_EQ_STR(c[2].path, "marking.program");
        CHECK_EQ_INT(c[2].klass, DMVF_FIELD_CLASS_M);
        /* ESPACE counts nothing */
        CHECK_EQ_INT(dmvf_filter_record(f, rec, sizeof rec, out, 2, &olen, NULL, &err), DMVF_ESPACE);
        CHECK_EQ_INT(count_at(f, "person.family_name", DMVF_FIELD_RELEASE), 1);
        /* a malformed record that is dropped counts nothing */
        dmvf_filter_free(f);
    }
    o.drop_malformed = 1;
    f = dmvf_filter_create(pol, kr, &police, &o, &err);
    CHECK(f != NULL);
    if (f) {
        static const uint8_t badrec[] = {0x12, 0x05, 0x0a, 0x03, 'D', 'o', 'e', 0x0a, 0x09, 'x'};
        uint8_t out[256];
        size_t olen;
        int dropped = 0;
        CHECK_EQ_INT(dmvf_filter_record(f, badrec, sizeof badrec, out, sizeof out, &olen, &dropped, &err),
                     DMVF_OK);
        CHECK_EQ_INT(dropped, 1);
        CHECK_EQ_INT(dmvf_filter_field_counts(f, NULL, 0), 0);
        dmvf_filter_free(f);
    }
    /* without count_fields: nothing */
    f = dmvf_filter_create(pol, kr, &police, &judged, &err);
    if (f) {
        uint8_t out[256];
        size_t olen;
        CHECK_EQ_INT(dmvf_filter_record(f, rec, sizeof rec, out, sizeof out, &olen, NULL, &err), DMVF_OK);
        CHECK_EQ_INT(dmvf_filter_field_counts(f, NULL, 0), 0);
        CHECK_EQ_INT(dmvf_filter_subject_count(f), 0);
        dmvf_filter_free(f);
    }
}

/* ------------------------------------------------------------------ subjects */

/* The record_ids of s (protobuf-c: the last occurrence), empty ones skipped. */
static char **ids_of(const stream *s, size_t from, size_t to, size_t *n)
{
    char **ids = calloc(s->n + 1, sizeof *ids);
    *n = 0;
    for (size_t i = from; i < to && i < s->n; i++) {
        Dmv__V1__DriverRecord *r = dmv__v1__driver_record__unpack(NULL, s->rec[i].n, s->rec[i].p);
        CHECK(r != NULL);
        if (r && r->record_id && *r->record_id)
            ids[(*n)++] = strdup(r->record_id);
        if (r)
            dmv__v1__driver_record__free_unpacked(r, NULL);
    }
    return ids;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* f's subjects equal ids[0..n) in order. */
static int same_subjects(const dmvf_filter *f, char *const *ids, size_t n)
{
    if (dmvf_filter_subject_count(f) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = dmvf_filter_subject(f, i, &len);
        if (len != strlen(ids[i]) || memcmp(s, ids[i], len) != 0)
            return 0;
    }
    return 1;
}

static void test_subjects(const dmvf_policy *pol, const dmvf_keyring *kr)
{
    stream s;
    if (gen("subjects", "--count 60 --seed 41", &s, NULL) != 0)
        return;
    size_t nall;
    char **all = ids_of(&s, 0, s.n, &nall);
    CHECK_EQ_INT(nall, 60);
    dmvf_error err;
    dmvf_filter_options o;
    memset(&o, 0, sizeof o);
    o.as_of = 20250601;
    o.collect_subjects = 1;
    o.count_fields = 1;

    /* released (research: no limit), with hand-made records among them:
     * record_id twice (the last wins), none, and a malformed one dropped */
    static const uint8_t twice[] = {0x0a, 0x01, 'A', 0x12, 0x02, 0x0a, 0x00, 0x0a, 0x02, 'B', 'C'};
    static const uint8_t noid[] = {0x12, 0x05, 0x0a, 0x03, 'D', 'o', 'e'};
    static const uint8_t bad[] = {0x0a, 0x02, 'Z', 'Z', 0x12, 0x09, 0x0a};
    span mix[63];
    for (size_t i = 0; i < 20; i++)
        mix[i] = s.rec[i];
    mix[20] = (span){twice, sizeof twice};
    mix[21] = (span){noid, sizeof noid};
    mix[22] = (span){bad, sizeof bad};
    for (size_t i = 20; i < 60; i++)
        mix[i + 3] = s.rec[i];
    size_t mlen;
    uint8_t *mbuf = join(mix, 63, &mlen);
    char **want = calloc(64, sizeof *want);
    size_t nw = 0;
    for (size_t i = 0; i < 20; i++)
        want[nw++] = all[i];
    want[nw++] = "BC";
    for (size_t i = 20; i < 60; i++)
        want[nw++] = all[i];

    dmvf_request research = research_req();
    o.drop_malformed = 1;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &research, &o, &err);
    CHECK(f != NULL);
    if (f) {
        uint8_t *out;
        size_t olen;
        CHECK_EQ_INT(run_stream(f, mbuf, mlen, NULL, &out, &olen, &err), DMVF_OK);
        CHECK_MSG(same_subjects(f, want, nw), "released: subjects are not the released record_ids (%zu of %zu)",
                  dmvf_filter_subject_count(f), nw);
        uint64_t in, rout, dropped;
        dmvf_filter_counts(f, &in, &rout, &dropped);
        CHECK_EQ_INT(in, 63);
        CHECK_EQ_INT(rout, 62);
        CHECK_EQ_INT(dropped, 1);
        free(out);
        dmvf_filter_free(f);
    }
    o.drop_malformed = 0;

    /* refused (no rule matches): the stream reads everything, writes
     * nothing, says DMVF_OK; nothing is counted as released */
    dmvf_request stranger = stranger_req();
    f = dmvf_filter_create(pol, kr, &stranger, &o, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_DENY);
        uint8_t *out;
        size_t olen, used;
        CHECK_EQ_INT(run_stream(f, s.data, s.size, &used, &out, &olen, &err), DMVF_OK);
        CHECK_EQ_INT(olen, 0);
        CHECK_EQ_INT(used, s.size);
        CHECK_MSG(same_subjects(f, all, nall), "refused: subjects are not every record_id read");
        CHECK_EQ_INT(dmvf_filter_field_counts(f, NULL, 0), 0);
        uint64_t in, rout, dropped;
        dmvf_filter_counts(f, &in, &rout, &dropped);
        CHECK_EQ_INT(in, 60);
        CHECK_EQ_INT(rout, 0);
        /* dmvf_filter_record likewise: DMVF_OK, nothing written */
        uint8_t buf[64];
        size_t blen = 99;
        CHECK_EQ_INT(dmvf_filter_record(f, s.rec[0].p, s.rec[0].n, buf, sizeof buf, &blen, NULL, &err), DMVF_OK);
        CHECK_EQ_INT(blen, 0);
        CHECK_EQ_INT(dmvf_filter_subject_count(f), 61);
        /* a malformed record is an error, as in a release (sticky) */
        CHECK_EQ_INT(dmvf_filter_record(f, bad, sizeof bad, buf, sizeof buf, &blen, NULL, &err), DMVF_EMALFORMED);
        CHECK_EQ_INT(err.record, 61);
        CHECK_EQ_INT(dmvf_filter_record(f, s.rec[0].p, s.rec[0].n, buf, sizeof buf, &blen, NULL, &err),
                     DMVF_ESTATE);
        dmvf_filter_reset(f);
        dmvf_trailer t;
        CHECK_EQ_INT(dmvf_filter_finish(f, &t), DMVF_OK);
        CHECK_EQ_INT(t.records_out, 0);
        CHECK_EQ_INT(dmvf_filter_subject_count(f), 61); /* reset keeps them */
        free(out);
        dmvf_filter_free(f);
    }
    /* refused without collect_subjects: as before */
    f = dmvf_filter_create(pol, kr, &stranger, &judged, &err);
    if (f) {
        uint8_t *out;
        size_t olen, used;
        CHECK_EQ_INT(run_stream(f, s.data, s.size, &used, &out, &olen, &err), DMVF_EREFUSED);
        CHECK_EQ_INT(used, 0);
        uint8_t buf[64];
        size_t blen;
        CHECK_EQ_INT(dmvf_filter_record(f, s.rec[0].p, s.rec[0].n, buf, sizeof buf, &blen, NULL, &err),
                     DMVF_EREFUSED);
        free(out);
        dmvf_filter_free(f);
    }

    /* the record limit (police: 50): refused at the 51st; the subjects of
     * what was read stay, the field counts are cleared (nothing released),
     * and reading on collects the rest */
    dmvf_request police = police_req();
    f = dmvf_filter_create(pol, kr, &police, &o, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_max_records(f), 50);
        uint8_t *out = malloc(1 << 20);
        dmvf_in_buffer ib = {s.data, s.size, 0};
        dmvf_out_buffer ob = {out, 1 << 20, 0};
        CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &ib, 1, &err), DMVF_EREFUSED);
        CHECK_EQ_INT(ob.pos, 0);
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_DENY);
        CHECK_MSG(same_subjects(f, all, 51), "limit: subjects are not the 51 record_ids read (%zu)",
                  dmvf_filter_subject_count(f));
        CHECK_EQ_INT(dmvf_filter_field_counts(f, NULL, 0), 0);
        CHECK(ib.pos < ib.size);
        CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &ib, 1, &err), DMVF_OK);
        CHECK_EQ_INT(ib.pos, ib.size);
        CHECK_EQ_INT(ob.pos, 0);
        CHECK_MSG(same_subjects(f, all, 60), "limit: reading on does not collect the rest");
        CHECK_EQ_INT(dmvf_filter_field_counts(f, NULL, 0), 0);
        /* reset: released again, subjects kept */
        dmvf_filter_reset(f);
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_RELEASE);
        CHECK_EQ_INT(dmvf_filter_subject_count(f), 60);
        free(out);
        dmvf_filter_free(f);
    }
    /* the limit without collect_subjects: refused, and refused afterwards */
    f = dmvf_filter_create(pol, kr, &police, &judged, &err);
    if (f) {
        uint8_t *out;
        size_t olen, used;
        CHECK_EQ_INT(run_stream(f, s.data, s.size, &used, &out, &olen, &err), DMVF_EREFUSED);
        CHECK_EQ_INT(olen, 0);
        free(out);
        dmvf_in_buffer ib = {s.data, s.size, used};
        uint8_t b[16];
        dmvf_out_buffer ob = {b, sizeof b, 0};
        CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &ib, 1, &err), DMVF_EREFUSED);
        dmvf_filter_free(f);
    }
    free(want);
    free(mbuf);
    free_ids(all, nall);
    free_stream(&s);
}

/* ------------------------------------------------------------------ merge, reset */

static void test_merge(const dmvf_policy *pol, const dmvf_keyring *kr)
{
    stream s;
    if (gen("merge", "--count 90 --seed 51 --wild", &s, NULL) != 0)
        return;
    dmvf_error err;
    dmvf_filter_options o;
    memset(&o, 0, sizeof o);
    o.as_of = 20250601;
    o.collect_subjects = 1;
    o.count_fields = 1;
    dmvf_request q = research_req();
    dmvf_filter *whole = dmvf_filter_create(pol, kr, &q, &o, &err);
    dmvf_filter *a = dmvf_filter_create(pol, kr, &q, &o, &err);
    dmvf_filter *b = dmvf_filter_create(pol, kr, &q, &o, &err);
    CHECK(whole && a && b);
    if (whole && a && b) {
        uint8_t *out;
        size_t olen;
        CHECK_EQ_INT(run_stream(whole, s.data, s.size, NULL, &out, &olen, &err), DMVF_OK);
        free(out);
        /* a: records 0..29, reset (as the pipeline does per chunk), 30..59; b: 60..89 */
        size_t l1, l2, l3;
        uint8_t *c1 = join(s.rec, 30, &l1), *c2 = join(s.rec + 30, 30, &l2), *c3 = join(s.rec + 60, 30, &l3);
        CHECK_EQ_INT(run_stream(a, c1, l1, NULL, &out, &olen, &err), DMVF_OK);
        free(out);
        size_t after1 = dmvf_filter_field_counts(a, NULL, 0);
        dmvf_filter_reset(a);
        uint64_t in;
        dmvf_filter_counts(a, &in, NULL, NULL);
        CHECK_EQ_INT(in, 0);                                       /* the record counters are reset */
        CHECK_EQ_INT(dmvf_filter_field_counts(a, NULL, 0), after1); /* the field counts are not */
        CHECK_EQ_INT(dmvf_filter_subject_count(a), 30);
        CHECK_EQ_INT(run_stream(a, c2, l2, NULL, &out, &olen, &err), DMVF_OK);
        free(out);
        CHECK_EQ_INT(run_stream(b, c3, l3, NULL, &out, &olen, &err), DMVF_OK);
        free(out);
        /* a subject pointer handed out stays valid while more are kept */
        size_t len0;
        const char *first = dmvf_filter_subject(a, 0, &len0);
        char keep[64];
        snprintf(keep, sizeof keep, "%.*s", (int)len0, first);
        CHECK_EQ_INT(dmvf_filter_merge(a, b, &err), DMVF_OK);
        CHECK_MSG(len0 == strlen(keep) && memcmp(first, keep, len0) == 0, "a subject moved");

        size_t n = dmvf_filter_field_counts(whole, NULL, 0);
        CHECK_EQ_INT(dmvf_filter_field_counts(a, NULL, 0), n);
        dmvf_field_count *cw = calloc(n + 1, sizeof *cw), *ca = calloc(n + 1, sizeof *ca);
        dmvf_filter_field_counts(whole, cw, n);
        dmvf_filter_field_counts(a, ca, n);
        size_t diff = 0;
        for (size_t i = 0; i < n; i++)
            diff += strcmp(cw[i].path, ca[i].path) != 0 || cw[i].action != ca[i].action ||
                    cw[i].values != ca[i].values;
        CHECK_MSG(diff == 0, "merged counts differ from one filter's in %zu entries", diff);
        size_t nw = dmvf_filter_subject_count(whole);
        CHECK_EQ_INT(dmvf_filter_subject_count(a), nw);
        size_t sdiff = 0;
        for (size_t i = 0; i < nw && i < dmvf_filter_subject_count(a); i++) {
            size_t x, y;
            const char *p = dmvf_filter_subject(whole, i, &x), *r = dmvf_filter_subject(a, i, &y);
            sdiff += x != y || memcmp(p, r, x) != 0;
        }
        CHECK_MSG(sdiff == 0, "merged subjects differ in %zu places", sdiff);
        /* b is unchanged; merging counts in twice doubles them */
        CHECK_EQ_INT(dmvf_filter_subject_count(b), 30);
        CHECK_EQ_INT(dmvf_filter_merge(b, b, &err), DMVF_OK);
        CHECK_EQ_INT(dmvf_filter_subject_count(b), 60);
        free(cw);
        free(ca);
        free(c1);
        free(c2);
        free(c3);
    }
    dmvf_filter_free(whole);
    dmvf_filter_free(a);
    dmvf_filter_free(b);
    free_stream(&s);
}

/* ------------------------------------------------------------------ not allowed */

/* Values of the fields where states write their marking values, in odd
 * spellings and on or off the example policy's allow lists (after its map
 * DP -> D and its drop FLA). */
static const struct { const char *v; size_t n; int ok; } class_vals[] = {
    {"D", 1, 1}, {"DP", 2, 1}, {"dp", 2, 0}, {" DP", 3, 0}, {"DP\0", 3, 0}, {"M", 1, 1}, {"TVDL", 4, 0},
    {"CDL-A", 5, 1}, {"D\xe2\x80\x8b", 4, 0},
};
static const struct { const char *v; size_t n; int ok; } restr_vals[] = {
    {"B", 1, 1}, {"FLA", 3, 0}, {"fla", 3, 0}, {"FLA ", 4, 0}, {"F\xe2\x80\x8bLA", 6, 0}, {"K", 1, 1},
    {"", 0, 0}, {"FLA\0", 4, 0},
};
#define NCLASS (sizeof class_vals / sizeof class_vals[0])
#define NRESTR (sizeof restr_vals / sizeof restr_vals[0])

static void put_field(uint8_t **o, uint32_t num, const void *v, size_t n)
{
    *(*o)++ = (uint8_t)(num << 3 | 2);
    *(*o)++ = (uint8_t)n;
    memcpy(*o, v, n);
    *o += n;
}

/* Record i: record_id, license {number, class code, two restrictions, an
 * endorsement}; the values drawn from the tables above by i. */
static size_t spelled_record(size_t i, uint8_t *rec)
{
    uint8_t lic[96], *l = lic, *o = rec;
    put_field(&l, 1, "123456789", 9);
    put_field(&l, 5, class_vals[i % NCLASS].v, class_vals[i % NCLASS].n);
    put_field(&l, 6, restr_vals[i % NRESTR].v, restr_vals[i % NRESTR].n);
    put_field(&l, 6, restr_vals[(i + 3) % NRESTR].v, restr_vals[(i + 3) % NRESTR].n);
    put_field(&l, 7, i % 2 ? "H" : "h", 1);
    char id[16];
    snprintf(id, sizeof id, "S%03zu", i);
    put_field(&o, 1, id, strlen(id));
    put_field(&o, 3, lic, (size_t)(l - lic));
    return (size_t)(o - rec);
}

/* A value not on its field's allow list is redacted and counted as
 * redacted at its path, in the filter's counts as in its output. */
static void test_not_allowed(const dmvf_policy *pol, const dmvf_keyring *kr)
{
    enum { N = 45 }; /* within the police rule's max_records */
    uint8_t *all = malloc((size_t)N * 160), *o = all;
    uint64_t cls_ok = 0, cls_bad = 0, rs_ok = 0, rs_bad = 0;
    for (size_t i = 0; all && i < N; i++) {
        uint8_t rec[150];
        size_t n = spelled_record(i, rec);
        *o++ = (uint8_t)n;
        memcpy(o, rec, n);
        o += n;
        /* a singular string is a value unless empty; every element is one */
        if (class_vals[i % NCLASS].ok)
            cls_ok++;
        else
            cls_bad++;
        rs_ok += restr_vals[i % NRESTR].ok + restr_vals[(i + 3) % NRESTR].ok;
        rs_bad += !restr_vals[i % NRESTR].ok + !restr_vals[(i + 3) % NRESTR].ok;
    }
    CHECK(all != NULL);
    if (!all)
        return;
    stream s = {all, (size_t)(o - all), NULL, 0};
    CHECK(split(s.data, s.size, &s.rec, &s.n) == 0);
    dmvf_request police = police_req();
    check_counts("police spellings", pol, kr, &police, &s, 1);

    dmvf_filter_options opt;
    memset(&opt, 0, sizeof opt);
    opt.as_of = 20250601;
    opt.count_fields = 1;
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &opt, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (f) {
        uint8_t *out;
        size_t olen;
        CHECK_EQ_INT(run_stream(f, s.data, s.size, NULL, &out, &olen, &err), DMVF_OK);
        CHECK_EQ_INT(count_at(f, "license.class_code", DMVF_FIELD_RELEASE), cls_ok);
        CHECK_EQ_INT(count_at(f, "license.class_code", DMVF_FIELD_REDACT), cls_bad);
        CHECK_EQ_INT(count_at(f, "license.restrictions", DMVF_FIELD_RELEASE), rs_ok);
        CHECK_EQ_INT(count_at(f, "license.restrictions", DMVF_FIELD_REDACT), rs_bad);
        CHECK_EQ_INT(count_at(f, "license.endorsements", DMVF_FIELD_REDACT), N); /* police: not released */
        CHECK(cls_bad > 0 && rs_bad > 0 && cls_ok > 0 && rs_ok > 0);
        /* the class of the counts says where marking values may appear */
        size_t n = dmvf_filter_field_counts(f, NULL, 0);
        dmvf_field_count *c = calloc(n ? n : 1, sizeof *c);
        dmvf_filter_field_counts(f, c, n);
        for (size_t i = 0; i < n; i++)
            if (strncmp(c[i].path, "license.", 8) == 0 && strcmp(c[i].path, "license.number") != 0)
                CHECK_MSG(c[i].klass == DMVF_FIELD_CLASS_N, "%s: class %u", c[i].path, c[i].klass);
        free(c);
        /* nothing but allowed values left, in record order */
        span *orec = NULL;
        size_t on = 0;
        CHECK(split(out, olen, &orec, &on) == 0);
        CHECK_EQ_INT(on, N);
        static const char *const cls_allowed[] = {"A", "B", "C", "CDL-A", "CDL-B", "CDL-C", "D", "DJ", "E", "M", "MJ"};
        size_t odd = 0;
        for (size_t i = 0; orec && i < on; i++) {
            Dmv__V1__DriverRecord *r = dmv__v1__driver_record__unpack(NULL, orec[i].n, orec[i].p);
            CHECK(r != NULL && r->license != NULL);
            if (!r || !r->license) {
                if (r)
                    dmv__v1__driver_record__free_unpacked(r, NULL);
                continue;
            }
            const Dmv__V1__License *l = r->license;
            const char *want = class_vals[i % NCLASS].ok ? (class_vals[i % NCLASS].n == 2 ? "D" : class_vals[i % NCLASS].v)
                                                       : "";
            odd += strcmp(l->class_code, want) != 0;
            size_t ok = 0;
            for (size_t k = 0; k < sizeof cls_allowed / sizeof cls_allowed[0]; k++)
                ok += strcmp(l->class_code, cls_allowed[k]) == 0;
            odd += *l->class_code && !ok;
            odd += l->n_restrictions != (size_t)(restr_vals[i % NRESTR].ok + restr_vals[(i + 3) % NRESTR].ok);
            for (size_t k = 0; k < l->n_restrictions; k++)
                odd += strcmp(l->restrictions[k], "B") != 0 && strcmp(l->restrictions[k], "K") != 0;
            odd += l->n_endorsements != 0;
            dmv__v1__driver_record__free_unpacked(r, NULL);
        }
        CHECK_MSG(odd == 0, "%zu released values differ from what the allow lists let through", odd);
        free(orec);
        free(out);
        dmvf_filter_free(f);
    }
    free(s.rec);
    free(all);
}

/* ------------------------------------------------------------------ hold_for_review */

static const char review_policy[] =
    "version: 1\n"
    "jurisdiction: NY\n"
    "profiles:\n"
    "  look:\n"
    "    default: redact\n"
    "    fields:\n"
    "      record_id: pseudonymize\n"
    "      person.family_name: release\n"
    "      person.birth_date: {generalize: year}\n"
    "      person.residence.*: release\n"
    "      person.phone: {mask: {keep_last: 4}}\n"
    "      license.number: encrypt\n"
    "      license.class_code: release\n"
    "      license.restrictions: release\n"
    "      vehicles.*: release\n"
    "marking:\n"
    "  normalize:\n"
    "    license.class_code: {map: {DP: D}, allow: [A, B, C, CDL-A, CDL-B, D, E, M]}\n"
    "    license.restrictions: {drop: [FLA], allow: [B, C, D, E, F, G, I, J, K, W]}\n"
    "review: {spool: spool, public_key: reviewers.pub}\n"
    "requesters:   # one agreement, an ORI per kind: one pseudonym scope\n"
    "  - {ori: NYCOM0001, name: Insurer, kind: commercial, jurisdiction: NY, scope: held}\n"
    "  - {ori: NYFOR0001, name: Consulate, kind: foreign, jurisdiction: NY, scope: held}\n"
    "  - {ori: NYTRB0001, name: Tribal police, kind: tribal, jurisdiction: NY, scope: held}\n"
    "  - {ori: NYCRT0001, name: Court, kind: court, jurisdiction: NY, scope: held}\n"
    "rules:\n"
    "  - name: held\n"
    "    match: {agency_kind: [commercial]}\n"
    "    decision: review\n"
    "    profile: look\n"
    "  - name: held small\n"
    "    match: {agency_kind: [foreign]}\n"
    "    decision: review\n"
    "    max_records: 5\n"
    "    profile: look\n"
    "  - name: held bare\n"
    "    match: {agency_kind: [tribal]}\n"
    "    decision: review\n"
    "  - name: released\n"
    "    match: {agency_kind: [court]}\n"
    "    decision: release\n"
    "    profile: look\n";

static dmvf_request kind_req(dmvf_agency_kind k)
{
    dmvf_request q;
    memset(&q, 0, sizeof q);
    q.request_id = "held";
    /* an ORI per kind, one pseudonym scope (the directory's "held") */
    q.ori = k == DMVF_AGENCY_COMMERCIAL ? "NYCOM0001" : k == DMVF_AGENCY_FOREIGN ? "NYFOR0001"
          : k == DMVF_AGENCY_TRIBAL ? "NYTRB0001" : "NYCRT0001";
    q.agency_kind = k;
    q.jurisdiction = "NY";
    q.date = 20250601;
    return q;
}

/* The output of s through a filter for kind with opts; *rc its status. */
static uint8_t *through(const dmvf_policy *pol, const dmvf_keyring *kr, dmvf_agency_kind k,
                        const dmvf_filter_options *o, const uint8_t *in, size_t n, size_t *olen, int *rc,
                        dmvf_filter **keep)
{
    dmvf_request q = kind_req(k);
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &q, o, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    uint8_t *out = NULL;
    *olen = 0;
    *rc = -1;
    if (!f)
        return NULL;
    *rc = run_stream(f, in, n, NULL, &out, olen, &err);
    if (keep)
        *keep = f;
    else
        dmvf_filter_free(f);
    return out;
}

static void test_hold(const dmvf_keyring *kr)
{
    dmvf_error err;
    dmvf_policy *pol = dmvf_policy_load_buffer(review_policy, strlen(review_policy), "<review>", &err);
    CHECK_MSG(pol != NULL, "review policy: %s", pol ? "" : err.msg);
    if (!pol)
        return;
    stream s, t;
    if (gen("held", "--count 200 --seed 61 --marked 0.5", &s, &t) != 0) {
        dmvf_policy_free(pol);
        return;
    }
    dmvf_filter_options hold;
    memset(&hold, 0, sizeof hold);
    hold.as_of = 20250601;
    hold.hold_for_review = 1;
    hold.count_fields = 1;
    hold.collect_subjects = 1;

    size_t lr, lh, lt;
    int rr, rh, rt;
    dmvf_filter *fh = NULL;
    uint8_t *rel = through(pol, kr, DMVF_AGENCY_COURT, &judged, s.data, s.size, &lr, &rr, NULL);
    uint8_t *held = through(pol, kr, DMVF_AGENCY_COMMERCIAL, &hold, s.data, s.size, &lh, &rh, &fh);
    uint8_t *heldt = through(pol, kr, DMVF_AGENCY_COMMERCIAL, &hold, t.data, t.size, &lt, &rt, NULL);
    CHECK_EQ_INT(rr, DMVF_OK);
    CHECK_EQ_INT(rh, DMVF_OK);
    CHECK_EQ_INT(rt, DMVF_OK);
    CHECK(lr > 0);
    CHECK_MSG(lr == lh && memcmp(rel, held, lr) == 0, "the held release differs from the release (%zu vs %zu bytes)",
              lh, lr);
    CHECK_MSG(lh == lt && memcmp(held, heldt, lh) == 0, "held releases of twins differ");
    CHECK(s.size != t.size || memcmp(s.data, t.data, s.size) != 0);
    if (fh) {
        CHECK_EQ_INT(dmvf_filter_decision(fh), DMVF_DECISION_REVIEW);
        uint64_t in, out;
        dmvf_filter_counts(fh, &in, &out, NULL);
        CHECK_EQ_INT(in, 200);
        CHECK_EQ_INT(out, 200);
        CHECK_EQ_INT(dmvf_filter_subject_count(fh), 200);
        CHECK(count_at(fh, "person.family_name", DMVF_FIELD_RELEASE) > 0);
        CHECK(count_at(fh, "license.number", DMVF_FIELD_ENCRYPT) > 0);
        dmvf_trailer tr;
        CHECK_EQ_INT(dmvf_filter_finish(fh, &tr), DMVF_OK);
        CHECK_EQ_INT(tr.decision, DMVF_DECISION_REVIEW);
        CHECK_EQ_INT(tr.records_out, 0); /* the requester is told nothing was released */
        dmvf_filter_free(fh);
    }
    free(rel);
    free(held);
    free(heldt);

    /* without hold_for_review: refused as before */
    size_t l;
    int rc;
    uint8_t *o = through(pol, kr, DMVF_AGENCY_COMMERCIAL, NULL, s.data, s.size, &l, &rc, NULL);
    CHECK_EQ_INT(rc, DMVF_EREFUSED);
    CHECK_EQ_INT(l, 0);
    free(o);

    /* a review rule without a profile: the held release is empty */
    dmvf_filter *fb = NULL;
    o = through(pol, kr, DMVF_AGENCY_TRIBAL, &hold, s.data, s.size, &l, &rc, &fb);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_EQ_INT(l, 0);
    if (fb) {
        uint64_t in, out;
        dmvf_filter_counts(fb, &in, &out, NULL);
        CHECK_EQ_INT(in, 200);
        CHECK_EQ_INT(out, 0);
        CHECK_EQ_INT(dmvf_filter_subject_count(fb), 200);
        CHECK_EQ_INT(dmvf_filter_field_counts(fb, NULL, 0), 0);
        CHECK_EQ_INT(dmvf_filter_decision(fb), DMVF_DECISION_REVIEW);
        dmvf_filter_free(fb);
    }
    free(o);

    /* a held release past the rule's record limit is refused; still REVIEW */
    dmvf_filter *fs = NULL;
    o = through(pol, kr, DMVF_AGENCY_FOREIGN, &hold, s.data, s.size, &l, &rc, &fs);
    CHECK_EQ_INT(rc, DMVF_EREFUSED);
    CHECK_EQ_INT(l, 0);
    if (fs) {
        CHECK_EQ_INT(dmvf_filter_decision(fs), DMVF_DECISION_REVIEW);
        CHECK_EQ_INT(dmvf_filter_field_counts(fs, NULL, 0), 0);
        CHECK_EQ_INT(dmvf_filter_subject_count(fs), 6);
        dmvf_filter_free(fs);
    }
    free(o);

    /* explain shows what a held request would release */
    char epath[400];
    snprintf(epath, sizeof epath, "%s/explain.txt", g_dir);
    FILE *ef = fopen(epath, "w");
    CHECK(ef != NULL);
    if (ef) {
        dmvf_request eq = kind_req(DMVF_AGENCY_COMMERCIAL);
        CHECK_EQ_INT(dmvf_policy_explain_as_of(pol, &eq, 20250601, ef), DMVF_OK);
        fclose(ef);
        size_t elen;
        char *text = (char *)slurp(epath, &elen);
        CHECK(text && strstr(text, "decision: review") && strstr(text, "the held release is:") &&
              strstr(text, "license.number") && strstr(text, "encrypt"));
        free(text);
    }

    /* the held plan pseudonymizes: a keyring is required */
    dmvf_request q = kind_req(DMVF_AGENCY_COMMERCIAL);
    dmvf_filter *f = dmvf_filter_create(pol, NULL, &q, &hold, &err);
    CHECK(f == NULL);
    CHECK_EQ_INT(err.code, DMVF_EKEYRING);
    dmvf_filter_free(f);
    f = dmvf_filter_create(pol, NULL, &q, &judged, &err); /* not held: no keys needed */
    CHECK(f != NULL);
    if (f)
        CHECK_EQ_INT(dmvf_filter_key_epoch(f), 0);
    dmvf_filter_free(f);

    free_stream(&s);
    free_stream(&t);
    dmvf_policy_free(pol);
}

/* ------------------------------------------------------------------ request copy */

static void test_request(const dmvf_policy *pol, const dmvf_keyring *kr)
{
    char id[32], ori[16], tag0[32], tag1[32], field[32], ref[32];
    snprintf(id, sizeof id, "req-copy-1");
    snprintf(ori, sizeof ori, "NYUNIV001");
    snprintf(tag0, sizeof tag0, "study");
    snprintf(tag1, sizeof tag1, "annual");
    snprintf(field, sizeof field, "history.*");
    snprintf(ref, sizeof ref, "IRB-2025-7");
    const char *tags[] = {tag0, tag1};
    const char *fields[] = {field};
    dmvf_request q = research_req();
    q.request_id = id;
    q.ori = ori;
    q.tags = tags;
    q.ntags = 2;
    q.fields = fields;
    q.nfields = 1;
    q.legal_reference = ref;
    q.agency_name = NULL;
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &q, &judged, &err);
    CHECK(f != NULL);
    if (!f)
        return;
    /* the caller's strings change: the filter's copy does not */
    memset(id, 'x', sizeof id - 1);
    memset(ori, 'x', sizeof ori - 1);
    memset(tag0, 'x', sizeof tag0 - 1);
    memset(tag1, 'x', sizeof tag1 - 1);
    memset(field, 'x', sizeof field - 1);
    memset(ref, 'x', sizeof ref - 1);
    tags[0] = tags[1] = fields[0] = "gone";
    const dmvf_request *c = dmvf_filter_request_received(f);
    CHECK_EQ_STR(c->request_id, "req-copy-1");
    CHECK_EQ_STR(c->ori, "NYUNIV001");
    CHECK_EQ_INT(c->ntags, 2);
    CHECK_EQ_STR(c->tags[0], "study");
    CHECK_EQ_STR(c->tags[1], "annual");
    CHECK_EQ_INT(c->nfields, 1);
    CHECK_EQ_STR(c->fields[0], "history.*");
    CHECK_EQ_STR(c->legal_reference, "IRB-2025-7");
    CHECK(c->agency_name == NULL);
    CHECK(c->channel == NULL);
    CHECK_EQ_INT(c->agency_kind, DMVF_AGENCY_RESEARCH);
    CHECK_EQ_INT(c->purpose, 5);
    CHECK_EQ_INT(c->date, 20250601);
    /* as the DMV records it: the directory's name, kind, jurisdiction and
     * tags (the request's tags contradict the directory: refused), the
     * request's own attributes, and the day it was judged on */
    const dmvf_request *d = dmvf_filter_request(f);
    CHECK_EQ_STR(d->request_id, "req-copy-1");
    CHECK_EQ_STR(d->ori, "NYUNIV001");
    CHECK_EQ_STR(d->agency_name, "Cornell Transportation Lab");
    CHECK_EQ_INT(d->agency_kind, DMVF_AGENCY_RESEARCH);
    CHECK_EQ_STR(d->jurisdiction, "NY");
    CHECK_EQ_INT(d->ntags, 0);
    CHECK_EQ_INT(d->nfields, 1);
    CHECK_EQ_STR(d->fields[0], "history.*");
    CHECK_EQ_STR(d->legal_reference, "IRB-2025-7");
    CHECK_EQ_INT(d->date, 20250601);
    CHECK_EQ_INT(dmvf_filter_precheck(f), DMVF_PRECHECK_CONTRADICTS);
    CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_DENY);
    CHECK(dmvf_filter_requester(f) && strcmp(dmvf_filter_requester(f)->ori, "NYUNIV001") == 0);
    CHECK_EQ_INT(dmvf_filter_judged_date(f), 20250601);
    CHECK_EQ_INT(dmvf_filter_as_of(f), 20250601);
    CHECK_EQ_STR(dmvf_filter_policy_id(f), dmvf_policy_id(pol));
    CHECK_EQ_INT(dmvf_filter_key_epoch(f), dmvf_keyring_epoch(kr));
    CHECK(dmvf_keyring_epoch(kr) != 0);
    dmvf_trailer t;
    CHECK_EQ_INT(dmvf_filter_finish(f, &t), DMVF_OK);
    CHECK_EQ_STR(t.request_id, "req-copy-1");
    CHECK_EQ_INT(t.key_epoch, dmvf_filter_key_epoch(f));
    dmvf_filter_free(f);
}

/* ------------------------------------------------------------------ framed */

static uint8_t *put_frame(uint8_t *o, uint8_t key, const uint8_t *body, size_t n)
{
    uint8_t hdr[12], *h = hdr;
    *h++ = key;
    size_t v = n;
    while (v >= 0x80) {
        *h++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *h++ = (uint8_t)v;
    size_t total = (size_t)(h - hdr) + n;
    v = total;
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    memcpy(o, hdr, (size_t)(h - hdr));
    o += h - hdr;
    memcpy(o, body, n);
    return o + n;
}

static uint8_t *put_request(uint8_t *o, const char *id, const char *ori, Dmv__V1__AgencyKind kind, unsigned purpose)
{
    Dmv__V1__Request r = DMV__V1__REQUEST__INIT;
    r.request_id = (char *)id;
    r.ori = (char *)ori;
    r.agency_kind = kind;
    r.jurisdiction = (char *)"NY";
    r.purpose = purpose;
    r.date = 20250601;
    uint8_t buf[256];
    size_t n = dmv__v1__request__pack(&r, buf);
    return put_frame(o, 0x0a, buf, n);
}

typedef struct seen { size_t subjects[4]; size_t n; } seen;

static void on_request(void *ud, const dmvf_filter *f, const dmvf_trailer *t)
{
    seen *s = ud;
    (void)t;
    if (s->n < 4)
        s->subjects[s->n++] = dmvf_filter_subject_count(f);
}

/* Framed streams: the records of a refused request are counted and, with
 * collect_subjects, their record_ids kept. */
static void test_framed(const dmvf_policy *pol, const dmvf_keyring *kr)
{
    stream s;
    if (gen("framed", "--count 5 --seed 71", &s, NULL) != 0)
        return;
    uint8_t *in = malloc(s.size + 1024), *o = in;
    o = put_request(o, "refused", "XX0000000", DMV__V1__AGENCY_KIND__AGENCY_KIND_COMMERCIAL, 0);
    for (size_t i = 0; i < 3; i++)
        o = put_frame(o, 0x12, s.rec[i].p, s.rec[i].n);
    o = put_request(o, "released", "NYUNIV001", DMV__V1__AGENCY_KIND__AGENCY_KIND_RESEARCH, 5);
    for (size_t i = 3; i < 5; i++)
        o = put_frame(o, 0x12, s.rec[i].p, s.rec[i].n);
    for (int collect = 0; collect <= 1; collect++) {
        dmvf_filter_options opt;
        memset(&opt, 0, sizeof opt);
        opt.as_of = 20250601;
        opt.collect_subjects = collect;
        dmvf_error err;
        dmvf_framed *fr = dmvf_framed_create(pol, kr, &opt, &err);
        CHECK(fr != NULL);
        if (!fr)
            continue;
        seen sn;
        memset(&sn, 0, sizeof sn);
        dmvf_framed_set_callback(fr, on_request, &sn);
        size_t cap = 1 << 20;
        uint8_t *out = malloc(cap);
        dmvf_in_buffer ib = {in, (size_t)(o - in), 0};
        dmvf_out_buffer ob = {out, cap, 0};
        int rc = dmvf_framed_stream(fr, &ob, &ib, 1, &err);
        CHECK_MSG(rc == DMVF_OK, "framed: %s", err.msg);
        CHECK_EQ_INT(sn.n, 2);
        CHECK_EQ_INT(sn.subjects[0], collect ? 3 : 0);
        CHECK_EQ_INT(sn.subjects[1], collect ? 2 : 0);
        dmvf_framed_stats st;
        dmvf_framed_stats_get(fr, &st);
        CHECK_EQ_INT(st.records_in, 5);
        CHECK_EQ_INT(st.records_out, 2);
        free(out);
        dmvf_framed_free(fr);
    }
    free(in);
    free_stream(&s);
}

/* ------------------------------------------------------------------ policy sections */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

static const char sections_policy[] =
    "version: 1\n"
    "audit: {dir: audit, required: true, subjects: true, rotate_bytes: 64M, rotate_seconds: 86400,\n"
    "        compress: true}\n"
    "notices:\n"
    "  queue: /var/spool/dmv/notices.jsonl\n"
    "  due_days: 5\n"
    "  business_days: true\n"
    "  holidays: [2026-12-25, 2026-11-26, 2026-01-01, 2026-11-26]\n"
    "review: {spool: ../review, public_key: keys/reviewers.pub}\n"
    "profiles: {p: {fields: {person.family_name: release}}}\n"
    "requesters: [{ori_prefix: DCICE, name: ICE, kind: federal, tags: [immigration-enforcement]}]\n"
    "rules:\n"
    "  - name: immigration\n"
    "    match: {tags: [immigration-enforcement]}\n"
    "    decision: release\n"
    "    notify_subject: true\n"
    "    profile: p\n"
    "  - name: commercial\n"
    "    match: {agency_kind: [commercial]}\n"
    "    decision: review\n";

static void test_sections(void)
{
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/pol", g_dir);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/policy.yaml", dir);
    write_file(path, sections_policy);
    dmvf_error err;
    dmvf_policy *p = dmvf_policy_load_file(path, &err);
    CHECK_MSG(p != NULL, "sections: %s", p ? "" : err.msg);
    if (p) {
        char want[500];
        dmvf_policy_audit a;
        dmvf_policy_audit_settings(p, &a);
        snprintf(want, sizeof want, "%s/audit", dir);
        CHECK_EQ_STR(a.dir, want);
        CHECK_EQ_INT(a.required, 1);
        CHECK_EQ_INT(a.subjects, 1);
        CHECK_EQ_INT(a.rotate_bytes, (uint64_t)64 << 20);
        CHECK_EQ_INT(a.rotate_seconds, 86400);
        CHECK_EQ_INT(a.compress, 1);
        dmvf_policy_notices n;
        dmvf_policy_notice_settings(p, &n);
        CHECK_EQ_STR(n.queue, "/var/spool/dmv/notices.jsonl");
        CHECK_EQ_INT(n.due_days, 5);
        CHECK_EQ_INT(n.business_days, 1);
        CHECK_EQ_INT(n.nholidays, 4);
        if (n.nholidays == 4) {
            CHECK_EQ_INT(n.holidays[0], 20260101);
            CHECK_EQ_INT(n.holidays[1], 20261126);
            CHECK_EQ_INT(n.holidays[2], 20261126);
            CHECK_EQ_INT(n.holidays[3], 20261225);
        }
        dmvf_policy_review r;
        dmvf_policy_review_settings(p, &r);
        snprintf(want, sizeof want, "%s/../review", dir);
        CHECK_EQ_STR(r.spool, want);
        snprintf(want, sizeof want, "%s/keys/reviewers.pub", dir);
        CHECK_EQ_STR(r.public_key, want);
        /* policy check prints the sections */
        char out[400];
        snprintf(out, sizeof out, "%s/describe.txt", g_dir);
        FILE *fp = fopen(out, "w+");
        CHECK(fp != NULL);
        if (fp) {
            CHECK_EQ_INT(dmvf_policy_describe(p, fp), DMVF_OK);
            fclose(fp);
            size_t len;
            char *text = (char *)slurp(out, &len);
            CHECK(text && strstr(text, "audit: dir ") && strstr(text, "rotate at 64 MiB") &&
                  strstr(text, "rotate every 86400 s") && strstr(text, "required"));
            CHECK(text && strstr(text, "notices: queue /var/spool/dmv/notices.jsonl; due in 5 business days") &&
                  strstr(text, "holidays 2026-01-01, 2026-11-26, 2026-11-26, 2026-12-25"));
            CHECK(text && strstr(text, "review: spool ") && strstr(text, "keys/reviewers.pub"));
            free(text);
        }
        /* the id is still the hash of the bytes */
        dmvf_policy *b = dmvf_policy_load_buffer(sections_policy, strlen(sections_policy), "<mem>", &err);
        CHECK(b != NULL);
        if (b) {
            CHECK_EQ_STR(dmvf_policy_id(b), dmvf_policy_id(p));
            dmvf_policy_review_settings(b, &r);
            CHECK_EQ_STR(r.spool, "../review"); /* from memory: as given */
            dmvf_policy_audit_settings(b, &a);
            CHECK_EQ_STR(a.dir, "audit");
            dmvf_policy_free(b);
        }
        dmvf_policy_free(p);
    }
    /* no sections: NULLs and the defaults */
    const char *bare = "version: 1\nrules: []\nrequesters: []\n";
    p = dmvf_policy_load_buffer(bare, strlen(bare), "<bare>", &err);
    CHECK(p != NULL);
    if (p) {
        dmvf_policy_audit a;
        dmvf_policy_notices n;
        dmvf_policy_review r;
        memset(&a, 0xff, sizeof a);
        dmvf_policy_audit_settings(p, &a);
        dmvf_policy_notice_settings(p, &n);
        dmvf_policy_review_settings(p, &r);
        CHECK(a.dir == NULL && a.required == 0 && a.subjects == 0 && a.rotate_bytes == 0 && a.compress == 0);
        CHECK(n.queue == NULL && n.due_days == 3 && n.nholidays == 0 && n.business_days == 0);
        CHECK(r.spool == NULL && r.public_key == NULL);
        dmvf_policy_free(p);
    }
    /* sizes */
    static const struct { const char *v; uint64_t want; } sizes[] = {
        {"1", 1}, {"1024", 1024}, {"512K", 512u << 10}, {"512KiB", 512u << 10}, {"2G", (uint64_t)2 << 30},
        {"1T", (uint64_t)1 << 40}, {"3MB", 3u << 20},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char y[200];
        snprintf(y, sizeof y, "version: 1\naudit: {rotate_bytes: %s}\nrules: []\nrequesters: []\n", sizes[i].v);
        p = dmvf_policy_load_buffer(y, strlen(y), "<size>", &err);
        CHECK_MSG(p != NULL, "rotate_bytes %s: %s", sizes[i].v, p ? "" : err.msg);
        if (p) {
            dmvf_policy_audit a;
            dmvf_policy_audit_settings(p, &a);
            CHECK_EQ_INT(a.rotate_bytes, sizes[i].want);
            dmvf_policy_free(p);
        }
    }
    static const char *const badsizes[] = {"0", "M", "12X", "-1", "64 M", "99999999999999999999", "20000000T"};
    for (size_t i = 0; i < sizeof badsizes / sizeof badsizes[0]; i++) {
        char y[200];
        snprintf(y, sizeof y, "version: 1\naudit: {rotate_bytes: '%s'}\nrules: []\nrequesters: []\n", badsizes[i]);
        p = dmvf_policy_load_buffer(y, strlen(y), "<size>", &err);
        CHECK_MSG(p == NULL, "rotate_bytes '%s' accepted", badsizes[i]);
        if (!p)
            CHECK_MSG(err.line == 2 && strstr(err.msg, "rotate_bytes must be a size"), "%s", err.msg);
        dmvf_policy_free(p);
    }
}

int main(void)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 5 + 3);
    dmvf_policy *pol;
    dmvf_keyring *kr;
    fixture_open("stats", seed, 2, &pol, &kr);
    if (pol && kr) {
        test_counts(pol, kr);
        test_subjects(pol, kr);
        test_merge(pol, kr);
        test_request(pol, kr);
        test_framed(pol, kr);
        test_not_allowed(pol, kr);
    }
    if (kr)
        test_hold(kr);
    if (g_dir[0])
        test_sections();
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    CHECK_DONE();
}
