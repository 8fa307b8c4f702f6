/*
 * report_int.h - the transparency report's aggregation, inside the library.
 *
 * dmvf_audit_report (include/dmvfilter/audit.h) is two scans of the log and a
 * writer:
 *
 *   r = dmvf__report_create(from_ns, to_ns);
 *   for each entry e: dmvf__report_prescan(r, e);   pass 1: which REQUEST
 *                                                   entries are needed
 *   for each entry e: dmvf__report_add(r, e);       pass 2: the counting
 *   dmvf__report_finish(r);                         incomplete requests
 *   (the three steps again for each further log)
 *   dmvf__report_write(r, fmt, title, out, &err);
 *   dmvf__report_free(r);
 *
 * Pass 1 notes the REQUEST entries that the window's follow-ups (RELEASE,
 * REVIEW_APPROVE, REVIEW_DENY) refer to, wherever they lie in the log, so
 * that pass 2 keeps the requester of those and of the window's own requests
 * only: memory grows with the window, not with the log. Entries must be
 * given in log order (oldest first) in both passes. The counting rules are
 * in report_count.c's header and in the report's own footer.
 *
 * The tests drive these functions with hand-made entries; the figures of a
 * row can be read back with dmvf__report_figures.
 *
 * Not thread-safe: one report belongs to one thread.
 */
#ifndef DMVF_REPORT_INT_H
#define DMVF_REPORT_INT_H

#include <stdio.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "dmv/v1/audit.pb-c.h"

/* The figures of one row, in output order. */
typedef enum dmvf__report_fig {
    DMVF__FIG_REQUESTS = 0,      /* REQUEST entries */
    DMVF__FIG_RELEASED,          /* ... decided RELEASE */
    DMVF__FIG_REFUSED,           /* ... decided DENY (any reply form) */
    DMVF__FIG_NOT_FOUND,         /* ... of which the reply looked like a miss */
    DMVF__FIG_HELD,              /* ... decided REVIEW (held for review) */
    DMVF__FIG_APPROVED,          /* REVIEW_APPROVE entries */
    DMVF__FIG_DENIED,            /* REVIEW_DENY entries */
    DMVF__FIG_INCOMPLETE,        /* decided RELEASE, no RELEASE entry in the log */
    DMVF__FIG_RECORDS,           /* records released */
    DMVF__FIG_FIELDS_P,          /* field values released, class P */
    DMVF__FIG_FIELDS_C,          /* ... class C or M (and not P) */
    DMVF__FIG_FIELDS_ORDINARY,   /* ... class 0 */
    DMVF__FIG_REDACTED,          /* field values redacted in releases */
    DMVF__FIG_COUNT
} dmvf__report_fig;

/* The breakdowns, in output order. */
typedef enum dmvf__report_breakdown {
    DMVF__BD_AGENCY = 0,         /* key ORI, name the agency name */
    DMVF__BD_AGENCY_KIND,        /* key "federal", "state", ... */
    DMVF__BD_TAG,                /* key the tag, "(none)" for untagged */
    DMVF__BD_PURPOSE,            /* key "0".."14" (0: none given) */
    DMVF__BD_LEGAL_PROCESS,      /* key "none", "court_order", ... */
    DMVF__BD_CLIENT,             /* key the entry's client (`dmvfilter serve`'s
                                    name for the caller), "(none)": the command line */
    DMVF__BD_COUNT
} dmvf__report_breakdown;

/* Machine names: "requests", ..., and "agency", "agency_kind", ... */
extern const char *const dmvf__report_fig_names[DMVF__FIG_COUNT];
extern const char *const dmvf__report_breakdown_names[DMVF__BD_COUNT];

/* The key of rows that gather entries whose request is not in the log. */
#define DMVF__REPORT_UNKNOWN "(unknown)"
/* The key of the "tag" row of untagged requests (and the ORI of requests
 * without one, the client of requests made without the service). */
#define DMVF__REPORT_NONE "(none)"

typedef struct dmvf__report dmvf__report;

/* to_ns 0: no end. NULL when out of memory. */
dmvf__report *dmvf__report_create(uint64_t from_ns, uint64_t to_ns);
void dmvf__report_free(dmvf__report *r);

/* Pass 1 and pass 2. DMVF_OK or DMVF_ENOMEM (with *err). */
int dmvf__report_prescan(dmvf__report *r, const Dmv__V1__AuditEntry *e, dmvf_error *err);
int dmvf__report_add(dmvf__report *r, const Dmv__V1__AuditEntry *e, dmvf_error *err);
/* After pass 2: counts the incomplete requests and forgets the log's
 * REQUEST entries. Call once per log: a report over several logs runs both
 * passes and this over each log in turn (refs are seqs of their own log),
 * and the figures add up. */
void dmvf__report_finish(dmvf__report *r);

/* The figures of the row (breakdown, key, name); name is only compared for
 * DMVF__BD_AGENCY (NULL: "" ). bd == DMVF__BD_COUNT gives the totals (key and
 * name ignored). NULL when there is no such row. */
const uint64_t *dmvf__report_figures(const dmvf__report *r, int bd, const char *key,
                                     const char *name);
/* Entries in the window that referred to a REQUEST entry not in the log and
 * carried no request of their own (counted under DMVF__REPORT_UNKNOWN). */
uint64_t dmvf__report_unattributed(const dmvf__report *r);

/* Sets err to "audit report: out of memory"; returns DMVF_ENOMEM. */
int dmvf__report_oom(dmvf_error *err);

/* Writes the report (report_write.c). DMVF_OK, DMVF_EINVAL (unknown format), DMVF_EIO (the
 * stream failed), DMVF_ENOMEM. title NULL: "Transparency report". */
int dmvf__report_write(const dmvf__report *r, dmvf_report_format fmt, const char *title,
                       FILE *out, dmvf_error *err);

#endif
