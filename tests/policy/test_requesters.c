/*
 * test_requesters.c - requesters are who the DMV's directory says they are,
 * judged on the DMV's clock, through the library (tests/cli/requesters.sh
 * does the same through the command line):
 *
 *   - dmvf_request_validate: every attribute it refuses, and its message
 *   - every bypass the filter once let through (a lowercase, padded ORI; a
 *     tag in another case, with '_' or a trailing space, or left out; a
 *     claimed kind or jurisdiction; no ORI; a backdated or future-dated
 *     request; an expired directory certification), each refused with its
 *     reason, and that reason and the claim in the audit log
 *   - the directory's lookup (an exact ORI first, else the longest prefix)
 *   - requesters_file: a CSV directory, its errors at file:line:column, and
 *     the policy id naming its bytes
 *   - pseudonym scope: two ORIs of one scope get the same pseudonyms, two
 *     ORIs without one different ones
 *   - framed streams: bad and contradicted requests get a refusal trailer
 *     and the stream goes on
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include "check.h"
#include "fixture.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/policy/decide.h"
#include "dmv/v1/request.pb-c.h"

static dmvf_policy *g_pol;
static dmvf_keyring *g_kr;

/* ------------------------------------------------------------------ helpers */

static char *path_in(const char *name)
{
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* What `policy check` prints of p (dmvf_policy_describe); free it. */
static char *described(const dmvf_policy *p)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    CHECK_EQ_INT(dmvf_policy_describe(p, mf), DMVF_OK);
    fclose(mf);
    return text;
}

/* The filter for q judged as of as_of; its decision, precheck and reason
 * are what the tests read. */
static dmvf_filter *judge(const dmvf_request *q, uint32_t as_of)
{
    dmvf_filter_options o = {.as_of = as_of};
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(g_pol, g_kr, q, &o, &err);
    CHECK_MSG(f != NULL, "dmvf_filter_create: %s", f ? "" : err.msg);
    return f;
}

/* Expects q refused before any rule, `why` the precheck, `reason` in the reason. */
static void refused(const char *what, const dmvf_request *q, uint32_t as_of, dmvf_precheck why,
                    const char *reason)
{
    dmvf_filter *f = judge(q, as_of);
    if (!f)
        return;
    CHECK_MSG(dmvf_filter_decision(f) == DMVF_DECISION_DENY, "%s: decision %d", what,
              (int)dmvf_filter_decision(f));
    CHECK_MSG(dmvf_filter_precheck(f) == why, "%s: precheck %d, want %d (%s)", what,
              (int)dmvf_filter_precheck(f), (int)why, dmvf_filter_reason(f));
    CHECK_MSG(dmvf_filter_rule(f) == NULL, "%s: a rule was judged", what);
    CHECK_MSG(strstr(dmvf_filter_reason(f), reason) != NULL, "%s: reason '%s' lacks '%s'", what,
              dmvf_filter_reason(f), reason);
    /* the example policy's default form */
    CHECK_MSG(dmvf_filter_refusal(f) == DMVF_REFUSAL_REFUSED, "%s: refusal form", what);
    dmvf_filter_free(f);
}

/* ------------------------------------------------------------------ dmvf_request_validate */

