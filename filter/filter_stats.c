/*
 * filter_stats.c - placeholder: field counting is being built. Every entry point
 * fails closed until then.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/internal.h"
#include "filter/audit_int.h"

size_t dmvf_filter_field_counts(const dmvf_filter *f, dmvf_field_count *out, size_t cap)
{
    (void)f;
    (void)out;
    (void)cap;
    return 0;
}

size_t dmvf_filter_subject_count(const dmvf_filter *f)
{
    (void)f;
    return 0;
}

const char *dmvf_filter_subject(const dmvf_filter *f, size_t i, size_t *len)
{
    (void)f;
    (void)i;
    *len = 0;
    return "";
}

int dmvf_filter_merge(dmvf_filter *dst, const dmvf_filter *src, dmvf_error *err)
{
    (void)dst;
    (void)src;
    return dmvf__seterr(err, DMVF_ENOMEM, "merge not built");
}

const dmvf_request *dmvf_filter_request(const dmvf_filter *f)
{
    (void)f;
    abort();
}

const char *dmvf_filter_policy_id(const dmvf_filter *f)
{
    (void)f;
    abort();
}

uint32_t dmvf_filter_key_epoch(const dmvf_filter *f)
{
    (void)f;
    abort();
}

void dmvf_policy_audit_settings(const dmvf_policy *p, dmvf_policy_audit *out)
{
    (void)p;
    memset(out, 0, sizeof *out);
}

void dmvf_policy_notice_settings(const dmvf_policy *p, dmvf_policy_notices *out)
{
    (void)p;
    memset(out, 0, sizeof *out);
}

void dmvf_policy_review_settings(const dmvf_policy *p, dmvf_policy_review *out)
{
    (void)p;
    memset(out, 0, sizeof *out);
}
