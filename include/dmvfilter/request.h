/*
 * dmvfilter/request.h - the attributes of one request.
 *
 * A dmvf_request is a plain struct the caller fills; dmvfilter copies what it
 * needs when a filter is created, so the struct and its strings may be freed
 * afterwards. Enum values equal those of schema/dmv/v1/request.proto.
 *
 * Who the requester is comes from the policy's requester directory (a
 * dmvf_requester per ORI or ORI prefix, README "The requester directory"),
 * never from the request: a request names its ORI, and may repeat its agency
 * name, kind, jurisdiction and tags, but a kind, jurisdiction or tag set
 * that differs from the directory's refuses the request, and the name is
 * only recorded beside the directory's. Requests are judged on the DMV's
 * clock: `date` is what the request says its date is, never a way to choose
 * the day (filter.h, dmvf_filter_options.as_of).
 *
 * The *_parse functions map the command-line spellings ("state",
 * "court_order", "by_license") to values, the *_name functions values to
 * spellings. All are thread-safe.
 */
#ifndef DMVFILTER_REQUEST_H
#define DMVFILTER_REQUEST_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dmvf_agency_kind {
    DMVF_AGENCY_UNSPECIFIED = 0,
    DMVF_AGENCY_FEDERAL = 1,
    DMVF_AGENCY_STATE = 2,
    DMVF_AGENCY_LOCAL = 3,
    DMVF_AGENCY_TRIBAL = 4,
    DMVF_AGENCY_FOREIGN = 5,
    DMVF_AGENCY_COURT = 6,
    DMVF_AGENCY_RESEARCH = 7,
    DMVF_AGENCY_COMMERCIAL = 8,
    DMVF_AGENCY_INTERNAL = 9
} dmvf_agency_kind;

typedef enum dmvf_legal_process {
    DMVF_LEGAL_UNSPECIFIED = 0,
    DMVF_LEGAL_NONE = 1,
    DMVF_LEGAL_ADMINISTRATIVE_SUBPOENA = 2,
    DMVF_LEGAL_JUDICIAL_SUBPOENA = 3,
    DMVF_LEGAL_COURT_ORDER = 4,
    DMVF_LEGAL_JUDICIAL_WARRANT = 5
} dmvf_legal_process;

typedef enum dmvf_query_kind {
    DMVF_QUERY_UNSPECIFIED = 0,
    DMVF_QUERY_BY_LICENSE = 1,
    DMVF_QUERY_BY_NAME_DOB = 2,
    DMVF_QUERY_BY_PLATE = 3,
    DMVF_QUERY_BY_VIN = 4,
    DMVF_QUERY_BY_NAME_ONLY = 5,
    DMVF_QUERY_BY_ADDRESS = 6,
    DMVF_QUERY_BY_ATTRIBUTE = 7,
    DMVF_QUERY_PARTIAL_PLATE = 8,
    DMVF_QUERY_LIST = 9
} dmvf_query_kind;

typedef struct dmvf_request {
    const char *request_id;        /* may be NULL */
    const char *ori;               /* requester ORI: exactly 9 characters A-Z 0-9;
                                      required (NULL or "": refused) */
    const char *agency_name;       /* may be NULL; recorded beside the directory's */
    dmvf_agency_kind agency_kind;  /* 0: not said; else must be the directory's */
    const char *jurisdiction;      /* two letters A-Z ("NY"); NULL or "": not said;
                                      else must be the directory's */
    const char *const *tags;       /* ntags tags, each [a-z0-9][a-z0-9-]*; none:
                                      not said; else the set must be the directory's */
    size_t ntags;
    const char *operator_id;       /* may be NULL */
    unsigned purpose;              /* DPPA 2721(b)(N), 1..14; 0 = none given */
    dmvf_legal_process legal_process;
    const char *legal_reference;   /* may be NULL */
    dmvf_query_kind query_kind;
    const char *const *fields;     /* optional field paths: release is the intersection */
    size_t nfields;
    const char *channel;           /* may be NULL */
    uint32_t date;                 /* YYYYMMDD the request says it is of; 0 = not
                                      said. Set and not the day it is judged on
                                      (today, UTC, or options.as_of): refused */
} dmvf_request;

