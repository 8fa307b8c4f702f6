/* enums.c - the spelling of every enum (core/enums.h), and the public
 * dmvf_*_name / dmvf_*_parse of the request enums. */
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"

#define TABLE(id, ...)                                                           \
    static const char *const id##_v[] = {__VA_ARGS__};                           \
    const dmvf__names id = {id##_v, (unsigned)(sizeof id##_v / sizeof id##_v[0])}

TABLE(dmvf__agency_kinds, "unspecified", "federal", "state", "local", "tribal", "foreign",
      "court", "research", "commercial", "internal");
TABLE(dmvf__legal_processes, "unspecified", "none", "administrative_subpoena",
      "judicial_subpoena", "court_order", "judicial_warrant");
TABLE(dmvf__query_kinds, "unspecified", "by_license", "by_name_dob", "by_plate", "by_vin",
      "by_name_only", "by_address", "by_attribute", "partial_plate", "list");
TABLE(dmvf__actions, "redact", "release", "mask", "generalize", "pseudonymize", "encrypt",
      "constant", "descend");
TABLE(dmvf__generalizations, NULL, "year", "month", "decade", "zip3");
TABLE(dmvf__decisions, "unspecified", "release", "deny", "review");
TABLE(dmvf__refusals, NULL, "refused", "not-found");
TABLE(dmvf__audit_kinds, "unspecified", "request", "release", "review-hold", "review-approve",
      "review-deny", "notice-sent");
TABLE(dmvf__purposes, "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
      "14");

_Static_assert(DMVF_FIELD_CONSTANT == 6 && DMVF_DECISION_REVIEW == 3 &&
               DMVF_REFUSAL_NOT_FOUND == 2 && DMVF_AUDIT_NOTICE_SENT == 6 &&
               DMVF_AGENCY_INTERNAL == 9 && DMVF_LEGAL_JUDICIAL_WARRANT == 5 &&
               DMVF_QUERY_LIST == 9, "an enum grew: extend its table in enums.c");

const char *dmvf__name(const dmvf__names *t, unsigned v, const char *unknown)
{
    return v < t->n && t->names[v] ? t->names[v] : unknown;
}

int dmvf__name_parse(const dmvf__names *t, const char *s, unsigned first)
{
    if (!s)
        return -1;
    for (unsigned v = first; v < t->n; v++) {
        const char *a = t->names[v], *b = s;
        if (!a)
            continue;
        while (*a && (*a == *b || ((*a == '_' || *a == '-') && (*b == '_' || *b == '-'))))
            a++, b++;
        if (!*a && !*b)
            return (int)v;
    }
    return -1;
}

const char *dmvf__action_name(unsigned action)
{
    return dmvf__name(&dmvf__actions, action, "?");
}

const char *dmvf__generalize_name(unsigned g)
{
    return dmvf__name(&dmvf__generalizations, g, "?");
}

const char *dmvf__decision_name(unsigned d)
{
    return dmvf__name(&dmvf__decisions, d, "?");
}

const char *dmvf__refusal_name(unsigned r)
{
    return r == DMVF_REFUSAL_NOT_FOUND ? dmvf__refusals.names[r]
                                       : dmvf__refusals.names[DMVF_REFUSAL_REFUSED];
}

char *dmvf__field_class_letters(unsigned klass, char out[DMVF__CLASS_LETTERS_CAP])
{
    size_t k = 0;
    if (klass & DMVF_FIELD_CLASS_M) out[k++] = 'M';
    if (klass & DMVF_FIELD_CLASS_C) out[k++] = 'C';
    if (klass & DMVF_FIELD_CLASS_P) out[k++] = 'P';
    if (klass & DMVF_FIELD_CLASS_N) out[k++] = 'N';
    out[k] = '\0';
    return out;
}

/* ---- the public request enums ---- */

/* s in t from value 1 on ("unspecified" is no answer): the value, or -1. */
static int parse_public(const dmvf__names *t, const char *s, const void *out)
{
    DMVF_REQUIRE(out != NULL, "out is NULL");
    return dmvf__name_parse(t, s, 1);
}

int dmvf_agency_kind_parse(const char *s, dmvf_agency_kind *out)
{
    int v = parse_public(&dmvf__agency_kinds, s, out);
    if (v >= 0)
        *out = (dmvf_agency_kind)v;
    return v >= 0 ? DMVF_OK : DMVF_EINVAL;
}

int dmvf_legal_process_parse(const char *s, dmvf_legal_process *out)
{
    int v = parse_public(&dmvf__legal_processes, s, out);
    if (v >= 0)
        *out = (dmvf_legal_process)v;
    return v >= 0 ? DMVF_OK : DMVF_EINVAL;
}

int dmvf_query_kind_parse(const char *s, dmvf_query_kind *out)
{
    int v = parse_public(&dmvf__query_kinds, s, out);
    if (v >= 0)
        *out = (dmvf_query_kind)v;
    return v >= 0 ? DMVF_OK : DMVF_EINVAL;
}

const char *dmvf_agency_kind_name(dmvf_agency_kind k)
{
    return dmvf__name(&dmvf__agency_kinds, (unsigned)k, "?");
}

const char *dmvf_legal_process_name(dmvf_legal_process k)
{
    return dmvf__name(&dmvf__legal_processes, (unsigned)k, "?");
}

const char *dmvf_query_kind_name(dmvf_query_kind k)
{
    return dmvf__name(&dmvf__query_kinds, (unsigned)k, "?");
}
