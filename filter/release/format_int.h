/*
 * format_int.h - private to filter/release/: the record codecs of the text
 * formats under the codec stream of dmvfilter/format.h (codec.c).
 *
 *   names.c       the schema's field names for text: proto and JSON names,
 *                 lookup by name, the growing wire buffer
 *   json_read.c   one JSON Lines line -> canonical DriverRecord wire bytes
 *   json_write.c  canonical wire bytes -> one JSON object
 *   csv_row.c     one CSV row -> its cells (RFC 4180), the row-end finder
 *   columns.c     column lists: parsed, computed from a plan, the column tree
 *   csv_read.c    one row's cells -> canonical wire bytes
 *   csv_write.c   canonical wire bytes -> one row
 *
 * Every decoder writes canonical wire bytes (filter.h: field-number order,
 * defaults omitted, minimal varints), so the rewriter's copy path applies.
 * Every encoder reads canonical wire bytes (a release) and refuses anything
 * else (DMVF_EMALFORMED). Record errors carry err->offset, the byte offset
 * within the record; the stream adds the line, column and stream offset.
 */
#ifndef DMVF_RELEASE_FORMAT_INT_H
#define DMVF_RELEASE_FORMAT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "dmvfilter/format.h"
#include "filter/core/arena.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/core/varint.h"
#include "filter/wire/plan.h"
#include "filter/wire/schema.h"

/* ---- names.c ---- */

/* A growing byte buffer (wire bytes, scratch). */
typedef struct dmvf__wbuf {
    uint8_t *p;
    size_t len, cap;
} dmvf__wbuf;

/* Room for `more` bytes after len: 0, or -1 (no memory). */
int dmvf__wbuf_grow(dmvf__wbuf *b, size_t more);
static inline int dmvf__wbuf_reserve(dmvf__wbuf *b, size_t more)
{
    return b->cap - b->len >= more ? 0 : dmvf__wbuf_grow(b, more);
}
void dmvf__wbuf_free(dmvf__wbuf *b);

/* The schema for text: every message node with its fields' names. */
struct dmvf__tnode;
typedef struct dmvf__tfield {
    uint8_t type, repeated;           /* sf's, at hand (the hot ones first) */
    uint16_t klen;
    uint32_t number;
    const struct dmvf__tnode *child;  /* for messages */
    const char *key;                  /* "name": as JSON output writes it */
    const dmvf_sfield *sf;
    const char *name;                 /* proto name: sf->name */
    const char *json;                 /* lowerCamelCase JSON name */
    size_t nlen, jlen;
    unsigned pos;                     /* index in the node's f[] */
    unsigned id;                      /* index among all fields, < DMVF__TFIELDS */
    uint64_t qname[2], qmask[2];      /* "name" with its quotes, when it fits 16 bytes */
    int qfits;
} dmvf__tfield;

#define DMVF__TFIELDS 256

typedef struct dmvf__tnode {
    const dmvf_snode *sn;
    size_t n;
    const dmvf__tfield *f;            /* n entries, in field-number order */
    const dmvf__tfield *by_num[DMVF_MAX_FIELD_NUMBER + 1];
} dmvf__tnode;

const dmvf__tnode *dmvf__tnode_root(void);
/* a[0..n) == b[0..n), for short names (eight bytes at a time). */
static inline int dmvf__same(const char *a, const char *b, size_t n)
{
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n--)
        if (*a++ != *b++)
            return 0;
    return 1;
}
/* The field named s[0..n) (proto name, or also the JSON name when json),
 * trying position hint first; NULL when none. */
const dmvf__tfield *dmvf__tnode_find(const dmvf__tnode *t, const char *s, size_t n, int json,
                                     unsigned hint);

/* The length of the run at p[0..n) of bytes that JSON strings carry as
 * they are, both ways: 0x20..0x7e but '"' and '\\' (eight at a time). */
static inline size_t dmvf__plain_run(const uint8_t *p, size_t n)
{
    size_t i = 0;
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    /* the lowest flagged byte of a word is a true one (borrows only run
     * upwards); the last word overlaps bytes already seen to be plain, or,
     * short, is zero-filled with the fill's flags masked off */
    for (;;) {
        uint64_t x = 0, keep = ~(uint64_t)0;
        size_t at = i;
        if (n - i >= 8) {
            memcpy(&x, p + i, 8);
        } else if (n >= 8) {
            at = n - 8;
            memcpy(&x, p + at, 8);
        } else {
            if (n == 0)
                return 0;
            memcpy(&x, p, n);
            keep = ~(uint64_t)0 >> (8 * (8 - n));
        }
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\'), d = x ^ (ones * 0x7f);
        uint64_t bad = (x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) |
                        ((d - ones) & ~d)) & high & keep;
        if (bad)
            return at + ((unsigned)__builtin_ctzll(bad) >> 3);
        if (at + 8 >= n)
            return n;
        i += 8;
    }
