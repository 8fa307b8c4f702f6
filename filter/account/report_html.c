/*
 * report_html.c - the transparency report as one HTML page that needs
 * nothing else (inline style, inline SVG): the title, the window, the
 * totals, four charts, a table per breakdown, and the counting rules.
 *
 *   charts  requests by agency kind and by legal process (released,
 *           refused, held, stacked); records released by agency (the 20
 *           with the most, the rest as one bar); field values released by
 *           class, and redacted
 *
 * Text and attribute values have & < > " ' as references, and control
 * bytes and bytes that are not valid UTF-8 as U+FFFD; a chart's label is
 * cut at 32 characters. Positions are integers in tenths of a pixel, so
 * that the page does not depend on the locale.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/text.h"
#include "filter/account/report_int.h"
#include "filter/account/report_out_int.h"

/* HTML text or attribute value: & < > " ' as references; control bytes
 * and bytes that are not valid UTF-8 as U+FFFD. At most max_chars
 * characters (0: all), "..." after a cut. */
static void put_html_n(FILE *o, const char *s, size_t max_chars)
{
    const unsigned char *c = (const unsigned char *)s, *end = c + strlen(s);
    size_t chars = 0;
    while (*c) {
        if (max_chars && chars == max_chars) {
            fputs("&#8230;", o);
            return;
        }
        chars++;
        size_t n = dmvf__utf8_seq(c, (size_t)(end - c));
        switch (*c) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\'': fputs("&#39;", o); break;
        default:
            if (n == 0 || *c < 0x20 || *c == 0x7f) {
                fputs("&#xfffd;", o);
                break;
            }
            fwrite(c, 1, n, o);
            c += n;
            continue;
        }
        c++;
    }
}

static void put_html(FILE *o, const char *s)
{
    put_html_n(o, s, 0);
}

typedef struct bar {
    const char *label;
    uint64_t v[3];
} bar;

static const char *const series_class[3] = { "s0", "s1", "s2" };

/* A horizontal bar chart: n bars of nseries stacked values, one legend. */
static void svg_chart(FILE *o, const char *title, const bar *bars, size_t n, int nseries,
                      const char *const *series)
{
    const unsigned left = 230, width = 460, rowh = 22, top = nseries > 1 ? 30 : 8;
    unsigned height = top + (unsigned)n * rowh + 8;
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = 0;
        for (int s = 0; s < nseries; s++)
            t += bars[i].v[s];
        if (t > max)
            max = t;
    }
    fputs("<figure>\n<figcaption>", o);
    put_html(o, title);
    fprintf(o, "</figcaption>\n<svg role=\"img\" aria-label=\"");
    put_html(o, title);
    fprintf(o, "\" viewBox=\"0 0 %u %u\" width=\"%u\" height=\"%u\">\n", left + width + 90, height,
            left + width + 90, height);
    if (nseries > 1) {
        unsigned x = left;
        for (int s = 0; s < nseries; s++) {
            fprintf(o, "<rect class=\"%s\" x=\"%u\" y=\"8\" width=\"12\" height=\"12\"/>"
                    "<text x=\"%u\" y=\"18\">", series_class[s], x, x + 16);
            put_html(o, series[s]);
            fputs("</text>\n", o);
            x += 24 + 8 * (unsigned)strlen(series[s]);
        }
    }
    if (n == 0)
        fprintf(o, "<text x=\"%u\" y=\"%u\">no entries</text>\n", left, top + 15);
    for (size_t i = 0; i < n; i++) {
        unsigned y = top + (unsigned)i * rowh;
        uint64_t t = 0, x10 = (uint64_t)left * 10;   /* positions in tenths of a pixel */
        fprintf(o, "<text text-anchor=\"end\" x=\"%u\" y=\"%u\">", left - 8, y + 15);
        put_html_n(o, bars[i].label, 32);
        fputs("</text>\n", o);
        for (int s = 0; s < nseries; s++) {
            t += bars[i].v[s];
            if (!bars[i].v[s] || !max)
                continue;
            /* integers, not %f: the output must not depend on the locale */
            uint64_t w10 = (uint64_t)((double)bars[i].v[s] * width * 10.0 / (double)max + 0.5);
            fprintf(o, "<rect class=\"%s\" x=\"%" PRIu64 ".%u\" y=\"%u\" width=\"%" PRIu64
                    ".%u\" height=\"%u\"><title>", series_class[s], x10 / 10, (unsigned)(x10 % 10),
                    y + 3, w10 / 10, (unsigned)(w10 % 10), rowh - 6);
            put_html(o, bars[i].label);
            fprintf(o, ": %" PRIu64 " ", bars[i].v[s]);
            put_html(o, series[s]);
            fputs("</title></rect>\n", o);
            x10 += w10;
        }
        x10 += 60;
        fprintf(o, "<text x=\"%" PRIu64 ".%u\" y=\"%u\">%" PRIu64 "</text>\n", x10 / 10,
                (unsigned)(x10 % 10), y + 15, t);
    }
    fputs("</svg>\n</figure>\n", o);
}