static void test_validate(void)
{
    static const char *const good_tags[] = {"immigration-enforcement", "a", "9-x"};
    dmvf_request q = {.ori = "DCICE0100", .jurisdiction = "DC", .tags = good_tags, .ntags = 3,
                      .agency_kind = DMVF_AGENCY_FEDERAL, .purpose = 14, .date = 20261130};
    dmvf_error err;
    CHECK_EQ_INT(dmvf_request_validate(&q, &err), DMVF_OK);
    q.jurisdiction = "";   /* not said */
    CHECK_EQ_INT(dmvf_request_validate(&q, &err), DMVF_OK);

    static const struct {
        const char *ori, *jurisdiction, *tag;
        unsigned kind, purpose, legal, query;
        uint32_t date;
        const char *msg;
    } bad[] = {
        {NULL, NULL, NULL, 0, 0, 0, 0, 0, "the request names no ORI"},
        {"", NULL, NULL, 0, 0, 0, 0, 0, "the request names no ORI"},
        {"dcice0100", NULL, NULL, 0, 0, 0, 0, 0,
         "ORI \"dcice0100\": an ORI is exactly 9 characters A-Z or 0-9"},
        {" DCICE0100", NULL, NULL, 0, 0, 0, 0, 0, "ORI \" DCICE0100\": an ORI is exactly 9"},
        {"DCICE0100 ", NULL, NULL, 0, 0, 0, 0, 0, "ORI \"DCICE0100 \": an ORI"},
        {"DCICE010", NULL, NULL, 0, 0, 0, 0, 0, "ORI \"DCICE010\""},
        {"DCICE01000", NULL, NULL, 0, 0, 0, 0, 0, "ORI \"DCICE01000\""},
        {"DCICE-100", NULL, NULL, 0, 0, 0, 0, 0, "ORI \"DCICE-100\""},
        {"DC\nICE010", NULL, NULL, 0, 0, 0, 0, 0, "ORI \"DC\\x0aICE010\""},
        {"DCICE0100", "tx", NULL, 0, 0, 0, 0, 0,
         "jurisdiction \"tx\": a jurisdiction is two letters A-Z"},
        {"DCICE0100", "TEX", NULL, 0, 0, 0, 0, 0, "jurisdiction \"TEX\""},
        {"DCICE0100", " TX", NULL, 0, 0, 0, 0, 0, "jurisdiction \" TX\""},
        {"DCICE0100", NULL, "Immigration-Enforcement", 0, 0, 0, 0, 0,
         "tag \"Immigration-Enforcement\": a tag is 1 to 64 characters a-z, 0-9 or '-'"},
        {"DCICE0100", NULL, "immigration_enforcement", 0, 0, 0, 0, 0, "tag \"immigration_enforcement\""},
        {"DCICE0100", NULL, "immigration-enforcement ", 0, 0, 0, 0, 0, "tag \"immigration-enforcement \""},
        {"DCICE0100", NULL, "-x", 0, 0, 0, 0, 0, "tag \"-x\""},
        {"DCICE0100", NULL, "", 0, 0, 0, 0, 0, "tag \"\""},
        {"DCICE0100", NULL, NULL, 10, 0, 0, 0, 0, "agency kind 10 is not an agency kind"},
        {"DCICE0100", NULL, NULL, 0, 15, 0, 0, 0, "purpose 15: DPPA permissible uses are 1..14"},
        {"DCICE0100", NULL, NULL, 0, 0, 6, 0, 0, "legal process 6 is not a legal process"},
        {"DCICE0100", NULL, NULL, 0, 0, 0, 10, 0, "query kind 10 is not a query kind"},
        {"DCICE0100", NULL, NULL, 0, 0, 0, 0, 20261301, "date 20261301 is not a date (YYYYMMDD)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *one[1] = {bad[i].tag};
        dmvf_request r = {.ori = bad[i].ori, .jurisdiction = bad[i].jurisdiction,
                          .tags = bad[i].tag ? one : NULL, .ntags = bad[i].tag ? 1 : 0,
                          .agency_kind = (dmvf_agency_kind)bad[i].kind, .purpose = bad[i].purpose,
                          .legal_process = (dmvf_legal_process)bad[i].legal,
                          .query_kind = (dmvf_query_kind)bad[i].query, .date = bad[i].date};
        memset(&err, 0, sizeof err);
        CHECK_MSG(dmvf_request_validate(&r, &err) == DMVF_EINVAL, "case %zu accepted", i);
        CHECK_MSG(err.code == DMVF_EINVAL && strstr(err.msg, bad[i].msg) != NULL, "case %zu: '%s' lacks '%s'",
                  i, err.msg, bad[i].msg);
        CHECK_MSG(!strchr(err.msg, '\n'), "case %zu: the message is not one line", i);
    }
    /* NULL tag and field strings are refused, not read */
    const char *null_tag[1] = {NULL};
    dmvf_request r = {.ori = "DCICE0100", .tags = null_tag, .ntags = 1};
    CHECK_EQ_INT(dmvf_request_validate(&r, &err), DMVF_EINVAL);
    CHECK(strstr(err.msg, "tag 0 is NULL") != NULL);
    r = (dmvf_request){.ori = "DCICE0100", .fields = null_tag, .nfields = 1};
    CHECK_EQ_INT(dmvf_request_validate(&r, &err), DMVF_EINVAL);
    CHECK(strstr(err.msg, "requested field 0 is NULL") != NULL);
    /* a hostile value is escaped and cut: one line */
    char huge[2000];
    memset(huge, 'a', sizeof huge - 1);
    huge[sizeof huge - 1] = 0;
    huge[3] = '\n';
    r = (dmvf_request){.ori = huge};
    CHECK_EQ_INT(dmvf_request_validate(&r, &err), DMVF_EINVAL);
    CHECK(!strchr(err.msg, '\n') && strstr(err.msg, "...\"") != NULL && strlen(err.msg) < sizeof err.msg);
}

/* ------------------------------------------------------------------ the bypasses */

static const char *const imm[] = {"immigration-enforcement"};

static dmvf_request ice(void)
{
    dmvf_request q = {.request_id = "ice-1", .ori = "DCICE0100", .legal_process = DMVF_LEGAL_JUDICIAL_WARRANT,
                      .legal_reference = "W-1", .query_kind = DMVF_QUERY_BY_LICENSE};
    return q;
}

static void test_bypasses(void)
{
    const uint32_t day = 20261120;
    dmvf_request q = ice();

    /* an ICE ORI that says nothing of itself meets the immigration rule */
    dmvf_filter *f = judge(&q, day);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_precheck(f), DMVF_PRECHECK_PASSED);
        CHECK_EQ_STR(dmvf_filter_rule(f), "immigration enforcement");
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_RELEASE);
        CHECK_EQ_INT(dmvf_filter_notify_subject(f), 1);
        CHECK_EQ_INT(dmvf_filter_max_records(f), 1);
        const dmvf_requester *w = dmvf_filter_requester(f);
        CHECK(w && w->ori == NULL && w->ori_prefix && strcmp(w->ori_prefix, "DCICE") == 0);
        CHECK(w && w->kind == DMVF_AGENCY_FEDERAL && w->ntags == 1 &&
              strcmp(w->tags[0], "immigration-enforcement") == 0);
        const dmvf_request *rec = dmvf_filter_request(f);
        CHECK_EQ_STR(rec->agency_name, "ICE ERO");
        CHECK_EQ_INT(rec->agency_kind, DMVF_AGENCY_FEDERAL);
        CHECK_EQ_STR(rec->jurisdiction, "DC");
        CHECK(rec->ntags == 1 && strcmp(rec->tags[0], "immigration-enforcement") == 0);
        CHECK_EQ_INT(rec->date, day);
        CHECK_EQ_INT(dmvf_filter_request_received(f)->ntags, 0);
        dmvf_filter_free(f);
    }
    /* and so with the tag it has, and with the same claims as the directory */
    q.tags = imm;
    q.ntags = 1;
    q.agency_kind = DMVF_AGENCY_FEDERAL;
    q.jurisdiction = "DC";
    q.agency_name = "Immigration and Customs Enforcement";
    f = judge(&q, day);
    if (f) {
        CHECK_EQ_STR(dmvf_filter_rule(f), "immigration enforcement");
        CHECK_EQ_STR(dmvf_filter_request(f)->agency_name, "ICE ERO");
        CHECK_EQ_STR(dmvf_filter_request_received(f)->agency_name, "Immigration and Customs Enforcement");
        dmvf_filter_free(f);
    }

    /* the ORI as the request spells it */
    q = ice();
    q.ori = "dcice0100";
    refused("lowercase ORI", &q, day, DMVF_PRECHECK_BAD_REQUEST, "bad request: ORI \"dcice0100\"");
    q.ori = " DCICE0100";
    refused("padded ORI", &q, day, DMVF_PRECHECK_BAD_REQUEST, "bad request: ORI \" DCICE0100\"");
    q.ori = "DCICE0100\n";
    refused("ORI with a newline", &q, day, DMVF_PRECHECK_BAD_REQUEST, "bad request: ORI \"DCICE0100\\x0a\"");
    q.ori = NULL;
    refused("no ORI", &q, day, DMVF_PRECHECK_BAD_REQUEST, "bad request: the request names no ORI");
    q.ori = "";
    refused("empty ORI", &q, day, DMVF_PRECHECK_BAD_REQUEST, "bad request: the request names no ORI");
    q.ori = "XX0000000";
    refused("an ORI not in the directory", &q, day, DMVF_PRECHECK_NOT_IN_DIRECTORY,
            "ORI XX0000000 is not in the requester directory");

    /* tags as the request spells them */
    static const char *const t_case[] = {"Immigration-Enforcement"};
    static const char *const t_under[] = {"immigration_enforcement"};
    static const char *const t_space[] = {"immigration-enforcement "};
    static const char *const t_other[] = {"task-force"};
    static const char *const t_more[] = {"immigration-enforcement", "task-force"};
    q = ice();
    q.tags = t_case;
    q.ntags = 1;
    refused("tag in another case", &q, day, DMVF_PRECHECK_BAD_REQUEST,
            "bad request: tag \"Immigration-Enforcement\"");
    q.tags = t_under;
    refused("tag with an underscore", &q, day, DMVF_PRECHECK_BAD_REQUEST,
            "bad request: tag \"immigration_enforcement\"");
    q.tags = t_space;
    refused("tag with a trailing space", &q, day, DMVF_PRECHECK_BAD_REQUEST,
            "bad request: tag \"immigration-enforcement \"");
    q.tags = t_other;
    refused("another tag", &q, day, DMVF_PRECHECK_CONTRADICTS,
            "the request says tags [task-force]; the directory says [immigration-enforcement]");
    q.tags = t_more;
    q.ntags = 2;
    refused("more tags", &q, day, DMVF_PRECHECK_CONTRADICTS, "the request says tags [immigration-enforcement, "
            "task-force]; the directory says [immigration-enforcement]");

    /* a claimed kind or jurisdiction */
    q = ice();
    q.agency_kind = DMVF_AGENCY_INTERNAL;
    refused("ICE claiming internal", &q, day, DMVF_PRECHECK_CONTRADICTS,
            "the request says agency kind internal; the directory says federal");
    q = ice();
    q.jurisdiction = "tx";
    refused("jurisdiction tx", &q, day, DMVF_PRECHECK_BAD_REQUEST, "bad request: jurisdiction \"tx\"");
    q.jurisdiction = "TX";
    refused("jurisdiction TX", &q, day, DMVF_PRECHECK_CONTRADICTS,
            "the request says jurisdiction TX; the directory says DC");
    /* police of NY saying they are the DMV: refused, never the marking fields */
    dmvf_request pd = {.request_id = "pd-1", .ori = "NY0300000", .agency_kind = DMVF_AGENCY_INTERNAL,
                       .jurisdiction = "NY", .query_kind = DMVF_QUERY_BY_LICENSE};
    refused("police claiming internal", &pd, day, DMVF_PRECHECK_CONTRADICTS,
            "the request says agency kind internal; the directory says local");
    /* a foreign agency, which the directory says has no jurisdiction */
    dmvf_request fa = {.ori = "CA0000001", .jurisdiction = "NY"};
    refused("foreign saying NY", &fa, day, DMVF_PRECHECK_CONTRADICTS,
            "the request says jurisdiction NY; the directory says none");

    /* the request's date is not the day it is judged on */
    q = ice();
    q.date = 20991230;
    refused("future-dated", &q, day, DMVF_PRECHECK_BAD_REQUEST,
            "bad request: it is dated 2099-12-30, and requests are judged on the DMV's clock (2026-11-20)");
    q.date = 20261119;
    refused("dated the day before", &q, day, DMVF_PRECHECK_BAD_REQUEST, "it is dated 2026-11-19");
    q.date = day;
    f = judge(&q, day);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_precheck(f), DMVF_PRECHECK_PASSED); /* dated the day it is judged on */
        dmvf_filter_free(f);
    }
    /* judged on the clock when as_of is 0 */
    q.date = 20250101;
    refused("dated 2025-01-01, judged today", &q, 0, DMVF_PRECHECK_BAD_REQUEST, "it is dated 2025-01-01");
    f = judge(&pd, 0);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_as_of(f), 0);
        CHECK(dmvf_filter_judged_date(f) >= 20261201);
        dmvf_filter_free(f);
    }

    /* an expired directory certification: the task force's agreement lapsed 2025-06-30 */
    dmvf_request tf = {.request_id = "tf-1", .ori = "NY0990000", .purpose = 1,
                       .query_kind = DMVF_QUERY_BY_LICENSE};
    f = judge(&tf, 20250630);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_RELEASE); /* on its last day */
        dmvf_filter_free(f);
    }
    f = judge(&tf, 20250701);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_DENY);
        CHECK_EQ_INT(dmvf_filter_precheck(f), DMVF_PRECHECK_PASSED);
        CHECK_EQ_STR(dmvf_filter_rule(f), "in-state police");
        CHECK_MSG(strstr(dmvf_filter_reason(f), "the requester directory's certification of NY0990000 expired "
                                                "2025-06-30 (request date 2025-07-01)") != NULL,
                  "%s", dmvf_filter_reason(f));
        dmvf_filter_free(f);
    }
    /* a backdated request does not pass it */
    tf.date = 20250101;
    refused("backdated past an expired certification", &tf, 20261120, DMVF_PRECHECK_BAD_REQUEST,
            "it is dated 2025-01-01");

    /* a bad request is refused before anything is derived: no keyring needed */
    dmvf_request none = {.request_id = "none", .purpose = 5};
    dmvf_error err;
    f = dmvf_filter_create(g_pol, NULL, &none, NULL, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_DENY);
        CHECK(dmvf_filter_requester(f) == NULL);
        CHECK(dmvf_filter_request(f)->agency_name == NULL && dmvf_filter_request(f)->ntags == 0);
        dmvf_filter_free(f);
    }
    /* as_of is a date or 0 */
    dmvf_filter_options o = {.as_of = 20261131};
    f = dmvf_filter_create(g_pol, g_kr, &pd, &o, &err);
    CHECK(f == NULL);
    CHECK_EQ_INT(err.code, DMVF_EINVAL);
    CHECK(strstr(err.msg, "options.as_of 20261131 is not a date") != NULL);
}

