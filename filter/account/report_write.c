/*
 * report_write.c - dmvf__report_write: the counted report as a table
 * (report_count.c), handed to the writer of the format asked for
 * (report_md.c, report_csv.c, report_json.c, report_html.c), then the
 * stream flushed and checked.
 *
 * The window's ends are printed as RFC 3339 UTC times, with nanoseconds
 * only when they are not whole seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/account/report_int.h"
#include "filter/account/report_out_int.h"

int dmvf__report_write(const dmvf__report *r, dmvf_report_format fmt, const char *title,
                       FILE *out, dmvf_error *err)
{
    DMVF_REQUIRE(r && out, "report and stream");
    if (fmt != DMVF_REPORT_MD && fmt != DMVF_REPORT_CSV && fmt != DMVF_REPORT_JSON &&
        fmt != DMVF_REPORT_HTML)
        return dmvf__seterr(err, DMVF_EINVAL, "audit report: unknown format %d", (int)fmt);
    dmvf__report_table w;
    memset(&w, 0, sizeof w);
    w.o = out;
    w.title = title && title[0] ? title : "Transparency report";
    if (dmvf__report_table_make(r, &w) != DMVF_OK)
        return dmvf__report_oom(err);
    dmvf__time_format(w.from_ns / 1000000000u, (uint32_t)(w.from_ns % 1000000000u),
                      DMVF__TIME_NANOS_IF, w.from);
    dmvf__time_format(w.to_ns / 1000000000u, (uint32_t)(w.to_ns % 1000000000u),
                      DMVF__TIME_NANOS_IF, w.to);
    int bad = 0;
    switch (fmt) {
    case DMVF_REPORT_JSON: dmvf__report_json(&w); break;
    case DMVF_REPORT_CSV: dmvf__report_csv(&w); break;
    case DMVF_REPORT_MD: dmvf__report_md(&w); break;
    case DMVF_REPORT_HTML: bad = dmvf__report_html(&w); break;
    }
    free(w.rows);
    if (bad)
        return dmvf__report_oom(err);
    if (fflush(out) != 0 || ferror(out))
        return dmvf__seterr(err, DMVF_EIO, "audit report: writing the report failed");
    return DMVF_OK;
}
