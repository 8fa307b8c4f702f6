/*
 * filter_stats.c - what a filter tells the audit about its request beyond
 * the record counters: field counts, subjects, and gathering a pipeline's
 * workers into one filter (filter.h; the state and the walk are count.c).
 */
#include <string.h>
#include "filter/wire/count.h"
#include "filter/release/filter_int.h"

size_t dmvf_filter_field_counts(const dmvf_filter *f, dmvf_field_count *out, size_t cap)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    DMVF_REQUIRE(out != NULL || cap == 0, "out is NULL");
    const dmvf__acct *a = dmvf__filter_acct(f);
    if (!a->counts)
        return 0;
    size_t total = 0, npaths = dmvf__schema_npaths();
    for (size_t id = 0; id < npaths; id++) {
        const dmvf_sfield *sf = dmvf__schema_field(id);
        for (unsigned act = 0; act < DMVF__NACT; act++) {
            uint64_t v = a->counts[id * DMVF__NACT + act];
            if (!v)
                continue;
            if (total < cap) {
                out[total].path = sf->path;
                out[total].action = (dmvf_field_action)act;
                out[total].klass = sf->klass;
                out[total].values = v;
            }
            total++;
        }
    }
    return total;
}

size_t dmvf_filter_subject_count(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return dmvf__filter_acct(f)->nids;
}

const char *dmvf_filter_subject(const dmvf_filter *f, size_t i, size_t *len)
{
    DMVF_REQUIRE(f != NULL && len != NULL, "NULL argument");
    const dmvf__acct *a = dmvf__filter_acct(f);
    DMVF_REQUIRE(i < a->nids, "subject index out of range");
    *len = a->ids[i].n;
    return (const char *)a->ids[i].p;
}

int dmvf_filter_merge(dmvf_filter *dst, const dmvf_filter *src, dmvf_error *err)
{
    DMVF_REQUIRE(dst != NULL && src != NULL, "NULL argument");
    if (dmvf__acct_merge(dmvf__filter_acct(dst), dmvf__filter_acct(src)) != 0)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory merging field counts and subjects");
    return DMVF_OK;
}