/* Every refusal, audited: the REQUEST entries hold the reason, the claim and
 * judged_as_of; the recorded requester is the directory's. */
static void test_audited(void)
{
    static const char *const t_case[] = {"Immigration-Enforcement"};
    dmvf_request qs[6];
    qs[0] = ice();
    qs[0].ori = "dcice0100";
    qs[1] = ice();
    qs[1].tags = t_case;
    qs[1].ntags = 1;
    qs[2] = ice();
    qs[2].agency_kind = DMVF_AGENCY_INTERNAL;
    qs[2].agency_name = "DMV";
    qs[3] = ice();
    qs[3].date = 20991230;
    qs[4] = ice();
    qs[4].ori = "XX0000000";
    qs[5] = ice();
    const char *want[6] = {"bad request: ORI \\\"dcice0100\\\"", "bad request: tag \\\"Immigration-Enforcement\\\"",
                           "the request says agency kind internal; the directory says federal",
                           "bad request: it is dated 2099-12-30",
                           "ORI XX0000000 is not in the requester directory",
                           "rule 'immigration enforcement': release"};
    dmvf_error err;
    dmvf_audit *a = dmvf_audit_open(path_in("audit"), g_kr, NULL, &err);
    CHECK_MSG(a != NULL, "audit open: %s", a ? "" : err.msg);
    if (!a)
        return;
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "aud-%d", i);
        qs[i].request_id = id;
        dmvf_filter *f = judge(&qs[i], 20261120);
        if (!f)
            continue;
        CHECK_EQ_INT(dmvf_audit_request(a, f, NULL, &err), DMVF_OK);
        dmvf_filter_free(f);
    }
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "aud-%d", i);
        dmvf_audit_query q = {.request_id = id};
        char *text = NULL;
        size_t len = 0;
        FILE *mf = open_memstream(&text, &len);
        CHECK_EQ_INT(dmvf_audit_query_run(path_in("audit"), &q, NULL, mf, &err), DMVF_OK);
        fclose(mf);
        CHECK_MSG(text && strstr(text, want[i]) != NULL, "entry %s: '%s' lacks '%s'", id, text, want[i]);
        CHECK_MSG(text && strstr(text, "\"judged_as_of\":\"2026-11-20\""), "entry %s: no judged_as_of", id);
        if (i == 2) {
            CHECK(text && strstr(text, "\"request\":{\"request_id\":\"aud-2\",\"ori\":\"DCICE0100\","
                                       "\"agency_name\":\"ICE ERO\",\"agency_kind\":\"federal\""));
            CHECK(text && strstr(text, "\"claimed\":{\"request_id\":\"\",\"ori\":\"DCICE0100\","
                                       "\"agency_name\":\"DMV\",\"agency_kind\":\"internal\""));
        }
        if (i == 3)
            CHECK(text && strstr(text, "\"claimed\":{") && strstr(text, "\"date\":\"2099-12-30\"}"));
        if (i == 5)
            CHECK(text && !strstr(text, "\"claimed\"")); /* it said nothing of itself */
        free(text);
    }
}

