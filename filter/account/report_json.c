/*
 * report_json.c - the transparency report as one JSON object:
 *
 *   {"title": S,
 *    "window": {"from": RFC 3339, "to": RFC 3339 | null,
 *               "from_ns": N, "to_ns": N | null},
 *    "entries": {"read": N, "in_window": N, "unattributed": N},
 *    "totals": {FIGURE: N, ...},
 *    "breakdowns": {BREAKDOWN: [{"key": S, "name": S, FIGURE: N, ...}, ...],
 *                   ...},
 *    "rules": [S, ...]}
 *
 * FIGURE and BREAKDOWN are the machine names (report_labels.c), in their
 * order; two-space indents, one row a line.
 */
#include <inttypes.h>
#include <stdio.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/text.h"
#include "filter/account/report_int.h"
#include "filter/account/report_out_int.h"

void dmvf__report_json(const dmvf__report_table *w)
{
    FILE *o = w->o;
    fputs("{\n  \"title\": ", o);
    dmvf__json_fput(o, w->title);
    fprintf(o, ",\n  \"window\": {\"from\": \"%s\", \"to\": ", w->from);
    if (w->to_ns)
        fprintf(o, "\"%s\"", w->to);
    else
        fputs("null", o);
    fprintf(o, ", \"from_ns\": %" PRIu64 ", \"to_ns\": ", w->from_ns);
    if (w->to_ns)
        fprintf(o, "%" PRIu64 "}", w->to_ns);
    else
        fputs("null}", o);
    fprintf(o, ",\n  \"entries\": {\"read\": %" PRIu64 ", \"in_window\": %" PRIu64
            ", \"unattributed\": %" PRIu64 "}", w->entries_read, w->entries_in_window,
            w->unattributed);
    fputs(",\n  \"totals\": {", o);
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, "%s\"%s\": %" PRIu64, f ? ", " : "", dmvf__report_fig_names[f], w->totals[f]);
    fputs("},\n  \"breakdowns\": {", o);
    for (int bd = 0; bd < DMVF__BD_COUNT; bd++) {
        fprintf(o, "%s\n    \"%s\": [", bd ? "," : "", dmvf__report_breakdown_names[bd]);
        for (size_t i = w->starts[bd]; i < w->starts[bd + 1]; i++) {
            const dmvf__report_row *x = w->rows[i];
            fprintf(o, "%s\n      {\"key\": ", i > w->starts[bd] ? "," : "");
            dmvf__json_fput(o, x->key);
            fputs(", \"name\": ", o);
            dmvf__json_fput(o, x->name);
            for (int f = 0; f < DMVF__FIG_COUNT; f++)
                fprintf(o, ", \"%s\": %" PRIu64, dmvf__report_fig_names[f], x->fig[f]);
            fputc('}', o);
        }
        fputs(w->starts[bd] < w->starts[bd + 1] ? "\n    ]" : "]", o);
    }
    fputs("\n  },\n  \"rules\": [", o);
    for (size_t i = 0; i < dmvf__report_nrules; i++) {
        fputs(i ? ",\n    " : "\n    ", o);
        dmvf__json_fput(o, dmvf__report_rules[i]);
    }
    fputs("\n  ]\n}\n", o);
}