/* One entry of a policy's requester directory: what the DMV says a
 * requester is. Exactly one of ori (an exact ORI) and ori_prefix (1..8
 * characters A-Z 0-9: every ORI starting so, unless an exact entry or a
 * longer prefix names it) is set. Owned by the policy. */
typedef struct dmvf_requester {
    const char *ori;               /* NULL for a prefix entry */
    const char *ori_prefix;        /* NULL for an exact entry */
    const char *name;              /* the agency's name as the DMV records it */
    dmvf_agency_kind kind;         /* never 0 */
    const char *jurisdiction;      /* two letters A-Z; NULL when not given */
    const char *const *tags;       /* ntags, distinct, [a-z0-9][a-z0-9-]* */
    size_t ntags;
    const char *scope;             /* pseudonym and encryption scope; NULL: the
                                      request's ORI */
    uint32_t certified_until;      /* YYYYMMDD; 0 = no expiry. After it the
                                      requester is refused */
} dmvf_requester;

/* Checks the attributes of a request, whoever made it (command-line flags,
 * a framed Request, a library caller): the one check every way in goes
 * through (dmvf_filter_create and dmvf_policy_explain call it; a request it
 * refuses is denied as a bad request, never matched loosely). Nothing is
 * upper-cased, trimmed or otherwise repaired:
 *   ori           required, exactly 9 characters A-Z 0-9
 *   jurisdiction  NULL or "" (not said), or two letters A-Z
 *   tags          each not NULL, 1..64 characters [a-z0-9][a-z0-9-]*
 *   agency_kind, legal_process, query_kind  0 or a value of their enum
 *   purpose       0 (none given) or 1..14
 *   fields        each not NULL
 *   date          0 (not said) or a valid YYYYMMDD (whether it is the day
 *                 the request is judged on is the filter's to check)
 * @return  DMVF_OK; DMVF_EINVAL with err->msg naming the attribute and its
 *          value (escaped, cut to fit: one line), e.g.
 *          `ORI "dcice0100": an ORI is exactly 9 characters A-Z or 0-9`.
 * Threads: thread-safe.
 * NULL:    req aborts; err may be NULL.
 * Owns:    nothing is kept of req. */
DMVF_API int dmvf_request_validate(const dmvf_request *req, dmvf_error *err);

/* Parse a command-line spelling into an enum value: the lowercase name
 * (e.g. "state", "court_order", "by_license"), with '-' accepted for '_'
 * ("court-order"). "unspecified" is not accepted: it is what leaving the
 * field 0 says.
 * @return  DMVF_OK with *out set; DMVF_EINVAL when s is NULL or no value is
 *          spelled so (*out unchanged). err is not filled (there is none).
 * Threads: thread-safe.
 * NULL:    s NULL is DMVF_EINVAL; out must not be NULL (not checked).
 * Owns:    nothing is kept of s. */
DMVF_API int dmvf_agency_kind_parse(const char *s, dmvf_agency_kind *out);
DMVF_API int dmvf_legal_process_parse(const char *s, dmvf_legal_process *out);
DMVF_API int dmvf_query_kind_parse(const char *s, dmvf_query_kind *out);

/* The spelling of an enum value, as the *_parse functions take it (and as
 * explanations and notices write it).
 * @return  a static string: the lowercase name with '_' ("court_order"),
 *          "unspecified" for 0, "?" for a value that is not in the enum;
 *          never NULL.
 * Threads: thread-safe.
 * NULL:    (no pointer arguments)
 * Owns:    static storage: never free it. */
DMVF_API const char *dmvf_agency_kind_name(dmvf_agency_kind k);
DMVF_API const char *dmvf_legal_process_name(dmvf_legal_process k);
DMVF_API const char *dmvf_query_kind_name(dmvf_query_kind k);

#ifdef __cplusplus
}
#endif
#endif
