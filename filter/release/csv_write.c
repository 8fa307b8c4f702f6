/*
 * csv_write.c - canonical DriverRecord wire bytes -> one CSV row of a
 * fixed column list, and the header row.
 *
 * The record is walked on the wire with the column tree (columns.c): the
 * k-th element of a repeated field goes to its k-th column group. Each
 * value's text is put aside for its column; then the row is written in
 * column order:
 *
 *   a value               its text: strings as they are, bytes base64,
 *                         numbers decimal, enums by name (or number),
 *                         bools true; strings and bytes through the
 *                         formula guard and RFC 4180 quoting
 *                         (dmvf__text_csv)
 *   a repeated string's   ""  (present, empty)
 *   empty element
 *   a present sub-message ""  in the first column under it, when nothing
 *   with nothing in it        under it has a value: the reader then finds
 *                             it present, as it was
 *   nothing               an empty cell
 *
 * A value whose column is not in the list (an element past the column
 * groups, a field the list lacks) is DMVF_ETOOBIG: never cut. An empty
 * sub-message with no column under it at all holds nothing and is left
 * out. The input must be canonical (as for JSON: json_write.c).
 */
#include <stdlib.h>
#include <string.h>
#include "filter/core/base64.h"
#include "filter/core/varint.h"
#include "filter/release/format_int.h"

enum { CELL_NONE = 0, CELL_TEXT, CELL_EMPTY };

typedef struct cw {
    const dmvf_columns *cols;
    dmvf__cenc *e;
    dmvf__text *out;
    size_t next;                 /* direct: the first column not written yet */
    int direct;                  /* columns in schema order: cells go straight out */
    const uint8_t *base;
    dmvf_error *err;
} cw;

static int no_column(cw *w, const uint8_t *at, const dmvf_sfield *sf, uint32_t k)
{
    if (sf->repeated)
        dmvf__seterr(w->err, DMVF_ETOOBIG,
                     "element %u of '%s' has no column: the record has more elements than the column "
                     "groups the CSV output has for it", (unsigned)k, sf->path);
    else
        dmvf__seterr(w->err, DMVF_ETOOBIG, "'%s' has a value but no column in the CSV output", sf->path);
    if (w->err)
        w->err->offset = (uint64_t)(at - w->base);
    return DMVF_ETOOBIG;
}

/* Direct: the separators (and so the empty cells) before column ci, the
 * one written next; ci = n: the rest of the row. Every column but the
 * first is preceded by a ','. */
static inline void advance(cw *w, size_t ci)
{
    size_t from = w->next, commas;
    if (ci == w->cols->n)
        commas = from < ci ? ci - from - (from == 0) : 0;
    else
        commas = ci - from + (from > 0);
    if (commas) {
        char *o = dmvf__text_room(w->out, commas);
        if (o) {
            for (size_t i = 0; i < commas; i++)
                o[i] = ',';      /* a few, mostly: no call */
            w->out->len += commas;
        }
    }
    w->next = ci + 1;
}

/* Column ci's text s[0..n): strings and bytes (quote) through the guard
 * and RFC 4180 quoting; n 0 is a present, empty value (""). */
static inline void set_text(cw *w, int32_t ci, const void *s, size_t n, int quote)
{
    dmvf__cenc *e = w->e;
    if (w->direct) {
        advance(w, (size_t)ci);
        if (!n) {
            dmvf__text_put(w->out, "\"\"", 2);
        } else if (quote && !dmvf__csv_plain(s, n)) {
            dmvf__text_csv(w->out, s, n);
        } else {
            char *o = dmvf__text_room(w->out, n);   /* as it is: most cells */
            if (o) {
                memcpy(o, s, n);
                w->out->len += n;
            }
        }
        return;
    }
    e->start[ci] = e->cells.len;
    dmvf__text_put(&e->cells, s, n);
    e->end[ci] = e->cells.len;
    e->mark[ci] = n ? CELL_TEXT : CELL_EMPTY;
}

static void set_cell_b64(cw *w, int32_t ci, const uint8_t *v, size_t n)
{
    dmvf__text *t = &w->e->b64;
    t->len = 0;
    char *o = dmvf__text_room(t, dmvf__base64_len(n) + 1);
    if (!o) {
        w->out->failed = 1;
        return;
    }
    t->len = (size_t)(dmvf__base64_encode(o, v, n) - o);
    set_text(w, ci, t->p, t->len, 1);
}

static void set_cell_number(cw *w, int32_t ci, const dmvf_sfield *sf, uint64_t v)
{
    char tmp[32];
    size_t n;
    switch (sf->type) {
    case DMVF_T_BOOL:
        set_text(w, ci, v ? "true" : "false", v ? 4 : 5, 0);
        return;
    case DMVF_T_UINT32:
        n = dmvf__fmt_i64(tmp, (int64_t)(uint32_t)v);
        break;
    case DMVF_T_ENUM: {
        const char *name = dmvf__enum_name(sf, (int32_t)v);
        if (name) {
            set_text(w, ci, name, strlen(name), 0);
            return;
        }
        n = dmvf__fmt_i64(tmp, (int32_t)v);
        break;
    }
    default:
        n = dmvf__fmt_i64(tmp, (int32_t)v);
        break;
    }
    set_text(w, ci, tmp, n, 0);
}

/* The fields of message bytes p[0..end) into the cells of node cn (NULL: a
 * message with no column under it); *any is set when a cell got something. */
