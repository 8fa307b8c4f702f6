/*
 * audit_checkpoint.c - checkpoints: what one signs, checking a signature,
 * and writing one (then HEAD) at the end of a segment or of a writer.
 *
 *   Checkpoint{segment     N, the segment it ends (or stands in),
 *              entries     the next seq: entries before it in the log,
 *              chain       the chain value of the item before it,
 *              segment_digest  BLAKE2b-256 of the segment's bytes before
 *                          this frame,
 *              time_ns, public_key (Ed25519, 32 bytes),
 *              signature   Ed25519("dmvf-checkpoint-v1\0" || the packed
 *                          Checkpoint with signature empty), 64 bytes}
 *
 * The signature is made and checked in keys/ (dmvf__sign,
 * dmvf__sign_verify); verify (audit_verify.c) checks the rest.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_writer_int.h"
#include "keys/keys.h"

int dmvf__audit_checkpoint_signed_bytes(const Dmv__V1__Checkpoint *cp, uint8_t **out, size_t *n)
{
    Dmv__V1__Checkpoint c = *cp;
    c.signature.len = 0;
    c.signature.data = NULL;
    *n = dmv__v1__checkpoint__get_packed_size(&c);
    *out = malloc(*n ? *n : 1);
    if (!*out)
        return DMVF_ENOMEM;
    dmv__v1__checkpoint__pack(&c, *out);
    return DMVF_OK;
}

int dmvf__audit_checkpoint_check(const uint8_t pub[32], const Dmv__V1__Checkpoint *cp)
{
    if (cp->signature.len != 64)
        return DMVF_ETAMPER;
    uint8_t *msg;
    size_t mlen;
    if (dmvf__audit_checkpoint_signed_bytes(cp, &msg, &mlen) != DMVF_OK)
        return DMVF_ENOMEM;
    int bad = dmvf__sign_verify(pub, DMVF__AUDIT_CHECKPOINT_CTX, msg, mlen, cp->signature.data);
    free(msg);
    return bad ? DMVF_ETAMPER : DMVF_OK;
}

int dmvf__audit_checkpoint_write(dmvf_audit *a, dmvf_error *err)
{
    uint8_t digest[32], sig[64];
    crypto_generichash_state t = a->h;
    crypto_generichash_final(&t, digest, 32);
    Dmv__V1__Checkpoint cp = DMV__V1__CHECKPOINT__INIT;
    cp.segment = a->seg;
    cp.entries = a->next_seq;
    cp.chain.data = a->chain;
    cp.chain.len = 32;
    cp.segment_digest.data = digest;
    cp.segment_digest.len = 32;
    cp.time_ns = dmvf__now_ns();
    cp.public_key.data = a->pub;
    cp.public_key.len = 32;
    uint8_t *msg;
    size_t mlen;
    if (dmvf__audit_checkpoint_signed_bytes(&cp, &msg, &mlen) != DMVF_OK)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    dmvf__sign(a->kr, DMVF__AUDIT_CHECKPOINT_CTX, msg, mlen, sig);
    free(msg);
    uint8_t chain_copy[32];
    memcpy(chain_copy, a->chain, 32);   /* the append moves a->chain on */
    cp.chain.data = chain_copy;
    cp.signature.data = sig;
    cp.signature.len = 64;
    Dmv__V1__AuditItem item = DMV__V1__AUDIT_ITEM__INIT;
    item.body_case = DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT;
    item.checkpoint = &cp;
    uint8_t *frame;
    size_t flen;
    int rc = dmvf__audit_item_append(a, &item, &frame, &flen, err);
    if (rc != DMVF_OK)
        return rc;
    rc = dmvf__audit_head_write(a->dir, a->dirfd, frame, flen, err);
    free(frame);
    return rc;
}
