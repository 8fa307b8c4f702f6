/*
 * audit_report.c - placeholder: the report is being built. Every entry point
 * fails closed until then.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/internal.h"
#include "filter/audit_int.h"

int dmvf_audit_report(const char *dir, uint64_t from_ns, uint64_t to_ns, dmvf_report_format fmt, const char *title, FILE *out, dmvf_error *err)
{
    (void)dir;
    (void)from_ns;
    (void)to_ns;
    (void)fmt;
    (void)title;
    (void)out;
    return dmvf__seterr(err, DMVF_EIO, "report not built");
}
