/*
 * test_policy.c - policy loading, compiling, decisions, plan_restrict and
 * explain: the bundled example policy against concrete requests, every bad
 * policy under tests/data/policies/bad/ (each names the line, column and
 * message it must fail with on its first line), and the resolution rules on
 * tests/data/policies/good/precedence.yaml.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "check.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/policy/decide.h"
#include "filter/wire/plan.h"

static char g_src[1024];

static void path_of(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", g_src, rel);
}

/* The plan entry at a dotted path, or NULL when an enclosing message is not
 * descended into (so the position is redacted). */
static const dmvf_fplan *at(const dmvf_plan *pl, const char *path)
{
    const dmvf_pnode *node = pl->root;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
        const dmvf_sfield *sf = NULL;
        for (size_t i = 0; i < node->schema->nfields; i++)
            if (strcmp(node->schema->fields[i].name, seg) == 0)
                sf = &node->schema->fields[i];
        if (!sf) {
            fprintf(stderr, "test bug: no field %s in %s\n", seg, path);
            abort();
        }
        const dmvf_fplan *e = &node->f[sf->number];
        if (e->sf != sf) {
            fprintf(stderr, "plan entry for %s has the wrong sf\n", path);
            return NULL;
        }
        char *rest = save && *save ? save : NULL;
        if (!rest)
            return e;
        if (e->action != DMVF_ACT_DESCEND)
            return NULL;
        node = e->child;
    }
    return NULL;
}

static int act(const dmvf_plan *pl, const char *path)
{
    const dmvf_fplan *e = at(pl, path);
    return e ? e->action : DMVF_ACT_REDACT;
}

