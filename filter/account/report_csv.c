/*
 * report_csv.c - the transparency report as CSV (RFC 4180, CRLF line
 * ends): a head line, the totals, then every row of every breakdown.
 *
 *   breakdown,key,name,FIGURE,...          the machine names, in order
 *   total,all,,N,...
 *   BREAKDOWN,KEY,NAME,N,...
 *
 * A field is quoted when it holds a comma, quote, CR or LF (quotes
 * doubled); one a spreadsheet would run as a formula (= + - @ first, or
 * TAB or CR first, which spreadsheets skip before looking for one) is
 * prefixed with an apostrophe and quoted.
 */
#include <string.h>
#include <inttypes.h>
#include <stdio.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/account/report_int.h"
#include "filter/account/report_out_int.h"

/* 1 when a spreadsheet may read the cell s as a formula: it starts with
 * = + - @, or with TAB or CR (skipped by some before they look). */
static int formula_start(const char *s)
{
    return s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
}

/* RFC 4180 field: quoted when it holds a comma, quote, CR or LF (quotes
 * doubled); a field a spreadsheet would run as a formula (formula_start)
 * is prefixed with an apostrophe and quoted. */
static void put_csv(FILE *o, const char *s)
{
    int formula = formula_start(s);
    if (!formula && !strpbrk(s, ",\"\r\n")) {
        fputs(s, o);
        return;
    }
    fputc('"', o);
    if (formula)
        fputc('\'', o);
    for (const char *c = s; *c; c++) {
        if (*c == '"')
            fputc('"', o);
        fputc(*c, o);
    }
    fputc('"', o);
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
    fputs("breakdown,key,name", o);
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, ",%s", dmvf__report_fig_names[f]);
    fputs("\r\ntotal,all,", o);
    csv_figs(o, w->totals);
    for (size_t i = 0; i < w->nrows; i++) {
        const dmvf__report_row *x = w->rows[i];
        fprintf(o, "%s,", dmvf__report_breakdown_names[x->bd]);
        put_csv(o, x->key);
        fputc(',', o);
        put_csv(o, x->name);
        csv_figs(o, x->fig);
    }
}