/* ------------------------------------------------------------------ lookup */

static void test_lookup(void)
{
    const char *yaml =
        "version: 1\n"
        "jurisdiction: NY\n"
        "requesters:\n"
        "  - {ori_prefix: NY0, name: NY police, kind: local}\n"
        "  - {ori_prefix: NY01, name: NY county 01, kind: local}\n"
        "  - {ori: NY0100000, name: NY county 01 sheriff, kind: local}\n"
        "  - {ori_prefix: N, name: N anything, kind: commercial}\n"
        "  - {ori: NYDMV0000, name: DMV, kind: internal, jurisdiction: NY}\n"
        "rules: []\n";
    dmvf_error err;
    dmvf_policy *p = dmvf_policy_load_buffer(yaml, strlen(yaml), "<lookup>", &err);
    CHECK_MSG(p != NULL, "%s", p ? "" : err.msg);
    if (!p)
        return;
    static const struct { const char *ori, *name; } want[] = {
        {"NY0100000", "NY county 01 sheriff"}, {"NY0100001", "NY county 01"}, {"NY0199999", "NY county 01"},
        {"NY0200000", "NY police"}, {"NY1000000", "N anything"}, {"NJ0000000", "N anything"},
        {"NYDMV0000", "DMV"}, {"NYDMV0001", "N anything"}, {"XX0000000", NULL}, {"AAAAAAAAA", NULL},
        {"ZZZZZZZZZ", NULL},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        dmvf_request q = {.ori = want[i].ori};
        dmvf_verdict v;
        dmvf__policy_decide(p, &q, 0, &v);
        if (want[i].name)
            CHECK_MSG(v.who && strcmp(v.who->name, want[i].name) == 0, "%s: %s, want %s", want[i].ori,
                      v.who ? v.who->name : "(none)", want[i].name);
        else
            CHECK_MSG(!v.who && v.precheck == DMVF_PRECHECK_NOT_IN_DIRECTORY, "%s: found %s", want[i].ori,
                      v.who ? v.who->name : "");
    }
    /* policy check reports the directory */
    char *text = described(p);
    size_t len = 0;
    CHECK(text && strstr(text, "requester directory: 5 entries (2 exact ORIs, 3 ORI prefixes)"));
    CHECK(text && strstr(text, "kinds: local 3, commercial 1, internal 1"));
    CHECK(text && strstr(text, "ORI prefix NY01 (<lookup>:5): NY county 01; kind local"));
    free(text);
    /* explain: what the directory says of an ORI alone */
    text = NULL;
    FILE *mf = open_memstream(&text, &len);
    dmvf_request q = {.ori = "NY0100007"};
    CHECK_EQ_INT(dmvf_policy_explain_as_of(p, &q, 20261120, mf), DMVF_OK);
    fclose(mf);
    CHECK(text && strstr(text, "judged on: 2026-11-20 (as of this date"));
    CHECK(text && strstr(text, "requester directory: NY0100007 is NY county 01 (entry ORI prefix NY01, <lookup>:5)"));
    CHECK(text && strstr(text, "rule: none matches: deny"));
    free(text);
    dmvf_policy_free(p);
}

