/*
 * count.h - internal: what a filter keeps for the audit beside the release:
 * field counts (options.count_fields) and subjects (options.collect_subjects).
 *
 * Field counts are a table of npaths x DMVF__NACT uint64 counters, indexed
 * by schema position id (schema.h) and action (the values of enum
 * dmvf_action below DMVF_ACT_DESCEND, which are those of dmvf_field_action).
 * dmvf__acct_count walks one record that the rewriter has accepted, with the
 * plan the rewriter used, and adds one for every leaf value:
 *
 *   - a value is what protobuf would hold after parsing the record: a
 *     singular scalar once (its last occurrence, the pieces of a singular
 *     sub-message merged) unless it has the default value (0, false, ""),
 *     every element of a repeated field (empty strings too); a sub-message
 *     is not a value, its leaves are; a field whose wire type is not its
 *     schema type is none (the rewriter lets one pass only where it does
 *     not look);
 *   - its action is the plan's action for its position; REDACT when an
 *     enclosing message is not descended into (redacted) or there is no
 *     plan; REDACT when normalization removes the value (dropped, or not
 *     on the field's allow list and no `otherwise`) or, for a singular
 *     field, replaces it by "" so that nothing is written;
 *   - fields the schema does not know are not counted; inside a redacted
 *     sub-message, which the rewriter steps over unread, the walk stops
 *     where its bytes stop stepping.
 *
 * Subjects are record_ids (DriverRecord field 1, its last occurrence) kept
 * in chunks that never move, so a pointer handed out stays valid until the
 * filter is freed; the index of (pointer, length) pairs grows by doubling.
 * Memory is bounded by the input: at most one id per record read.
 *
 * Nothing here is on the hot path unless an option asks for it: the filter
 * tests one flag per record.
 */
#ifndef DMVF_COUNT_H
#define DMVF_COUNT_H

#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/wire/plan.h"

#define DMVF__NACT 7u   /* DMVF_ACT_REDACT .. DMVF_ACT_CONSTANT */

typedef struct dmvf__subject { const uint8_t *p; size_t n; } dmvf__subject;

typedef struct dmvf__acct {
    uint64_t *counts;               /* npaths * DMVF__NACT; NULL: not counting */
    int collect;                    /* collect_subjects */
    struct dmvf__schunk *chunks;    /* id bytes; newest first */
    dmvf__subject *ids;
    size_t nids, cap_ids;
} dmvf__acct;

/* Sets up the table (when count_fields) and the subject list (when
 * collect). 0, or -1 when out of memory. */
int dmvf__acct_init(dmvf__acct *a, int count_fields, int collect);
void dmvf__acct_free(dmvf__acct *a);

/* Adds one record's values (rec[0..n) already accepted by dmvf__rewrite
 * with plan) to the table. plan NULL: every value counts as REDACT. No
 * allocation; never fails (a record that does not walk stops counting
 * where it stops walking). */
void dmvf__acct_count(dmvf__acct *a, const dmvf_plan *plan, const uint8_t *rec, size_t n);
/* Zeroes the table (a request that turned into a refusal released nothing). */
void dmvf__acct_clear_counts(dmvf__acct *a);

/* Appends a copy of id[0..n) (n > 0). 0, or -1 when out of memory. */
int dmvf__acct_subject(dmvf__acct *a, const uint8_t *id, size_t n);

/* Adds src's counts to dst's and appends src's subjects. 0 or -1 (memory). */
int dmvf__acct_merge(dmvf__acct *dst, const dmvf__acct *src);

/* The record_id of a well-formed record (its last occurrence): 1 with
 * id/len set (len may be 0), 0 when the record has none, -1 when its top
 * level does not walk. */
int dmvf__record_id(const uint8_t *rec, size_t n, const uint8_t **id, size_t *len);

/* A plan that redacts everything: running dmvf__rewrite with it checks a
 * record exactly as a release would and writes nothing. Thread-safe. */
const dmvf_plan *dmvf__plan_none(void);

#endif
