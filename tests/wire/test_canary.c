/*
 * test_canary.c - "no redacted value ever appears in the output".
 *
 * dmvf-gen --canary writes records in which every leaf position of the
 * schema (every repeated element, every Address position) holds a unique
 * value, plus unknown fields with canary values in every message, and a
 * manifest of them all. For each requester the example policy releases to,
 * the canary records are filtered and the output searched:
 *   - a value of a path the policy releases verbatim (hard-coded below from
 *     examples/policy.yaml) must appear, so the search can fail;
 *   - a value of any other path must not appear;
 *   - no unknown-field canary may appear.
 * Strings and bytes are searched as raw bytes. Numbers are searched as their
 * protobuf encoding: the field's tag followed by the value's varint (the
 * decimal text of a number means nothing in protobuf). Enums and bools
 * cannot be unique and are not searched.
 * The same runs over a --wild (non-canonical) encoding of canary records.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"
#include "filter/wire/schema.h"
#include "check.h"
#include "fixture.h"

/* ---- the manifest ---- */

typedef struct entry {
    char *path;
    char *type;
    char *value;
} entry;

typedef struct manifest {
    char *text;
    entry *e;
    size_t n;
} manifest;

static int load_manifest(const char *path, manifest *m)
{
    size_t len;
    memset(m, 0, sizeof *m);
    m->text = (char *)slurp(path, &len);
    if (!m->text)
        return -1;
    size_t cap = 256;
    m->e = malloc(cap * sizeof *m->e);
    for (char *line = m->text; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl)
            return -1;  /* every line ends with a newline */
        *nl = 0;
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1 || !t2)
            return -1;
        *t1 = *t2 = 0;
        if (m->n == cap)
            m->e = realloc(m->e, (cap *= 2) * sizeof *m->e);
        m->e[m->n++] = (entry){line, t1 + 1, t2 + 1};
        line = nl + 1;
    }
    return 0;
}

/* ---- requesters and what each gets verbatim (examples/policy.yaml) ---- */

static const char *const minimal_verbatim[] = {
    "person.family_name", "person.given_name", "person.birth_date", "license.number",
    "license.status", NULL,
};
/* The police profile releases license.class_code and license.restrictions,
 * but only as values on their allow lists (marking.normalize): a canary
 * value is on none, so it must not appear. Marking released (dmv internal),
 * they are not normalized and appear. */
static const char *const police_verbatim[] = {
    "person.family_name", "person.given_name", "person.birth_date", "license.number",
    "license.status", "person.residence.*", "vehicles.*", "history.*", NULL,
};
static const char *const research_verbatim[] = {"history.code", NULL};
static const char *const internal_verbatim[] = {
    "person.family_name", "person.given_name", "person.birth_date", "license.number",
    "license.status", "person.residence.*", "license.class_code", "license.restrictions",
    "vehicles.*", "history.*", "marking.*", "license.expiration_date", NULL,
};

/* Every request is judged as of one day (the filter's as_of). */
static const dmvf_filter_options judged = {.as_of = 20250601};

typedef struct requester {
    const char *name;
    dmvf_request req;
    const char *const *verbatim;
} requester;

static const char *const immigration_tags[] = {"immigration-enforcement"};

static size_t make_requesters(requester *r)
{
    memset(r, 0, 4 * sizeof *r);
    r[0].name = "in-state police";
    r[0].req.ori = "NY0303000";
    r[0].req.agency_kind = DMVF_AGENCY_LOCAL;
    r[0].req.jurisdiction = "NY";
    r[0].req.purpose = 1;
    r[0].req.legal_process = DMVF_LEGAL_NONE;
    r[0].req.query_kind = DMVF_QUERY_BY_LICENSE;
    r[0].verbatim = police_verbatim;

    r[1].name = "immigration enforcement";
    r[1].req.ori = "DCICE0100";
    r[1].req.agency_kind = DMVF_AGENCY_FEDERAL;
    r[1].req.jurisdiction = "DC";
    r[1].req.tags = immigration_tags;
    r[1].req.ntags = 1;
    r[1].req.purpose = 1;
    r[1].req.legal_process = DMVF_LEGAL_JUDICIAL_WARRANT;
    r[1].req.query_kind = DMVF_QUERY_BY_LICENSE;
    r[1].verbatim = minimal_verbatim;

    r[2].name = "researchers";
    r[2].req.ori = "NYUNIV001";
    r[2].req.agency_kind = DMVF_AGENCY_RESEARCH;
    r[2].req.jurisdiction = "NY";
    r[2].req.purpose = 5;
    r[2].req.query_kind = DMVF_QUERY_LIST;
    r[2].verbatim = research_verbatim;

    r[3].name = "dmv internal";
    r[3].req.ori = "NYDMV0000";
    r[3].req.agency_kind = DMVF_AGENCY_INTERNAL;
    r[3].req.jurisdiction = "NY";
    r[3].req.query_kind = DMVF_QUERY_BY_LICENSE;
    r[3].verbatim = internal_verbatim;
    return 4;
}

