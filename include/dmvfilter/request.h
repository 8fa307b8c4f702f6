/*
 * dmvfilter/request.h - the attributes of one request.
 *
 * A dmvf_request is a plain struct the caller fills; dmvfilter copies what it
 * needs when a filter is created, so the struct and its strings may be freed
 * afterwards. Enum values equal those of schema/dmv/v1/request.proto.
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
    const char *ori;               /* requester ORI; NULL or "" never matches an ORI rule */
    const char *agency_name;       /* may be NULL */
    dmvf_agency_kind agency_kind;
    const char *jurisdiction;      /* two letters, e.g. "NY"; may be NULL */
    const char *const *tags;       /* ntags strings */
    size_t ntags;
    const char *operator_id;       /* may be NULL */
    unsigned purpose;              /* DPPA 2721(b)(N), 1..14; 0 = none given */
    dmvf_legal_process legal_process;
    const char *legal_reference;   /* may be NULL */
    dmvf_query_kind query_kind;
    const char *const *fields;     /* optional field paths: release is the intersection */
    size_t nfields;
    const char *channel;           /* may be NULL */
    uint32_t date;                 /* YYYYMMDD the request is judged on; 0 = today (UTC) */
} dmvf_request;

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