#else
    while (i < n && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
#endif
}

/* Fills *err (when given) with code, the formatted message and offset;
 * returns code. */
int dmvf__fail_at(dmvf_error *err, int code, uint64_t offset, const char *fmt, ...) DMVF_PRINTF(4, 5);
/* A release that is not canonical, at byte offset (the writers' refusal). */
int dmvf__not_canonical(dmvf_error *err, uint64_t offset, const char *what, uint32_t num);

/* Wire fields appended to b (room made): key | varint, key | len | bytes.
 * 0, or -1 when b cannot grow. Inline: the readers put one a value. */
static inline int dmvf__put_varint_field(dmvf__wbuf *b, uint32_t num, uint64_t v)
{
    if (dmvf__wbuf_reserve(b, 15) != 0)
        return -1;
    uint8_t *o = dmvf__put_varint(b->p + b->len, (uint64_t)num << 3);
    o = dmvf__put_varint(o, v);
    b->len = (size_t)(o - b->p);
    return 0;
}

static inline int dmvf__put_bytes_field(dmvf__wbuf *b, uint32_t num, const uint8_t *v, size_t n)
{
    if (dmvf__wbuf_reserve(b, 15 + n) != 0)
        return -1;
    uint8_t *o = dmvf__put_varint(b->p + b->len, (uint64_t)num << 3 | 2);
    o = dmvf__put_varint(o, n);
    if (n)
        memcpy(o, v, n);
    b->len = (size_t)(o - b->p) + n;
    return 0;
}

/* Where a decoder reports a key or column it dropped: the path, escaped. */
typedef void (*dmvf__unknown_fn)(void *ctx, const char *path, size_t len);

/* JSON's number grammar (RFC 8259 section 6): 1 when s[0..n) is a number,
 * with *integer set when it has neither a fraction nor an exponent. */
int dmvf__json_number(const char *s, size_t n, int *integer);
/* An integer spelled s[0..n) (no spaces): a JSON integer, or with
 * DMVF__INT_REALS also a JSON real of integral value (1.0, 1e3), with
 * DMVF__INT_ZEROS also decimal digits with leading zeros ("007", "-01").
 * 0 with *v, or -1 (not such a number, or past 64 bits). */
#define DMVF__INT_REALS 1u
#define DMVF__INT_ZEROS 2u
int dmvf__text_int(const char *s, size_t n, unsigned flags, int64_t *v);
/* Checks v against a field type's range (uint32, int32, enum: int32). */
int dmvf__int_fits(unsigned type, int64_t v);
/* An enum value named s[0..n) in fd's enum: 0 with *v, or -1. */
int dmvf__enum_by_name(const dmvf_sfield *sf, const char *s, size_t n, int32_t *v);
/* The value name of v in sf's enum, NULL when the schema names none. */
const char *dmvf__enum_name(const dmvf_sfield *sf, int32_t v);
/* Writes v in decimal to out (room for 21 bytes); returns the length. */
size_t dmvf__fmt_i64(char *out, int64_t v);

/* ---- json_read.c / json_write.c ---- */

#define DMVF__JSON_DEPTH 8            /* message levels (the schema has 3) */

typedef struct dmvf__jdec {
    dmvf__wbuf tmp;               /* scratch: reordering, unescaping */
    dmvf__unknown_fn unknown;     /* NULL: dropped keys are only counted */
    void *ctx;
    uint64_t unknown_keys;        /* dropped in the last record */
    /* where the reader is, for reports: the message fields entered and
     * their element index (-1 singular); spelled out only for a report */
    struct { const struct dmvf__tfield *tf; long idx; } at[DMVF__JSON_DEPTH];
    unsigned depth;
    uint8_t wide[DMVF__TFIELDS];  /* per message field: its last length took 2+ bytes */
} dmvf__jdec;

/* One JSON object s[0..n) (a line without its line break) -> wire bytes
 * appended to *wire. DMVF_OK; DMVF_EMALFORMED, DMVF_ETOOBIG (an array
 * past DMVF_MAX_REPEATED elements), DMVF_ENOMEM with err->offset. */
