/*
 * csv_row.c - one CSV row (RFC 4180) into its cells, and the row-end
 * finder that cuts rows out of a stream.
 *
 *   row     := cell ( ',' cell )* eol           (the last row: eol or the end)
 *   cell    := plain | '"' ( byte but '"' | '""' )* '"'
 *   plain   := ( byte but ',' '"' CR LF )*
 *   eol     := LF | CR LF
 *
 * Strict: a quote inside a plain cell, anything but ',' or a line end after
 * a closing quote, a CR not followed by LF outside quotes, and the input
 * ending inside quotes are malformed. Quoted cells may hold CR and LF. A
 * cell is kept as its span in the row (inside the quotes for a quoted one)
 * with two flags: quoted (so "" is a present empty value) and doubled
 * quotes inside (undone on demand, dmvf__cell_value).
 */
#include <stdlib.h>
#include <string.h>
#include "filter/release/format_int.h"

/* A row's error: *err, and -1 */
#define bad(err, at, code, ...) (dmvf__fail_at((err), (code), (at), __VA_ARGS__), -1)

/* 1 for the bytes that end a plain cell */
static const uint8_t stop[256] = {[','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1};

/* The length of the plain cell text at p[0..n): up to the first stop byte,
 * or n. Empty cells are the most common, so the first byte is looked up
 * alone; longer text goes eight bytes at a time (the lowest flagged byte
 * of a word is a true one: borrows only run upwards). */
static inline size_t plain_len(const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n == 0 || stop[p[0]])
        return 0;
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    for (i = 1; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        uint64_t xc = x ^ (ones * ','), xq = x ^ (ones * '"'), xr = x ^ (ones * '\r'), xn = x ^ (ones * '\n');
        uint64_t hit = (((xc - ones) & ~xc) | ((xq - ones) & ~xq) | ((xr - ones) & ~xr) | ((xn - ones) & ~xn)) &
                       high;
        if (hit)
            return i + ((unsigned)__builtin_ctzll(hit) >> 3);
    }
#endif
    while (i < n && !stop[p[i]])
        i++;
    return i;
}

static int add_cell(dmvf__row *row, size_t max, size_t at, dmvf_error *err)
{
    if (row->n == max)
        return bad(err, at, max >= DMVF_MAX_COLUMNS ? DMVF_ETOOBIG : DMVF_EMALFORMED,
                   "a row of more than %zu fields", max);
    if (row->n == row->cap) {
        size_t cap = row->cap ? row->cap * 2 : 64;
        dmvf__cell *c = realloc(row->c, cap * sizeof *c);
        if (c)
            row->c = c;
        uint32_t *pr = realloc(row->present, cap * sizeof *pr);
        if (pr)
            row->present = pr;
        if (!c || !pr)
            return bad(err, at, DMVF_ENOMEM, "out of memory reading a CSV row");
        row->cap = cap;
    }
    row->n++;
    return 0;
}

/* The cell just read is present (not an unquoted empty cell). */
static inline void add_present(dmvf__row *row)
{
    row->present[row->npresent++] = (uint32_t)(row->n - 1);
}

/* The line end at p[i] (CR or LF): 1 with *used, 0 when the input stops
 * between CR and LF, -1 for a CR alone. */
static int eol(const uint8_t *p, size_t n, size_t i, int last, size_t *used, dmvf_error *err)
{
    if (p[i] == '\n') {
        *used = i + 1;
        return 1;
    }
    if (i + 1 == n && !last)
        return 0;
    if (i + 1 < n && p[i + 1] == '\n') {
        *used = i + 2;
        return 1;
    }
    return bad(err, i, DMVF_EMALFORMED, "a CR without LF outside quotes");
}

