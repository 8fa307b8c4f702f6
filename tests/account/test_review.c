/*
 * test_review.c - the review queue (review.h, keys/review_keys.c): reviewer
 * keys (unsealed, sealed, too open), holding a request decided 'review' with
 * its real would-be release, list, show (right key, wrong key, with and
 * without records), approve (exactly the held bytes, which are exactly what
 * a release rule with the same profile releases), deny, a second decision
 * refused, a flipped byte anywhere in ID.sealed, a truncated one, .meta and
 * .sealed files swapped between items, an edited .meta, and, with an audit
 * log, REVIEW_APPROVE / REVIEW_DENY entries that verify.
 *
 * The spool is the filter's own (issue 11, item 5): an item planted in it
 * (sealed to the reviewers' public key, unsigned), a .meta edited in each
 * field in turn, a body re-sealed with other records, an item signed with
 * another keyring, and items whose REVIEW_HOLD entry in the audit log says
 * otherwise (or is missing, doubled, or followed by a logged decision) are
 * each refused by list, show, approve and deny as the case is, with the
 * check that failed named, and nothing released; approve without an audit
 * log releases nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"
#include "dmv/v1/audit.pb-c.h"
#include "dmv/v1/keyring.pb-c.h"
#include "dmv/v1/record.pb-c.h"
#include "check.h"
#include "fixture.h"

static const uint8_t SEED[32] = {7, 7, 7};
static const uint8_t SEED2[32] = {9, 9, 9};   /* another DMV's keyring */
static char P[1024];    /* path scratch */

static const char *path(const char *name)
{
    snprintf(P, sizeof P, "%s/%s", g_dir, name);
    return P;
}

static const char *item(const char *spool, const char *id, const char *ext)
{
    static char b[1024];
    snprintf(b, sizeof b, "%.900s/%.32s.%.8s", spool, id, ext);
    return b;
}