/* ------------------------------------------------------------------ requesters_file */

/* Loads a policy naming `csv` (written beside it as orion.csv); NULL with *err. */
static dmvf_policy *with_csv(const char *yaml_entries, const char *csv, dmvf_error *err)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "version: 1\n"
             "jurisdiction: NY\n"
             "requesters:%s\n"
             "requesters_file: orion.csv\n"
             "rules:\n"
             "  - name: ice\n"
             "    match: {tags: [immigration-enforcement]}\n"
             "    decision: deny\n", yaml_entries);
    write_file(path_in("csv-policy.yaml"), yaml);
    write_file(path_in("orion.csv"), csv);
    memset(err, 0, sizeof *err);
    return dmvf_policy_load_file(path_in("csv-policy.yaml"), err);
}

#define HDR "ori,ori_prefix,name,kind,jurisdiction,tags,certified_until,scope"

static void test_requesters_file(void)
{
    dmvf_error err;
    const char *csv =
        "\xef\xbb\xbf" HDR "\r\n"
        "NY0010000,,NYPD 1st Precinct,local,NY,,2027-12-31,\r\n"
        ",DCICE,ICE ERO,federal,DC,immigration-enforcement;ice,,\r\n"
        "\r\n"
        "NYRES0001,,\"SUNY \"\"Traffic\"\" Study, Albany\",research,NY,,,suny-study\n"
        "NYRES0002,,SUNY Traffic Study Buffalo,research,NY,,,suny-study";  /* no final line end */
    dmvf_policy *p = with_csv(" [{ori: NYDMV0000, name: DMV, kind: internal, jurisdiction: NY}]", csv, &err);
    CHECK_MSG(p != NULL, "requesters_file: %s", p ? "" : err.msg);
    if (p) {
        dmvf_request q = {.ori = "DCICE0777"};
        dmvf_verdict v;
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK(v.who && strcmp(v.who->name, "ICE ERO") == 0 && v.who->ntags == 2);
        CHECK_EQ_STR(v.rule_name, "ice");
        q.ori = "NYRES0001";
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK(v.who && strcmp(v.who->name, "SUNY \"Traffic\" Study, Albany") == 0 && v.who->scope &&
              strcmp(v.who->scope, "suny-study") == 0);
        q.ori = "NY0010000";
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK(v.who && v.who->certified_until == 20271231 && v.who->jurisdiction &&
              strcmp(v.who->jurisdiction, "NY") == 0);
        q.ori = "NYDMV0000";
        dmvf__policy_decide(p, &q, 0, &v);
        CHECK(v.who && v.who->kind == DMVF_AGENCY_INTERNAL);
        /* the id names the policy's bytes and the file's */
        size_t n1 = 0, n2 = 0;
        uint8_t *b1 = slurp(path_in("csv-policy.yaml"), &n1), *b2 = slurp(path_in("orion.csv"), &n2);
        CHECK(b1 && b2);
        if (b1 && b2) {
            crypto_generichash_state st;
            unsigned char h[32];
            char hex[65];
            crypto_generichash_init(&st, NULL, 0, sizeof h);
            crypto_generichash_update(&st, b1, n1);
            crypto_generichash_update(&st, b2, n2);
            crypto_generichash_final(&st, h, sizeof h);
            sodium_bin2hex(hex, sizeof hex, h, sizeof h);
            CHECK_EQ_STR(dmvf_policy_id(p), hex);
        }
        free(b1);
        free(b2);
        char *text = described(p);
        CHECK(text && strstr(text, "5 entries (4 exact ORIs, 1 ORI prefixes); 1 in the policy, 4 in requesters_file"));
        CHECK(text && strstr(text, "tags: ice (1), immigration-enforcement (1)"));
        CHECK(text && strstr(text, "scopes (shared pseudonyms and encryption; every other entry is scoped by ORI): "
                                   "suny-study (2)"));
        CHECK(text && strstr(text, "orion.csv:5): SUNY \"Traffic\" Study, Albany"));
        free(text);
        dmvf_policy_free(p);
    }

    /* errors in the file: file:line:column of the file, and why */
    static const struct { const char *yaml, *csv; unsigned line, col; const char *msg; } bad[] = {
        {" []", "ori,name\n", 1, 1, "the first line must be the header " HDR},
        {" []", "", 1, 1, "the first line must be the header"},
        {" []", HDR "\nNY0010000,,NYPD,local,NY,,\n", 2, 1, "a row has 7 fields; the header has 8"},
        {" []", HDR "\nNY0010000,,NYPD,local,NY,,,,\n", 2, 29, "a row has more than the 8 fields"},
        {" []", HDR "\nNY0010000,,\"NYPD,local,NY,,,\n", 2, 12, "a quoted field is not closed"},
        {" []", HDR "\nNY0010000,,NY\"PD,local,NY,,,\n", 2, 14, "a '\"' inside a field that is not quoted"},
        {" []", HDR "\nNY0010000,,\"NYPD\"x,local,NY,,,\n", 2, 18, "after a quoted field comes ',' or the line end"},
        {" []", HDR "\nNY0010000,,NYPD\r,local,NY,,,\n", 2, 16, "a carriage return that does not end a line"},
        {" []", HDR "\nNY0010000,,NYPD,local,NY,,,\ndcice0100,,ICE,federal,,,,\n", 3, 1,
         "requester entry #2: ori 'dcice0100': an ORI is exactly 9 characters A-Z or 0-9"},
        {" []", HDR "\n,DCICE,ICE,federal,,immigration-enforcement;Ice,,\n", 2, 45,
         "requester ORI prefix DCICE: tag 'Ice': a tag is"},
        {" []", HDR "\n,DCICE,ICE,cops,,,,\n", 2, 12, "requester ORI prefix DCICE: unknown kind 'cops'"},
        {" []", HDR "\nNY0010000,,,local,,,,\n", 2, 1, "requester ORI NY0010000 has no name"},
        {" []", HDR "\n,,NYPD,local,,,,\n", 2, 1, "requester entry #1 has neither ori nor ori_prefix"},
        {" []", HDR "\nNY0010000,NY001,NYPD,local,,,,\n", 2, 11, "requester entry #1 has both ori and ori_prefix"},
        {" []", HDR "\nNY0010000,,NYPD,local,,,2027-13-01,\n", 2, 25, "bad date '2027-13-01' in certified_until"},
        {" [{ori: NY0010000, name: NYPD, kind: local}]", HDR "\nNY0020000,,B,local,,,,\nNY0010000,,A,local,,,,\n",
         3, 1, "ORI NY0010000 is in the requester directory twice (first at "},
        {" []", HDR "\n,DCICE,A,federal,,,,\n,DCICE,B,federal,,,,\n", 3, 1,
         "ORI prefix DCICE is in the requester directory twice"},
        {" []", HDR "\nCADMV0000,,California DMV,internal,CA,,,\n", 2, 1,
         "requester ORI CADMV0000 is kind internal, but its jurisdiction CA is not the policy's own (NY)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = with_csv(bad[i].yaml, bad[i].csv, &err);
        CHECK_MSG(p == NULL, "csv case %zu loaded", i);
        dmvf_policy_free(p);
        char loc[700];
        snprintf(loc, sizeof loc, "%s:%u:%u: ", path_in("orion.csv"), bad[i].line, bad[i].col);
        CHECK_MSG(err.code == DMVF_EPOLICY && strncmp(err.msg, loc, strlen(loc)) == 0,
                  "csv case %zu: '%s' does not start with '%s'", i, err.msg, loc);
        CHECK_MSG(strstr(err.msg, bad[i].msg) != NULL, "csv case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
    }
    /* a NUL byte: not a text file */
    write_file(path_in("csv-policy.yaml"), "version: 1\nrequesters: []\nrequesters_file: nul.csv\nrules: []\n");
    FILE *fp = fopen(path_in("nul.csv"), "wb");
    if (fp) {
        fwrite(HDR "\n\0", 1, sizeof HDR + 1, fp);
        fclose(fp);
    }
    p = dmvf_policy_load_file(path_in("csv-policy.yaml"), &err);
    CHECK(p == NULL && strstr(err.msg, "nul.csv: the file holds a NUL byte") != NULL);
    dmvf_policy_free(p);
    /* a directory is not a file */
    mkdir(path_in("dir.csv"), 0700);
    write_file(path_in("csv-policy.yaml"), "version: 1\nrequesters: []\nrequesters_file: dir.csv\nrules: []\n");
    p = dmvf_policy_load_file(path_in("csv-policy.yaml"), &err);
    CHECK(p == NULL && err.line == 3 && err.column == 18 && strstr(err.msg, "is not a regular file") != NULL);
    dmvf_policy_free(p);
}

/* ------------------------------------------------------------------ scope */

/* The released bytes of the delimited records in[0..n) for ori. */
static uint8_t *release_for(const char *ori, const uint8_t *in, size_t n, size_t *out_len)
{
    dmvf_request q = {.ori = ori, .purpose = 5, .query_kind = DMVF_QUERY_LIST};
    dmvf_filter *f = judge(&q, 20261120);
    *out_len = 0;
    if (!f)
        return NULL;
    CHECK_MSG(dmvf_filter_decision(f) == DMVF_DECISION_RELEASE, "%s: %s", ori, dmvf_filter_reason(f));
    size_t cap = 4 * n + 4096;
    uint8_t *out = malloc(cap);
    dmvf_in_buffer ib = {in, n, 0};
    dmvf_out_buffer ob = {out, cap, 0};
    dmvf_error err;
    CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &ib, 1, &err), DMVF_OK);
    *out_len = ob.pos;
    dmvf_filter_free(f);
    return out;
}

