/*
 * notices.c - placeholder: notices is being built. Every entry point
 * fails closed until then.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/internal.h"
#include "filter/audit_int.h"

uint32_t dmvf_notice_due(uint32_t date, const dmvf_policy_notices *s)
{
    (void)s;
    return date;
}

int dmvf_notices_queue(const char *queue, const dmvf_filter *f, const dmvf_policy_notices *s, uint32_t date, uint32_t *queued, dmvf_error *err)
{
    (void)queue;
    (void)f;
    (void)s;
    (void)date;
    (void)queued;
    return dmvf__seterr(err, DMVF_EIO, "notices not built");
}

int dmvf_notices_due_list(const char *queue, uint32_t today, int json, FILE *out, uint64_t *count, dmvf_error *err)
{
    (void)queue;
    (void)today;
    (void)json;
    (void)out;
    (void)count;
    return dmvf__seterr(err, DMVF_EIO, "notices not built");
}

int dmvf_notices_mark_sent(const char *queue, const char *const *ids, size_t n, const char *actor, uint32_t date, dmvf_error *err)
{
    (void)queue;
    (void)ids;
    (void)n;
    (void)actor;
    (void)date;
    return dmvf__seterr(err, DMVF_EIO, "notices not built");
}
