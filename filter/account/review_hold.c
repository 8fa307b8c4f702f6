/*
 * review_hold.c - holding a request for review (dmvf_review_hold): the
 * would-be release, the request, the verdict and the counts of a request
 * decided REVIEW, sealed to the reviewer into the spool (review_item.c)
 * instead of released, and signed with the filter's keyring (review_item.c)
 * so that the spool holds only what the filter put there. The id it gets
 * (16 random bytes as 32 hex digits) is what the reviewer shows, approves
 * or denies.
 *
 * The would-be release must be what the filter would have released: a
 * delimited record stream, exactly the records its counts say,
 *
 *   release := (varint(len) DriverRecord[len])*
 *
 * and at most DMVF_REVIEW_MAX_BODY bytes (with the rest of the body too).
 * The subjects' record ids go into the sealed body as they are (hashed
 * into the audit log only when approved) and are wiped from memory after.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "dmv/v1/audit.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/hex.h"
#include "filter/core/reqmap.h"
#include "filter/account/review_int.h"
#include "keys/keys.h"

/* Counts the records of a delimited stream; -1 at the byte offset *bad when
 * it is not one. */
static int count_records(const uint8_t *p, size_t n, uint64_t *count, size_t *bad)
{
    size_t pos = 0;
    *count = 0;
    while (pos < n) {
        uint64_t len;
        size_t pre;
        if (dmvf_stream_prefix(p + pos, n - pos, &len, &pre) != 1 || len > n - pos - pre) {
            *bad = pos;
            return -1;
        }
        pos += pre + (size_t)len;
        (*count)++;
    }
    return 0;
}

int dmvf_review_hold(const char *spool, const char *reviewer_public_path, const dmvf_filter *f,
                     const void *release, size_t len, const dmvf_audit_counts *c,
                     uint64_t request_seq, char id_out[DMVF_REVIEW_ID_LEN + 1], dmvf_error *err)
{
    DMVF_REQUIRE(spool && reviewer_public_path && f && c && id_out, "NULL argument");
    DMVF_REQUIRE(release || len == 0, "release is NULL");
    id_out[0] = '\0';
    if (dmvf_filter_decision(f) != DMVF_DECISION_REVIEW)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "only a request decided 'review' can be held (this one is not)");
    const dmvf_keyring *kr = dmvf_filter_keyring(f);
    if (!kr)
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "holding a request for review needs the filter's keyring: the item is "
                            "signed with its signing key (this filter has none)");
    if (len > DMVF_REVIEW_MAX_BODY)
        return dmvf__seterr(err, DMVF_ETOOBIG,
                            "the would-be release is %zu bytes, over the review limit of %zu",
                            len, DMVF_REVIEW_MAX_BODY);
    uint64_t nrec = 0;
    size_t bad = 0;
    if (count_records(release, len, &nrec, &bad) != 0)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "the would-be release is not a delimited record stream "
                            "(bad length prefix or short record at byte %zu)", bad);
    if (nrec != c->records_out)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "the would-be release holds %llu records, its counts say %llu",
                            (unsigned long long)nrec, (unsigned long long)c->records_out);

    uint8_t pk[DMVF__REVIEW_KEY_LEN];
    int rc = dmvf__review_public_read(reviewer_public_path, pk, err);
    if (rc != DMVF_OK)
        return rc;
    if ((rc = dmvf__review_spool_ensure(spool, err)) != DMVF_OK)
        return rc;
    if (sodium_init() < 0)
        return dmvf__seterr(err, DMVF_ENOMEM, "libsodium failed to initialize");

    char id[DMVF_REVIEW_ID_LEN + 1];
    uint8_t rnd[DMVF_REVIEW_ID_LEN / 2];
    randombytes_buf(rnd, sizeof rnd);
    dmvf__hex_encode(id, rnd, sizeof rnd);

    Dmv__V1__Request rq;
    dmvf__request_to_pb(dmvf_filter_request(f), &rq);

    size_t nfields = dmvf_filter_field_counts(f, NULL, 0);
    size_t nsub = dmvf_filter_subject_count(f);
    dmvf_field_count *fc = calloc(nfields ? nfields : 1, sizeof *fc);
    Dmv__V1__FieldCount *pf = calloc(nfields ? nfields : 1, sizeof *pf);
    Dmv__V1__FieldCount **pfp = calloc(nfields ? nfields : 1, sizeof *pfp);
    char **sids = calloc(nsub ? nsub : 1, sizeof *sids);
    size_t i;

    if (!fc || !pf || !pfp || !sids) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory holding a request for review");
        goto done;
    }
    nfields = dmvf_filter_field_counts(f, fc, nfields);
    for (i = 0; i < nfields; i++) {
        dmv__v1__field_count__init(&pf[i]);
        pf[i].path = (char *)dmvf__review_nz(fc[i].path);
        pf[i].action = (Dmv__V1__FieldAction)fc[i].action;
        pf[i].klass = fc[i].klass;
        pf[i].values = fc[i].values;
        pfp[i] = &pf[i];
    }
    for (i = 0; i < nsub; i++) {
        size_t sl = 0;
        const char *s = dmvf_filter_subject(f, i, &sl);
        sids[i] = malloc(sl + 1);
        if (!sids[i]) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory holding a request for review");
            goto done;
        }
        if (sl)
            memcpy(sids[i], s, sl);
        sids[i][sl] = '\0';
    }

    Dmv__V1__ReviewBody body = DMV__V1__REVIEW_BODY__INIT;
    body.review_id = id;
    body.request = &rq;
    body.release.data = (uint8_t *)release;
    body.release.len = len;
    body.records_in = c->records_in;
    body.records_out = c->records_out;
    body.n_fields = nfields;
    body.fields = pfp;
    body.n_subject_ids = nsub;
    body.subject_ids = sids;

    Dmv__V1__ReviewMeta meta = DMV__V1__REVIEW_META__INIT;
    meta.review_id = id;
    meta.request = &rq;
    meta.rule = (char *)dmvf__review_nz(dmvf_filter_rule(f));
    meta.policy_id = (char *)dmvf__review_nz(dmvf_filter_policy_id(f));
    meta.request_seq = request_seq;
    meta.records = c->records_out;
    meta.reviewer_public_key.data = pk;
    meta.reviewer_public_key.len = sizeof pk;
    rc = dmvf__review_item_write(spool, id, kr, pk, reviewer_public_path, &body, &meta, err);
    if (rc == DMVF_OK)
        memcpy(id_out, id, sizeof id);
done:
    if (sids)
        for (i = 0; i < nsub; i++)
            if (sids[i]) {
                sodium_memzero(sids[i], strlen(sids[i]));
                free(sids[i]);
            }
    free(sids);
    free(pfp);
    free(pf);
    free(fc);
    return rc;
}
