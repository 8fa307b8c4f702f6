/*
 * filter_int.h - private to filter/release/: what the stream processors and
 * the statistics need of a filter beyond the public API.
 */
#ifndef DMVF_RELEASE_FILTER_INT_H
#define DMVF_RELEASE_FILTER_INT_H

#include "dmvfilter/filter.h"
#include "filter/wire/count.h"

/* The filter's accounting state (filter.c). */
dmvf__acct *dmvf__filter_acct(const dmvf_filter *f);

/* Framed streams count the records of a refused request here (and, with
 * collect_subjects, keep their record_ids). */
struct dmvf_filter;
void dmvf__filter_count_refused(struct dmvf_filter *f, const uint8_t *rec, size_t n);
/* 1 while the filter rewrites records (a release, or a REVIEW held with
 * options.hold_for_review whose rule has a profile, not past its record
 * limit), 0 when it only counts or refuses them. */
int dmvf__filter_rewrites(const struct dmvf_filter *f);
/* The request id the filter was created with ("" if none), for messages. */
const char *dmvf__filter_request_id(const struct dmvf_filter *f);

#endif
