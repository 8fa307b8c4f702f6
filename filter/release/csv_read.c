/*
 * csv_read.c - one CSV row's cells -> canonical DriverRecord wire bytes,
 * walking the header's column tree (columns.c) in field-number order:
 *
 *   node (a message instance)     for each field, in number order:
 *     leaf, element k              the cell of its column, if any:
 *                                    empty (unquoted)  absent
 *                                    "" (quoted)       present, the default
 *                                    text              the value, parsed
 *     message, element k           the child node, written as
 *                                    key | len | fields   when any cell under
 *                                    it is present, else nothing
 *
 * Present elements of a repeated field follow each other in index order
 * (an absent element leaves no gap). Values: strings as they are (UTF-8),
 * bytes base64, numbers and enums as in JSON without quotes (names, or
 * decimal numbers), bools true/false; a leading apostrophe guard
 * (dmvf__csv_unguard) is dropped first. Defaults are not written (but a
 * repeated string's empty element is), so the output is canonical.
 */
#include <string.h>
#include "filter/core/base64.h"
#include "filter/core/varint.h"
#include "filter/release/format_int.h"

typedef struct cr {
    const dmvf_columns *cols;
    const uint8_t *rowp;
    const dmvf__row *row;
    dmvf__wbuf *out, *tmp;
    dmvf_error *err;
} cr;

static int bad_cell(cr *r, const dmvf__col *c, const char *what)
{
    return dmvf__fail_at(r->err, DMVF_EMALFORMED, r->row->c[c->cell].off, "field %u (%s): %s",
                         (unsigned)c->cell + 1, c->name, what);
}

static int nomem(cr *r)
{
    return dmvf__seterr(r->err, DMVF_ENOMEM, "out of memory reading a CSV row");
}

static int put_varint_field(cr *r, uint32_t num, uint64_t v)
{
    return dmvf__put_varint_field(r->out, num, v) ? nomem(r) : DMVF_OK;
}

/* 1 when p[0..n) is all ASCII (eight bytes at a time, the last eight
 * overlapping). */
static int all_ascii(const uint8_t *p, size_t n)
{
    uint64_t x = 0, acc = 0;
    if (n < 8) {
        memcpy(&x, p, n);
        return !(x & 0x8080808080808080ull);
    }
    for (size_t i = 0; i + 8 <= n; i += 8) {
        memcpy(&x, p + i, 8);
        acc |= x;
    }
    memcpy(&x, p + n - 8, 8);
    return !((acc | x) & 0x8080808080808080ull);
}

/* The value of column c's cell (present) as its field's wire bytes. */
static int put_cell(cr *r, const dmvf__col *c)
{
    const dmvf__cell *cell = &r->row->c[c->cell];
    const dmvf_sfield *sf = c->sf;
    size_t n;
    const uint8_t *v = dmvf__cell_value(r->rowp, cell, r->tmp, &n);
    if (!v)
        return nomem(r);
    size_t g = dmvf__csv_unguard((const char *)v, n);
    v += g;
    n -= g;
    int keep = sf->repeated;
    if (n == 0 && !keep)
        return DMVF_OK; /* the default */
    switch (sf->type) {
    case DMVF_T_STRING:
        for (size_t i = all_ascii(v, n) ? n : 0; i < n;) {
            if (v[i] < 0x80) {
                i++;
                continue;
            }
            size_t k = dmvf__utf8_seq(v + i, n - i);
            if (!k)
                return bad_cell(r, c, "not UTF-8");
            i += k;
        }
        return dmvf__put_bytes_field(r->out, sf->number, v, n) ? nomem(r) : DMVF_OK;
    case DMVF_T_BYTES: {
        size_t max = dmvf__base64_max(n), m, badat, pre = dmvf__varint_size(max);
        if (dmvf__wbuf_reserve(r->out, 5 + pre + max) != 0)
            return nomem(r);
        size_t key_at = r->out->len;
        uint8_t *o = dmvf__put_varint(r->out->p + key_at, (uint64_t)sf->number << 3 | 2);
        uint8_t *val = o + pre;
        if (dmvf__base64_decode(val, (const char *)v, n, &m, &badat) != 0)
            return bad_cell(r, c, "not base64");
        if (m == 0 && !keep)
            return DMVF_OK;
        size_t lsz = dmvf__varint_size(m);
        if (lsz != pre)
            memmove(o + lsz, val, m);
        dmvf__put_varint(o, m);
        r->out->len = (size_t)(o - r->out->p) + lsz + m;
        return DMVF_OK;
    }
    case DMVF_T_BOOL:
        if (n == 4 && memcmp(v, "true", 4) == 0)
            return put_varint_field(r, sf->number, 1);
        if (n == 5 && memcmp(v, "false", 5) == 0)
            return keep ? put_varint_field(r, sf->number, 0) : DMVF_OK;
        return bad_cell(r, c, "not true or false");
    case DMVF_T_ENUM: {
        int32_t e;
        int64_t num;
        if (dmvf__enum_by_name(sf, (const char *)v, n, &e) != 0) {
            if (dmvf__text_int((const char *)v, n, DMVF__INT_ZEROS, &num) != 0)
                return bad_cell(r, c, "a name its enum does not have");
            if (!dmvf__int_fits(DMVF_T_ENUM, num))
                return bad_cell(r, c, "an enum number out of its range");
            e = (int32_t)num;
        }
        return e || keep ? put_varint_field(r, sf->number, (uint64_t)(int64_t)e) : DMVF_OK;
    }
    case DMVF_T_UINT32:
    case DMVF_T_INT32: {
        int64_t num = 0;
        size_t i = 0;
        while (i < n && i < 10 && v[i] >= '0' && v[i] <= '9')
            num = num * 10 + (v[i++] - '0');   /* the usual case: plain digits */
        if (i < n && dmvf__text_int((const char *)v, n, DMVF__INT_REALS | DMVF__INT_ZEROS, &num) != 0)
            return bad_cell(r, c, sf->type == DMVF_T_UINT32 ? "not an unsigned 32-bit integer"
                                                            : "not a 32-bit integer");
        if (!dmvf__int_fits(sf->type, num))
            return bad_cell(r, c, sf->type == DMVF_T_UINT32 ? "out of the range of an unsigned 32-bit integer"
                                                            : "out of the range of a 32-bit integer");
        return num || keep ? put_varint_field(r, sf->number, (uint64_t)num) : DMVF_OK;
    }
    default:
        return bad_cell(r, c, "not a scalar field");
    }
}