static int walk(cw *w, const dmvf__tnode *tn, const dmvf__ctnode *cn, const uint8_t *p, const uint8_t *end,
                int *any)
{
    uint32_t last = 0, k = 0;
    while (p < end) {
        uint32_t vlen = 0;
        unsigned wt = 0;
        const uint8_t *val = NULL, *at = p;
        const dmvf__tfield *tf = NULL;
        int rc = dmvf__release_field(tn, &p, end, &last, &tf, &wt, &val, &vlen, w->base, w->err);
        if (rc)
            return rc;
        const dmvf_sfield *sf = tf->sf;
        const uint32_t num = tf->number;
        k = num == last ? k + 1 : 0;
        last = num;
        const dmvf__ctfield *cf = cn ? &cn->f[tf->pos] : NULL;
        if (sf->type == DMVF_T_MESSAGE) {
            const dmvf__ctnode *kid = cf && k < cf->nel ? cf->kid[k] : NULL;
            if (!kid) {
                /* no column under it: fine while it holds no value */
                int sub = 0;
                rc = walk(w, tf->child, NULL, val, val + vlen, &sub);
                if (rc == DMVF_ETOOBIG)
                    return no_column(w, at, sf, k);
                if (rc)
                    return rc;
                continue;
            }
            int sub = 0;
            rc = walk(w, tf->child, kid, val, val + vlen, &sub);
            if (rc)
                return rc;
            if (!sub)
                set_text(w, kid->first, "", 0, 0);  /* present, empty */
            *any = 1;
            continue;
        }
        uint64_t v = 0;
        if (wt == 0) {
            v = dmvf__ftype_canon(sf->type, dmvf__varint_value(val, vlen));
            if (!v && !sf->repeated)
                continue;                /* a default: nothing */
        } else if (vlen == 0 && !sf->repeated) {
            continue;
        }
        int32_t ci = !cn ? -1 : !tf->repeated ? cn->col0[num] : k < cf->nel ? cf->col[k] : -1;
        if (ci < 0)
            return no_column(w, at, sf, k);
        if (sf->type == DMVF_T_STRING)
            set_text(w, ci, val, vlen, 1);
        else if (sf->type == DMVF_T_BYTES)
            set_cell_b64(w, ci, val, vlen);
        else
            set_cell_number(w, ci, sf, v);
        *any = 1;
    }
    return DMVF_OK;
}

static int cenc_size(dmvf__cenc *e, size_t n)
{
    if (e->ncols >= n && e->end)
        return 0;
    size_t *start = realloc(e->start, (n ? n : 1) * sizeof *start);
    if (start)
        e->start = start;
    size_t *end = realloc(e->end, (n ? n : 1) * sizeof *end);
    if (end)
        e->end = end;
    uint8_t *mark = realloc(e->mark, n ? n : 1);
    if (mark)
        e->mark = mark;
    if (!start || !end || !mark)
        return -1;
    e->ncols = n;
    return 0;
}

int dmvf__csv_encode(const dmvf_columns *cols, const uint8_t *wire, size_t n, dmvf__cenc *e,
                     dmvf__text *out, dmvf_error *err)
{
    cw w = {cols, e, out, 0, cols->ordered, wire, err};
    if (!w.direct) {
        if (cenc_size(e, cols->n) != 0)
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing a CSV row");
        memset(e->mark, CELL_NONE, cols->n);
        e->cells.len = 0;
        e->cells.failed = 0;
    }
    size_t was = out->len;
    int any = 0;
    /* room for the row at once (values of at most 64 bytes of text each:
     * numbers, names, plain cells; longer or quoted ones make their own) */
    if (w.direct && !dmvf__text_room(out, cols->n + 2 * n + 64))
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing a CSV row");
    int rc = walk(&w, dmvf__tnode_root(), cols->tree, wire, wire + n, &any);
    if (rc) {
        out->len = was;
        return rc;
    }
    if (e->cells.failed)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing a CSV row");
    if (w.direct) {
        advance(&w, cols->n);
    } else {
        for (size_t i = 0; i < cols->n; i++) {
            if (i)
                dmvf__text_put(out, ",", 1);
            if (e->mark[i] == CELL_EMPTY) {
                dmvf__text_put(out, "\"\"", 2);
            } else if (e->mark[i] == CELL_TEXT) {
                const char *s = e->cells.p + e->start[i];
                size_t len = e->end[i] - e->start[i];
                unsigned t = cols->col[i].sf->type;
                if (t == DMVF_T_STRING || t == DMVF_T_BYTES)
                    dmvf__text_csv(out, s, len);
                else
                    dmvf__text_put(out, s, len);  /* numbers, names, true: nothing to quote or guard */
            }
        }
    }
    dmvf__text_put(out, "\n", 1);
    if (out->failed)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing a CSV row");
    return DMVF_OK;
}

void dmvf__csv_header(const dmvf_columns *cols, dmvf__text *out)
{
    for (size_t i = 0; i < cols->n; i++) {
        if (i)
            dmvf__text_put(out, ",", 1);
        dmvf__text_csv(out, cols->col[i].name, strlen(cols->col[i].name));
    }
    dmvf__text_put(out, "\n", 1);
}

void dmvf__cenc_free(dmvf__cenc *e)
{
    dmvf__text_free(&e->cells);
    dmvf__text_free(&e->b64);
    free(e->start);
    free(e->end);
    free(e->mark);
    memset(e, 0, sizeof *e);
}
