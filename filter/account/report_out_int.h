/*
 * report_out_int.h - what the transparency report's writers share: the
 * figures as a table (made by report_count.c), the report's words
 * (report_labels.c) and one writer per format.
 *
 *   dmvf__report_write (report_write.c)
 *     dmvf__report_table_make           the rows that show, sorted
 *     dmvf__report_md | _csv | _json | _html
 *
 * A writer only prints: the caller checks the stream (ferror) after it.
 */
#ifndef DMVF_REPORT_OUT_INT_H
#define DMVF_REPORT_OUT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "filter/core/date.h"
#include "filter/account/report_int.h"

/* One row: a breakdown's key (and, for agencies, name) and its figures. */
typedef struct dmvf__report_row {
    int bd;
    uint64_t order;          /* sorts before key: enum value, or 1 for "(none)" */
    char *key, *name;
    uint64_t fig[DMVF__FIG_COUNT];
} dmvf__report_row;

/* qsort comparator over const dmvf__report_row *: by breakdown, order,
 * key, name. */
int dmvf__report_row_cmp(const void *a, const void *b);

/* The report as the writers see it. */
typedef struct dmvf__report_table {
    FILE *o;
    const char *title;
    uint64_t from_ns, to_ns;                  /* to_ns 0: no end */
    char from[DMVF__TIME_CAP], to[DMVF__TIME_CAP];
    const uint64_t *totals;                   /* DMVF__FIG_COUNT figures */
    uint64_t entries_read, entries_in_window, unattributed;
    const dmvf__report_row **rows;            /* the rows with a figure, sorted */
    size_t nrows, starts[DMVF__BD_COUNT + 1]; /* breakdown bd's rows:
                                                 starts[bd] .. starts[bd + 1] */
} dmvf__report_table;

/* Fills t's figures and rows from r (o, title, from and to are the
 * caller's); t->rows is malloc'd (free it), pointing into r. DMVF_OK or
 * DMVF_ENOMEM (nothing set in an error). */
int dmvf__report_table_make(const dmvf__report *r, dmvf__report_table *t);

/* The report's words (report_labels.c): column heads for md and html,
 * section titles and key heads per breakdown, the counting rules that
 * every format but csv prints. */
extern const char *const dmvf__report_fig_heads[DMVF__FIG_COUNT];
extern const char *const dmvf__report_bd_titles[DMVF__BD_COUNT];
extern const char *const dmvf__report_bd_key_heads[DMVF__BD_COUNT];
extern const char *const dmvf__report_rules[];
extern const size_t dmvf__report_nrules;

/* The formats. html is -1 when out of memory (its charts), else 0. */
void dmvf__report_md(const dmvf__report_table *t);
void dmvf__report_csv(const dmvf__report_table *t);
void dmvf__report_json(const dmvf__report_table *t);
int dmvf__report_html(const dmvf__report_table *t);

#endif
