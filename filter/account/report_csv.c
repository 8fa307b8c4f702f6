/*
 * report_csv.c - the transparency report as CSV (RFC 4180, CRLF line
 * ends): a head line, the totals, then every row of every breakdown.
 *
 *   breakdown,key,name,FIGURE,...          the machine names, in order
 *   total,all,,N,...
 *   BREAKDOWN,KEY,NAME,N,...
 *
 * Every text cell goes through dmvf__text_csv (filter/core/text.h), the one
 * CSV field writer of the library: quoted when it holds a comma, quote, CR
 * or LF (quotes doubled); one a spreadsheet would run as a formula (= + - @
 * first, or TAB or CR first, which spreadsheets skip before looking for
 * one), or one that starts with an apostrophe before one of those, is
 * prefixed with an apostrophe and quoted.
 */
#include <string.h>
#include <inttypes.h>
#include <stdio.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/text.h"
#include "filter/account/report_int.h"
#include "filter/account/report_out_int.h"

/* One text cell, with the comma before it unless it is a line's first. */
static void put_cell(dmvf__text *t, const char *s, int first)
{
    if (!first)
        dmvf__text_put(t, ",", 1);
    dmvf__text_csv(t, s, strlen(s));
}

static void csv_figs(FILE *o, const uint64_t *fig)
{
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, ",%" PRIu64, fig[f]);
    fputs("\r\n", o);
}

void dmvf__report_csv(const dmvf__report_table *w)
{
    FILE *o = w->o;
    dmvf__text t = dmvf__text_file(o);
    put_cell(&t, "breakdown", 1);
    put_cell(&t, "key", 0);
    put_cell(&t, "name", 0);
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        put_cell(&t, dmvf__report_fig_names[f], 0);
    fputs("\r\n", o);
    put_cell(&t, "total", 1);
    put_cell(&t, "all", 0);
    put_cell(&t, "", 0);
    csv_figs(o, w->totals);
    for (size_t i = 0; i < w->nrows; i++) {
        const dmvf__report_row *x = w->rows[i];
        put_cell(&t, dmvf__report_breakdown_names[x->bd], 1);
        put_cell(&t, x->key, 0);
        put_cell(&t, x->name, 0);
        csv_figs(o, x->fig);
    }
}
