/*
 * dmvfilter/notices.h - subject notices: when a rule says notify_subject,
 * every subject whose record was released or requested gets a notice in a
 * queue file that the DMV's mailing system consumes.
 *
 * The queue is a JSON Lines file (mode 0600; it holds record_ids in clear),
 * appended and fsync'd, never rewritten:
 *   {"type":"notice","id":"...","subject":"<record_id>","request_id":"...",
 *    "ori":"...","agency":"...","agency_kind":"federal","tags":[...],
 *    "legal_process":"court_order","legal_reference":"...","purpose":0,
 *    "decision":"release|deny|review","date":"2026-11-22","due":"2026-11-25"}
 *   {"type":"sent","id":"...","date":"2026-11-23","actor":"..."}
 * Keys are written in this order; "purpose" is a number (DPPA 2721(b)(N),
 * 0 = none given), "tags" an array of strings, everything else a string.
 * A string that is not in the request is "". An id is 16 lowercase hex
 * digits, unique in the queue. Strings are valid UTF-8: a byte of a
 * request string that does not start a valid UTF-8 sequence is written as
 * \ufffd, control bytes as \n, \t, ... or \u00XX. Every line ends with
 * '\n' and is at most DMVF_NOTICE_MAX_LINE bytes. Readers ignore keys they
 * do not know (of the kinds above), so later versions may add keys.
 *
 * A notice is due `due_days` days after the request (business days: Saturday,
 * Sunday and the listed holidays are skipped when business_days is set; the
 * request day is day 0, so Friday + 3 business days is Wednesday).
 *
 * The queue must be a regular file with no access for group or others
 * (mode 0600 or stricter): a writer (queue, mark_sent) refuses any other
 * with DMVF_EIO, as the keyring is refused. A queue that ends inside a line
 * (no final newline) is never appended to (DMVF_EIO) and reads as
 * DMVF_EMALFORMED: repair it by hand.
 *
 * Threads and processes: the functions are thread-safe; writers take an
 * exclusive lock (flock) on the queue file while they check and append,
 * readers a shared one, so several processes may use one queue at once.
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

/* The longest line of a queue file, with its '\n'. */
#define DMVF_NOTICE_MAX_LINE 65536u

/* The due date (YYYYMMDD) of a notice for a request made on `date`
 * (YYYYMMDD). s may be NULL: 3 calendar days. due_days 0 means the default,
 * 3. Returns 0 when date is not a valid date in years 1..9999 or the due
 * date would fall after 9999-12-31. Thread-safe, no I/O. */
DMVF_API uint32_t dmvf_notice_due(uint32_t date, const dmvf_policy_notices *s);

/* Appends one notice per distinct subject of f (dmvf_filter_subject; the
 * filter must have been created with collect_subjects), in the order read,
 * to the queue (created 0600 when missing), with one write() under the lock,
 * fsync'd; on failure the file is cut back to where it was. `date`: the day
 * of the request, YYYYMMDD; 0 = the request's own date
 * (dmvf_filter_request(f)->date) or, when that is 0 too, today (UTC).
 * s: due date settings (NULL: 3 calendar days). A filter with no subjects
 * writes nothing (the file is not touched). *queued (may be NULL) receives
 * the number written (0 on failure). DMVF_OK; DMVF_EIO (cannot create, open,
 * lock, write or fsync; not a regular file; open to group or others; ends
 * inside a line); DMVF_ENOMEM; DMVF_EINVAL (date not a valid date, or a
 * notice line would exceed DMVF_NOTICE_MAX_LINE because a request string is
 * too long). On any failure nothing is appended: fail closed (release
 * nothing). */
DMVF_API int dmvf_notices_queue(const char *queue, const dmvf_filter *f,
                                const dmvf_policy_notices *s, uint32_t date,
                                uint32_t *queued, dmvf_error *err);

/* Lists the notices not marked sent, oldest due first (then by id): one
 * line each ("ID  DUE  SUBJECT  AGENCY  LEGAL-PROCESS", two spaces apart,
 * DUE as YYYY-MM-DD, "  OVERDUE" appended when due < today; control bytes
 * and '\' in SUBJECT and AGENCY as \xNN, an empty one as "-") or, with json
 * set, each notice object as it is in the queue with "overdue":true|false
 * added as its last key, one per line. Nothing is written when none is due.
 * *count (may be NULL) receives how many. today: YYYYMMDD, 0 = today (UTC).
 * The whole queue is read and checked before anything is written: a
 * malformed line (not JSON of the kinds above, no type/id/subject/due, a
 * repeated notice id, a "sent" line for a notice not above it or already
 * sent, no final newline, a line over DMVF_NOTICE_MAX_LINE) is
 * DMVF_EMALFORMED with err->msg "notice queue PATH:LINE: why" and err->line
 * set. A missing or unreadable queue is DMVF_EIO (never "nothing due"). */
DMVF_API int dmvf_notices_due_list(const char *queue, uint32_t today, int json, FILE *out,
                                   uint64_t *count, dmvf_error *err);

/* Marks notices sent (appends "sent" lines with date, YYYYMMDD or 0 =
 * today (UTC), and actor (NULL: ""), one write() under the lock, fsync'd).
 * Every id is checked first, under the lock: an id that is not 16 hex
 * digits, given twice, not in the queue, or already sent is DMVF_EINVAL and
 * nothing is written. n == 0 writes nothing and returns DMVF_OK. A missing
 * queue is DMVF_EIO; a malformed one DMVF_EMALFORMED (as for the due
 * list). */
DMVF_API int dmvf_notices_mark_sent(const char *queue, const char *const *ids, size_t n,
                                    const char *actor, uint32_t date, dmvf_error *err);

#ifdef __cplusplus
}
#endif
#endif