int dmvf__json_decode(dmvf__jdec *d, const uint8_t *s, size_t n, dmvf__wbuf *wire, dmvf_error *err);
void dmvf__jdec_free(dmvf__jdec *d);

/* The bytes of one field of a release at *p: its number, wire type (0 or 2; others are
 * not in a release) and value, *p stepped past it; 0 when it cannot be
 * read. */
static inline int dmvf__release_read(const uint8_t **pp, const uint8_t *end, uint32_t *num, unsigned *wt,
                             const uint8_t **val, uint32_t *vlen)
{
    const uint8_t *p = *pp;
    size_t k = dmvf__key_read(p, end, num, wt);
    if (!k)
        return 0;
    p += k;
    if (*wt == 0) {
        size_t n = dmvf__varint_len(p, end);
        if (!n)
            return 0;
        *val = p;
        *vlen = (uint32_t)n;
        *pp = p + n;
        return 1;
    }
    if (*wt != 2)
        return 0;
    size_t n = dmvf__len_read(p, end, vlen);
    if (!n || (size_t)(end - p) - n < *vlen)
        return 0;
    *val = p + n;
    *pp = p + n + *vlen;
    return 1;
}

/* The next field of a release message at *p (node tn), checked as the
 * writers need it: readable, known, with its type's wire type, in number
 * order, a singular one once (*last: the previous number; 0 first). Sets
 * *tf and the value; DMVF_OK, or DMVF_EMALFORMED (not canonical) with err's
 * offset from base. */
static inline int dmvf__release_field(const dmvf__tnode *tn, const uint8_t **p, const uint8_t *end,
                                      uint32_t *last, const struct dmvf__tfield **tf, unsigned *wt,
                                      const uint8_t **val, uint32_t *vlen, const uint8_t *base,
                                      dmvf_error *err)
{
    const uint8_t *at = *p;
    uint32_t num;
    if (!dmvf__release_read(p, end, &num, wt, val, vlen))
        return dmvf__not_canonical(err, (uint64_t)(at - base), "a field that cannot be read", 0);
    *tf = num <= DMVF_MAX_FIELD_NUMBER ? tn->by_num[num] : NULL;
    if (!*tf)
        return dmvf__not_canonical(err, (uint64_t)(at - base), "a field the schema does not know", num);
    if (*wt != dmvf__ftype_wire((*tf)->type))
        return dmvf__not_canonical(err, (uint64_t)(at - base), "the wrong wire type", num);
    if (num < *last || (num == *last && !(*tf)->repeated))
        return dmvf__not_canonical(err, (uint64_t)(at - base), "fields out of order or repeated", num);
    return DMVF_OK;
}

/* Canonical wire bytes -> one JSON object appended to out (no line break).
 * DMVF_OK; DMVF_EMALFORMED (not canonical), DMVF_ENOMEM. */
int dmvf__json_encode(const uint8_t *w, size_t n, dmvf__text *out, dmvf_error *err);

/* ---- csv_row.c ---- */

typedef struct dmvf__cell {
    size_t off, len;      /* in the row; a quoted cell: inside its quotes */
    uint8_t quoted;       /* "..." (so an empty cell is present) */
    uint8_t esc;          /* holds doubled quotes */
} dmvf__cell;

typedef struct dmvf__row {
    dmvf__cell *c;
    size_t n, cap;
    uint32_t *present;    /* the cells that are not unquoted empty ones, in order (cap entries) */
    size_t npresent;
} dmvf__row;

/* Parses the row at p[0..n), at most max cells. last: p[0..n) is the end
 * of the input. Returns 1 (a row: *used bytes with its line break),
 * 0 (incomplete: p[0..n) ends inside the row and !last; or n == 0),
 * -1 (malformed, or more than max cells: *err with err->offset in the row,
 * code DMVF_EMALFORMED, DMVF_ETOOBIG or DMVF_ENOMEM). */
int dmvf__csv_row(const uint8_t *p, size_t n, int last, size_t max, dmvf__row *row, size_t *used,
                  dmvf_error *err);
/* Cell i's value (doubled quotes undone into tmp when it has some): the
 * bytes and their length; NULL with *len 0 when tmp cannot grow. */
const uint8_t *dmvf__cell_value(const uint8_t *rowp, const dmvf__cell *c, dmvf__wbuf *tmp,
                                size_t *len);
void dmvf__row_free(dmvf__row *row);

