/*
 * test_golden.c - records in, expected bytes out, compared exactly.
 *
 * tests/data/golden/records.bin is a committed stream of generated records
 * (some marked); the keyring is the seeded test keyring (seed below), so
 * pseudonyms and encryption tokens are reproducible. For each case the
 * released stream must equal tests/data/golden/<case>.exp byte for byte.
 * DMVF_GOLDEN_UPDATE=1 rewrites the .exp files (review the diff before
 * committing: the bytes are the contract).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = b ? fread(b, 1, (size_t)sz, f) : 0;
    fclose(f);
    return b;
}

static unsigned char *run(const dmvf_policy *p, const dmvf_keyring *k, const dmvf_request *r,
                          const unsigned char *in, size_t n, size_t *out_n, int *rc_out)
{
    dmvf_error err;
    /* judged as of a fixed day, so that the certifications never expire under the test */
    dmvf_filter_options o = {.as_of = 20261122};
    dmvf_filter *f = dmvf_filter_create(p, k, r, &o, &err);
    *out_n = 0;
    if (!f) {
        *rc_out = err.code;
        return NULL;
    }
    size_t cap = 4 * n + 65536;
    unsigned char *out = malloc(cap);
    dmvf_in_buffer ib = {in, n, 0};
    dmvf_out_buffer ob = {out, cap, 0};
    *rc_out = dmvf_filter_decision(f) == DMVF_DECISION_RELEASE
        ? dmvf_filter_stream(f, &ob, &ib, 1, &err) : DMVF_EREFUSED;
    *out_n = ob.pos;
    dmvf_filter_free(f);
    return out;
}

int main(void)
{
    const char *src = getenv("DMVF_SRC");
    int update = getenv("DMVF_GOLDEN_UPDATE") != NULL;
    char path[4096], dir[] = "/tmp/dmvf-golden-XXXXXX";
    CHECK(src != NULL);
    if (!src || !mkdtemp(dir))
        CHECK_DONE();

    static const uint8_t seed[32] = "dmvfilter golden test keyring!!";
    snprintf(path, sizeof path, "%s/keyring", dir);
    dmvf_error err;
    CHECK_EQ_INT(dmvf__keyring_create_seeded(path, seed, 1, &err), DMVF_OK);
    dmvf_keyring *kr = dmvf_keyring_load(path, NULL, &err);
    CHECK(kr != NULL);
    snprintf(path, sizeof path, "%s/examples/policy.yaml", src);
    dmvf_policy *pol = dmvf_policy_load_file(path, &err);
    CHECK_MSG(pol != NULL, "%s", err.msg);
    size_t n = 0;
    snprintf(path, sizeof path, "%s/tests/data/golden/records.bin", src);
    unsigned char *in = slurp(path, &n);
    CHECK(in != NULL && n > 1000);
    if (!kr || !pol || !in)
        CHECK_DONE();

    const char *tags[] = {"immigration-enforcement"};
    struct {
        const char *name;
        dmvf_request req;
        int rc;
    } cases[] = {
        {"police", {.ori = "NY0300000", .agency_kind = DMVF_AGENCY_LOCAL, .jurisdiction = "NY",
                    .purpose = 1, .query_kind = DMVF_QUERY_BY_LICENSE}, DMVF_OK},
        {"research", {.ori = "NYUNIV000", .agency_kind = DMVF_AGENCY_RESEARCH, .purpose = 5,
                      .query_kind = DMVF_QUERY_LIST}, DMVF_OK},
        {"police_fields", {.ori = "NY0300000", .agency_kind = DMVF_AGENCY_LOCAL, .jurisdiction = "NY",
                           .purpose = 1, .query_kind = DMVF_QUERY_BY_PLATE,
                           .fields = (const char *const[]){"person.family_name", "vehicles.plate"},
                           .nfields = 2}, DMVF_OK},
        /* a warrant, but a bulk query kind the rule does not allow: refused */
        {"ice_list", {.ori = "DCICE0100", .agency_kind = DMVF_AGENCY_FEDERAL, .tags = tags, .ntags = 1,
                      .legal_process = DMVF_LEGAL_JUDICIAL_WARRANT, .query_kind = DMVF_QUERY_LIST}, DMVF_EREFUSED},
        /* allowed kind, but more records than max_records 1: refused, nothing out */
        {"ice_many", {.ori = "DCICE0100", .agency_kind = DMVF_AGENCY_FEDERAL, .tags = tags, .ntags = 1,
                      .legal_process = DMVF_LEGAL_JUDICIAL_WARRANT, .query_kind = DMVF_QUERY_BY_LICENSE}, DMVF_EREFUSED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t on = 0;
        int rc;
        unsigned char *out = run(pol, kr, &cases[i].req, in, n, &on, &rc);
        CHECK_MSG(rc == cases[i].rc, "%s: rc %d, expected %d", cases[i].name, rc, cases[i].rc);
        snprintf(path, sizeof path, "%s/tests/data/golden/%s.exp", src, cases[i].name);
        if (update) {
            FILE *f = fopen(path, "wb");
            CHECK(f != NULL);
            if (f) {
                if (on)
                    fwrite(out, 1, on, f);
                fclose(f);
            }
        } else {
            size_t en = 0;
            unsigned char *exp = slurp(path, &en);
            CHECK_MSG(exp != NULL, "%s missing", path);
            CHECK_MSG(exp && en == on && memcmp(exp, out, on) == 0,
                      "%s: output (%zu bytes) differs from %s (%zu bytes)", cases[i].name, on, path, en);
            free(exp);
        }
        if (rc == DMVF_EREFUSED)
            CHECK_MSG(on == 0, "%s: a refused request released %zu bytes", cases[i].name, on);
        else
            CHECK_MSG(on > 0, "%s: released nothing", cases[i].name);
        free(out);
    }
    free(in);
    dmvf_policy_free(pol);
    dmvf_keyring_free(kr);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    CHECK(system(path) == 0);
    CHECK_DONE();
}