static int cmp_records_desc(const void *a, const void *b)
{
    const dmvf__report_row *x = *(const dmvf__report_row *const *)a;
    const dmvf__report_row *y = *(const dmvf__report_row *const *)b;
    uint64_t p = x->fig[DMVF__FIG_RECORDS], q = y->fig[DMVF__FIG_RECORDS];
    if (p != q)
        return p > q ? -1 : 1;
    return dmvf__report_row_cmp(a, b);
}

#define CHART_MAX_AGENCIES 20

static int html_charts(const dmvf__report_table *w)
{
    FILE *o = w->o;
    static const char *const decisions[3] = { "released", "refused", "held for review" };
    size_t nb = w->nrows + CHART_MAX_AGENCIES + 8;
    bar *bars = calloc(nb, sizeof *bars);
    const dmvf__report_row **byrec = malloc((w->nrows + 1) * sizeof *byrec);
    char *labels = malloc((CHART_MAX_AGENCIES + 1) * 160);
    if (!bars || !byrec || !labels) {
        free(bars);
        free(byrec);
        free(labels);
        return -1;
    }
    static const int stacked[2] = { DMVF__BD_AGENCY_KIND, DMVF__BD_LEGAL_PROCESS };
    static const char *const stacked_titles[2] = {
        "Requests by agency kind", "Requests by legal process"
    };
    for (int c = 0; c < 2; c++) {
        int bd = stacked[c];
        size_t n = 0;
        for (size_t i = w->starts[bd]; i < w->starts[bd + 1]; i++) {
            const dmvf__report_row *x = w->rows[i];
            if (!x->fig[DMVF__FIG_REQUESTS])
                continue;
            bars[n].label = x->key;
            bars[n].v[0] = x->fig[DMVF__FIG_RELEASED];
            bars[n].v[1] = x->fig[DMVF__FIG_REFUSED];
            bars[n].v[2] = x->fig[DMVF__FIG_HELD];
            n++;
        }
        svg_chart(o, stacked_titles[c], bars, n, 3, decisions);
    }

    /* records released by agency: the most first, the rest as one bar */
    size_t na = 0;
    for (size_t i = w->starts[DMVF__BD_AGENCY]; i < w->starts[DMVF__BD_AGENCY + 1]; i++)
        if (w->rows[i]->fig[DMVF__FIG_RECORDS])
            byrec[na++] = w->rows[i];
    qsort(byrec, na, sizeof *byrec, cmp_records_desc);
    size_t n = 0;
    uint64_t rest = 0;
    for (size_t i = 0; i < na; i++) {
        if (i >= CHART_MAX_AGENCIES) {
            rest += byrec[i]->fig[DMVF__FIG_RECORDS];
            continue;
        }
        char *l = labels + n * 160;
        if (byrec[i]->name[0])
            snprintf(l, 160, "%s %s", byrec[i]->key, byrec[i]->name);
        else
            snprintf(l, 160, "%s", byrec[i]->key);
        bars[n].label = l;
        bars[n].v[0] = byrec[i]->fig[DMVF__FIG_RECORDS];
        n++;
    }
    if (na > CHART_MAX_AGENCIES) {
        char *l = labels + n * 160;
        snprintf(l, 160, "%zu other agencies", na - CHART_MAX_AGENCIES);
        bars[n].label = l;
        bars[n].v[0] = rest;
        n++;
    }
    static const char *const records[1] = { "records" };
    svg_chart(o, "Records released by agency", bars, n, 1, records);

    static const char *const values[1] = { "values" };
    static const char *const class_labels[4] = {
        "P (highly restricted)", "C and M (marking-correlated)", "ordinary", "redacted"
    };
    static const int class_figs[4] = {
        DMVF__FIG_FIELDS_P, DMVF__FIG_FIELDS_C, DMVF__FIG_FIELDS_ORDINARY, DMVF__FIG_REDACTED
    };
    for (int i = 0; i < 4; i++) {
        memset(&bars[i], 0, sizeof bars[i]);
        bars[i].label = class_labels[i];
        bars[i].v[0] = w->totals[class_figs[i]];
    }
    svg_chart(o, "Field values released, by class, and redacted", bars, 4, 1, values);
    free(bars);
    free(byrec);
    free(labels);
    return 0;
}