static dmvf_request police_req(void)
{
    dmvf_request r;
    memset(&r, 0, sizeof r);
    r.ori = "NY0300000";
    r.agency_kind = DMVF_AGENCY_LOCAL;
    r.jurisdiction = "NY";
    r.purpose = 1;
    r.query_kind = DMVF_QUERY_BY_LICENSE;
    r.legal_process = DMVF_LEGAL_NONE;
    return r;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static void test_example(void)
{
    char path[1200];
    dmvf_error err;
    memset(&err, 0, sizeof err);
    path_of(path, sizeof path, "examples/policy.yaml");
    dmvf_policy *p = dmvf_policy_load_file(path, &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (!p)
        return;

    /* id: BLAKE2b-256 of the bytes, lowercase hex */
    size_t len = 0;
    char *bytes = read_all(path, &len);
    CHECK(bytes != NULL);
    unsigned char h[32];
    char hex[65];
    crypto_generichash(h, sizeof h, (const unsigned char *)bytes, len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    CHECK_EQ_STR(dmvf_policy_id(p), hex);
    dmvf_policy *p2 = dmvf_policy_load_buffer(bytes, len, "copy", &err);
    CHECK(p2 != NULL);
    if (p2) {
        CHECK_EQ_STR(dmvf_policy_id(p2), hex);
        dmvf_policy_free(p2);
    }
    free(bytes);

    /* in-state police; requests are judged as of `day` (the filter's as_of) */
    uint32_t day = 20260101;
    dmvf_request q = police_req();
    dmvf_verdict v;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_RELEASE);
    CHECK_EQ_STR(v.rule_name, "in-state police");
    CHECK_EQ_INT(v.max_records, 50);
    CHECK_EQ_INT(v.notify_subject, 0);
    CHECK(v.plan != NULL);
    const dmvf_plan *police = v.plan;
    if (police) {
        CHECK_EQ_INT(police->marking_release, 0);
        CHECK(police->max_token_growth >= 64);
        CHECK_EQ_INT(act(police, "record_id"), DMVF_ACT_PSEUDONYMIZE);
        CHECK_EQ_INT(police->npseudo, 1);
        if (police->npseudo == 1)
            CHECK_EQ_STR(police->pseudo_paths[0], "record_id");
        CHECK_EQ_INT(at(police, "record_id")->pidx, 0);
        CHECK_EQ_INT(act(police, "person"), DMVF_ACT_DESCEND);
        CHECK_EQ_INT(act(police, "person.family_name"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(police, "person.birth_date"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(police, "person.residence"), DMVF_ACT_DESCEND);
        CHECK_EQ_INT(act(police, "person.residence.street"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(police, "person.residence.postal_code"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(police, "person.mailing"), DMVF_ACT_REDACT);
        const dmvf_fplan *ph = at(police, "person.phone");
        CHECK(ph && ph->action == DMVF_ACT_MASK && ph->mask_first == 0 && ph->mask_last == 4);
        CHECK_EQ_INT(act(police, "person.race"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(police, "person.ssn"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(police, "person.middle_name"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(police, "marking"), DMVF_ACT_REDACT);
        CHECK(at(police, "marking") != NULL && at(police, "marking")->child == NULL);
        CHECK_EQ_INT(act(police, "documents"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(police, "application"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(police, "photo"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(police, "license.number"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(police, "license.expiration_date"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(police, "license.document_discriminator"), DMVF_ACT_REDACT);
        const dmvf_fplan *cc = at(police, "license.class_code");
        CHECK(cc && cc->action == DMVF_ACT_RELEASE);
        if (cc) {
            CHECK(cc->norm != NULL);
            CHECK_EQ_INT(cc->norm ? cc->norm->nentry : 0, 1);
            if (cc->norm && cc->norm->nentry == 1) {
                const dmvf_norm_entry *e = &cc->norm->entry[0];
                CHECK(e->from_len == 2 && memcmp(e->from, "DP", 2) == 0);
                CHECK(e->to_len == 1 && memcmp(e->to, "D", 1) == 0);
                CHECK_EQ_INT(e->drop, 0);
            }
            if (cc->norm) {
                /* the allow list, sorted by bytes: A B C CDL-A CDL-B CDL-C D DJ E M MJ */
                CHECK_EQ_INT(cc->norm->nallow, 11);
                CHECK(cc->norm->nallow == 11 && cc->norm->allow[3].len == 5 &&
                      memcmp(cc->norm->allow[3].v, "CDL-A", 5) == 0 && cc->norm->allow[6].len == 1 &&
                      cc->norm->allow[6].v[0] == 'D');
                CHECK(cc->norm->otherwise == NULL);
            }
        }
        const dmvf_fplan *rs = at(police, "license.restrictions");
        CHECK(rs && rs->action == DMVF_ACT_RELEASE && rs->norm && rs->norm->nentry == 1 &&
              rs->norm->entry[0].drop == 1 && rs->norm->entry[0].from_len == 3 &&
              memcmp(rs->norm->entry[0].from, "FLA", 3) == 0 && rs->norm->nallow == 11 &&
              rs->norm->otherwise == NULL);
        CHECK_EQ_INT(act(police, "license.endorsements"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(police, "vehicles"), DMVF_ACT_DESCEND);
        CHECK_EQ_INT(act(police, "vehicles.plate"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(police, "vehicles.registered_address.street"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(police, "history.points"), DMVF_ACT_RELEASE);
        /* numbers the schema does not know */
        CHECK(police->root->f[0].sf == NULL && police->root->f[0].action == DMVF_ACT_REDACT);
        CHECK_EQ_INT(police->root->max_number, 9);
    }

    /* the same plan object for every request of the rule */
    dmvf_request q2 = police_req();
    q2.ori = "NY0400000";
    q2.agency_kind = DMVF_AGENCY_LOCAL;
    dmvf_verdict v2;
    dmvf__policy_decide(p, &q2, day, &v2);
    CHECK(v2.plan == police);

    /* certification expired */
    day = 20280101;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_REFUSED);
    CHECK_EQ_STR(v.rule_name, "in-state police");
    CHECK(v.plan == NULL);
    CHECK_MSG(strstr(v.reason, "certification expired 2027-12-31") != NULL, "%s", v.reason);
    day = 20271231;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_RELEASE);

    /* wrong purpose, wrong query kind */
    q = police_req();
    q.purpose = 3;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK_MSG(strstr(v.reason, "purpose 3 not in [1]") != NULL, "%s", v.reason);
    q = police_req();
    q.query_kind = DMVF_QUERY_BY_ADDRESS;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK_MSG(strstr(v.reason, "query kind by_address not in [by_license, by_name_dob, by_plate, by_vin]"),
              "%s", v.reason);
    /* out-of-state police match no rule; NY police saying NJ are refused */
    q = police_req();
    q.jurisdiction = "NJ";
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK(v.rule_name == NULL);
    CHECK_EQ_INT(v.precheck, DMVF_PRECHECK_CONTRADICTS);
    CHECK_MSG(strstr(v.reason, "the request says jurisdiction NJ; the directory says NY") != NULL, "%s", v.reason);

    /* immigration enforcement without a court order: refused as not found */
    const char *imm[] = {"immigration-enforcement"};
    memset(&q, 0, sizeof q);
    q.ori = "DCICE0000";
    q.agency_kind = DMVF_AGENCY_FEDERAL;
    q.tags = imm;
    q.ntags = 1;
    q.legal_process = DMVF_LEGAL_NONE;
    q.query_kind = DMVF_QUERY_BY_LICENSE;
    day = 20260101;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_NOT_FOUND);
    CHECK_EQ_STR(v.rule_name, "immigration enforcement");
    CHECK_MSG(strstr(v.reason, "rule 'immigration enforcement': legal process none not in [court_order, "
                               "judicial_warrant]") != NULL, "%s", v.reason);
    /* what a request says of itself does not decide: claiming to be a state
     * agency in NY is refused before any rule (the directory says federal,
     * DC), and the directory's tag decides with no tag sent: the first rule
     * wins */
    q.agency_kind = DMVF_AGENCY_STATE;
    q.jurisdiction = "NY";
    q.purpose = 1;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK(v.rule_name == NULL);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK_EQ_INT(v.precheck, DMVF_PRECHECK_CONTRADICTS);
    CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_REFUSED);
    CHECK_MSG(strstr(v.reason, "the request says agency kind state; the directory says federal") != NULL, "%s",
              v.reason);
    q.agency_kind = DMVF_AGENCY_UNSPECIFIED;
    q.jurisdiction = NULL;
    q.tags = NULL;
    q.ntags = 0;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_STR(v.rule_name, "immigration enforcement");
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK_EQ_INT(v.precheck, DMVF_PRECHECK_PASSED);
    CHECK(v.who != NULL && v.who->ori_prefix && strcmp(v.who->ori_prefix, "DCICE") == 0);
    q.tags = imm;
    q.ntags = 1;

    /* with a judicial warrant, by license: the minimal profile */
    q.agency_kind = DMVF_AGENCY_FEDERAL;
    q.jurisdiction = NULL;
    q.legal_process = DMVF_LEGAL_JUDICIAL_WARRANT;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_RELEASE);
    CHECK_EQ_INT(v.max_records, 1);
    CHECK_EQ_INT(v.notify_subject, 1);
    CHECK(v.plan != NULL && v.plan != police);
    if (v.plan) {
        CHECK_EQ_INT(act(v.plan, "record_id"), DMVF_ACT_PSEUDONYMIZE);
        CHECK_EQ_INT(act(v.plan, "person.family_name"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(v.plan, "license.status"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(v.plan, "person.residence"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(v.plan, "person.phone"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(v.plan, "vehicles"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(v.plan, "license.class_code"), DMVF_ACT_REDACT);
    }
    q.query_kind = DMVF_QUERY_BY_ADDRESS;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_NOT_FOUND);

    /* researchers */
    memset(&q, 0, sizeof q);
    q.ori = "NYUNIV000";
    q.agency_kind = DMVF_AGENCY_RESEARCH;
    q.purpose = 5;
    q.query_kind = DMVF_QUERY_LIST;
    day = 20260101;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_RELEASE);
    CHECK_EQ_STR(v.rule_name, "researchers");
    CHECK(v.plan != NULL);
    if (v.plan) {
        const dmvf_fplan *e = at(v.plan, "person.birth_date");
        CHECK(e && e->action == DMVF_ACT_GENERALIZE && e->gen == DMVF_GEN_YEAR);
        e = at(v.plan, "person.residence.postal_code");
        CHECK(e && e->action == DMVF_ACT_GENERALIZE && e->gen == DMVF_GEN_ZIP3);
        e = at(v.plan, "history.date");
        CHECK(e && e->action == DMVF_ACT_GENERALIZE && e->gen == DMVF_GEN_MONTH);
        CHECK_EQ_INT(act(v.plan, "history.code"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(v.plan, "history.description"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(v.plan, "license.number"), DMVF_ACT_ENCRYPT);
        CHECK_EQ_INT(act(v.plan, "record_id"), DMVF_ACT_PSEUDONYMIZE);
        CHECK_EQ_INT(act(v.plan, "person.family_name"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(v.plan, "person.residence.street"), DMVF_ACT_REDACT);
    }
    q.purpose = 0;
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK_MSG(strstr(v.reason, "purpose none given") != NULL, "%s", v.reason);

    /* the DMV's own staff: marking released, named fields only, no normalization */
    memset(&q, 0, sizeof q);
    q.ori = "NYDMV0000";
    q.agency_kind = DMVF_AGENCY_INTERNAL;
    q.jurisdiction = "NY";
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_RELEASE);
    CHECK(v.plan != NULL);
    if (v.plan) {
        CHECK_EQ_INT(v.plan->marking_release, 1);
        CHECK_EQ_INT(act(v.plan, "marking.program"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(v.plan, "license.expiration_date"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(v.plan, "person.race"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(v.plan, "documents"), DMVF_ACT_REDACT);
        const dmvf_fplan *e = at(v.plan, "license.class_code");
        CHECK(e && e->action == DMVF_ACT_RELEASE && e->norm == NULL);
    }

    /* a requester the directory knows and no rule matches */
    memset(&q, 0, sizeof q);
    q.ori = "TXINS0000";
    q.agency_kind = DMVF_AGENCY_COMMERCIAL;
    q.jurisdiction = "TX";
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK(v.rule_name == NULL);
    CHECK(v.plan == NULL);
    CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_REFUSED);
    CHECK_EQ_INT(v.precheck, DMVF_PRECHECK_PASSED);
    CHECK_MSG(strstr(v.reason, "no rule matches requester ORI TXINS0000 (kind commercial, jurisdiction TX")
              != NULL, "%s", v.reason);
    /* an ORI the directory does not hold */
    q.ori = "XX0000000";
    dmvf__policy_decide(p, &q, day, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK(v.rule_name == NULL && v.plan == NULL && v.who == NULL);
    CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_REFUSED);
    CHECK_EQ_INT(v.precheck, DMVF_PRECHECK_NOT_IN_DIRECTORY);
    CHECK_EQ_STR(v.reason, "ORI XX0000000 is not in the requester directory");

    /* plan_restrict */
    if (police) {
        const char *want[] = {"person.family_name", "vehicles.*"};
        dmvf_plan *r = dmvf__plan_restrict(police, want, 2, &err);
        CHECK_MSG(r != NULL, "%s", err.msg);
        if (r) {
            CHECK_EQ_INT(act(r, "person.family_name"), DMVF_ACT_RELEASE);
            CHECK_EQ_INT(act(r, "person.given_name"), DMVF_ACT_REDACT);
            CHECK_EQ_INT(act(r, "person.residence"), DMVF_ACT_REDACT);
            CHECK_EQ_INT(act(r, "person.phone"), DMVF_ACT_REDACT);
            CHECK_EQ_INT(act(r, "record_id"), DMVF_ACT_REDACT);
            CHECK_EQ_INT(act(r, "license"), DMVF_ACT_REDACT);
            CHECK_EQ_INT(act(r, "history"), DMVF_ACT_REDACT);
            CHECK_EQ_INT(act(r, "vehicles.plate"), DMVF_ACT_RELEASE);
            CHECK_EQ_INT(act(r, "vehicles.registered_address.city"), DMVF_ACT_RELEASE);
            CHECK_EQ_INT(r->npseudo, 0);
            CHECK_EQ_INT(r->marking_release, 0);
            dmvf__plan_free(r);
        }
        /* requesting more than the profile gives releases nothing extra */
        const char *more[] = {"person", "license.class_code", "marking.program"};
        r = dmvf__plan_restrict(police, more, 3, &err);
        CHECK(r != NULL);
        if (r) {
            CHECK_EQ_INT(act(r, "person.race"), DMVF_ACT_REDACT);
            CHECK_EQ_INT(act(r, "person.middle_name"), DMVF_ACT_REDACT);
            CHECK_EQ_INT(act(r, "person.residence.city"), DMVF_ACT_RELEASE);
            CHECK_EQ_INT(act(r, "marking"), DMVF_ACT_REDACT);
            CHECK_EQ_INT(act(r, "record_id"), DMVF_ACT_REDACT);
            const dmvf_fplan *cc = at(r, "license.class_code");
            CHECK(cc && cc->action == DMVF_ACT_RELEASE && cc->norm && cc->norm->nentry == 1 &&
                  cc->norm->nallow == 11);
            dmvf__plan_free(r);
        }
        const char *bad[] = {"person.family_name", "person.shoe_size"};
        memset(&err, 0, sizeof err);
        r = dmvf__plan_restrict(police, bad, 2, &err);
        CHECK(r == NULL);
        CHECK_EQ_INT(err.code, DMVF_EINVAL);
        CHECK(strstr(err.msg, "person.shoe_size") != NULL);
        const char *bad2[] = {"person.family_name.*"};
        r = dmvf__plan_restrict(police, bad2, 1, &err);
        CHECK(r == NULL);
        CHECK_EQ_INT(err.code, DMVF_EINVAL);
    }

    /* explain, for the police request */
    char *text = NULL;
    size_t tlen = 0;
    FILE *mf = open_memstream(&text, &tlen);
    CHECK(mf != NULL);
    if (mf) {
        q = police_req();
        CHECK_EQ_INT(dmvf_policy_explain_as_of(p, &q, 20260101, mf), DMVF_OK);
        fclose(mf);
        CHECK(strstr(text, "rule: 'in-state police'") != NULL);
        CHECK(strstr(text, "requirement: purpose 1 in [1]: met") != NULL);
        CHECK(strstr(text, "requirement: certification valid until 2027-12-31 (request date 2026-01-01): met"));
        CHECK(strstr(text, "decision: release\n") != NULL);
        CHECK(strstr(text, "max records: 50\n") != NULL);
        CHECK(strstr(text, "profile police: person.residence.* (line 16)") != NULL);
        CHECK(strstr(text, "profile minimal: record_id (line 7)") != NULL);
        CHECK(strstr(text, "mask (keep first 0, last 4)") != NULL);
        CHECK(strstr(text, "marking-correlated: suppressed") != NULL);
        CHECK(strstr(text, "marking: suppressed") != NULL);
        CHECK(strstr(text, "normalized: \"DP\"->\"D\"") != NULL);
        CHECK(strstr(text, "normalized: drop \"FLA\"") != NULL);
        /* each normalized row shows its map or drop and its whole allow list */
        CHECK(strstr(text, "normalized: \"DP\"->\"D\"; allow only \"A\", \"B\", \"C\", \"CDL-A\", \"CDL-B\", "
                           "\"CDL-C\", \"D\", \"DJ\", \"E\", \"M\", \"MJ\"; any other value redacted\n") != NULL);
        CHECK(strstr(text, "normalized: drop \"FLA\"; allow only \"A\", \"B\", \"C\", \"D\", \"E\", \"F\", \"G\", "
                           "\"I\", \"J\", \"K\", \"W\"; any other value redacted\n") != NULL);
        CHECK(strstr(text, "\nlicense.class_code                       N     release") != NULL);
        CHECK(strstr(text, "\nlicense.endorsements                     N     redact") != NULL);
        CHECK(strstr(text, "N a state's marking values may appear") != NULL);
        /* and every table, released here or not */
        CHECK(strstr(text, "\nnormalization (applied whenever marking is suppressed; values compared byte for byte):\n"
                           "  license.class_code: ") != NULL);
        CHECK(strstr(text, "\n  license.endorsements: allow only \"H\", \"M\", \"N\", \"P\", \"S\", \"T\", \"X\"; "
                           "any other value redacted\n") != NULL);
        CHECK(strstr(text, "default redact") != NULL);
        CHECK(strstr(text, "always redacted") != NULL);
        /* every schema path has a row */
        for (size_t id = 0; id < dmvf__schema_npaths(); id++) {
            char row[160];
            snprintf(row, sizeof row, "\n%s ", dmvf__schema_field(id)->path);
            CHECK_MSG(strstr(text, row) != NULL, "no row for %s", dmvf__schema_field(id)->path);
        }
        free(text);
    }
    /* explain of a refusal, and of a restricted request */
    text = NULL;
    mf = open_memstream(&text, &tlen);
    if (mf) {
        q = police_req();
        CHECK_EQ_INT(dmvf_policy_explain_as_of(p, &q, 20280101, mf), DMVF_OK);
        fclose(mf);
        CHECK(strstr(text, "NOT MET") != NULL);
        CHECK(strstr(text, "decision: deny") != NULL);
        CHECK(strstr(text, "nothing is released") != NULL);
        CHECK(strstr(text, "person.residence.street") == NULL);
        free(text);
    }
    text = NULL;
    mf = open_memstream(&text, &tlen);
    if (mf) {
        const char *want[] = {"person.family_name"};
        q = police_req();
        q.fields = want;
        q.nfields = 1;
        CHECK_EQ_INT(dmvf_policy_explain_as_of(p, &q, 20260101, mf), DMVF_OK);
        fclose(mf);
        CHECK(strstr(text, "not requested: redacted") != NULL);
        free(text);
    }
    text = NULL;
    mf = open_memstream(&text, &tlen);
    if (mf) {
        CHECK_EQ_INT(dmvf_policy_describe(p, mf), DMVF_OK);
        fclose(mf);
        CHECK(strstr(text, dmvf_policy_id(p)) != NULL);
        CHECK(strstr(text, "'in-state police'") != NULL);
        CHECK(strstr(text, "certified until 2027-12-31") != NULL);
        CHECK(strstr(text, "license.class_code: \"DP\"->\"D\"") != NULL);
        CHECK(strstr(text, "\n  license.restrictions: drop \"FLA\"; allow only \"A\", \"B\", \"C\", \"D\", \"E\", "
                           "\"F\", \"G\", \"I\", \"J\", \"K\", \"W\"; any other value redacted\n") != NULL);
        CHECK(strstr(text, "\n  license.endorsements: allow only \"H\", \"M\", \"N\", \"P\", \"S\", \"T\", \"X\"; "
                           "any other value redacted\n") != NULL);
        CHECK(strstr(text, "police (extends minimal)") != NULL);
        free(text);
    }
    dmvf_policy_free(p);
}

static void test_precedence(void)
{
    char path[1200];
    dmvf_error err;
    memset(&err, 0, sizeof err);
    path_of(path, sizeof path, "tests/data/policies/good/precedence.yaml");
    dmvf_policy *p = dmvf_policy_load_file(path, &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (!p)
        return;
    dmvf_request q;
    dmvf_verdict v;
    memset(&q, 0, sizeof q);
    q.ori = "WA0312345";
    dmvf__policy_decide(p, &q, 0, &v);
    CHECK_EQ_STR(v.rule_name, "wa ori");
    CHECK(v.plan != NULL);
    if (v.plan) {
        const dmvf_plan *b = v.plan;
        CHECK_EQ_INT(act(b, "person.family_name"), DMVF_ACT_RELEASE);      /* person.* */
        CHECK_EQ_INT(act(b, "person.residence.street"), DMVF_ACT_REDACT);  /* longer prefix */
        CHECK_EQ_INT(act(b, "person.residence.city"), DMVF_ACT_RELEASE);   /* exact */
        CHECK_EQ_INT(act(b, "person.mailing.street"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(b, "person.race"), DMVF_ACT_REDACT);              /* C: never by prefix */
        CHECK_EQ_INT(act(b, "person.ssn"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(b, "person.voter_registered"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(b, "person.organ_donor"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(b, "license.kind"), DMVF_ACT_RELEASE);            /* default release */
        CHECK_EQ_INT(act(b, "license.expiration_date"), DMVF_ACT_REDACT);  /* C: never by default */
        CHECK_EQ_INT(act(b, "license.enhanced"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(b, "marking"), DMVF_ACT_REDACT);                  /* M: never by default */
        CHECK_EQ_INT(act(b, "documents"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(b, "application"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(b, "photo"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(b, "vehicles.vin"), DMVF_ACT_RELEASE);
        CHECK_EQ_INT(act(b, "license.number"), DMVF_ACT_PSEUDONYMIZE);
        CHECK_EQ_INT(act(b, "person.email"), DMVF_ACT_ENCRYPT);
        const dmvf_fplan *cc = at(b, "license.class_code");
        CHECK(cc && cc->action == DMVF_ACT_RELEASE && cc->norm && cc->norm->nentry == 2 &&
              cc->norm->nallow == 5);
        CHECK(cc && cc->norm && cc->norm->otherwise && cc->norm->otherwise->len == 1 &&
              cc->norm->otherwise->v[0] == 'D');
        const dmvf_fplan *en = at(b, "license.endorsements");
        CHECK(en && en->action == DMVF_ACT_RELEASE && en->norm && en->norm->nentry == 0 &&
              en->norm->nallow == 6 && en->norm->otherwise == NULL);
        CHECK_EQ_INT(b->npseudo, 1);
    }
    q.ori = "WA0400000";
    dmvf__policy_decide(p, &q, 0, &v);
    CHECK_EQ_STR(v.rule_name, "other wa ori");
    CHECK(v.plan != NULL);
    if (v.plan) {
        const dmvf_plan *c = v.plan;
        CHECK_EQ_INT(act(c, "person.residence.street"), DMVF_ACT_RELEASE);  /* child overrides */
        CHECK_EQ_INT(act(c, "person.family_name"), DMVF_ACT_RELEASE);       /* inherited */
        CHECK_EQ_INT(act(c, "license.kind"), DMVF_ACT_RELEASE);             /* inherited default */
        CHECK_EQ_INT(act(c, "photo"), DMVF_ACT_REDACT);
        const dmvf_fplan *e = at(c, "license.number");
        CHECK(e && e->action == DMVF_ACT_MASK && e->mask_first == 1 && e->mask_last == 2);
        e = at(c, "license.status");
        CHECK(e && e->action == DMVF_ACT_CONSTANT && e->cnum == 1);
        e = at(c, "person.sex");
        CHECK(e && e->action == DMVF_ACT_CONSTANT && e->cnum == 3);
        e = at(c, "history.points");
        CHECK(e && e->action == DMVF_ACT_CONSTANT && e->cnum == (uint64_t)(int64_t)-2);
        e = at(c, "person.organ_donor");
        CHECK(e && e->action == DMVF_ACT_CONSTANT && e->cnum == 1);
        e = at(c, "person.height_cm");
        CHECK(e && e->action == DMVF_ACT_CONSTANT && e->cnum == 180);
        e = at(c, "person.eye_color");
        CHECK(e && e->action == DMVF_ACT_CONSTANT && e->clen == 3 && memcmp(e->cval, "n/a", 3) == 0);
        e = at(c, "license.issue_date");
        CHECK(e && e->action == DMVF_ACT_GENERALIZE && e->gen == DMVF_GEN_DECADE);
        CHECK_EQ_INT(act(c, "vehicles.registered_address.street"), DMVF_ACT_RELEASE);
        /* pidx numbers the pseudonymized leaves in schema order */
        CHECK_EQ_INT(c->npseudo, 2);
        if (c->npseudo == 2) {
            CHECK_EQ_STR(c->pseudo_paths[0], "vehicles.plate");
            CHECK_EQ_STR(c->pseudo_paths[1], "vehicles.vin");
            CHECK_EQ_INT(at(c, "vehicles.plate")->pidx, 0);
            CHECK_EQ_INT(at(c, "vehicles.vin")->pidx, 1);
        }
    }
    /* tags are the directory's: WATRB0001 has [b, a], WATRB0002 [c], WATRB0003 none */
    const char *ab[] = {"a", "b"};
    memset(&q, 0, sizeof q);
    q.ori = "WATRB0001";
    q.agency_kind = DMVF_AGENCY_TRIBAL;
    q.tags = ab;
    q.ntags = 2;        /* the same set, in another order */
    dmvf__policy_decide(p, &q, 0, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_REVIEW);
    CHECK(v.plan == NULL);
    memset(&q, 0, sizeof q);
    q.ori = "WATRB0002";
    dmvf__policy_decide(p, &q, 0, &v);
    CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
    CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_REFUSED);
    CHECK_EQ_STR(v.rule_name, "deny tagged tribal");
    q.ori = "WATRB0003";
    dmvf__policy_decide(p, &q, 0, &v);
    CHECK_EQ_STR(v.rule_name, "everyone else");
    CHECK_EQ_INT(v.decision, DMVF_DECISION_RELEASE);
    CHECK(v.plan != NULL);
    if (v.plan) {
        /* a plan that releases nothing */
        CHECK_EQ_INT(act(v.plan, "person"), DMVF_ACT_REDACT);
        CHECK_EQ_INT(act(v.plan, "record_id"), DMVF_ACT_REDACT);
    }
    dmvf_policy_free(p);
}

/* "# expect: L:C: text" */
static int parse_expect(const char *text, unsigned *line, unsigned *col, char *msg, size_t cap)
{
    int n = 0;
    if (sscanf(text, "# expect: %u:%u: %n", line, col, &n) != 2 || n == 0)
        return -1;
    const char *s = text + n;
    size_t len = strcspn(s, "\n");
    if (len >= cap || len == 0)
        return -1;
    memcpy(msg, s, len);
    msg[len] = '\0';
    return 0;
}

static void test_bad(void)
{
    char dir[1200];
    path_of(dir, sizeof dir, "tests/data/policies/bad");
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    if (!d)
        return;
    unsigned nfiles = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".yaml") != 0)
            continue;
        char path[2400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len = 0;
        char *bytes = read_all(path, &len);
        CHECK_MSG(bytes != NULL, "cannot read %s", path);
        if (!bytes)
            continue;
        bytes = realloc(bytes, len + 1);
        bytes[len] = '\0';
        unsigned line = 0, col = 0;
        char want[400];
        CHECK_MSG(parse_expect(bytes, &line, &col, want, sizeof want) == 0, "%s: no '# expect:' line", path);
        free(bytes);
        nfiles++;
        dmvf_error err;
        memset(&err, 0, sizeof err);
        dmvf_policy *p = dmvf_policy_load_file(path, &err);
        CHECK_MSG(p == NULL, "%s loaded but must not", de->d_name);
        dmvf_policy_free(p);
        CHECK_MSG(err.code == DMVF_EPOLICY, "%s: code %d: %s", de->d_name, err.code, err.msg);
        CHECK_MSG(err.line == line && err.column == col, "%s: at %u:%u, expected %u:%u: %s", de->d_name,
                  err.line, err.column, line, col, err.msg);
        CHECK_MSG(strstr(err.msg, want) != NULL, "%s: message '%s' lacks '%s'", de->d_name, err.msg, want);
        char loc[2500];
        snprintf(loc, sizeof loc, "%s:%u:%u: ", path, line, col);
        CHECK_MSG(strncmp(err.msg, loc, strlen(loc)) == 0, "%s: message '%s' does not start with '%s'",
                  de->d_name, err.msg, loc);
    }
    closedir(d);
    CHECK_MSG(nfiles >= 20, "only %u bad policies found", nfiles);
}

static void expect_fail(const char *yaml, unsigned line, unsigned col, const char *want)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_policy *p = dmvf_policy_load_buffer(yaml, strlen(yaml), "<mem>", &err);
    CHECK_MSG(p == NULL, "loaded: %s", yaml);
    dmvf_policy_free(p);
    CHECK_EQ_INT(err.code, DMVF_EPOLICY);
    CHECK_MSG(err.line == line && err.column == col, "at %u:%u, expected %u:%u: %s", err.line, err.column, line,
              col, err.msg);
    CHECK_MSG(strstr(err.msg, want) != NULL, "'%s' lacks '%s'", err.msg, want);
}

/* marking.normalize: the syntax, and the allow list the compiler requires
 * wherever a profile used without marking: release gives a class N
 * position (class code, restrictions, endorsements) an action. */
static void test_normalize(void)
{
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {map: {DP: D}, drop: [DP]}}}\n", 3, 65,
                "'DP' appears twice in the normalization of license.class_code");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {DP: D}}}\n", 3, 44,
                "unknown key 'DP' in the normalization of license.class_code (expected map, drop, allow or otherwise)");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {allow: [A, B, A]}}}\n", 3, 58,
                "'A' appears twice in the allow list of license.class_code");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {map: {DP: X}, allow: [A, D]}}}\n", 3, 54,
                "map sends 'DP' to 'X', which the allow list of license.class_code does not name");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {map: {DP: D}, otherwise: D}}}\n", 3, 69,
                "otherwise of license.class_code needs an allow list");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {}}}\n", 3, 43,
                "the normalization of license.class_code says nothing");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {allow: [A, [B]]}}}\n", 3, 55,
                "an allowed value of license.class_code must be a string, not a list");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {allow: [A], otherwise: [A]}}}\n", 3, 67,
                "otherwise of license.class_code must be a string");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {drop: []}}}\n", 3, 50,
                "the drop list of license.class_code is an empty list");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {allow: A}}}\n", 3, 51,
                "the allow list of license.class_code must be a list");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {allow: [\"A\\0\"]}}}\n", 3, 52,
                "an allowed value contains a NUL byte");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {map: {\"D\\0\": D}, allow: [D]}}}\n", 3, 50,
                "a key contains a NUL byte");
    expect_fail("version: 1\nrules: []\nmarking: {normalize: {license.class_code: {map: [DP, D]}}}\n", 3, 49,
                "the map of license.class_code must be a mapping");
    expect_fail("version: 1\nprofiles: {p: {fields: {license.class_code: release}}}\nrules: []\n", 2, 25,
                "profile 'p' gives license.class_code action release (no rule uses this profile, so it is checked as suppressed), but a state's marking values may appear in license.class_code: marking.normalize must give it an allow list (license.class_code: {allow: [...]})");
    /* the same, reached by a prefix, by a default, by inheritance; with a
     * normalization that has no allow list; with any action */
    expect_fail("version: 1\nprofiles: {p: {fields: {license.*: release}}}\nrules: []\n", 2, 25,
                "profile 'p' gives license.class_code action release");
    expect_fail("version: 1\nprofiles:\n  p:\n    default: release\nmarking:\n  normalize:\n"
                "    license.class_code: {allow: [D]}\nrules: []\n", 4, 14,
                "profile 'p' gives license.restrictions action release");
    expect_fail("version: 1\nprofiles:\n  a: {fields: {license.endorsements: pseudonymize}}\n  b: {extends: a}\n"
                "marking:\n  normalize:\n    license.endorsements: {map: {X: Y}}\nrules:\n"
                "  - name: r\n    match: {agency_kind: [state]}\n    decision: release\n    profile: b\n",
                3, 16, "profile 'a' gives license.endorsements action pseudonymize (no rule uses this profile, so it "
                "is checked as suppressed), but a state's marking values "
                "may appear in license.endorsements: marking.normalize must give it an allow list "
                "(license.endorsements: {allow: [...]}); its normalization (line 7) has none");
    expect_fail("version: 1\nprofiles:\n  a: {fields: {license.restrictions: {mask: {keep_first: 1}}}}\n"
                "  b: {extends: a, fields: {license.class_code: redact}}\nrules:\n"
                "  - name: r\n    match: {agency_kind: [state]}\n    decision: release\n    profile: b\n",
                3, 16, "profile 'a' gives license.restrictions action mask");
    /* a profile used both with and without marking: release needs it too */
    expect_fail("version: 1\nprofiles: {p: {fields: {license.class_code: encrypt}}}\nrules:\n"
                "  - name: a\n    match: {agency_kind: [internal]}\n    decision: release\n"
                "    marking: release\n    profile: p\n"
                "  - name: b\n    match: {agency_kind: [state]}\n    decision: release\n    profile: p\n",
                2, 25, "profile 'p' gives license.class_code action encrypt");

    /* what loads: marking: release alone needs no allow list; a redacted
     * position needs none; an allow list with otherwise and a map */
    const char *internal = "version: 1\njurisdiction: NY\nprofiles: {p: {fields: {license.class_code: release}}}\n"
                           "requesters:\n  - {ori: NYDMV0000, name: DMV, kind: internal, jurisdiction: NY}\nrules:\n"
                           "  - name: a\n    match: {agency_kind: [internal]}\n    decision: release\n"
                           "    marking: release\n    profile: p\n";
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_policy *p = dmvf_policy_load_buffer(internal, strlen(internal), "<mem>", &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    dmvf_policy_free(p);
    const char *ok = "version: 1\nprofiles:\n  p:\n    default: release\n"
                     "    fields: {license.restrictions: redact, license.endorsements: {constant: X}}\n"
                     "marking:\n  normalize:\n"
                     "    license.class_code: {map: {DP: D, TVDL: \"\"}, drop: [FLA], allow: [\"\", D, \"F\\u200bLA\"], "
                     "otherwise: D}\n"
                     "    license.endorsements: {allow: [X]}\n"
                     "    person.aliases: {drop: [DP]}\n"
                     "requesters:\n  - {ori: NYSP00000, name: State Police, kind: state, jurisdiction: NY}\n"
                     "rules:\n  - name: r\n    match: {agency_kind: [state]}\n    decision: release\n    profile: p\n";
    p = dmvf_policy_load_buffer(ok, strlen(ok), "<mem>", &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (p) {
        dmvf_request q;
        dmvf_verdict v;
        memset(&q, 0, sizeof q);
        q.ori = "NYSP00000";
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK(v.plan != NULL);
        const dmvf_fplan *cc = v.plan ? at(v.plan, "license.class_code") : NULL;
        CHECK(cc && cc->norm && cc->norm->nentry == 3 && cc->norm->nallow == 3 && cc->norm->otherwise);
        if (cc && cc->norm && cc->norm->nentry == 3 && cc->norm->nallow == 3) {
            /* sorted by bytes: "DP" "FLA" "TVDL"; "" "D" "F\u200bLA" */
            CHECK(cc->norm->entry[0].from_len == 2 && cc->norm->entry[0].to_len == 1 && !cc->norm->entry[0].drop);
            CHECK(cc->norm->entry[1].from_len == 3 && cc->norm->entry[1].drop);
            CHECK(cc->norm->entry[2].from_len == 4 && cc->norm->entry[2].to_len == 0);
            CHECK(cc->norm->allow[0].len == 0 && cc->norm->allow[1].len == 1 && cc->norm->allow[2].len == 6 &&
                  memcmp(cc->norm->allow[2].v, "F\xe2\x80\x8bLA", 6) == 0);
            CHECK(cc->norm->otherwise == &cc->norm->allow[1]);
        }
        CHECK_EQ_INT(act(v.plan, "license.restrictions"), DMVF_ACT_REDACT);
        const dmvf_fplan *al = v.plan ? at(v.plan, "person.aliases") : NULL;
        CHECK(al && al->action == DMVF_ACT_RELEASE && al->norm && al->norm->nallow == 0);
        char *text = NULL;
        size_t tlen = 0;
        FILE *mf = open_memstream(&text, &tlen);
        CHECK(mf != NULL);
        if (mf) {
            CHECK_EQ_INT(dmvf_policy_explain(p, &q, mf), DMVF_OK);
            fclose(mf);
            CHECK_MSG(strstr(text, "; normalized: \"DP\"->\"D\", drop \"FLA\", \"TVDL\"->\"\"; allow only \"\", "
                               "\"D\", \"F\\xe2\\x80\\x8bLA\"; any other value becomes \"D\"\n") != NULL, "%s", text);
            CHECK(strstr(text, "; normalized: drop \"DP\"; no allow list: other values unchanged\n") != NULL);
            CHECK(strstr(text, "; normalized: allow only \"X\"; any other value redacted\n") != NULL);
            free(text);
        }
        dmvf_policy_free(p);
    }
}

static void test_buffers(void)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    /* minimal valid policies */
    const char *ok = "version: 1\nrules: []\nrequesters: [{ori: NY0000000, name: A, kind: state}]\n";
    dmvf_policy *p = dmvf_policy_load_buffer(ok, strlen(ok), "<mem>", &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (p) {
        dmvf_request q;
        dmvf_verdict v;
        memset(&q, 0, sizeof q);
        q.ori = "NY0000000";
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
        CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_REFUSED);
        CHECK(strstr(v.reason, "no rule matches requester ORI NY0000000") != NULL);
        /* a request without an ORI is refused before the directory is read */
        q.ori = NULL;
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
        CHECK_EQ_INT(v.precheck, DMVF_PRECHECK_BAD_REQUEST);
        CHECK(strstr(v.reason, "bad request: the request names no ORI") != NULL);
        dmvf_policy_free(p);
    }
    const char *nf = "version: 1\nrefusal: not-found\nrules:\n  - name: x\n    match: {ori: [NYA000000]}\n"
                     "    decision: deny\nrequesters:\n  - {ori: NYA000000, name: A, kind: state}\n"
                     "  - {ori: NYB000000, name: B, kind: state}\n";
    p = dmvf_policy_load_buffer(nf, strlen(nf), "<mem>", &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (p) {
        dmvf_request q;
        dmvf_verdict v;
        memset(&q, 0, sizeof q);
        q.ori = "NYB000000";
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_NOT_FOUND);
        CHECK(v.rule_name == NULL);
        q.ori = "NYA000000";
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK_EQ_STR(v.rule_name, "x");
        CHECK_EQ_INT(v.decision, DMVF_DECISION_DENY);
        CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_NOT_FOUND); /* inherits the top-level form */
        q.ori = "";
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK(v.rule_name == NULL);
        CHECK_EQ_INT(v.refusal, DMVF_REFUSAL_NOT_FOUND); /* refusals before the rules too */
        dmvf_policy_free(p);
    }
    expect_fail("", 1, 1, "empty policy");
    expect_fail("version: 1\nrules: []\n# caf\xc3\xa9 \xff\n", 3, 8, "invalid");
    expect_fail("version: 1\nrules: *nope\n", 2, 8, "found undefined alias");
    expect_fail("rules: []\n", 1, 1, "missing required key 'version'");
    expect_fail("version: 1\n", 1, 1, "missing required key 'rules'");
    expect_fail("- 1\n", 1, 1, "the policy must be a mapping");
    expect_fail("version: 1\nrules: []\n---\nversion: 1\n", 4, 1, "one YAML document");
    expect_fail("version: 1\nrules: []\nversion: 1\n", 3, 1, "duplicate key 'version'");
    expect_fail("version: 1\nrules:\n  - name: a\n    match: {ori: [NYX000000]}\n    decision: deny\n"
                "  - name: b\n    match: {ori: [NYX000000], tags: [t]}\n    decision: deny\n",
                6, 5, "rule 'b' is unreachable: rule 'a' (line 3)");
    expect_fail("version: 1\nrules:\n  - name: a\n    match: {agency_kind: [state]}\n    decision: maybe\n", 5, 15,
                "unknown decision 'maybe'");
    expect_fail("version: 1\nrules:\n  - match: {agency_kind: [state]}\n    decision: deny\n", 3, 5, "has no name");
    expect_fail("version: 1\nrules:\n  - name: a\n    match: {agency_kind: [state]}\n", 3, 5, "has no decision");
    expect_fail("version: 1\nprofiles: {p: {fields: {person.phone: {mask: {keep_last: 33}}}}}\nrules: []\n", 2, 58,
                "keep_last must be an integer in 0..32");
    expect_fail("version: 1\nprofiles: {p: {fields: {history.points: {constant: 2147483648}}}}\nrules: []\n", 2,
                52, "not an integer in -2147483648..2147483647");
    expect_fail("version: 1\nprofiles: {p: {fields: {vehicles.plate.*: release}}}\nrules: []\n", 2, 25,
                "not a message");
    expect_fail("version: 1\nprofiles: {p: {fields: {vehicles: release, vehicles.*: redact}}}\nrules: []\n", 2, 44,
                "names the same fields as 'vehicles'");
    /* a marking field under a prefix in a marking-release profile */
    expect_fail("version: 1\nprofiles: {p: {fields: {documents.*: release}}}\nrules:\n"
                "  - name: a\n    match: {agency_kind: [internal]}\n    decision: release\n"
                "    marking: release\n    profile: p\n",
                2, 25, "released only when named one by one");
    /* too big */
    size_t big = ((size_t)1 << 20) + 1;
    char *huge = malloc(big);
    CHECK(huge != NULL);
    if (huge) {
        memset(huge, '#', big);
        p = dmvf_policy_load_buffer(huge, big, "<huge>", &err);
        CHECK(p == NULL);
        CHECK_EQ_INT(err.code, DMVF_EPOLICY);
        CHECK(strstr(err.msg, "1 MiB") != NULL);
        free(huge);
    }
    /* a file that is not there */
    p = dmvf_policy_load_file("/nonexistent/dmvf/policy.yaml", &err);
    CHECK(p == NULL);
    CHECK_EQ_INT(err.code, DMVF_EIO);
    /* the id changes with any byte */
    const char *a = "version: 1\nrules: []\nrequesters: []\n", *b = "version: 1\nrules: [ ]\nrequesters: []\n";
    dmvf_policy *pa = dmvf_policy_load_buffer(a, strlen(a), "a", &err);
    dmvf_policy *pb = dmvf_policy_load_buffer(b, strlen(b), "b", &err);
    CHECK(pa && pb);
    if (pa && pb) {
        CHECK(strcmp(dmvf_policy_id(pa), dmvf_policy_id(pb)) != 0);
        CHECK_EQ_INT(strlen(dmvf_policy_id(pa)), 64);
    }
    dmvf_policy_free(pa);
    dmvf_policy_free(pb);
    dmvf_policy_free(NULL);
}

/* The clients section: who may call the service, for which ORIs; every
 * mistake in it is an error with its place, unknown keys included. */
static void test_clients(void)
{
    const char *base = "version: 1\nrules: []\nrequesters: []\n";
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_policy *p = dmvf_policy_load_buffer(base, strlen(base), "<mem>", &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (p) {
        CHECK_EQ_INT(dmvf_policy_client_count(p), 0);
        CHECK(dmvf_policy_client_by_uid(p, 0) == NULL);
        dmvf_policy_free(p);
    }
    const char *ok = "version: 1\nrules: []\nrequesters: []\nclients:\n"
                     "  - name: message-switch\n    unix_uid: 0\n    oris: [NY0010000]\n"
                     "    ori_prefixes: [NY, DC]\n"
                     "  - name: research-portal\n"
                     "    tls_fingerprint: \"sha256:ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789\"\n"
                     "    oris: [NYRES0001]\n";
    p = dmvf_policy_load_buffer(ok, strlen(ok), "<mem>", &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (p) {
        CHECK_EQ_INT(dmvf_policy_client_count(p), 2);
        const dmvf_policy_client *c = dmvf_policy_client_by_uid(p, 0);
        CHECK(c != NULL && c == dmvf_policy_client_at(p, 0));
        if (c) {
            CHECK_EQ_STR(c->name, "message-switch");
            CHECK(c->tls_fingerprint == NULL);
            CHECK_EQ_INT(dmvf_policy_client_may_speak_for(c, "NY0010000"), 1);
            CHECK_EQ_INT(dmvf_policy_client_may_speak_for(c, "NYPD00001"), 1);
            CHECK_EQ_INT(dmvf_policy_client_may_speak_for(c, "DCMPD0000"), 1);
            CHECK_EQ_INT(dmvf_policy_client_may_speak_for(c, "CA0010000"), 0);
            CHECK_EQ_INT(dmvf_policy_client_may_speak_for(c, "ny0010000"), 0);
            CHECK_EQ_INT(dmvf_policy_client_may_speak_for(c, NULL), 0);
        }
        CHECK(dmvf_policy_client_by_uid(p, 1000) == NULL);
        const dmvf_policy_client *r = dmvf_policy_client_by_fingerprint(
            p, "sha256:abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDEF0123456789");
        CHECK(r != NULL && r == dmvf_policy_client_at(p, 1));
        if (r) {
            CHECK_EQ_STR(r->tls_fingerprint,
                         "sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
            CHECK(!r->has_uid);
            CHECK_EQ_INT(dmvf_policy_client_may_speak_for(r, "NYRES0001"), 1);
            CHECK_EQ_INT(dmvf_policy_client_may_speak_for(r, "NY0010000"), 0);
        }
        CHECK(dmvf_policy_client_by_fingerprint(p, "sha256:00") == NULL);
        CHECK(dmvf_policy_client_by_fingerprint(p, NULL) == NULL);
        char *txt = NULL;
        size_t tl = 0;
        FILE *m = open_memstream(&txt, &tl);
        CHECK(m != NULL);
        if (m) {
            CHECK_EQ_INT(dmvf_policy_describe(p, m), DMVF_OK);
            fclose(m);
            CHECK(strstr(txt, "clients: 2") != NULL);
            CHECK(strstr(txt, "'message-switch': unix uid 0; speaks for NY0010000, NY*, DC*") != NULL);
            CHECK(strstr(txt, "'research-portal': TLS client certificate sha256:abcdef") != NULL);
            free(txt);
        }
        dmvf_request q;
        memset(&q, 0, sizeof q);
        q.ori = "NYRES0001";
        txt = NULL;
        m = open_memstream(&txt, &tl);
        CHECK(m != NULL);
        if (m) {
            CHECK_EQ_INT(dmvf_policy_explain(p, &q, m), DMVF_OK);
            fclose(m);
            CHECK_MSG(strstr(txt, "service clients that may ask for this ORI: 'message-switch', 'research-portal'\n") != NULL, "%s", txt);
            free(txt);
        }
        dmvf_policy_free(p);
    }
#define HEAD "version: 1\nrules: []\nrequesters: []\nclients:\n"
    expect_fail(HEAD "  - name: a\n    unix_uid: 0\n    oris: [NY0010000]\n    color: blue\n", 8, 5,
                "unknown key 'color' in client 'a'");
    expect_fail(HEAD "  - unix_uid: 0\n    oris: [NY0010000]\n", 5, 5, "a client has no name");
    expect_fail(HEAD "  - name: a\n    oris: [NY0010000]\n", 5, 5, "neither unix_uid nor tls_fingerprint");
    expect_fail(HEAD "  - name: a\n    unix_uid: 0\n", 5, 5, "neither oris nor ori_prefixes");
    expect_fail(HEAD "  - name: a\n    unix_uid: -1\n    oris: [NY0010000]\n", 6, 15, "unix_uid of client 'a'");
    expect_fail(HEAD "  - name: a\n    unix_uid: 0\n    oris: [ny0010000]\n", 7, 12,
                "'ny0010000' in oris of client 'a'");
    expect_fail(HEAD "  - name: a\n    unix_uid: 0\n    ori_prefixes: [NY0010000X]\n", 7, 20,
                "in ori_prefixes of client 'a'");
    expect_fail(HEAD "  - name: a\n    tls_fingerprint: sha256:12\n    oris: [NY0010000]\n", 6, 22,
                "tls_fingerprint of client 'a'");
    expect_fail(HEAD "  - name: a\n    unix_uid: 0\n    oris: [NY0010000]\n"
                     "  - name: a\n    unix_uid: 1\n    oris: [NY0010000]\n", 8, 5, "named twice");
    expect_fail(HEAD "  - name: a\n    unix_uid: 7\n    oris: [NY0010000]\n"
                     "  - name: b\n    unix_uid: 7\n    oris: [NY0010000]\n", 8, 5, "the same unix_uid 7");
    expect_fail(HEAD "  name: a\n", 5, 3, "clients");
#undef HEAD
}

int main(void)
{
    const char *src = getenv("DMVF_SRC");
    if (!src) {
        fprintf(stderr, "DMVF_SRC is not set\n");
        return 2;
    }
    snprintf(g_src, sizeof g_src, "%s", src);
    if (sodium_init() < 0)
        return 2;
    test_example();
    test_precedence();
    test_bad();
    test_buffers();
    test_normalize();
    test_clients();
    CHECK_DONE();
}
