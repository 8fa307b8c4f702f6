/*
 * review.c - placeholder: the review queue is being built. Every entry point
 * fails closed until then.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/internal.h"
#include "filter/audit_int.h"

int dmvf_review_keygen(const char *secret_path, const char *public_path, const char *passphrase, dmvf_error *err)
{
    (void)secret_path;
    (void)public_path;
    (void)passphrase;
    return dmvf__seterr(err, DMVF_EIO, "review not built");
}

int dmvf_review_hold(const char *spool, const char *reviewer_public_path, const dmvf_filter *f, const void *release, size_t len, const dmvf_audit_counts *c, uint64_t request_seq, char id_out[DMVF_REVIEW_ID_LEN + 1], dmvf_error *err)
{
    (void)spool;
    (void)reviewer_public_path;
    (void)f;
    (void)release;
    (void)len;
    (void)c;
    (void)request_seq;
    id_out[0] = 0;
    return dmvf__seterr(err, DMVF_EIO, "review not built");
}
