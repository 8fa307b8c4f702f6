/*
 * audit_log.c - placeholder: the audit log is being built. Every entry point
 * fails closed until then.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/internal.h"
#include "filter/audit_int.h"

dmvf_audit *dmvf_audit_open(const char *dir, const dmvf_keyring *kr, const dmvf_audit_options *opts, dmvf_error *err)
{
    (void)dir;
    (void)kr;
    (void)opts;
    dmvf__seterr(err, DMVF_EIO, "audit log not built");
    return NULL;
}

int dmvf_audit_close(dmvf_audit *a, dmvf_error *err)
{
    (void)a;
    (void)err;
    return DMVF_OK;
}

int dmvf_audit_request(dmvf_audit *a, const dmvf_filter *f, uint64_t *seq, dmvf_error *err)
{
    (void)a;
    (void)f;
    (void)seq;
    return dmvf__seterr(err, DMVF_EIO, "audit log not built");
}

int dmvf_audit_release(dmvf_audit *a, const dmvf_filter *f, const dmvf_audit_counts *c, uint64_t ref, dmvf_error *err)
{
    (void)a;
    (void)f;
    (void)c;
    (void)ref;
    return dmvf__seterr(err, DMVF_EIO, "audit log not built");
}

int dmvf_audit_event_write(dmvf_audit *a, const dmvf_audit_event *ev, uint64_t *seq, dmvf_error *err)
{
    (void)a;
    (void)ev;
    (void)seq;
    return dmvf__seterr(err, DMVF_EIO, "audit log not built");
}

int dmvf_audit_verify(const char *dir, const dmvf_keyring *kr, const uint8_t *pub, FILE *out, dmvf_error *err)
{
    (void)dir;
    (void)kr;
    (void)pub;
    (void)out;
    return dmvf__seterr(err, DMVF_ETAMPER, "audit verify not built");
}

int dmvf_audit_query_run(const char *dir, const dmvf_audit_query *q, const dmvf_keyring *kr, FILE *out, dmvf_error *err)
{
    (void)dir;
    (void)q;
    (void)kr;
    (void)out;
    return dmvf__seterr(err, DMVF_EIO, "audit query not built");
}

int dmvf__audit_scan(const char *dir, dmvf__audit_entry_fn fn, void *ud, dmvf_error *err)
{
    (void)dir;
    (void)fn;
    (void)ud;
    return dmvf__seterr(err, DMVF_EIO, "audit scan not built");
}