/* The resumable row-end finder: quote state carried across pieces. */
typedef struct dmvf__rowscan {
    int quoted;
} dmvf__rowscan;
/* The offset after the first LF outside quotes in p[0..n), or 0 when none
 * (state kept for the next piece). */
size_t dmvf__rowscan_next(dmvf__rowscan *s, const uint8_t *p, size_t n);

/* ---- columns.c ---- */

#define DMVF__MAX_DEPTH 4          /* message levels a column may cross */
#define DMVF__KEEP_UNKNOWN 64      /* unknown names kept */

typedef struct dmvf__col {
    const dmvf_sfield *sf;         /* the leaf */
    const char *name;
    uint8_t depth;                 /* steps: fields from the record down to the leaf */
    uint32_t num[DMVF__MAX_DEPTH]; /* field number of each step */
    uint32_t idx[DMVF__MAX_DEPTH]; /* element index of each step (0 when singular) */
    uint32_t cell;                 /* its cell in a row of the header it was read from */
} dmvf__col;

/* The column tree: one node per message instance the columns reach. */
struct dmvf__ctnode;
typedef struct dmvf__ctfield {
    uint32_t nel;                  /* element slots: 1 for a singular field */
    int32_t *col;                  /* leaves: column per element, -1 none */
    struct dmvf__ctnode **kid;     /* messages: instance per element, NULL none */
} dmvf__ctfield;

typedef struct dmvf__ctnode {
    const dmvf__tnode *tn;
    int32_t first;                 /* the lowest column index in the subtree */
    dmvf__ctfield *f;              /* tn->n entries, by position */
    int32_t col0[DMVF_MAX_FIELD_NUMBER + 1];   /* a singular leaf's column by number, -1 none */
} dmvf__ctnode;

struct dmvf_columns {
    dmvf_arena a;
    size_t n;                      /* known columns */
    dmvf__col *col;
    size_t ncells;                 /* cells in a row: parsed headers, unknown included */
    int32_t *cell_col;             /* cell -> column, -1 unknown (parsed headers) */
    int ordered;                   /* columns in schema order (the writer streams) */
    size_t nunknown;               /* unknown columns in all */
    char *unknown[DMVF__KEEP_UNKNOWN];
    dmvf__ctnode *tree;
};

/* Columns from a parsed header row. */
int dmvf__columns_from_row(const uint8_t *rowp, const dmvf__row *row, dmvf_columns **out,
                           dmvf_error *err);
/* Every leaf plan (NULL: the whole schema) does not redact, elements per
 * repeated field by spec. */
int dmvf__columns_from_plan(const dmvf_plan *plan, const char *spec, dmvf_columns **out,
                            dmvf_error *err);
/* Checks an element spec (dmvf_columns_options.elements): DMVF_OK or
 * DMVF_EINVAL. */
int dmvf__columns_spec_check(const char *spec, dmvf_error *err);
/* The columns of in whose leaf plan releases, in schema order. */
int dmvf__columns_subset(const dmvf_columns *in, const dmvf_plan *plan, dmvf_columns **out,
                         dmvf_error *err);

/* ---- csv_read.c / csv_write.c ---- */

/* One row's cells (a row of cols' header) -> wire bytes appended to *wire.
 * DMVF_OK; DMVF_EMALFORMED with err->offset in the row; DMVF_ENOMEM. */
int dmvf__csv_decode(const dmvf_columns *cols, const uint8_t *rowp, const dmvf__row *row,
                     dmvf__wbuf *wire, dmvf__wbuf *tmp, dmvf_error *err);

typedef struct dmvf__cenc {
    dmvf__text cells;              /* cell text, end to end (columns out of order) */
    dmvf__text b64;                /* a bytes value's base64 */
    size_t *end;                   /* per column: end of its text in cells, 0 = none */
    size_t *start;
    uint8_t *mark;                 /* per column: 1 = "" (present, empty) */
    size_t ncols;
} dmvf__cenc;

/* The header row (with its LF) into out. */
void dmvf__csv_header(const dmvf_columns *cols, dmvf__text *out);
/* Canonical wire bytes -> one row (with its LF) into out. DMVF_OK;
 * DMVF_ETOOBIG (a value with no column), DMVF_EMALFORMED (not canonical),
 * DMVF_ENOMEM. */
int dmvf__csv_encode(const dmvf_columns *cols, const uint8_t *w, size_t n, dmvf__cenc *e,
                     dmvf__text *out, dmvf_error *err);
void dmvf__cenc_free(dmvf__cenc *e);

#endif