static void test_scope(void)
{
    char args[700];
    snprintf(args, sizeof args, "--count 20 --seed 41 --out '%s'", path_in("scope.bin"));
    CHECK_EQ_INT(run_gen(args), 0);
    size_t n = 0;
    uint8_t *in = slurp(path_in("scope.bin"), &n);
    CHECK(in && n > 0);
    if (!in)
        return;
    size_t l1, l2, l3, l4;
    /* the study's two sites share the scope suny-study: the same pseudonyms and tokens */
    uint8_t *a = release_for("NYRES0001", in, n, &l1);
    uint8_t *b = release_for("NYRES0002", in, n, &l2);
    /* two researchers without a scope: each its own */
    uint8_t *c = release_for("NYUNIV000", in, n, &l3);
    uint8_t *d = release_for("NYUNIV001", in, n, &l4);
    CHECK(a && b && c && d && l1 > 0);
    CHECK_MSG(l1 == l2 && a && b && memcmp(a, b, l1) == 0, "one scope, two ORIs: the same bytes");
    CHECK_MSG(!(l3 == l4 && c && d && memcmp(c, d, l3) == 0), "no scope: two ORIs, different bytes");
    CHECK_MSG(!(l1 == l3 && a && c && memcmp(a, c, l1) == 0), "a scope and an ORI: different bytes");
    /* a token released to the scope is revealed under the scope, not an ORI */
    size_t at = 0, tl = 0;
    for (; a && at + 6 < l1; at++) {
        int hex = 1;
        for (int k = 1; k <= 4; k++)
            hex &= (a[at + k] >= '0' && a[at + k] <= '9') || (a[at + k] >= 'a' && a[at + k] <= 'f');
        if (a[at] == 'E' && hex && a[at + 5] == '.')
            break;
    }
    if (a && at > 0 && at + 6 < l1 && a[at - 1] < 0x80)
        tl = a[at - 1];     /* the token is a string field: its length prefix is before it */
    CHECK_MSG(a && at + 6 < l1 && tl > 6, "no encryption token in the research release");
    if (a && at + 6 < l1 && tl > 6) {
        uint8_t plain[256];
        size_t pl = 0;
        dmvf_error err;
        CHECK_EQ_INT(dmvf_keyring_reveal(g_kr, "suny-study", (const char *)a + at, tl, plain, sizeof plain, &pl,
                                         &err), DMVF_OK);
        CHECK(pl > 0);
        CHECK_EQ_INT(dmvf_keyring_reveal(g_kr, "NYRES0001", (const char *)a + at, tl, plain, sizeof plain, &pl,
                                         &err), DMVF_ETOKEN);
    }
    free(a);
    free(b);
    free(c);
    free(d);
    free(in);
}