static int file_mode(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int contains(const uint8_t *h, size_t hn, const uint8_t *n, size_t nn)
{
    for (size_t i = 0; nn <= hn && i <= hn - nn; i++)
        if (memcmp(h + i, n, nn) == 0)
            return 1;
    return 0;
}

static int write_bytes(const char *p, const void *d, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(d, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* Filters the whole stream for req; *out (malloc'd) gets the output. */
static int run_filter(const dmvf_policy *pol, const dmvf_keyring *kr, const dmvf_request *req,
                      const uint8_t *in, size_t n, dmvf_filter **fo, uint8_t **out,
                      size_t *out_len, dmvf_audit_counts *c)
{
    dmvf_filter_options o;
    memset(&o, 0, sizeof o);
    o.hold_for_review = 1;
    o.count_fields = 1;
    o.collect_subjects = 1;
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(pol, kr, req, &o, &err);
    *out = NULL;
    *out_len = 0;
    if (!f)
        return -1;
    size_t cap = n * 2 + 4096;
    uint8_t *buf = malloc(cap);
    dmvf_in_buffer ib = {in, n, 0};
    dmvf_out_buffer ob = {buf, cap, 0};
    int rc = dmvf_filter_stream(f, &ob, &ib, 1, &err);
    if (rc != DMVF_OK) {
        fprintf(stderr, "filter: %s\n", err.msg);
        free(buf);
        dmvf_filter_free(f);
        return -1;
    }
    memset(c, 0, sizeof *c);
    dmvf_filter_counts(f, &c->records_in, &c->records_out, &c->records_dropped);
    *out = buf;
    *out_len = ob.pos;
    if (fo)
        *fo = f;
    else
        dmvf_filter_free(f);
    return 0;
}

/* The DMV's public key (the keyring's), that the filter signs items with. */
static uint8_t PUB[32];

static char *show(const char *spool, const char *id, const char *sk, const char *pass,
                  int records, int *rc)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    dmvf_error err;
    *rc = dmvf_review_show(spool, id, PUB, sk, pass, m, records, &err);
    fclose(m);
    if (*rc)
        fprintf(stderr, "  (show: %s)\n", err.msg);
    return buf;
}

static dmvf_error g_list_err;   /* the last list's error */

static char *list(const char *spool, int json, int *rc)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    memset(&g_list_err, 0, sizeof g_list_err);
    *rc = dmvf_review_list(spool, PUB, m, json, &g_list_err);
    fclose(m);
    return buf;
}

/* The REVIEW_HOLD entry for item id as `dmvfilter filter` writes it (the
 * request, rule, policy id and counts of f, ref = the REQUEST entry's seq);
 * a test that wants the entry to say otherwise passes another request,
 * rule, policy id, count or ref. *seq: its seq (may be NULL). */
static int log_hold(dmvf_audit *au, const dmvf_filter *f, const dmvf_request *req,
                    const char *rule, const char *policy_id, uint64_t records, uint64_t ref,
                    const char *id, uint64_t *seq)
{
    dmvf_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = DMVF_AUDIT_REVIEW_HOLD;
    ev.request = req ? req : dmvf_filter_request(f);
    ev.rule = rule ? rule : dmvf_filter_rule(f);
    ev.policy_id = policy_id ? policy_id : dmvf_filter_policy_id(f);
    ev.review_id = id;
    ev.ref = ref;
    dmvf_filter_counts(f, &ev.counts.records_in, &ev.counts.records_out,
                       &ev.counts.records_dropped);
    if (records != UINT64_MAX)
        ev.counts.records_out = records;
    dmvf_error err;
    int rc = dmvf_audit_event_write(au, &ev, seq, &err);
    if (rc)
        fprintf(stderr, "  (log_hold: %s)\n", err.msg);
    return rc;
}

/* A request held as `dmvfilter filter --audit` holds it: its REQUEST entry,
 * the item (signed, naming that entry), its REVIEW_HOLD entry. */
static int hold_logged(dmvf_audit *au, const char *spool, const char *pk, const dmvf_filter *f,
                       const uint8_t *would, size_t len, const dmvf_audit_counts *c,
                       char id[DMVF_REVIEW_ID_LEN + 1])
{
    uint64_t seq = 0;
    dmvf_error err;
    int rc = dmvf_audit_request(au, f, &seq, &err);
    if (rc == DMVF_OK)
        rc = dmvf_review_hold(spool, pk, f, would, len, c, seq, id, &err);
    if (rc != DMVF_OK) {
        fprintf(stderr, "  (hold_logged: %s)\n", err.msg);
        return rc;
    }
    return log_hold(au, f, NULL, NULL, NULL, UINT64_MAX, seq, id, NULL);
}

/* approve with the log and keyring, to path("t.bin"): the code. */
static int approve_t(const char *spool, const char *id, const char *sk, dmvf_audit *au,
                     const dmvf_keyring *kr, dmvf_error *err)
{
    uint64_t n = 0;
    return dmvf_review_approve(spool, id, sk, NULL, "X", NULL, path("t.bin"), au, kr, &n, err);
}

static void swap_files(const char *a, const char *b)
{
    char t[1100];
    snprintf(t, sizeof t, "%s.swap", a);
    CHECK(rename(a, t) == 0 && rename(b, a) == 0 && rename(t, b) == 0);
}

/* ------------------------------------------------------------------------ */
/* The spool is the filter's own (issue 11, item 5).                         */

static Dmv__V1__ReviewMeta *meta_read(const char *spool, const char *id)
{
    size_t n = 0;
    uint8_t *b = slurp(item(spool, id, "meta"), &n);
    Dmv__V1__ReviewMeta *m = b ? dmv__v1__review_meta__unpack(NULL, n, b) : NULL;
    free(b);
    CHECK_MSG(m != NULL, "%s.meta decodes", id);
    return m;
}

static void meta_write(const char *spool, const char *id, const Dmv__V1__ReviewMeta *m)
{
    size_t n = dmv__v1__review_meta__get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    dmv__v1__review_meta__pack(m, b);
    CHECK_EQ_INT(write_bytes(item(spool, id, "meta"), b, n), 0);
    free(b);
}

static void unlink_item(const char *spool, const char *id)
{
    static const char *const ext[] = {"meta", "sealed", "approved", "denied"};
    for (size_t i = 0; i < 4; i++)
        unlink(item(spool, id, ext[i]));
}

/* Item id is refused by show, list, approve and deny alike (DMVF_ETAMPER,
 * the message holding words), nothing is released and it stays pending;
 * list shows it damaged, without what its .meta claims (claim, if given). */
static void refused_everywhere(const char *what, const char *spool, const char *id,
                               const char *sk, dmvf_audit *au, const dmvf_keyring *kr,
                               const char *words, const char *claim)
{
    dmvf_error err;
    FILE *null = fopen("/dev/null", "w");
    memset(&err, 0, sizeof err);
    int rc = dmvf_review_show(spool, id, PUB, sk, NULL, null, 0, &err);
    CHECK_MSG(rc == DMVF_ETAMPER && strstr(err.msg, words), "%s: show: %d '%s' (want '%s')", what,
              rc, err.msg, words);
    char *s = list(spool, 0, &rc);
    const char *line = s ? strstr(s, id) : NULL;
    CHECK_MSG(rc == DMVF_ETAMPER && strstr(g_list_err.msg, words), "%s: list: %d '%s'", what, rc,
              g_list_err.msg);
    CHECK_MSG(line && strncmp(line + DMVF_REVIEW_ID_LEN, "  ?", 3) == 0 &&
                  strstr(line, " damaged ") && (!claim || !strstr(s, claim)),
              "%s: listed damaged, claiming nothing: %s", what, s ? s : "");
    free(s);
    memset(&err, 0, sizeof err);
    rc = approve_t(spool, id, sk, au, kr, &err);
    CHECK_MSG(rc == DMVF_ETAMPER && strstr(err.msg, words), "%s: approve: %d '%s'", what, rc,
              err.msg);
    CHECK_MSG(!exists(path("t.bin")), "%s: nothing released", what);
    memset(&err, 0, sizeof err);
    rc = dmvf_review_deny(spool, id, PUB, sk, NULL, "X", NULL, NULL, &err);
    CHECK_MSG(rc == DMVF_ETAMPER && strstr(err.msg, words), "%s: deny: %d '%s'", what, rc,
              err.msg);
    CHECK_MSG(!exists(item(spool, id, "approved")) && !exists(item(spool, id, "denied")),
              "%s: the item stays pending", what);
    unlink(path("t.bin"));
    fclose(null);
}

/* Seals a body for item id (request rq, release[0..len) as the records,
 * made-up field counts) to the reviewers' public key in pk, as anyone who
 * has that key can, and writes it as ID.sealed. */
static void plant_body(const char *spool, const char *id, const char *pk,
                       const Dmv__V1__Request *rq, const uint8_t *release, size_t len,
                       uint64_t records)
{
    uint8_t rpk[32];
    dmvf_error err;
    CHECK_EQ_INT(dmvf__review_public_read(pk, rpk, &err), DMVF_OK);
    Dmv__V1__FieldCount fc = DMV__V1__FIELD_COUNT__INIT, *fcp = &fc;
    fc.path = (char *)"person.family_name";
    fc.action = DMV__V1__FIELD_ACTION__FIELD_ACTION_RELEASE;
    fc.values = 1;
    Dmv__V1__ReviewBody b = DMV__V1__REVIEW_BODY__INIT;
    b.review_id = (char *)id;
    b.request = (Dmv__V1__Request *)rq;
    b.release.data = (uint8_t *)release;
    b.release.len = len;
    b.records_in = records;
    b.records_out = records;
    b.n_fields = 1;
    b.fields = &fcp;
    size_t n = dmv__v1__review_body__get_packed_size(&b);
    uint8_t *plain = malloc(n), *sealed = malloc(n + DMVF__REVIEW_SEAL_OVERHEAD);
    dmv__v1__review_body__pack(&b, plain);
    CHECK_EQ_INT(dmvf__review_seal(rpk, plain, n, sealed), 0);
    CHECK_EQ_INT(write_bytes(item(spool, id, "sealed"), sealed, n + DMVF__REVIEW_SEAL_OVERHEAD), 0);
    free(plain);
    free(sealed);
}

/* approve_t of a genuine item fails at its REVIEW_HOLD check (words),
 * releasing nothing, while show and list accept the item. */
static void hold_says_otherwise(const char *what, const char *spool, const char *id,
                                const char *sk, dmvf_audit *au, const dmvf_keyring *kr,
                                const char *words)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int rc = approve_t(spool, id, sk, au, kr, &err);
    CHECK_MSG(rc == DMVF_ETAMPER && strstr(err.msg, words), "%s: approve: %d '%s' (want '%s')",
              what, rc, err.msg, words);
    CHECK_MSG(!exists(path("t.bin")) && !exists(item(spool, id, "approved")),
              "%s: nothing released, the item pending", what);
    FILE *null = fopen("/dev/null", "w");
    CHECK_MSG(dmvf_review_show(spool, id, PUB, sk, NULL, null, 0, &err) == DMVF_OK,
              "%s: the item itself is the filter's: %s", what, err.msg);
    fclose(null);
    unlink(path("t.bin"));
}

static void spool_is_the_filters(const char *spool0, const char *pk, const char *sk,
                                 const dmvf_policy *pol, const dmvf_keyring *kr,
                                 const dmvf_keyring *kr2, const uint8_t pub2[32],
                                 const dmvf_request *held_req, const dmvf_request *rel_req,
                                 const dmvf_filter *f, const uint8_t *in, size_t in_len,
                                 const uint8_t *would, size_t would_len,
                                 const dmvf_audit_counts *c, dmvf_audit *au)
{
    (void)spool0;
    char spool[1024];
    snprintf(spool, sizeof spool, "%s", path("own"));
    CHECK_EQ_INT(mkdir(spool, 0700), 0);
    dmvf_error err;
    int rc;
    FILE *null = fopen("/dev/null", "w");

    /* a planted item: a body of the records in clear (marking included)
     * with made-up field counts, sealed to the reviewers' public key, and a
     * .meta naming another agency's request; never signed */
    const char *PL = "0123456789abcdef0123456789abcdef";
    Dmv__V1__Request prq = DMV__V1__REQUEST__INIT;
    prq.request_id = (char *)"PLANTED-1";
    prq.ori = (char *)"NYPD00000";
    prq.agency_name = (char *)"PLANTED AGENCY";
    plant_body(spool, PL, pk, &prq, in, in_len, 5);
    Dmv__V1__ReviewMeta pm = DMV__V1__REVIEW_META__INIT;
    uint8_t rpk[32];
    CHECK_EQ_INT(dmvf__review_public_read(pk, rpk, &err), DMVF_OK);
    pm.review_id = (char *)PL;
    pm.time_ns = 1;
    pm.request = &prq;
    pm.rule = (char *)"federal";
    pm.policy_id = (char *)dmvf_filter_policy_id(f);
    pm.records = 5;
    pm.reviewer_public_key.data = rpk;
    pm.reviewer_public_key.len = 32;
    meta_write(spool, PL, &pm);
    refused_everywhere("a planted item", spool, PL, sk, au, kr, "is not signed", "PLANTED");
    /* the same, with a made-up signature claiming the DMV's key */
    uint8_t dig[32], fake[64];
    {
        size_t n = 0;
        uint8_t *b = slurp(item(spool, PL, "sealed"), &n);
        crypto_generichash(dig, sizeof dig, b, n, NULL, 0);
        free(b);
    }
    randombytes_buf(fake, sizeof fake);
    pm.sealed_digest.data = dig;
    pm.sealed_digest.len = 32;
    pm.signer_public_key.data = PUB;
    pm.signer_public_key.len = 32;
    pm.signature.data = fake;
    pm.signature.len = 64;
    meta_write(spool, PL, &pm);
    refused_everywhere("a planted item with a made-up signature", spool, PL, sk, au, kr,
                       "signature does not verify", "PLANTED");
    /* signed properly, but with another DMV's keyring */
    {
        pm.signer_public_key.data = (uint8_t *)pub2;
        pm.signature.len = 0;
        size_t n = dmv__v1__review_meta__get_packed_size(&pm);
        uint8_t *b = malloc(n);
        dmv__v1__review_meta__pack(&pm, b);
        dmvf__sign(kr2, "dmvf-review-item-v1", b, n, fake);
        free(b);
        pm.signature.len = 64;
        meta_write(spool, PL, &pm);
        refused_everywhere("a planted item signed with another keyring", spool, PL, sk, au, kr,
                           "not with the DMV's key", "PLANTED");
        /* under that other key the item is well formed: the key is the check */
        CHECK_EQ_INT(dmvf_review_show(spool, PL, pub2, sk, NULL, null, 0, &err), DMVF_OK);
    }
    unlink_item(spool, PL);

    /* an item held by a filter with another keyring */
    {
        dmvf_filter *f2 = NULL;
        uint8_t *w2 = NULL;
        size_t w2n = 0;
        dmvf_audit_counts c2;
        char id2[DMVF_REVIEW_ID_LEN + 1];
        CHECK_EQ_INT(run_filter(pol, kr2, held_req, in, in_len, &f2, &w2, &w2n, &c2), 0);
        CHECK_EQ_INT(dmvf_review_hold(spool, pk, f2, w2, w2n, &c2, 0, id2, &err), DMVF_OK);
        refused_everywhere("held with another keyring", spool, id2, sk, au, kr,
                           "not with the DMV's key", "DHSICE001");
        CHECK_EQ_INT(dmvf_review_show(spool, id2, pub2, sk, NULL, null, 0, &err), DMVF_OK);
        unlink_item(spool, id2);
        dmvf_filter_free(f2);
        free(w2);
    }

    /* a genuine item, its .meta edited one field at a time */
    char E[DMVF_REVIEW_ID_LEN + 1];
    CHECK_EQ_INT(hold_logged(au, spool, pk, f, would, would_len, c, E), DMVF_OK);
    size_t rawn = 0;
    uint8_t *raw = slurp(item(spool, E, "meta"), &rawn);
    CHECK(raw != NULL);
    static const char *const edits[] = {
        "rule", "policy id", "request seq", "records", "time", "request ORI", "agency name",
        "request id", "reviewer key", "review id", "body digest", "signer key", "signature",
        "no signature", "not signed at all", "an unknown field"};
    static const char *const words[] = {
        "signature does not verify", "signature does not verify", "signature does not verify",
        "signature does not verify", "signature does not verify", "signature does not verify",
        "signature does not verify", "signature does not verify", "signature does not verify",
        "not its own", "signature does not verify", "not with the DMV's key",
        "signature does not verify", "signature, signer key or body digest is 0",
        "is not signed", "signature does not verify"};
    for (size_t k = 0; raw && k < sizeof edits / sizeof edits[0]; k++) {
        Dmv__V1__ReviewMeta *m = dmv__v1__review_meta__unpack(NULL, rawn, raw);
        CHECK(m && m->request && m->signature.len == 64 && m->sealed_digest.len == 32 &&
              m->signer_public_key.len == 32 && memcmp(m->signer_public_key.data, PUB, 32) == 0);
        if (!m || !m->request)
            break;
        char *was_s = NULL, **at_s = NULL;
        uint8_t *flip = NULL;
        uint8_t *was_signer = m->signer_public_key.data;
        size_t was_len[3] = {m->signature.len, m->signer_public_key.len, m->sealed_digest.len};
        switch (k) {
        case 0: at_s = &m->rule; was_s = *at_s; *at_s = (char *)"federal"; break;
        case 1: at_s = &m->policy_id; was_s = *at_s; *at_s = (char *)"0000"; break;
        case 2: m->request_seq += 1; break;
        case 3: m->records = 1; break;
        case 4: m->time_ns += 1; break;
        case 5: at_s = &m->request->ori; was_s = *at_s; *at_s = (char *)"NYPD00000"; break;
        case 6: at_s = &m->request->agency_name; was_s = *at_s; *at_s = (char *)"NYPD"; break;
        case 7: at_s = &m->request->request_id; was_s = *at_s; *at_s = (char *)"OTHER"; break;
        case 8: flip = m->reviewer_public_key.data; break;
        case 9: at_s = &m->review_id; was_s = *at_s; *at_s = (char *)"ffffffffffffffffffffffffffffffff"; break;
        case 10: flip = m->sealed_digest.data; break;
        case 11: m->signer_public_key.data = (uint8_t *)pub2; break;
        case 12: flip = m->signature.data + 17; break;
        case 13: m->signature.len = 0; break;
        case 14: m->signature.len = m->signer_public_key.len = m->sealed_digest.len = 0; break;
        default: break;
        }
        if (flip)
            *flip ^= 0x01;
        if (k == 15) {
            /* field 100, varint 1, after the signed fields */
            uint8_t *b = malloc(rawn + 3);
            memcpy(b, raw, rawn);
            memcpy(b + rawn, "\xa0\x06\x01", 3);
            CHECK_EQ_INT(write_bytes(item(spool, E, "meta"), b, rawn + 3), 0);
            free(b);
        } else {
            meta_write(spool, E, m);
        }
        char what[80];
        snprintf(what, sizeof what, "a .meta with its %s edited", edits[k]);
        refused_everywhere(what, spool, E, sk, au, kr, words[k], k == 6 ? "NYPD" : NULL);
        if (flip)
            *flip ^= 0x01;
        if (at_s)
            *at_s = was_s;
        m->signer_public_key.data = was_signer;
        m->signature.len = was_len[0];
        m->signer_public_key.len = was_len[1];
        m->sealed_digest.len = was_len[2];
        dmv__v1__review_meta__free_unpacked(m, NULL);
        CHECK_EQ_INT(write_bytes(item(spool, E, "meta"), raw, rawn), 0);
    }
    free(raw);
    /* restored, the item is accepted */
    CHECK_EQ_INT(dmvf_review_show(spool, E, PUB, sk, NULL, null, 0, &err), DMVF_OK);
    char *ls = list(spool, 0, &rc);
    CHECK_MSG(rc == DMVF_OK && ls && strstr(ls, E) && strstr(ls, "pending"), "list: %s",
              g_list_err.msg);
    free(ls);

    /* bodies: re-sealed with the records in clear, swapped, cut, missing */
    char G[DMVF_REVIEW_ID_LEN + 1], G2[DMVF_REVIEW_ID_LEN + 1];
    CHECK_EQ_INT(hold_logged(au, spool, pk, f, would, would_len, c, G), DMVF_OK);
    CHECK_EQ_INT(hold_logged(au, spool, pk, f, would, would_len, c, G2), DMVF_OK);
    size_t sn = 0;
    uint8_t *sraw = slurp(item(spool, G, "sealed"), &sn);
    {
        Dmv__V1__ReviewMeta *m = meta_read(spool, G);
        if (m)
            plant_body(spool, G, pk, m->request, in, in_len, 5);
        if (m)
            dmv__v1__review_meta__free_unpacked(m, NULL);
    }
    refused_everywhere("a body re-sealed with the records in clear", spool, G, sk, au, kr,
                       "not the body of review item", NULL);
    CHECK_EQ_INT(write_bytes(item(spool, G, "sealed"), sraw, sn), 0);
    CHECK_EQ_INT(dmvf_review_show(spool, G, PUB, sk, NULL, null, 0, &err), DMVF_OK);
    size_t s2n = 0;
    uint8_t *s2raw = slurp(item(spool, G2, "sealed"), &s2n);
    CHECK_EQ_INT(write_bytes(item(spool, G2, "sealed"), sraw, sn), 0);  /* G's body in G2 */
    refused_everywhere("another item's body", spool, G2, sk, au, kr, "not the body of review item",
                       NULL);
    CHECK_EQ_INT(write_bytes(item(spool, G2, "sealed"), s2raw, s2n), 0);
    CHECK_EQ_INT(dmvf_review_show(spool, G2, PUB, sk, NULL, null, 0, &err), DMVF_OK);
    free(s2raw);
    CHECK_EQ_INT(write_bytes(item(spool, G, "sealed"), sraw, sn - 1), 0);
    refused_everywhere("a cut body", spool, G, sk, au, kr, "not the body of review item", NULL);
    unlink(item(spool, G, "sealed"));
    refused_everywhere("no body", spool, G, sk, au, kr, "but no", NULL);
    CHECK_EQ_INT(write_bytes(item(spool, G, "sealed"), sraw, sn), 0);
    free(sraw);
    unlink_item(spool, G2);

    /* the REVIEW_HOLD entry says otherwise, or is missing or doubled */
    struct { const char *what, *words; } hc[] = {
        {"a REVIEW_HOLD entry with another rule", "the rule differs"},
        {"a REVIEW_HOLD entry with another policy id", "the policy id differs"},
        {"a REVIEW_HOLD entry with another record count", "the record count differs"},
        {"a REVIEW_HOLD entry following another REQUEST", "(ref) differs"},
        {"a REVIEW_HOLD entry for another agency's request", "the request differs"},
        {"no REVIEW_HOLD entry", "holds no REVIEW_HOLD entry"},
        {"two REVIEW_HOLD entries", "2 REVIEW_HOLD entries"},
        {"held without an audit log", "holds no REVIEW_HOLD entry"},
        {"a request seq naming no REQUEST entry", "is not a REQUEST entry"},
        {"a request seq naming another request's entry", "was not decided 'review'"},
    };
    uint64_t hold_seq = 0;
    for (size_t k = 0; k < sizeof hc / sizeof hc[0]; k++) {
        char H[DMVF_REVIEW_ID_LEN + 1];
        uint64_t seq = 0;
        if (k == 9) {
            dmvf_filter *fr = dmvf_filter_create(pol, kr, rel_req, NULL, &err);
            CHECK_EQ_INT(dmvf_audit_request(au, fr, &seq, &err), DMVF_OK);
            dmvf_filter_free(fr);
        } else if (k == 8) {
            seq = hold_seq;
        } else if (k != 7) {
            CHECK_EQ_INT(dmvf_audit_request(au, f, &seq, &err), DMVF_OK);
        }
        CHECK_EQ_INT(dmvf_review_hold(spool, pk, f, would, would_len, c, seq, H, &err), DMVF_OK);
        switch (k) {
        case 0: rc = log_hold(au, f, NULL, "federal", NULL, UINT64_MAX, seq, H, NULL); break;
        case 1: rc = log_hold(au, f, NULL, NULL, "0000", UINT64_MAX, seq, H, NULL); break;
        case 2: rc = log_hold(au, f, NULL, NULL, NULL, 4, seq, H, NULL); break;
        case 3: rc = log_hold(au, f, NULL, NULL, NULL, UINT64_MAX, seq + 1, H, NULL); break;
        case 4: rc = log_hold(au, f, rel_req, NULL, NULL, UINT64_MAX, seq, H, NULL); break;
        case 5: case 7: rc = DMVF_OK; break;
        case 6:
            rc = log_hold(au, f, NULL, NULL, NULL, UINT64_MAX, seq, H, &hold_seq);
            if (rc == DMVF_OK)
                rc = log_hold(au, f, NULL, NULL, NULL, UINT64_MAX, seq, H, NULL);
            break;
        default: rc = log_hold(au, f, NULL, NULL, NULL, UINT64_MAX, seq, H, NULL); break;
        }
        CHECK_EQ_INT(rc, DMVF_OK);
        hold_says_otherwise(hc[k].what, spool, H, sk, au, kr, hc[k].words);
        if (k == 7)   /* nothing leaves: a reviewer can still deny it */
            CHECK_EQ_INT(dmvf_review_deny(spool, H, PUB, sk, NULL, "K. Smith", NULL, au, &err),
                         DMVF_OK);
        else
            unlink_item(spool, H);
    }

    /* an approval checked against another audit log */
    {
        dmvf_audit *au2 = dmvf_audit_open(path("audit-other"), kr, NULL, &err);
        CHECK(au2 != NULL);
        if (au2) {
            hold_says_otherwise("checked against another audit log", spool, E, sk, au2, kr,
                                "holds no REVIEW_HOLD entry");
            CHECK_EQ_INT(dmvf_audit_close(au2, &err), DMVF_OK);
        }
    }
    /* approved once; its marker removed, the logged decision still stands */
    uint64_t nrec = 0;
    CHECK_EQ_INT(approve_t(spool, E, sk, au, kr, &err), DMVF_OK);
    {
        size_t n = 0;
        uint8_t *b = slurp(path("t.bin"), &n);
        CHECK(b && n == would_len && memcmp(b, would, n) == 0);
        free(b);
    }
    unlink(path("t.bin"));
    CHECK_EQ_INT(unlink(item(spool, E, "approved")), 0);
    hold_says_otherwise("a decision already logged", spool, E, sk, au, kr,
                        "already records a decision");
    (void)nrec;
    unlink_item(spool, E);
    unlink_item(spool, G);
    fclose(null);
}

int main(void)
{
    dmvf_keyring *kr = NULL;
    dmvf_error err;
    int rc;
    /* the fixture's temp dir and seeded keyring (not the example policy:
     * this test brings its own, with a review rule) */
    CHECK_MSG(getenv("DMVF_GEN") != NULL, "DMVF_GEN must be set");
    snprintf(g_dir, sizeof g_dir, "/tmp/dmvf-review-XXXXXX");
    if (!getenv("DMVF_GEN") || !mkdtemp(g_dir)) {
        g_dir[0] = 0;
        CHECK_DONE();
    }
    atexit(fixture_cleanup);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(path("keyring"), SEED, 1, &err), DMVF_OK);
    kr = dmvf_keyring_load(path("keyring"), NULL, &err);
    CHECK_MSG(kr != NULL, "keyring: %s", kr ? "" : err.msg);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(path("keyring2"), SEED2, 1, &err), DMVF_OK);
    dmvf_keyring *kr2 = dmvf_keyring_load(path("keyring2"), NULL, &err);
    CHECK(kr2 != NULL);
    if (!kr || !kr2)
        CHECK_DONE();
    dmvf_keyring_public_key(kr, PUB);
    uint8_t pub2[32];
    dmvf_keyring_public_key(kr2, pub2);

    /* ---- reviewer keys ---- */
    char sk[1024], pk[1024], sk2[1024], pk2[1024], sks[1024], pks[1024];
    snprintf(sk, sizeof sk, "%s", path("rev.key"));
    snprintf(pk, sizeof pk, "%s", path("rev.pub"));
    snprintf(sk2, sizeof sk2, "%s", path("other.key"));
    snprintf(pk2, sizeof pk2, "%s", path("other.pub"));
    snprintf(sks, sizeof sks, "%s", path("sealed.key"));
    snprintf(pks, sizeof pks, "%s", path("sealed.pub"));
    CHECK_EQ_INT(dmvf_review_keygen(sk, pk, NULL, &err), DMVF_OK);
    CHECK_EQ_INT(file_mode(sk), 0600);
    CHECK_EQ_INT(file_mode(pk), 0644);
    size_t pn = 0;
    uint8_t *pub = slurp(pk, &pn);
    CHECK(pub && pn == 24 + 64 + 1 && memcmp(pub, "dmvfilter-x25519-public ", 24) == 0 &&
          pub[pn - 1] == '\n');
    free(pub);
    CHECK_EQ_INT(dmvf_review_keygen(sk, path("x.pub"), NULL, &err), DMVF_EIO);
    CHECK(!exists(path("x.pub")));
    CHECK_EQ_INT(dmvf_review_keygen(path("y.key"), pk, NULL, &err), DMVF_EIO);
    CHECK(!exists(path("y.key")));
    CHECK_EQ_INT(dmvf_review_keygen(path("z.key"), path("z.pub"), "", &err), DMVF_EINVAL);
    CHECK_EQ_INT(dmvf_review_keygen(sk2, pk2, NULL, &err), DMVF_OK);
    {
        uint8_t a[32], b[32];
        dmvf__review_key *k = dmvf__review_key_load(sk, NULL, &err);
        CHECK(k != NULL);
        CHECK_EQ_INT(dmvf__review_public_read(pk, a, &err), DMVF_OK);
        if (k) {
            dmvf__review_key_public(k, b);
            CHECK(memcmp(a, b, 32) == 0);
        }
        dmvf__review_key_free(k);
        CHECK_EQ_INT(dmvf__review_public_read(sk, a, &err), DMVF_EINVAL);
    }
    /* sealed with a passphrase */
    CHECK_EQ_INT(dmvf_review_keygen(sks, pks, "correct horse", &err), DMVF_OK);
    CHECK_EQ_INT(file_mode(sks), 0600);
    {
        size_t n = 0;
        uint8_t *b = slurp(sks, &n);
        CHECK(b && n > 9 && memcmp(b, "DMVFRK1\n", 8) == 0 && b[8] == 1);
        /* sealed at the MODERATE Argon2id costs, recorded in the file */
        Dmv__V1__SealedKeyring *sk_seal =
            b && n > 9 ? dmv__v1__sealed_keyring__unpack(NULL, n - 9, b + 9) : NULL;
        CHECK(sk_seal && sk_seal->opslimit == crypto_pwhash_OPSLIMIT_MODERATE &&
              sk_seal->memlimit == crypto_pwhash_MEMLIMIT_MODERATE);
        if (sk_seal)
            dmv__v1__sealed_keyring__free_unpacked(sk_seal, NULL);
        free(b);
        dmvf__review_key *k = dmvf__review_key_load(sks, NULL, &err);
        CHECK(k == NULL && err.code == DMVF_EPASSPHRASE);
        k = dmvf__review_key_load(sks, "wrong horse", &err);
        CHECK(k == NULL && err.code == DMVF_EPASSPHRASE);
        k = dmvf__review_key_load(sks, "correct horse", &err);
        CHECK(k != NULL);
        uint8_t a[32], b2[32];
        CHECK_EQ_INT(dmvf__review_public_read(pks, a, &err), DMVF_OK);
        if (k) {
            dmvf__review_key_public(k, b2);
            CHECK(memcmp(a, b2, 32) == 0);
        }
        dmvf__review_key_free(k);
    }
    /* too open */
    CHECK(chmod(sk2, 0644) == 0);
    {
        dmvf__review_key *k = dmvf__review_key_load(sk2, NULL, &err);
        CHECK(k == NULL && err.code == DMVF_EKEYRING && strstr(err.msg, "chmod 600"));
        dmvf__review_key_free(k);
    }
    CHECK(chmod(sk2, 0640) == 0);
    CHECK(dmvf__review_key_load(sk2, NULL, &err) == NULL && err.code == DMVF_EKEYRING);
    CHECK(chmod(sk2, 0600) == 0);
    CHECK(dmvf__review_key_load(path("nope.key"), NULL, &err) == NULL &&
          err.code == DMVF_EKEYRING);

    /* ---- the policy: a review rule and a release rule with the same profile ---- */
    char spool[1024];
    snprintf(spool, sizeof spool, "%s", path("spool"));
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "version: 1\n"
             "profiles:\n"
             "  federal:\n"
             "    default: redact\n"
             "    fields:\n"
             "      record_id: pseudonymize\n"
             "      person.family_name: release\n"
             "      person.given_name: release\n"
             "      person.birth_date: {generalize: year}\n"
             "      person.phone: {mask: {keep_last: 4}}\n"
             "      license.number: release\n"
             "      vehicles.*: release\n"
             "review:\n"
             "  spool: %s\n"
             "  public_key: %s\n"
             "requesters:   # one agreement, two ORIs: one pseudonym scope\n"
             "  - {ori: DHSICE001, name: ICE ERO, kind: federal, tags: [immigration-enforcement], scope: dhs}\n"
             "  - {ori: DHSFED001, name: DHS Office of Operations, kind: federal, scope: dhs}\n"
             "rules:\n"
             "  - name: immigration held for review\n"
             "    match: {tags: [immigration-enforcement]}\n"
             "    decision: review\n"
             "    profile: federal\n"
             "  - name: federal\n"
             "    match: {agency_kind: [federal]}\n"
             "    decision: release\n"
             "    profile: federal\n",
             spool, pk);
    dmvf_policy *pol = dmvf_policy_load_buffer(yaml, strlen(yaml), "review.yaml", &err);
    CHECK_MSG(pol != NULL, "policy: %s", pol ? "" : err.msg);
    if (!pol)
        CHECK_DONE();
    dmvf_policy_review rs;
    dmvf_policy_review_settings(pol, &rs);
    CHECK(rs.spool && strcmp(rs.spool, spool) == 0);

    char gen[1200];
    snprintf(gen, sizeof gen, "--count 5 --seed 11 --out '%s'", path("rec.bin"));
    CHECK_EQ_INT(run_gen(gen), 0);
    size_t in_len = 0;
    uint8_t *in = slurp(path("rec.bin"), &in_len);
    CHECK(in && in_len > 0);
    if (!in)
        CHECK_DONE();

    const char *tags[] = {"immigration-enforcement"};
    dmvf_request held_req;
    memset(&held_req, 0, sizeof held_req);
    held_req.request_id = "REQ-0042";
    held_req.ori = "DHSICE001";
    held_req.agency_name = "ICE ERO";
    held_req.agency_kind = DMVF_AGENCY_FEDERAL;
    held_req.tags = tags;
    held_req.ntags = 1;
    held_req.query_kind = DMVF_QUERY_BY_NAME_DOB;
    held_req.legal_process = DMVF_LEGAL_ADMINISTRATIVE_SUBPOENA;
    held_req.legal_reference = "AS-2026-17";
    /* the release rule's requester: another ORI of the same scope, so that its
     * pseudonyms are the held request's */
    dmvf_request rel_req = held_req;
    rel_req.ori = "DHSFED001";
    rel_req.agency_name = NULL;
    rel_req.tags = NULL;
    rel_req.ntags = 0;

    uint8_t *released = NULL, *would = NULL;
    size_t released_len = 0, would_len = 0;
    dmvf_audit_counts rc_rel, c;
    dmvf_filter *f = NULL;
    CHECK_EQ_INT(run_filter(pol, kr, &rel_req, in, in_len, NULL, &released, &released_len, &rc_rel), 0);
    CHECK_EQ_INT(rc_rel.records_out, 5);
    CHECK_EQ_INT(run_filter(pol, kr, &held_req, in, in_len, &f, &would, &would_len, &c), 0);
    CHECK(f && dmvf_filter_decision(f) == DMVF_DECISION_REVIEW);
    CHECK_EQ_INT(c.records_out, 5);
    CHECK_MSG(would_len == released_len && would && released &&
              memcmp(would, released, would_len) == 0,
              "the would-be release (%zu bytes) is what the release rule releases (%zu)",
              would_len, released_len);
    if (!f || !would)
        CHECK_DONE();

    /* the audit log every hold below is logged in, as `dmvfilter filter
     * --audit` logs it (approve checks the item against it) */
    dmvf_audit *au = dmvf_audit_open(path("audit"), kr, NULL, &err);
    CHECK_MSG(au != NULL, "audit open: %s", au ? "" : err.msg);
    if (!au)
        CHECK_DONE();

    /* ---- hold ---- */
    char id[DMVF_REVIEW_ID_LEN + 1], id2[DMVF_REVIEW_ID_LEN + 1], id3[DMVF_REVIEW_ID_LEN + 1];
    CHECK_EQ_INT(hold_logged(au, spool, pk, f, would, would_len, &c, id), DMVF_OK);
    CHECK_EQ_INT(strlen(id), 32);
    CHECK_EQ_INT(strspn(id, "0123456789abcdef"), 32);
    CHECK_EQ_INT(file_mode(spool) & 0777, 0700);
    CHECK_EQ_INT(file_mode(item(spool, id, "sealed")), 0600);
    CHECK_EQ_INT(file_mode(item(spool, id, "meta")), 0600);
    {
        size_t n = 0;
        uint8_t *s = slurp(item(spool, id, "sealed"), &n);
        /* the sealed file holds none of the release in clear */
        int clear = 0;
        for (size_t pos = 0; s && pos + 24 <= would_len; pos += 24)
            if (contains(s, n, would + pos, 24))
                clear = 1;
        CHECK(s && n > would_len + 48 && !clear);
        free(s);
    }
    /* refused holds */
    {
        char bad[DMVF_REVIEW_ID_LEN + 1];
        dmvf_audit_counts c2 = c;
        c2.records_out = 4;
        CHECK_EQ_INT(dmvf_review_hold(spool, pk, f, would, would_len, &c2, 0, bad, &err), DMVF_EINVAL);
        CHECK_EQ_INT(bad[0], 0);
        CHECK_EQ_INT(dmvf_review_hold(spool, pk, f, would, would_len - 1, &c, 0, bad, &err), DMVF_EINVAL);
        CHECK_EQ_INT(dmvf_review_hold(spool, path("nope.pub"), f, would, would_len, &c, 0, bad, &err),
                     DMVF_EIO);
        CHECK_EQ_INT(dmvf_review_hold(spool, sk, f, would, would_len, &c, 0, bad, &err), DMVF_EINVAL);
        CHECK_EQ_INT(dmvf_review_hold(spool, pk, f, would, DMVF_REVIEW_MAX_BODY + 1, &c, 0, bad, &err),
                     DMVF_ETOOBIG);
        dmvf_filter *fr = dmvf_filter_create(pol, kr, &rel_req, NULL, &err);
        CHECK_EQ_INT(dmvf_review_hold(spool, pk, fr, would, would_len, &c, 0, bad, &err), DMVF_EINVAL);
        dmvf_filter_free(fr);
        /* a filter without a keyring (its profile has no pseudonyms) cannot
         * sign: nothing is held */
        char y2[4096];
        snprintf(y2, sizeof y2,
                 "version: 1\n"
                 "profiles:\n"
                 "  plain:\n"
                 "    default: redact\n"
                 "    fields:\n"
                 "      person.family_name: release\n"
                 "review: {spool: %s, public_key: %s}\n"
                 "requesters:\n"
                 "  - {ori: DHSICE001, name: ICE ERO, kind: federal, tags: [immigration-enforcement]}\n"
                 "rules:\n"
                 "  - name: held\n"
                 "    match: {tags: [immigration-enforcement]}\n"
                 "    decision: review\n"
                 "    profile: plain\n",
                 spool, pk);
        dmvf_policy *pol2 = dmvf_policy_load_buffer(y2, strlen(y2), "plain.yaml", &err);
        CHECK_MSG(pol2 != NULL, "plain policy: %s", pol2 ? "" : err.msg);
        dmvf_filter *fk = NULL;
        uint8_t *wk = NULL;
        size_t wkn = 0;
        dmvf_audit_counts ck;
        CHECK(pol2 && run_filter(pol2, NULL, &held_req, in, in_len, &fk, &wk, &wkn, &ck) == 0);
        if (fk) {
            CHECK(dmvf_filter_decision(fk) == DMVF_DECISION_REVIEW);
            CHECK_EQ_INT(dmvf_review_hold(spool, pk, fk, wk, wkn, &ck, 0, bad, &err), DMVF_EKEYRING);
            CHECK(strstr(err.msg, "keyring") != NULL);
        }
        CHECK_EQ_INT(bad[0], 0);
        dmvf_filter_free(fk);
        free(wk);
        dmvf_policy_free(pol2);
    }
    CHECK_EQ_INT(hold_logged(au, spool, pk, f, would, would_len, &c, id2), DMVF_OK);
    CHECK_EQ_INT(hold_logged(au, spool, pk, f, would, would_len, &c, id3), DMVF_OK);
    CHECK(strcmp(id, id2) != 0 && strcmp(id2, id3) != 0);

    /* ---- list ---- */
    char *s = list(spool, 0, &rc);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK(s && strstr(s, id) && strstr(s, "pending") && strstr(s, "DHSICE001") &&
          strstr(s, "immigration held for review") && strstr(s, "ICE ERO"));
    free(s);
    s = list(spool, 1, &rc);
    CHECK_EQ_INT(rc, DMVF_OK);
    {
        char want[200];
        snprintf(want, sizeof want, "{\"id\":\"%s\"", id);
        CHECK(s && strstr(s, want) && strstr(s, "\"state\":\"pending\"") &&
              strstr(s, "\"records\":5") && strstr(s, "\"request_id\":\"REQ-0042\""));
    }
    free(s);
    {
        /* an item without .meta (a hold that did not finish) is not listed */
        CHECK_EQ_INT(write_bytes(item(spool, "0123456789abcdef0123456789abcdef", "sealed"), "x", 1), 0);
        s = list(spool, 0, &rc);
        CHECK(rc == DMVF_OK && s && !strstr(s, "0123456789abcdef0123456789abcdef"));
        free(s);
        s = show(spool, "0123456789abcdef0123456789abcdef", sk, NULL, 0, &rc);
        CHECK_EQ_INT(rc, DMVF_EINVAL);
        free(s);
    }

    /* ---- show ---- */
    s = show(spool, id, sk, NULL, 0, &rc);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK(s && strstr(s, "pending") && strstr(s, "DHSICE001") && strstr(s, "AS-2026-17") &&
          strstr(s, "administrative_subpoena") && strstr(s, "immigration-enforcement") &&
          strstr(s, "5 records") && strstr(s, "person.family_name") && strstr(s, "subjects: 5"));
    CHECK(s && !strstr(s, "record 1:"));
    char *full = show(spool, id, sk, NULL, 1, &rc);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK(full && strstr(full, "record 1:") && strstr(full, "record 5:") &&
          strstr(full, "person.family_name: \"") && !strstr(full, "record 6:"));
    {
        /* a released value appears with --records only */
        const char *at = full ? strstr(full, "person.family_name: \"") : NULL;
        char name[128] = "";
        if (at) {
            at += strlen("person.family_name: \"");
            size_t k = strcspn(at, "\"");
            snprintf(name, sizeof name, "%.*s", (int)(k < 120 ? k : 120), at);
        }
        CHECK(name[0] && s && !strstr(s, name));
        /* and no redacted field: person.ssn is never dumped */
        const char *recs = full ? strstr(full, "\nrecords:\n") : NULL;
        CHECK(recs && !strstr(recs, "person.ssn:") && !strstr(recs, "marking.") &&
              !strstr(recs, "photo."));
        /* the summary does count what was redacted */
        CHECK(full && strstr(full, "person.ssn") && strstr(full, "redact"));
    }
    free(full);
    free(s);
    s = show(spool, id, sk2, NULL, 0, &rc);
    CHECK_EQ_INT(rc, DMVF_EKEYRING);
    free(s);
    s = show(spool, id, sks, "correct horse", 0, &rc);
    CHECK_EQ_INT(rc, DMVF_EKEYRING);
    free(s);
    CHECK(chmod(sk, 0644) == 0);
    s = show(spool, id, sk, NULL, 0, &rc);
    CHECK_EQ_INT(rc, DMVF_EKEYRING);
    free(s);
    CHECK(chmod(sk, 0600) == 0);
    s = show(spool, "not-an-id", sk, NULL, 0, &rc);
    CHECK_EQ_INT(rc, DMVF_EINVAL);
    free(s);
    s = show(spool, "../../etc/passwd0000000000000000", sk, NULL, 0, &rc);
    CHECK_EQ_INT(rc, DMVF_EINVAL);
    free(s);
    s = show(spool, "ffffffffffffffffffffffffffffffff", sk, NULL, 0, &rc);
    CHECK_EQ_INT(rc, DMVF_EINVAL);
    free(s);

    /* ---- approve ---- */
    char out[1024];
    snprintf(out, sizeof out, "%s", path("approved.bin"));
    uint64_t nrec = 0;
    CHECK_EQ_INT(dmvf_review_approve(spool, id, sk, NULL, "", NULL, out, au, kr, &nrec, &err),
                 DMVF_EINVAL);
    CHECK(!exists(out));
    /* without the audit log nothing is released */
    CHECK_EQ_INT(dmvf_review_approve(spool, id, sk, NULL, "J. Rivera", NULL, out, NULL, NULL,
                                     &nrec, &err), DMVF_EINVAL);
    CHECK(strstr(err.msg, "needs the audit log") != NULL);
    CHECK(!exists(out) && !exists(item(spool, id, "approved")));
    CHECK_EQ_INT(dmvf_review_approve(spool, id, sk2, NULL, "J. Rivera", NULL, out, au, kr,
                                     &nrec, &err), DMVF_EKEYRING);
    CHECK(!exists(out));
    CHECK_EQ_INT(dmvf_review_approve(spool, id, sk, NULL, "J. Rivera", "warrant\tseen", out, au,
                                     kr, &nrec, &err), DMVF_OK);
    CHECK_EQ_INT(nrec, 5);
    {
        size_t n = 0;
        uint8_t *b = slurp(out, &n);
        CHECK_MSG(b && n == released_len && memcmp(b, released, n) == 0,
                  "approve wrote exactly the release (%zu vs %zu bytes)", n, released_len);
        free(b);
        b = slurp(item(spool, id, "approved"), &n);
        CHECK(b && strstr((char *)b, "\tJ. Rivera\twarrant\\x09seen\n") && b[4] == '-');
        free(b);
        CHECK_EQ_INT(file_mode(item(spool, id, "approved")), 0600);
    }
    CHECK_EQ_INT(dmvf_review_approve(spool, id, sk, NULL, "J. Rivera", NULL, path("again.bin"),
                                     au, kr, &nrec, &err), DMVF_EINVAL);
    CHECK(strstr(err.msg, "already approved") != NULL);
    CHECK(!exists(path("again.bin")));
    CHECK_EQ_INT(dmvf_review_deny(spool, id, PUB, sk, NULL, "K. Smith", NULL, NULL, &err), DMVF_EINVAL);
    CHECK(!exists(item(spool, id, "denied")));
    s = show(spool, id, sk, NULL, 0, &rc);
    CHECK(rc == DMVF_OK && s && strstr(s, ": approved") && strstr(s, "J. Rivera"));
    free(s);

    /* ---- deny ---- */
    CHECK_EQ_INT(dmvf_review_deny(spool, id2, PUB, sk, NULL, "K. Smith", "no warrant", NULL, &err),
                 DMVF_OK);
    CHECK(exists(item(spool, id2, "denied")) && !exists(item(spool, id2, "approved")));
    CHECK_EQ_INT(dmvf_review_approve(spool, id2, sk, NULL, "K. Smith", NULL, path("d.bin"), au,
                                     kr, &nrec, &err), DMVF_EINVAL);
    CHECK(!exists(path("d.bin")));
    CHECK_EQ_INT(dmvf_review_deny(spool, id2, PUB, sk, NULL, "K. Smith", NULL, NULL, &err),
                 DMVF_EINVAL);
    s = list(spool, 1, &rc);
    CHECK_EQ_INT(rc, DMVF_OK);
    {
        char a[200], d[200], p[200];
        snprintf(a, sizeof a, "{\"id\":\"%s\",", id);
        snprintf(d, sizeof d, "{\"id\":\"%s\",", id2);
        snprintf(p, sizeof p, "{\"id\":\"%s\",", id3);
        const char *la = s ? strstr(s, a) : NULL, *ld = s ? strstr(s, d) : NULL,
                   *lp = s ? strstr(s, p) : NULL;
        CHECK(la && strncmp(strstr(la, "\"state\""), "\"state\":\"approved\"", 18) == 0);
        CHECK(ld && strncmp(strstr(ld, "\"state\""), "\"state\":\"denied\"", 16) == 0);
        CHECK(lp && strncmp(strstr(lp, "\"state\""), "\"state\":\"pending\"", 17) == 0);
        CHECK(la && ld && lp && la < ld && ld < lp); /* oldest first */
    }
    free(s);

    /* ---- tampering ---- */
    {
        /* every single flipped byte of a .sealed fails to open */
        size_t n = 0;
        uint8_t *orig = slurp(item(spool, id3, "sealed"), &n);
        char sp[1024];
        snprintf(sp, sizeof sp, "%s", item(spool, id3, "sealed"));
        size_t failures = 0, tampers = 0;
        FILE *null = fopen("/dev/null", "w");
        for (size_t pos = 0; orig && pos < n; pos++) {
            orig[pos] ^= 0x01;
            if (write_bytes(sp, orig, n) != 0)
                break;
            orig[pos] ^= 0x01;
            int r = dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err);
            failures += r != DMVF_OK;
            tampers += r == DMVF_ETAMPER;
        }
        CHECK_MSG(orig && failures == n && tampers == n, "%zu of %zu flips refused, %zu as tamper",
                  failures, n, tampers);
        /* truncated */
        CHECK_EQ_INT(write_bytes(sp, orig, n - 1), 0);
        CHECK_EQ_INT(dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err), DMVF_ETAMPER);
        CHECK_EQ_INT(write_bytes(sp, orig, 20), 0);
        CHECK_EQ_INT(dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err), DMVF_ETAMPER);
        CHECK_EQ_INT(approve_t(spool, id3, sk, au, kr, &err), DMVF_ETAMPER);
        CHECK(!exists(path("t.bin")) && !exists(item(spool, id3, "approved")));
        CHECK_EQ_INT(dmvf_review_deny(spool, id3, PUB, sk, NULL, "X", NULL, NULL, &err), DMVF_ETAMPER);
        CHECK(!exists(item(spool, id3, "denied")));
        CHECK_EQ_INT(write_bytes(sp, orig, n), 0);
        CHECK_EQ_INT(chmod(sp, 0600), 0);
        CHECK_EQ_INT(dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err), DMVF_OK);
        free(orig);

        /* a fourth item to swap with */
        char id4[DMVF_REVIEW_ID_LEN + 1];
        CHECK_EQ_INT(hold_logged(au, spool, pk, f, would, would_len, &c, id4), DMVF_OK);
        char m3[1024], m4[1024], s3[1024], s4[1024];
        snprintf(m3, sizeof m3, "%s", item(spool, id3, "meta"));
        snprintf(m4, sizeof m4, "%s", item(spool, id4, "meta"));
        snprintf(s3, sizeof s3, "%s", item(spool, id3, "sealed"));
        snprintf(s4, sizeof s4, "%s", item(spool, id4, "sealed"));
        /* .meta swapped between two items */
        swap_files(m3, m4);
        CHECK_EQ_INT(dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err), DMVF_ETAMPER);
        CHECK_EQ_INT(approve_t(spool, id4, sk, au, kr, &err), DMVF_ETAMPER);
        CHECK(!exists(path("t.bin")));
        s = list(spool, 0, &rc);
        CHECK_EQ_INT(rc, DMVF_ETAMPER);
        CHECK(s && strstr(s, "damaged") && strstr(s, id3) && strstr(s, "approved"));
        free(s);
        swap_files(m3, m4);
        /* .sealed swapped between two items */
        swap_files(s3, s4);
        CHECK_EQ_INT(dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err), DMVF_ETAMPER);
        CHECK(strstr(err.msg, "body of review item") != NULL);
        CHECK_EQ_INT(dmvf_review_deny(spool, id4, PUB, sk, NULL, "X", NULL, NULL, &err), DMVF_ETAMPER);
        swap_files(s3, s4);
        CHECK_EQ_INT(dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err), DMVF_OK);
        CHECK_EQ_INT(dmvf_review_show(spool, id4, PUB, sk, NULL, null, 0, &err), DMVF_OK);
        /* a .meta edited to show another requester, or another count */
        size_t mn = 0;
        uint8_t *mb = slurp(m3, &mn);
        Dmv__V1__ReviewMeta *meta = mb ? dmv__v1__review_meta__unpack(NULL, mn, mb) : NULL;
        CHECK(meta != NULL && meta->request && strcmp(meta->request->ori, "DHSICE001") == 0);
        if (meta && meta->request) {
            char *was = meta->request->ori;
            meta->request->ori = "NYPD00000";
            size_t en = dmv__v1__review_meta__get_packed_size(meta);
            uint8_t *eb = malloc(en);
            dmv__v1__review_meta__pack(meta, eb);
            CHECK_EQ_INT(write_bytes(m3, eb, en), 0);
            CHECK_EQ_INT(dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err), DMVF_ETAMPER);
            CHECK(strstr(err.msg, "the request") != NULL);
            meta->request->ori = was;
            meta->records = 1;
            en = dmv__v1__review_meta__get_packed_size(meta);
            eb = realloc(eb, en);
            dmv__v1__review_meta__pack(meta, eb);
            CHECK_EQ_INT(write_bytes(m3, eb, en), 0);
            CHECK_EQ_INT(dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err), DMVF_ETAMPER);
            free(eb);
        }
        CHECK_EQ_INT(write_bytes(m3, mb, mn), 0);
        CHECK_EQ_INT(dmvf_review_show(spool, id3, PUB, sk, NULL, null, 0, &err), DMVF_OK);
        if (meta)
            dmv__v1__review_meta__free_unpacked(meta, NULL);
        free(mb);
        /* garbage .meta */
        CHECK_EQ_INT(write_bytes(m4, "\xff\xff\xff", 3), 0);
        CHECK_EQ_INT(dmvf_review_show(spool, id4, PUB, sk, NULL, null, 0, &err), DMVF_ETAMPER);
        s = list(spool, 0, &rc);
        CHECK(rc == DMVF_ETAMPER && s && strstr(s, id4) && strstr(s, "damaged"));
        free(s);
        unlink(m4);
        unlink(s4);
        fclose(null);
    }

    /* ---- the spool is the filter's own ---- */
    spool_is_the_filters(spool, pk, sk, pol, kr, kr2, pub2, &held_req, &rel_req, f, in, in_len,
                         would, would_len, &c, au);

    /* ---- with an audit log ---- */
    {
        char ida[DMVF_REVIEW_ID_LEN + 1], idd[DMVF_REVIEW_ID_LEN + 1];
        uint64_t req_seq = 0;
        CHECK_EQ_INT(dmvf_audit_request(au, f, &req_seq, &err), DMVF_OK);
        CHECK_EQ_INT(dmvf_review_hold(spool, pk, f, would, would_len, &c, req_seq, ida, &err), DMVF_OK);
        CHECK_EQ_INT(dmvf_review_hold(spool, pk, f, would, would_len, &c, req_seq, idd, &err), DMVF_OK);
        CHECK_EQ_INT(log_hold(au, f, NULL, NULL, NULL, UINT64_MAX, req_seq, ida, NULL), DMVF_OK);
        CHECK_EQ_INT(dmvf_review_approve(spool, ida, sk, NULL, "J. Rivera", "court order seen",
                                         path("audited.bin"), au, kr, &nrec, &err), DMVF_OK);
        CHECK_EQ_INT(dmvf_review_deny(spool, idd, PUB, sk, NULL, "K. Smith", "no warrant", au, &err),
                     DMVF_OK);
        CHECK_EQ_INT(dmvf_audit_close(au, &err), DMVF_OK);
        CHECK_MSG(dmvf_audit_verify(path("audit"), kr, NULL, NULL, &err) == DMVF_OK,
                  "audit verify: %s", err.msg);
        char *q = NULL;
        size_t qn = 0;
        FILE *m = open_memstream(&q, &qn);
        dmvf_audit_query aq;
        memset(&aq, 0, sizeof aq);
        aq.kind = DMVF_AUDIT_REVIEW_APPROVE;
        CHECK_EQ_INT(dmvf_audit_query_run(path("audit"), &aq, kr, m, &err), DMVF_OK);
        fclose(m);
        CHECK_MSG(q && strstr(q, ida) && strstr(q, "J. Rivera") && !strstr(q, idd),
                  "approve entry: %s", q ? q : "");
        free(q);
        q = NULL;
        m = open_memstream(&q, &qn);
        aq.kind = DMVF_AUDIT_REVIEW_DENY;
        CHECK_EQ_INT(dmvf_audit_query_run(path("audit"), &aq, kr, m, &err), DMVF_OK);
        fclose(m);
        CHECK_MSG(q && strstr(q, idd) && strstr(q, "K. Smith") && !strstr(q, ida),
                  "deny entry: %s", q ? q : "");
        free(q);
        /* the approve entry lists the released subjects (by keyed hash) */
        Dmv__V1__DriverRecord *r0 = NULL;
        {
            uint64_t len;
            size_t pre;
            if (dmvf_stream_prefix(in, in_len, &len, &pre) == 1)
                r0 = dmv__v1__driver_record__unpack(NULL, (size_t)len, in + pre);
        }
        CHECK(r0 && r0->record_id && r0->record_id[0]);
        if (r0) {
            q = NULL;
            m = open_memstream(&q, &qn);
            memset(&aq, 0, sizeof aq);
            aq.subject = r0->record_id;
            CHECK_EQ_INT(dmvf_audit_query_run(path("audit"), &aq, kr, m, &err), DMVF_OK);
            fclose(m);
            CHECK_MSG(q && strstr(q, ida) && !strstr(q, idd), "subject query: %s", q ? q : "");
            free(q);
            dmv__v1__driver_record__free_unpacked(r0, NULL);
        }
        /* approving again writes no second entry */
        dmvf_audit *au3 = dmvf_audit_open(path("audit"), kr, NULL, &err);
        CHECK(au3 != NULL);
        CHECK_EQ_INT(dmvf_review_approve(spool, ida, sk, NULL, "J. Rivera", NULL, path("a2.bin"),
                                         au3, kr, &nrec, &err), DMVF_EINVAL);
        CHECK(strstr(err.msg, "already approved") != NULL && !exists(path("a2.bin")));
        CHECK_EQ_INT(dmvf_audit_close(au3, &err), DMVF_OK);
    }

    dmvf_filter_free(f);
    free(would);
    free(released);
    free(in);
    dmvf_policy_free(pol);
    dmvf_keyring_free(kr);
    dmvf_keyring_free(kr2);
    CHECK_DONE();
}
