/*
 * request.c - the syntax of requester attributes (core/request.h) and the
 * one check of a request's attributes, dmvf_request_validate (request.h).
 * Nothing is repaired: a lowercase ORI, a jurisdiction "ny" or a tag with
 * an underscore or a trailing space is refused, never matched loosely.
 */
#include <stdio.h>
#include <string.h>
#include "dmvfilter/request.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/core/request.h"
#include "filter/core/text.h"

static int upper_or_digit(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int run_of(const char *s, size_t n, int (*ok)(char))
{
    for (size_t i = 0; i < n; i++)
        if (!ok(s[i]))
            return 0;
    return 1;
}

int dmvf__ori_valid(const char *s, size_t n)
{
    return n == DMVF__ORI_LEN && run_of(s, n, upper_or_digit);
}

int dmvf__ori_prefix_valid(const char *s, size_t n)
{
    return n >= 1 && n < DMVF__ORI_LEN && run_of(s, n, upper_or_digit);
}

static int lower_or_digit(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int tag_char(char c)
{
    return lower_or_digit(c) || c == '-';
}

int dmvf__tag_valid(const char *s, size_t n)
{
    return n >= 1 && n <= DMVF__TAG_MAX && lower_or_digit(s[0]) && run_of(s, n, tag_char);
}

static int upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

int dmvf__jurisdiction_valid(const char *s, size_t n)
{
    return n == 2 && run_of(s, n, upper);
}

int dmvf_request_validate(const dmvf_request *r, dmvf_error *err)
{
    DMVF_REQUIRE(r != NULL, "request is NULL");
    char q[95]; /* a value quoted for a message (dmvf__quote_copy) */
    if (!r->ori || !*r->ori)
        return dmvf__seterr(err, DMVF_EINVAL, "the request names no ORI (every request names its "
                            "requester's ORI)");
    if (!dmvf__ori_valid(r->ori, strlen(r->ori))) {
        dmvf__quote_copy(q, sizeof q, r->ori, strlen(r->ori), DMVF__ESC_BACKSLASH | DMVF__ESC_QUOTE);
        return dmvf__seterr(err, DMVF_EINVAL, "ORI %s: " DMVF__ORI_RULE, q);
    }
    if (r->jurisdiction && *r->jurisdiction && !dmvf__jurisdiction_valid(r->jurisdiction, strlen(r->jurisdiction))) {
        dmvf__quote_copy(q, sizeof q, r->jurisdiction, strlen(r->jurisdiction),
                             DMVF__ESC_BACKSLASH | DMVF__ESC_QUOTE);
        return dmvf__seterr(err, DMVF_EINVAL, "jurisdiction %s: " DMVF__JURISDICTION_RULE, q);
    }
    /* NULL arrays hold nothing, as the filter's copy of the request reads them */
    size_t nt = r->tags ? r->ntags : 0, nf = r->fields ? r->nfields : 0;
    for (size_t i = 0; i < nt; i++) {
        if (!r->tags[i])
            return dmvf__seterr(err, DMVF_EINVAL, "tag %zu is NULL", i);
        if (!dmvf__tag_valid(r->tags[i], strlen(r->tags[i]))) {
            dmvf__quote_copy(q, sizeof q, r->tags[i], strlen(r->tags[i]), DMVF__ESC_BACKSLASH | DMVF__ESC_QUOTE);
            return dmvf__seterr(err, DMVF_EINVAL, "tag %s: " DMVF__TAG_RULE, q);
        }
    }
    if ((unsigned)r->agency_kind > DMVF_AGENCY_INTERNAL)
        return dmvf__seterr(err, DMVF_EINVAL, "agency kind %u is not an agency kind", (unsigned)r->agency_kind);
    if ((unsigned)r->legal_process > DMVF_LEGAL_JUDICIAL_WARRANT)
        return dmvf__seterr(err, DMVF_EINVAL, "legal process %u is not a legal process",
                            (unsigned)r->legal_process);
    if ((unsigned)r->query_kind > DMVF_QUERY_LIST)
        return dmvf__seterr(err, DMVF_EINVAL, "query kind %u is not a query kind", (unsigned)r->query_kind);
    if (r->purpose > 14)
        return dmvf__seterr(err, DMVF_EINVAL, "purpose %u: DPPA permissible uses are 1..14 "
                            "(18 U.S.C. 2721(b)), 0 for none given", r->purpose);
    for (size_t i = 0; i < nf; i++)
        if (!r->fields[i])
            return dmvf__seterr(err, DMVF_EINVAL, "requested field %zu is NULL", i);
    if (r->date && !dmvf__date_valid(r->date))
        return dmvf__seterr(err, DMVF_EINVAL, "date %u is not a date (YYYYMMDD)", (unsigned)r->date);
    return DMVF_OK;
}