/* ------------------------------------------------------------------ framed */

static void put_frame(FILE *f, unsigned key, const uint8_t *body, size_t n)
{
    uint8_t hdr[12], *h = hdr;
    *h++ = (uint8_t)key;
    size_t v = n;
    while (v >= 0x80) {
        *h++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *h++ = (uint8_t)v;
    size_t total = (size_t)(h - hdr) + n;
    uint8_t pre[12], *o = pre;
    v = total;
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    fwrite(pre, 1, (size_t)(o - pre), f);
    fwrite(hdr, 1, (size_t)(h - hdr), f);
    fwrite(body, 1, n, f);
}

static void put_request(FILE *f, const char *id, const char *ori, Dmv__V1__AgencyKind kind,
                        const char *jurisdiction, uint32_t date)
{
    Dmv__V1__Request r = DMV__V1__REQUEST__INIT;
    r.request_id = (char *)id;
    r.ori = (char *)ori;
    r.agency_kind = kind;
    r.jurisdiction = (char *)jurisdiction;
    r.purpose = 1;
    r.query_kind = DMV__V1__QUERY_KIND__QUERY_KIND_BY_LICENSE;
    r.legal_process = DMV__V1__LEGAL_PROCESS__LEGAL_PROCESS_JUDICIAL_WARRANT;
    r.date = date;
    uint8_t buf[512];
    put_frame(f, 0x0a, buf, dmv__v1__request__pack(&r, buf));
}

typedef struct seen {
    char id[8][32];
    int decision[8], precheck[8];
    uint64_t out[8];
    size_t n;
} seen;

static void on_request(void *ud, const dmvf_filter *f, const dmvf_trailer *t)
{
    seen *s = ud;
    if (s->n >= 8)
        return;
    snprintf(s->id[s->n], sizeof s->id[s->n], "%s", t->request_id);
    s->decision[s->n] = (int)dmvf_filter_decision(f);
    s->precheck[s->n] = (int)dmvf_filter_precheck(f);
    s->out[s->n] = t->records_out;
    s->n++;
}

static void test_framed(void)
{
    static const uint8_t rec[] = {0x0a, 0x02, 'R', '1', 0x12, 0x05, 0x0a, 0x03, 'D', 'O', 'E'};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const Dmv__V1__AgencyKind FED = DMV__V1__AGENCY_KIND__AGENCY_KIND_FEDERAL;
    const Dmv__V1__AgencyKind INTERNAL = DMV__V1__AGENCY_KIND__AGENCY_KIND_INTERNAL;
    put_request(f, "padded", " DCICE0100", FED, "", 0);
    put_frame(f, 0x12, rec, sizeof rec);
    put_request(f, "tx", "DCICE0100", FED, "tx", 0);
    put_frame(f, 0x12, rec, sizeof rec);
    put_request(f, "internal", "NY0300000", INTERNAL, "NY", 0);
    put_frame(f, 0x12, rec, sizeof rec);
    put_request(f, "no-ori", "", 0, "", 0);
    put_frame(f, 0x12, rec, sizeof rec);
    put_request(f, "backdated", "NY0990000", 0, "", 20250101);
    put_frame(f, 0x12, rec, sizeof rec);
    put_request(f, "future", "DCICE0100", 0, "", 20991230);
    put_frame(f, 0x12, rec, sizeof rec);
    put_request(f, "good", "DCICE0100", 0, "", 20261120);
    put_frame(f, 0x12, rec, sizeof rec);
    fclose(f);
    static const char *const ids[] = {"padded", "tx", "internal", "no-ori", "backdated", "future", "good"};
    static const int pre[] = {DMVF_PRECHECK_BAD_REQUEST, DMVF_PRECHECK_BAD_REQUEST, DMVF_PRECHECK_CONTRADICTS,
                              DMVF_PRECHECK_BAD_REQUEST, DMVF_PRECHECK_BAD_REQUEST, DMVF_PRECHECK_BAD_REQUEST,
                              DMVF_PRECHECK_PASSED};

    dmvf_filter_options o = {.as_of = 20261120};
    dmvf_error err;
    dmvf_framed *fr = dmvf_framed_create(g_pol, g_kr, &o, &err);
    CHECK(fr != NULL);
    if (!fr) {
        free(buf);
        return;
    }
    seen s;
    memset(&s, 0, sizeof s);
    dmvf_framed_set_callback(fr, on_request, &s);
    size_t cap = 64 * 1024;
    uint8_t *out = malloc(cap);
    dmvf_in_buffer ib = {buf, len, 0};
    dmvf_out_buffer ob = {out, cap, 0};
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &ib, 1, &err), DMVF_OK);
    dmvf_framed_stats st;
    dmvf_framed_stats_get(fr, &st);
    CHECK_EQ_INT(st.requests, 7);
    CHECK_EQ_INT(st.refused, 6);
    CHECK_EQ_INT(st.released, 1);
    CHECK_EQ_INT(s.n, 7);
    for (size_t i = 0; i < s.n && i < 7; i++) {
        CHECK_EQ_STR(s.id[i], ids[i]);
        CHECK_MSG(s.precheck[i] == pre[i], "%s: precheck %d", ids[i], s.precheck[i]);
        CHECK_MSG(s.decision[i] == (i == 6 ? DMVF_DECISION_RELEASE : DMVF_DECISION_DENY), "%s: decision %d",
                  ids[i], s.decision[i]);
        CHECK_EQ_INT(s.out[i], i == 6 ? 1 : 0);
    }
    /* a signed release, seven trailers under its seal */
    uint8_t pub[32];
    uint64_t nreq = 0;
    dmvf_keyring_public_key(g_kr, pub);
    CHECK_EQ_INT(dmvf_release_verify(out, ob.pos, pub, &nreq, &err), DMVF_OK);
    CHECK_EQ_INT(nreq, 7);
    dmvf_framed_free(fr);
    free(out);
    free(buf);
}

int main(void)
{
    static const uint8_t seed[32] = "requester directory test keys.";
    if (fixture_open("requesters", seed, 1, &g_pol, &g_kr) != 0)
        CHECK_DONE();
    test_validate();
    test_bypasses();
    test_audited();
    test_lookup();
    test_requesters_file();
    test_scope();
    test_framed();
    dmvf_keyring_free(g_kr);
    dmvf_policy_free(g_pol);
    CHECK_DONE();
}
