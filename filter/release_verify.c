/*
 * release_verify.c - placeholder: signed releases is being built. Every entry point
 * fails closed until then.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/internal.h"
#include "filter/audit_int.h"

void dmvf_framed_set_audit(dmvf_framed *fr, dmvf_framed_audit_cb cb, void *ud)
{
    (void)fr;
    (void)cb;
    (void)ud;
    abort();
}

int dmvf_release_verify(const void *data, size_t len, const uint8_t pub[32], uint64_t *requests, dmvf_error *err)
{
    (void)data;
    (void)len;
    (void)pub;
    (void)requests;
    return dmvf__seterr(err, DMVF_ETAMPER, "verify not built");
}
