/* request.c - spellings of the request enums. */
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"

static const char *const agency_names[] = {
    "unspecified", "federal", "state", "local", "tribal", "foreign",
    "court", "research", "commercial", "internal"
};
static const char *const legal_names[] = {
    "unspecified", "none", "administrative_subpoena", "judicial_subpoena",
    "court_order", "judicial_warrant"
};
static const char *const query_names[] = {
    "unspecified", "by_license", "by_name_dob", "by_plate", "by_vin",
    "by_name_only", "by_address", "by_attribute", "partial_plate", "list"
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int lookup(const char *const *names, size_t n, const char *s, int *out)
{
    DMVF_REQUIRE(out != NULL, "out is NULL");
    if (!s)
        return DMVF_EINVAL;
    for (size_t i = 1; i < n; i++) {
        /* accept '-' for '_' */
        const char *a = names[i], *b = s;
        while (*a && *b && (*a == *b || (*a == '_' && *b == '-')))
            a++, b++;
        if (!*a && !*b) {
            *out = (int)i;
            return DMVF_OK;
        }
    }
    return DMVF_EINVAL;
}

int dmvf_agency_kind_parse(const char *s, dmvf_agency_kind *out)
{
    int v;
    int rc = lookup(agency_names, N(agency_names), s, &v);
    if (rc == DMVF_OK) *out = (dmvf_agency_kind)v;
    return rc;
}

int dmvf_legal_process_parse(const char *s, dmvf_legal_process *out)
{
    int v;
    int rc = lookup(legal_names, N(legal_names), s, &v);
    if (rc == DMVF_OK) *out = (dmvf_legal_process)v;
    return rc;
}

int dmvf_query_kind_parse(const char *s, dmvf_query_kind *out)
{
    int v;
    int rc = lookup(query_names, N(query_names), s, &v);
    if (rc == DMVF_OK) *out = (dmvf_query_kind)v;
    return rc;
}

const char *dmvf_agency_kind_name(dmvf_agency_kind k)
{
    return (unsigned)k < N(agency_names) ? agency_names[k] : "?";
}

const char *dmvf_legal_process_name(dmvf_legal_process k)
{
    return (unsigned)k < N(legal_names) ? legal_names[k] : "?";
}

const char *dmvf_query_kind_name(dmvf_query_kind k)
{
    return (unsigned)k < N(query_names) ? query_names[k] : "?";
}