static void html_head_row(FILE *o, const char *key1, const char *key2)
{
    fputs("<thead><tr>", o);
    if (key1)
        fprintf(o, "<th scope=\"col\">%s</th>", key1);
    if (key2)
        fprintf(o, "<th scope=\"col\">%s</th>", key2);
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, "<th scope=\"col\">%s</th>", dmvf__report_fig_heads[f]);
    fputs("</tr></thead>\n", o);
}

static void html_figs(FILE *o, const uint64_t *fig)
{
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, "<td>%" PRIu64 "</td>", fig[f]);
    fputs("</tr>\n", o);
}

int dmvf__report_html(const dmvf__report_table *w)
{
    FILE *o = w->o;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", o);
    put_html(o, w->title);
    fputs("</title>\n<style>\n"
          "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;margin:2rem auto;"
          "max-width:72rem;padding:0 1rem;color:#1b1b1b;line-height:1.4}\n"
          "h1{font-size:1.8rem}h2{font-size:1.3rem;margin-top:2rem;border-bottom:1px solid #ccc}\n"
          "table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem;display:block;"
          "overflow-x:auto}\n"
          "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;white-space:nowrap}\n"
          "th{background:#f0f0f0;vertical-align:bottom;white-space:normal}\n"
          "td.k,th.k{text-align:left}\n"
          "figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.25rem}\n"
          "svg{max-width:100%;height:auto;font-size:12px}svg text{fill:#1b1b1b}\n"
                    ".s0{fill:#2b6cb0}.s1{fill:#c05621}.s2{fill:#718096}\n"
          "ol.rules li{margin-bottom:.4rem}\n"
          "@media print{table{display:table}}\n"
          "</style>\n</head>\n<body>\n<h1>", o);
    put_html(o, w->title);
    fprintf(o, "</h1>\n<p>Window: from <time datetime=\"%s\">%s</time> (inclusive) to ", w->from,
            w->from);
    if (w->to_ns)
        fprintf(o, "<time datetime=\"%s\">%s</time> (exclusive).", w->to, w->to);
    else
        fputs("the end of the log.", o);
    fprintf(o, " Generated by dmvfilter %s from the audit log: %" PRIu64 " entries read, %"
            PRIu64 " in the window.</p>\n", dmvf_version(), w->entries_read, w->entries_in_window);

    fputs("<h2>Totals</h2>\n<table>\n", o);
    html_head_row(o, NULL, NULL);
    fputs("<tbody><tr>", o);
    html_figs(o, w->totals);
    fputs("</tbody>\n</table>\n<h2>Charts</h2>\n", o);
    if (html_charts(w) != 0)
        return -1;
    for (int bd = 0; bd < DMVF__BD_COUNT; bd++) {
        fprintf(o, "<h2>%s</h2>\n", dmvf__report_bd_titles[bd]);
        if (w->starts[bd] == w->starts[bd + 1]) {
            fputs("<p>No entries.</p>\n", o);
            continue;
        }
        int two = bd == DMVF__BD_AGENCY || bd == DMVF__BD_PURPOSE;
        fputs("<table>\n", o);
        html_head_row(o, dmvf__report_bd_key_heads[bd],
                      two ? (bd == DMVF__BD_AGENCY ? "Agency" : "Use") : NULL);
        fputs("<tbody>\n", o);
        for (size_t i = w->starts[bd]; i < w->starts[bd + 1]; i++) {
            const dmvf__report_row *x = w->rows[i];
            fputs("<tr><td class=\"k\">", o);
            put_html(o, x->key);
            fputs("</td>", o);
            if (two) {
                fputs("<td class=\"k\">", o);
                put_html(o, x->name);
                fputs("</td>", o);
            }
            html_figs(o, x->fig);
        }
        fputs("</tbody>\n</table>\n", o);
    }
    fputs("<h2>How to read these figures</h2>\n<ol class=\"rules\">\n", o);
    for (size_t i = 0; i < dmvf__report_nrules; i++) {
        fputs("<li>", o);
        put_html(o, dmvf__report_rules[i]);
        fputs("</li>\n", o);
    }
    fputs("</ol>\n</body>\n</html>\n", o);
    return 0;
}