int dmvf__csv_row(const uint8_t *p, size_t n, int last, size_t max, dmvf__row *row, size_t *used,
                  dmvf_error *err)
{
    size_t i = 0;
    row->n = row->npresent = 0;
    if (n == 0)
        return 0;
    for (;;) {
        if (add_cell(row, max, i, err) != 0)
            return -1;
        dmvf__cell *c = &row->c[row->n - 1];
        if (i < n && p[i] == '"') {
            size_t open = i++;
            c->quoted = 1;
            c->esc = 0;
            c->off = i;
            for (;;) {
                const uint8_t *q = i < n ? memchr(p + i, '"', n - i) : NULL;
                if (!q) {
                    if (!last)
                        return 0;
                    return bad(err, open, DMVF_EMALFORMED, "the input ends inside a quoted field");
                }
                i = (size_t)(q - p);
                if (i + 1 < n && p[i + 1] == '"') {
                    c->esc = 1;
                    i += 2;
                    continue;
                }
                if (i + 1 == n && !last)
                    return 0; /* a doubled quote may follow */
                break;
            }
            c->len = i - c->off;
            i++;
            add_present(row);
            if (i == n) {
                if (!last)
                    return 0;
                *used = n;
                return 1;
            }
            if (p[i] == ',') {
                i++;
                continue;
            }
            if (p[i] == '\n' || p[i] == '\r') {
                int r = eol(p, n, i, last, used, err);
                return r;
            }
            return bad(err, i, DMVF_EMALFORMED, "text after a closing quote");
        }
        c->quoted = 0;
        c->esc = 0;
        c->off = i;
        i += plain_len(p + i, n - i);
        c->len = i - c->off;
        if (c->len)
            add_present(row);
        if (i == n) {
            if (!last)
                return 0;
            *used = n;
            return 1;
        }
        switch (p[i]) {
        case ',':
            i++;
            /* a run of empty cells (most of a wide row) in one tight loop,
             * while they fit the cells already allocated and max */
            while (i < n && p[i] == ',' && row->n < row->cap && row->n < max) {
                c = &row->c[row->n++];
                c->off = i++;
                c->len = 0;
                c->quoted = c->esc = 0;
            }
            continue;
        case '"':
            return bad(err, i, DMVF_EMALFORMED, "a quote inside an unquoted field");
        default:
            return eol(p, n, i, last, used, err);
        }
    }
}

const uint8_t *dmvf__cell_value(const uint8_t *rowp, const dmvf__cell *c, dmvf__wbuf *tmp, size_t *len)
{
    const uint8_t *v = rowp + c->off;
    if (!c->esc) {
        *len = c->len;
        return v;
    }
    tmp->len = 0;
    if (dmvf__wbuf_reserve(tmp, c->len) != 0) {
        *len = 0;
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < c->len; i++) {
        tmp->p[o++] = v[i];
        if (v[i] == '"')
            i++; /* the second of a doubled quote */
    }
    *len = o;
    return tmp->p;
}

void dmvf__row_free(dmvf__row *row)
{
    free(row->c);
    free(row->present);
    memset(row, 0, sizeof *row);
}

/* The offset of the first a or b in p[0..n), or n (eight bytes at a time). */
static size_t find2(const uint8_t *p, size_t n, uint8_t a, uint8_t b)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    size_t i = 0;
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        uint64_t xa = x ^ (ones * a), xb = x ^ (ones * b);
        uint64_t hit = (((xa - ones) & ~xa) | ((xb - ones) & ~xb)) & high;
        if (hit)
            return i + ((unsigned)__builtin_ctzll(hit) >> 3);
    }
#endif
    while (i < n && p[i] != a && p[i] != b)
        i++;
    return i;
}

size_t dmvf__rowscan_next(dmvf__rowscan *s, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s->quoted) {
            const uint8_t *q = memchr(p + i, '"', n - i);
            if (!q)
                return 0;
            i = (size_t)(q - p) + 1;
            s->quoted = 0;
            continue;
        }
        i += find2(p + i, n - i, '"', '\n');
        if (i == n)
            return 0;
        if (p[i] == '\n')
            return i + 1;
        s->quoted = 1;
        i++;
    }
    return 0;
}