/* The fields of node cn, in number order; *present is set when a cell
 * under it is. */
static int put_node(cr *r, const dmvf__ctnode *cn, int *present)
{
    const dmvf__tnode *tn = cn->tn;
    for (size_t pos = 0; pos < tn->n; pos++) {
        const dmvf__ctfield *cf = &cn->f[pos];
        const dmvf_sfield *sf = tn->f[pos].sf;
        for (uint32_t k = 0; k < cf->nel; k++) {
            if (sf->type != DMVF_T_MESSAGE) {
                int32_t ci = cf->col[k];
                if (ci < 0)
                    continue;
                const dmvf__col *c = &r->cols->col[ci];
                const dmvf__cell *cell = &r->row->c[c->cell];
                if (cell->len == 0 && !cell->quoted)
                    continue;
                *present = 1;
                int rc = put_cell(r, c);
                if (rc)
                    return rc;
                continue;
            }
            const dmvf__ctnode *kid = cf->kid[k];
            if (!kid)
                continue;
            /* key | len (one byte reserved) | body */
            if (dmvf__wbuf_reserve(r->out, 6) != 0)
                return nomem(r);
            size_t key_at = r->out->len;
            uint8_t *o = dmvf__put_varint(r->out->p + key_at, (uint64_t)sf->number << 3 | 2);
            size_t len_at = (size_t)(o - r->out->p), body = len_at + 1;
            r->out->len = body;
            int sub = 0;
            int rc = put_node(r, kid, &sub);
            if (rc)
                return rc;
            if (!sub) {
                r->out->len = key_at;  /* nothing under it: absent */
                continue;
            }
            *present = 1;
            size_t m = r->out->len - body, lsz = dmvf__varint_size(m);
            if (lsz > 1) {
                if (dmvf__wbuf_reserve(r->out, lsz - 1) != 0)
                    return nomem(r);
                memmove(r->out->p + body + lsz - 1, r->out->p + body, m);
                r->out->len += lsz - 1;
            }
            dmvf__put_varint(r->out->p + len_at, m);
        }
    }
    return DMVF_OK;
}

/* For a header in schema order: the present cells, in order, each under
 * the sub-messages its path opens (left open while the next cell shares
 * them, closed with their length fixed once it does not). */
static int put_ordered(cr *r)
{
    struct { uint32_t num, idx; size_t len_at, body; } open[DMVF__MAX_DEPTH];
    unsigned depth = 0;
    const dmvf_columns *cols = r->cols;
    for (size_t k = 0; k <= r->row->npresent; k++) {
        const dmvf__col *c = NULL;
        unsigned keep = 0;
        if (k < r->row->npresent) {
            int32_t ci = cols->cell_col[r->row->present[k]];
            if (ci < 0)
                continue;            /* an unknown column */
            c = &cols->col[ci];
            while (keep < depth && keep + 1u < c->depth && open[keep].num == c->num[keep] &&
                   open[keep].idx == c->idx[keep])
                keep++;
        }
        while (depth > keep) {       /* close what c is not under */
            depth--;
            size_t m = r->out->len - open[depth].body, lsz = dmvf__varint_size(m);
            if (lsz > 1) {
                if (dmvf__wbuf_reserve(r->out, lsz - 1) != 0)
                    return nomem(r);
                memmove(r->out->p + open[depth].body + lsz - 1, r->out->p + open[depth].body, m);
                r->out->len += lsz - 1;
            }
            dmvf__put_varint(r->out->p + open[depth].len_at, m);
        }
        if (!c)
            break;
        for (; depth + 1u < c->depth; depth++) {  /* open what c is under */
            if (dmvf__wbuf_reserve(r->out, 6) != 0)
                return nomem(r);
            uint8_t *o = dmvf__put_varint(r->out->p + r->out->len, (uint64_t)c->num[depth] << 3 | 2);
            open[depth].num = c->num[depth];
            open[depth].idx = c->idx[depth];
            open[depth].len_at = (size_t)(o - r->out->p);
            open[depth].body = r->out->len = open[depth].len_at + 1;
        }
        int rc = put_cell(r, c);
        if (rc)
            return rc;
    }
    return DMVF_OK;
}

int dmvf__csv_decode(const dmvf_columns *cols, const uint8_t *rowp, const dmvf__row *row,
                     dmvf__wbuf *wire, dmvf__wbuf *tmp, dmvf_error *err)
{
    if (cols->ncells == 0 && row->n == 1 && row->c[0].len == 0 && !row->c[0].quoted)
        return DMVF_OK;          /* no column: an empty line, an empty record */
    if (row->n != cols->ncells)
        return dmvf__fail_at(err, DMVF_EMALFORMED, row->n ? row->c[row->n - 1].off : 0,
                             "a row of %zu fields where the header has %zu", row->n, cols->ncells);
    cr r = {cols, rowp, row, wire, tmp, err};
    if (cols->ordered && cols->cell_col)
        return put_ordered(&r);
    int present = 0;
    return put_node(&r, cols->tree, &present);
}