static int is_verbatim(const char *const *list, const char *path)
{
    for (; *list; list++) {
        size_t n = strlen(*list);
        if (n >= 2 && strcmp(*list + n - 2, ".*") == 0) {
            if (strncmp(path, *list, n - 1) == 0)  /* "x." prefix */
                return 1;
        } else if (strcmp(path, *list) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- searching ---- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static int contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    const uint8_t *nd = needle;
    if (m == 0 || m > n)
        return 0;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == nd[0] && memcmp(hay + i, nd, m) == 0)
            return 1;
    return 0;
}

/* Field number of a manifest path: from the schema, or <n> of "...unknown.<n>". */
static int field_number(const char *path, uint32_t *num, int *unknown)
{
    const char *u = strstr(path, "unknown.");
    if (u && (u == path || u[-1] == '.')) {
        *unknown = 1;
        *num = (uint32_t)strtoul(u + 8, NULL, 10);
        return *num > 0;
    }
    *unknown = 0;
    const dmvf_sfield *sf = dmvf__schema_find(path);
    if (!sf)
        return 0;
    *num = sf->number;
    return 1;
}

/* 1 if the entry's value occurs in out, 0 if not, -1 if it cannot be searched. */
static int occurs(const entry *e, const uint8_t *out, size_t n, uint32_t num)
{
    if (strcmp(e->type, "string") == 0 || strcmp(e->type, "bytes") == 0)
        return contains(out, n, e->value, strlen(e->value));
    if (strcmp(e->type, "uint32") == 0 || strcmp(e->type, "int32") == 0 ||
        strcmp(e->type, "uint64") == 0) {
        uint8_t pat[24];
        size_t k = put_varint(pat, (uint64_t)num << 3);
        k += put_varint(pat + k, strtoull(e->value, NULL, 10));
        return contains(out, n, pat, k);
    }
    return -1;  /* enum, bool */
}

/* ---- one canary set through every requester ---- */

static void canary_set(const char *what, const char *genargs, const dmvf_policy *pol,
                       const dmvf_keyring *kr)
{
    char pbin[300], pman[300], args[1024];
    snprintf(pbin, sizeof pbin, "%s/%s.bin", g_dir, what);
    snprintf(pman, sizeof pman, "%s/%s.manifest", g_dir, what);
    snprintf(args, sizeof args, "--canary %s --out '%s' --manifest '%s'", genargs, pbin, pman);
    int rc = run_gen(args);
    CHECK_MSG(rc == 0, "%s: dmvf-gen %s failed (%d)", what, args, rc);
    if (rc != 0)
        return;

    manifest m;
    CHECK_MSG(load_manifest(pman, &m) == 0, "%s: manifest %s unreadable or malformed", what, pman);
    size_t inlen;
    uint8_t *in = slurp(pbin, &inlen);
    CHECK(in != NULL);
    if (!in || !m.e) {
        free(in);
        free(m.e);
        free(m.text);
        return;
    }

    /* The canaries cover every leaf position of the schema, and every value
     * (numbers as tag + varint) is in the input, so absence means something. */
    size_t npaths = dmvf__schema_npaths(), missing = 0, unknowns = 0, unsearchable_in = 0;
    for (size_t id = 0; id < npaths; id++) {
        const dmvf_sfield *sf = dmvf__schema_field(id);
        if (sf->type == DMVF_T_MESSAGE)
            continue;
        size_t seen = 0;
        for (size_t i = 0; i < m.n; i++)
            seen += strcmp(m.e[i].path, sf->path) == 0;
        if (seen < (sf->repeated ? 2u : 1u)) {
            missing++;
            fprintf(stderr, "%s: no canary for %s\n", what, sf->path);
        }
    }
    for (size_t i = 0; i < m.n; i++) {
        uint32_t num;
        int unk;
        if (!field_number(m.e[i].path, &num, &unk)) {
            CHECK_MSG(0, "%s: manifest path %s is not in the schema", what, m.e[i].path);
            continue;
        }
        unknowns += (size_t)unk;
        /* the wild encoding pads and reorders, so only canonical input is searched */
        if (strcmp(what, "canonical") == 0 && occurs(&m.e[i], in, inlen, num) == 0)
            unsearchable_in++;
    }
    CHECK_EQ_INT(missing, 0);
    CHECK_MSG(unknowns >= 2 * 10, "%s: only %zu unknown-field canaries", what, unknowns);
    CHECK_MSG(unsearchable_in == 0, "%s: %zu canary values not found in the input itself",
              what, unsearchable_in);

    /* split the delimited input into records */
    size_t cap = 1 << 16;
    uint8_t *out = malloc(cap), *all = NULL;
    size_t alllen = 0, nrec = 0;
    requester rq[4];
    size_t nrq = make_requesters(rq);
    for (size_t k = 0; k < nrq; k++) {
        dmvf_error err;
        dmvf_filter *f = dmvf_filter_create(pol, kr, &rq[k].req, &judged, &err);
        CHECK_MSG(f != NULL, "%s: filter for %s: %s", what, rq[k].name, err.msg);
        if (!f)
            continue;
        CHECK_MSG(dmvf_filter_decision(f) == DMVF_DECISION_RELEASE, "%s: %s not released: %s",
                  what, rq[k].name, dmvf_filter_reason(f));
        free(all);
        all = NULL;
        alllen = 0;
        nrec = 0;
        size_t pos = 0;
        int failed = 0;
        while (pos < inlen && !failed) {
            uint64_t len = 0;
            unsigned shift = 0;
            uint8_t c;
            do {
                c = in[pos++];
                len |= (uint64_t)(c & 0x7f) << shift;
                shift += 7;
            } while ((c & 0x80) && pos < inlen);
            if (len > inlen - pos) {
                CHECK_MSG(0, "%s: truncated canary stream", what);
                break;
            }
            if (dmvf_filter_max_records(f))
                dmvf_filter_reset(f);
            size_t olen = 0;
            int r;
            while ((r = dmvf_filter_record(f, in + pos, (size_t)len, out, cap, &olen, NULL, &err)) == DMVF_ESPACE)
                out = realloc(out, cap *= 2);
            CHECK_MSG(r == DMVF_OK, "%s: %s: record %zu: %s: %s", what, rq[k].name, nrec,
                      dmvf_strerror(r), err.msg);
            if (r != DMVF_OK) {
                failed = 1;
                break;
            }
            all = realloc(all, alllen + olen + 1);
            memcpy(all + alllen, out, olen);
            alllen += olen;
            pos += (size_t)len;
            nrec++;
        }
        dmvf_filter_free(f);
        if (failed)
            continue;

        size_t leaked = 0, absent = 0, checked_in = 0, checked_out = 0;
        for (size_t i = 0; i < m.n; i++) {
            const entry *e = &m.e[i];
            uint32_t num;
            int unk;
            if (!field_number(e->path, &num, &unk))
                continue;
            int o = occurs(e, all, alllen, num);
            if (o < 0)
                continue;
            if (!unk && is_verbatim(rq[k].verbatim, e->path)) {
                checked_in++;
                if (!o && absent++ < 5)
                    fprintf(stderr, "%s: %s: released value of %s missing: %s\n", what,
                            rq[k].name, e->path, e->value);
            } else {
                checked_out++;
                if (o && leaked++ < 10)
                    fprintf(stderr, "%s: %s: LEAK of %s: %s\n", what, rq[k].name, e->path, e->value);
            }
        }
        CHECK_MSG(leaked == 0, "%s: %s: %zu values leaked", what, rq[k].name, leaked);
        CHECK_MSG(absent == 0, "%s: %s: %zu verbatim values missing", what, rq[k].name, absent);
        CHECK_MSG(checked_in > 0 && checked_out > 0, "%s: %s: nothing to check (%zu in, %zu out)",
                  what, rq[k].name, checked_in, checked_out);
        printf("%s: %-24s %zu records, %zu bytes out, %zu values kept, %zu kept out\n", what,
               rq[k].name, nrec, alllen, checked_in, checked_out);
    }
    free(all);
    free(out);
    free(in);
    free(m.e);
    free(m.text);
}

int main(void)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(0xC0 + i);
    dmvf_policy *pol;
    dmvf_keyring *kr;
    fixture_open("canary", seed, 1, &pol, &kr);

    if (pol && kr) {
        canary_set("canonical", "--count 3 --seed 21 --self-check", pol, kr);
        canary_set("wild", "--count 3 --seed 22 --wild --self-check", pol, kr);
    }
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    CHECK_DONE();
}
