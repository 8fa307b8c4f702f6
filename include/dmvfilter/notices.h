/*
 * dmvfilter/notices.h - subject notices: when a rule says notify_subject,
 * every subject whose record was released or requested gets a notice in a
 * queue file that the DMV's mailing system consumes.
 *
 * The queue is a JSON Lines file (mode 0600; it holds record_ids in clear),
 * appended and fsync'd, never rewritten:
 *   {"type":"notice","id":"...","subject":"<record_id>","request_id":"...",
 *    "ori":"...","agency":"...","agency_kind":"federal","tags":[...],
 *    "legal_process":"court_order","legal_reference":"...",
 *    "decision":"release|deny|review","date":"2026-11-22","due":"2026-11-25"}
 *   {"type":"sent","id":"...","date":"2026-11-23","actor":"..."}
 * A notice is due `due_days` days after the request (business days: Saturday,
 * Sunday and the listed holidays are skipped when business_days is set).
 *
 * Threads: the functions are thread-safe; writers take an exclusive lock
 * (flock) on the queue file while appending.
 */
#ifndef DMVFILTER_NOTICES_H
#define DMVFILTER_NOTICES_H

#include <stdio.h>
#include "common.h"
#include "filter.h"
#include "policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The due date (YYYYMMDD) of a notice for a request made on `date`. */
DMVF_API uint32_t dmvf_notice_due(uint32_t date, const dmvf_policy_notices *s);

/* Appends one notice per subject of f (dmvf_filter_subject; the filter must
 * have been created with collect_subjects) to the queue, fsync'd, for a
 * request made on `date` (YYYYMMDD; 0 = today, UTC). *queued (may be NULL)
 * receives the number written. DMVF_OK, DMVF_EIO, DMVF_ENOMEM. */
DMVF_API int dmvf_notices_queue(const char *queue, const dmvf_filter *f,
                                const dmvf_policy_notices *s, uint32_t date,
                                uint32_t *queued, dmvf_error *err);

/* Lists the notices not marked sent, oldest due first: one line each
 * ("ID  DUE  SUBJECT  AGENCY  LEGAL-PROCESS", with "OVERDUE" when due <
 * today) or, with json set, the notice objects as JSON Lines. *count (may be
 * NULL) receives how many. today: YYYYMMDD, 0 = today (UTC). A malformed
 * queue line is DMVF_EMALFORMED naming the line. */
DMVF_API int dmvf_notices_due_list(const char *queue, uint32_t today, int json, FILE *out,
                                   uint64_t *count, dmvf_error *err);

/* Marks notices sent (appends "sent" lines, fsync'd). An id that is not in
 * the queue, or already sent, is DMVF_EINVAL and nothing is written. */
DMVF_API int dmvf_notices_mark_sent(const char *queue, const char *const *ids, size_t n,
                                    const char *actor, uint32_t date, dmvf_error *err);

#ifdef __cplusplus
}
#endif
#endif
