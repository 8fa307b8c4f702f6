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

/* For the codecs of the text formats (codec.c, format.h). */
#include "filter/wire/plan.h"
/* The plan the filter rewrites records with; NULL when it rewrites none
 * (a refusal, or a review not held, or one held without a profile). */
const dmvf_plan *dmvf__filter_plan(const dmvf_filter *f);
/* The record size limit: max_record_bytes or its default. */
size_t dmvf__filter_max_record(const dmvf_filter *f);
/* 1 when dmvf_filter_record would refuse every record (DMVF_EREFUSED):
 * not released, and no collect_subjects. */
int dmvf__filter_refuses(const dmvf_filter *f);
/* A record that could not be read as its format's text (a line or row
 * that does not parse, one over the size limit: code, with *err filled by
 * the caller, err->record set here), judged as dmvf_filter_record judges a
 * record the rewriter finds malformed (before the record limit, which
 * counts released records only): with drop_malformed and code
 * DMVF_EMALFORMED the record is counted as received and dropped (DMVF_OK,
 * *dropped 1); otherwise code, sticky (the filter keeps *err). DMVF_ESTATE
 * while f holds a sticky error, DMVF_EREFUSED for a request refused
 * outright. */
int dmvf__filter_bad_record(dmvf_filter *f, int code, int *dropped, dmvf_error *err);
/* An error after a record was released (the output format cannot write
 * it): code becomes f's sticky error, as *err says it. Returns code. */
int dmvf__filter_fail(dmvf_filter *f, int code, const dmvf_error *err);

#endif
