/*
 * internal.h - what the library's modules share and nobody else sees.
 */
#ifndef DMVF_INTERNAL_H
#define DMVF_INTERNAL_H

#include <stdarg.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/plan.h"

#if defined(__GNUC__)
#  define DMVF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#  define DMVF_LIKELY(x) __builtin_expect(!!(x), 1)
#  define DMVF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define DMVF_PRINTF(a, b)
#  define DMVF_LIKELY(x) (x)
#  define DMVF_UNLIKELY(x) (x)
#endif

/* Fills *err (if not NULL): code, message; line/column/offset 0, record
 * UINT64_MAX. Returns code. */
int dmvf__seterr(dmvf_error *err, int code, const char *fmt, ...) DMVF_PRINTF(3, 4);
/* Same with a policy location. */
int dmvf__seterr_at(dmvf_error *err, int code, unsigned line, unsigned column,
                    const char *fmt, ...) DMVF_PRINTF(5, 6);
/* Copies src into dst[cap] with bytes below 0x20 and 0x7f written as \xNN,
 * so that text from requests and policies cannot break a one-line message. */
void dmvf__escape_copy(char *dst, size_t cap, const char *src);
/* Programmer misuse: prints and aborts. */
void dmvf__misuse(const char *func, const char *what) __attribute__((noreturn));
#define DMVF_REQUIRE(cond, what) do { if (!(cond)) dmvf__misuse(__func__, what); } while (0)

/* fileio.c: writes all n bytes, retrying EINTR and short writes (a write
 * of 0 bytes is EIO). 0 or -1 with errno. */
int dmvf__write_all(int fd, const void *buf, size_t n);
/* fsyncs the directory holding path, so that a rename or link into it
 * survives a crash. 0 or -1 with errno. */
int dmvf__fsync_parent(const char *path);

/* Today's date in UTC as YYYYMMDD. */
uint32_t dmvf__today(void);

/* ---- the policy's verdict on one request (policy/decide) ---- */
typedef struct dmvf_verdict {
    dmvf_decision decision;
    dmvf_refusal refusal;           /* how a DENY looks to the requester */
    const char *rule_name;          /* NULL when no rule matched */
    const dmvf_plan *plan;          /* set when decision is RELEASE, and for
                                       REVIEW when the rule has a profile (the
                                       would-be release, options.hold_for_review) */
    uint64_t max_records;           /* 0 = no limit */
    int notify_subject;
    char reason[256];               /* one line, for the DMV */
} dmvf_verdict;

/* Use counting for the handles that borrow a policy: dmvf_policy_free
 * aborts (misuse) while any is alive. Thread-safe. */
void dmvf__policy_acquire(const dmvf_policy *p);
void dmvf__policy_release(const dmvf_policy *p);

/* Evaluates the rules in order: the first whose match fits the requester
 * decides; then its requirements (purpose, legal process, query kind,
 * certification date) are checked; any unmet requirement refuses with the
 * rule's refusal form. No match: DENY with the policy's default refusal.
 * The record limit is enforced later, by the filter. Never fails. */
void dmvf__policy_decide(const dmvf_policy *p, const dmvf_request *req, dmvf_verdict *v);

/* A copy of `base` in which every field not covered by one of the requested
 * paths (exact, a message prefix, or "x.*") is REDACT. NULL with *err on an
 * unknown path (DMVF_EINVAL) or no memory. Free with dmvf__plan_free. */
dmvf_plan *dmvf__plan_restrict(const dmvf_plan *base, const char *const *fields, size_t n,
                               dmvf_error *err);
void dmvf__plan_free(dmvf_plan *plan);

#endif
