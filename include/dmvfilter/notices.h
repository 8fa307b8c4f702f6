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

/* The due date of a notice for a request made on `date` (YYYYMMDD), as the
 * introduction says: due_days after it (0: the default, 3), counting
 * business days when s->business_days is set. No I/O.
 * @return  the due date, YYYYMMDD; 0 when date is not a valid date in
 *          years 1..9999 or the due date would fall after 9999-12-31.
 * Threads: thread-safe.
 * NULL:    s NULL: 3 calendar days; with business_days, s->holidays may be
 *          NULL only when s->nholidays is 0 (else aborts).
 * Owns:    nothing is kept of s. */
DMVF_API uint32_t dmvf_notice_due(uint32_t date, const dmvf_policy_notices *s);

/* Appends one notice per distinct subject of f (dmvf_filter_subject; the
 * filter must have been created with collect_subjects), in the order read,
 * to the queue (created 0600 when missing), with one write() under the lock,
 * fsync'd; on failure the file is cut back to where it was. `date`: the day
 * of the request, YYYYMMDD; 0 = the day f judged it on
 * (dmvf_filter_judged_date: today, UTC, or options.as_of), never a date the
 * request gave.
 * s: due date settings. A filter with no subjects writes nothing (the file
 * is not touched). On any failure nothing is appended: fail closed
 * (release nothing).
 * @return  DMVF_OK with *queued the number of notices written (0 on
 *          failure); DMVF_EIO (cannot create, open, lock, write or fsync;
 *          not a regular file; open to group or others; ends inside a
 *          line); DMVF_ENOMEM; DMVF_EINVAL (date not a valid date, or a
 *          notice line would exceed DMVF_NOTICE_MAX_LINE because a request
 *          string is too long).
 * Threads: thread-safe (the lock orders writers, across processes too); f
 *          is only read.
 * NULL:    queue and f abort; s NULL: 3 calendar days; queued and err may
 *          be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_notices_queue(const char *queue, const dmvf_filter *f,
                                const dmvf_policy_notices *s, uint32_t date,
                                uint32_t *queued, dmvf_error *err);

/* Lists the notices not marked sent, oldest due first (then by id): one
 * line each ("ID  DUE  SUBJECT  AGENCY  LEGAL-PROCESS", two spaces apart,
 * DUE as YYYY-MM-DD, "  OVERDUE" appended when due < today; control bytes
 * and '\' in SUBJECT and AGENCY as \xNN, an empty one as "-") or, with json
 * set, each notice object as it is in the queue with "overdue":true|false
 * added as its last key, one per line. Nothing is written when none is due.
 * today: YYYYMMDD, 0 = today (UTC). The whole queue is read and checked
 * before anything is written.
 * @return  DMVF_OK with *count how many were listed; DMVF_EMALFORMED for a
 *          malformed queue (a line that is not JSON of the kinds above, no
 *          type/id/subject/due, a repeated notice id, a "sent" line for a
 *          notice not above it or already sent, no final newline, a line
 *          over DMVF_NOTICE_MAX_LINE), with err->msg "notice queue
 *          PATH:LINE: why" and err->line set; DMVF_EIO (a missing or
 *          unreadable queue, never "nothing due"; writing to out failed);
 *          DMVF_EINVAL (today not a valid date); DMVF_ENOMEM.
 * Threads: thread-safe (a shared lock while reading); out is the caller's
 *          to serialize.
 * NULL:    queue and out abort; count and err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_notices_due_list(const char *queue, uint32_t today, int json, FILE *out,
                                   uint64_t *count, dmvf_error *err);

/* Marks notices sent (appends "sent" lines with date, YYYYMMDD or 0 =
 * today (UTC), and actor, one write() under the lock, fsync'd). Every id is
 * checked first, under the lock; on any failure nothing is written.
 * @return  DMVF_OK (n == 0: nothing written); DMVF_EINVAL (an id that is
 *          not 16 hex digits, given twice, not in the queue, or already
 *          sent; date not a valid date; actor too long); DMVF_EIO (a
 *          missing queue; not a regular file; open to group or others;
 *          cannot lock, write or fsync); DMVF_EMALFORMED (a
 *          malformed queue, as for the due list); DMVF_ENOMEM.
 * Threads: thread-safe (the lock orders writers, across processes too).
 * NULL:    queue aborts; ids may be NULL only with n 0, and a NULL id
 *          aborts; actor NULL: ""; err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_notices_mark_sent(const char *queue, const char *const *ids, size_t n,
                                    const char *actor, uint32_t date, dmvf_error *err);

#ifdef __cplusplus
}
#endif
#endif
