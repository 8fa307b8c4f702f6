/*
 * json_read.c - one JSON Lines line -> canonical DriverRecord wire bytes.
 *
 * A recursive-descent reader of RFC 8259 driven by the schema (names.c),
 * writing wire bytes as it reads (no tree of values in between):
 *
 *   line    := ws object ws
 *   object  := '{' ws [ member ( ws ',' ws member )* ] ws '}'
 *   member  := string ws ':' ws value
 *   value   := object | array | string | number | true | false | null
 *   string  := '"' ( UTF-8 character but '"' '\' and C0 | escape )* '"'
 *   escape  := '\' ( '"' '\' '/' b f n r t | u XXXX )   surrogates paired
 *   ws      := ( SP | HT | CR | LF )*
 *
 * A known key's value becomes its field's wire bytes at once, in the order
 * the keys come:
 *
 *   string, bytes   key | len | bytes          (bytes: base64 decoded)
 *   number, enum    key | varint               (int32, enum: sign-extended)
 *   bool            key | 1
 *   object          key | len | fields ...     (len reserved as one byte,
 *                                               widened after the body)
 *   array           one field per element, in order
 *
 * Defaults (0, false, "", empty bytes, []) and null write nothing; {} writes
 * an empty sub-message (present). When an object's keys came out of
 * field-number order, its fields' bytes are put in order once it closes
 * (moved once through scratch), so the output is canonical (filter.h) and
 * the rewriter copies it in runs. Keys the schema does not know are
 * reported (dmvf__jdec.unknown), their values checked as JSON and skipped.
 * The schema bounds the depth of known values; unknown values may nest at
 * most SKIP_DEPTH levels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/core/base64.h"
#include "filter/core/hex.h"
#include "filter/core/varint.h"
#include "filter/release/format_int.h"

#define SKIP_DEPTH 64

typedef struct jr {
    dmvf__jdec *d;
    const uint8_t *s, *p, *end;
    dmvf__wbuf *out;
    dmvf_error *err;
} jr;

#define fail(r, at, code, ...) dmvf__fail_at((r)->err, (code), (uint64_t)((at) - (r)->s), __VA_ARGS__)

static int nomem(jr *r)
{
    return fail(r, r->p, DMVF_ENOMEM, "out of memory reading a JSON record");
}

static inline void skip_ws(jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
        r->p++;
}

static inline int peek(const jr *r)
{
    return r->p < r->end ? *r->p : -1;
}

static int hex4(const uint8_t *p, unsigned *v)
{
    uint64_t x;
    if (dmvf__hex_u64((const char *)p, 4, 0, &x) != 0)
        return -1;
    *v = (unsigned)x;
    return 0;
}

/* A string at r->p ('"'): checks it and steps past it; *raw, *len are its
 * bytes between the quotes, *esc whether it holds escapes. */
static int scan_string(jr *r, const uint8_t **raw, size_t *len, int *esc)
{
    const uint8_t *p = r->p + 1, *end = r->end;
    *esc = 0;
    for (;;) {
        p += dmvf__plain_run(p, (size_t)(end - p));
        if (p >= end)
            return fail(r, r->p, DMVF_EMALFORMED, "a string without its closing quote");
        unsigned c = *p;
        if (c == '"')
            break;
        if (c == 0x7f) {
            p++;                 /* DEL needs no escape in JSON */
            continue;
        }
        if (c < 0x20)
            return fail(r, p, DMVF_EMALFORMED, "a control character in a string (it must be escaped)");
        if (c >= 0x80) {
            size_t k = dmvf__utf8_seq(p, (size_t)(end - p));
            if (!k)
                return fail(r, p, DMVF_EMALFORMED, "a string that is not UTF-8");
            p += k;
            continue;
        }
        /* a backslash */
        *esc = 1;
        if (end - p < 2)
            return fail(r, p, DMVF_EMALFORMED, "a string without its closing quote");
        c = p[1];
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
            p += 2;
            continue;
        }
        unsigned u = 0, lo = 0xdc00; /* scan_string checked both escapes */
        if (c != 'u' || end - p < 6 || hex4(p + 2, &u) != 0)
            return fail(r, p, DMVF_EMALFORMED, "a bad escape in a string");
        if (u >= 0xdc00 && u <= 0xdfff)
            return fail(r, p, DMVF_EMALFORMED, "a \\u escape of a lone surrogate (not UTF-8)");
        if (u >= 0xd800 && u <= 0xdbff) {
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) != 0 || lo < 0xdc00 ||
                lo > 0xdfff)
                return fail(r, p, DMVF_EMALFORMED, "a \\u escape of a lone surrogate (not UTF-8)");
            p += 12;
        } else {
            p += 6;
        }
    }
    *raw = r->p + 1;
    *len = (size_t)(p - *raw);
    r->p = p + 1;
    return DMVF_OK;
}

/* Undoes the escapes of a string scan_string accepted: src[0..n) -> dst
 * (never longer); returns the length. */
static size_t unescape(const uint8_t *src, size_t n, uint8_t *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (src[i] != '\\') {
            dst[o++] = src[i++];
            continue;
        }
        unsigned c = src[i + 1];
        if (c != 'u') {
            dst[o++] = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r'
                     : c == 't' ? '\t' : (uint8_t)c;
            i += 2;
            continue;
        }
        unsigned u = 0, lo = 0xdc00; /* scan_string checked both escapes */
        hex4(src + i + 2, &u);
        i += 6;
        if (u >= 0xd800 && u <= 0xdbff) {
            hex4(src + i + 2, &lo);
            i += 6;
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (u < 0x80) {
            dst[o++] = (uint8_t)u;
        } else if (u < 0x800) {
            dst[o++] = (uint8_t)(0xc0 | u >> 6);
            dst[o++] = (uint8_t)(0x80 | (u & 0x3f));
        } else if (u < 0x10000) {
            dst[o++] = (uint8_t)(0xe0 | u >> 12);
            dst[o++] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
            dst[o++] = (uint8_t)(0x80 | (u & 0x3f));
        } else {
            dst[o++] = (uint8_t)(0xf0 | u >> 18);
            dst[o++] = (uint8_t)(0x80 | ((u >> 12) & 0x3f));
            dst[o++] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
            dst[o++] = (uint8_t)(0x80 | (u & 0x3f));
        }
    }
    return o;
}

/* A string's text: its raw bytes, or, with escapes, undone into scratch. */
static int string_text(jr *r, const uint8_t *raw, size_t n, int esc, const uint8_t **t, size_t *tn)
{
    if (!esc) {
        *t = raw;
        *tn = n;
        return DMVF_OK;
    }
    r->d->tmp.len = 0;
    if (dmvf__wbuf_reserve(&r->d->tmp, n ? n : 1) != 0)
        return nomem(r);
    *tn = unescape(raw, n, r->d->tmp.p);
    *t = r->d->tmp.p;
    return DMVF_OK;
}

/* A number at r->p: its text (checked by the caller's conversion). */
static void scan_number(jr *r, const uint8_t **t, size_t *n)
{
    const uint8_t *p = r->p;
    while (p < r->end && ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.' || *p == 'e' ||
                          *p == 'E'))
        p++;
    *t = r->p;
    *n = (size_t)(p - r->p);
    r->p = p;
}

static inline int literal(jr *r, const char *word, size_t n)
{
    if ((size_t)(r->end - r->p) < n || r->p[0] != (uint8_t)word[0])
        return 0;
    for (size_t i = 1; i < n; i++)
        if (r->p[i] != (uint8_t)word[i])
            return 0;
    r->p += n;
    return 1;
}

/* The ':' after a key, white space around it. */
static inline int colon(jr *r)
{
    skip_ws(r);
    if (peek(r) != ':')
        return fail(r, r->p, DMVF_EMALFORMED, "expected ':' after a key");
    r->p++;
    skip_ws(r);
    return DMVF_OK;
}

/* After a member or an element: 1 at ',' (another follows), 0 at close
 * (stepped over), -1 for anything else. */
static inline int next_item(jr *r, int close)
{
    skip_ws(r);
    int c = peek(r);
    if (c == ',') {
        r->p++;
        skip_ws(r);
        return 1;
    }
    if (c == close) {
        r->p++;
        return 0;
    }
    return -1;
}

/* Checks and steps over any JSON value (an unknown key's). */
static int skip_value(jr *r, int depth)
{
    const uint8_t *raw, *at = r->p;
    size_t n;
    int esc, c = peek(r), rc;
    if (depth > SKIP_DEPTH)
        return fail(r, at, DMVF_EMALFORMED, "JSON nested deeper than %d levels", SKIP_DEPTH);
    if (c == '"')
        return scan_string(r, &raw, &n, &esc);
    if (c == '{' || c == '[') {
        int close = c == '{' ? '}' : ']';
        r->p++;
        skip_ws(r);
        if (peek(r) == close) {
            r->p++;
            return DMVF_OK;
        }
        for (;;) {
            if (c == '{') {
                if (peek(r) != '"')
                    return fail(r, r->p, DMVF_EMALFORMED, "expected a key (a string)");
                if ((rc = scan_string(r, &raw, &n, &esc)) != DMVF_OK || (rc = colon(r)) != DMVF_OK)
                    return rc;
            }
            if ((rc = skip_value(r, depth + 1)) != DMVF_OK)
                return rc;
            int k = next_item(r, close);
            if (k > 0)
                continue;
            if (k == 0)
                return DMVF_OK;
            return fail(r, r->p, DMVF_EMALFORMED, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const uint8_t *t;
        int integer;
        scan_number(r, &t, &n);
        if (!dmvf__json_number((const char *)t, n, &integer))
            return fail(r, at, DMVF_EMALFORMED, "a bad number");
        return DMVF_OK;
    }
    if (literal(r, "true", 4) || literal(r, "false", 5) || literal(r, "null", 4))
        return DMVF_OK;
    return fail(r, at, DMVF_EMALFORMED, c < 0 ? "a value is missing" : "not a JSON value");
}

/* ---- writing fields ---- */

static int put_key(jr *r, uint32_t num, unsigned wt)
{
    if (dmvf__wbuf_reserve(r->out, 5) != 0)
        return nomem(r);
    uint8_t *o = dmvf__put_varint(r->out->p + r->out->len, (uint64_t)num << 3 | wt);
    r->out->len = (size_t)(o - r->out->p);
    return DMVF_OK;
}

static int put_varint_field(jr *r, uint32_t num, uint64_t v)
{
    return dmvf__put_varint_field(r->out, num, v) ? nomem(r) : DMVF_OK;
}

static int put_bytes_field(jr *r, uint32_t num, const uint8_t *v, size_t n)
{
    return dmvf__put_bytes_field(r->out, num, v, n) ? nomem(r) : DMVF_OK;
}

static const char *json_type(int c)
{
    switch (c) {
    case '"': return "a string";
    case '{': return "an object";
    case '[': return "an array";
    case 't': case 'f': return "a bool";
    case 'n': return "null";
    default: return c == '-' || (c >= '0' && c <= '9') ? "a number" : "no JSON value";
    }
}

static int wrong_type(jr *r, const dmvf__tfield *tf, const char *want)
{
    return fail(r, r->p, DMVF_EMALFORMED, "field '%s' (%s) holds %s, not %s", tf->sf->path,
                dmvf__ftype_name(tf->sf->type), json_type(peek(r)), want);
}

/* An integer value: a JSON number, or a string of a decimal integer. */
static int read_int(jr *r, const dmvf__tfield *tf, int64_t *v)
{
    const uint8_t *at = r->p, *t;
    size_t n;
    int c = peek(r), rc;
    unsigned flags;
    if (c == '"') {
        const uint8_t *raw;
        int esc;
        if ((rc = scan_string(r, &raw, &n, &esc)) != DMVF_OK ||
            (rc = string_text(r, raw, n, esc, &t, &n)) != DMVF_OK)
            return rc;
        flags = DMVF__INT_ZEROS;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        /* the usual case: up to 10 digits, no sign, nothing after them */
        const uint8_t *q = r->p;
        uint64_t m = 0;
        while (q < r->end && q - r->p < 10 && *q >= '0' && *q <= '9')
            m = m * 10 + (uint64_t)(*q++ - '0');
        if (q > r->p && (q == r->end || (*q != '.' && *q != 'e' && *q != 'E' && (*q < '0' || *q > '9'))) &&
            (*r->p != '0' || q - r->p == 1)) {
            r->p = q;
            *v = (int64_t)m;
            if (!dmvf__int_fits(tf->sf->type, *v))
                return fail(r, at, DMVF_EMALFORMED, "field '%s' (%s): a number out of its range", tf->sf->path,
                            dmvf__ftype_name(tf->sf->type));
            return DMVF_OK;
        }
        scan_number(r, &t, &n);
        flags = DMVF__INT_REALS;
    } else {
        return wrong_type(r, tf, "a number");
    }
    int integer;
    if (dmvf__text_int((const char *)t, n, flags, v) != 0) {
        if (c != '"' && !dmvf__json_number((const char *)t, n, &integer))
            return fail(r, at, DMVF_EMALFORMED, "a bad number");
        return fail(r, at, DMVF_EMALFORMED, "field '%s' (%s): not an integer in its range", tf->sf->path,
                    dmvf__ftype_name(tf->sf->type));
    }
    if (!dmvf__int_fits(tf->sf->type, *v))
        return fail(r, at, DMVF_EMALFORMED, "field '%s' (%s): a number out of its range", tf->sf->path,
                    dmvf__ftype_name(tf->sf->type));
    return DMVF_OK;
}

static int read_message(jr *r, const dmvf__tnode *tn);

/* One value of field tf (an element, for a repeated field). */
static int read_one(jr *r, const dmvf__tfield *tf)
{
    const dmvf_sfield *sf = tf->sf;
    const uint8_t *at = r->p, *raw;
    size_t n;
    int esc, rc, keep = sf->repeated; /* repeated elements are kept when empty */
    switch (sf->type) {
    case DMVF_T_STRING:
    case DMVF_T_BYTES: {
        if (peek(r) != '"')
            return wrong_type(r, tf, sf->type == DMVF_T_STRING ? "a string" : "a base64 string");
        if ((rc = scan_string(r, &raw, &n, &esc)) != DMVF_OK)
            return rc;
        if (sf->type == DMVF_T_STRING && !esc)
            return n || keep ? put_bytes_field(r, sf->number, raw, n) : DMVF_OK;
        const uint8_t *t;
        if ((rc = string_text(r, raw, n, esc, &t, &n)) != DMVF_OK)
            return rc;
        if (sf->type == DMVF_T_STRING)
            return n || keep ? put_bytes_field(r, sf->number, t, n) : DMVF_OK;
        /* bytes: key | len | decoded, the prefix sized for the most it can be */
        size_t max = dmvf__base64_max(n), m, bad, pre = dmvf__varint_size(max);
        if (dmvf__wbuf_reserve(r->out, 5 + pre + max) != 0)
            return nomem(r);
        size_t key_at = r->out->len;
        if ((rc = put_key(r, sf->number, 2)) != DMVF_OK)
            return rc;
        uint8_t *val = r->out->p + r->out->len + pre;
        if (dmvf__base64_decode(val, (const char *)t, n, &m, &bad) != 0)
            return fail(r, at, DMVF_EMALFORMED, "field '%s' (bytes): not base64", sf->path);
        if (m == 0 && !keep) {
            r->out->len = key_at;
            return DMVF_OK;
        }
        size_t lsz = dmvf__varint_size(m);
        if (lsz != pre)
            memmove(r->out->p + r->out->len + lsz, val, m);
        dmvf__put_varint(r->out->p + r->out->len, m);
        r->out->len += lsz + m;
        return DMVF_OK;
    }
    case DMVF_T_UINT32:
    case DMVF_T_INT32: {
        int64_t v;
        if ((rc = read_int(r, tf, &v)) != DMVF_OK)
            return rc;
        return v || keep ? put_varint_field(r, sf->number, sf->type == DMVF_T_UINT32 ? (uint64_t)v
                                                                                 : (uint64_t)(int64_t)v)
                         : DMVF_OK;
    }
    case DMVF_T_ENUM: {
        int32_t v;
        if (peek(r) == '"') {
            const uint8_t *t;
            if ((rc = scan_string(r, &raw, &n, &esc)) != DMVF_OK ||
                (rc = string_text(r, raw, n, esc, &t, &n)) != DMVF_OK)
                return rc;
            int64_t num;
            if (dmvf__enum_by_name(sf, (const char *)t, n, &v) != 0) {
                if (dmvf__text_int((const char *)t, n, DMVF__INT_ZEROS, &num) != 0)
                    return fail(r, at, DMVF_EMALFORMED, "field '%s' (enum): a name its enum does not have",
                                sf->path);
                if (!dmvf__int_fits(DMVF_T_ENUM, num))
                    return fail(r, at, DMVF_EMALFORMED, "field '%s' (enum): a number out of its range",
                                sf->path);
                v = (int32_t)num;
            }
        } else {
            int64_t num;
            if (peek(r) != '-' && (peek(r) < '0' || peek(r) > '9'))
                return wrong_type(r, tf, "an enum name or number");
            if ((rc = read_int(r, tf, &num)) != DMVF_OK)
                return rc;
            v = (int32_t)num;
        }
        return v || keep ? put_varint_field(r, sf->number, (uint64_t)(int64_t)v) : DMVF_OK;
    }
    case DMVF_T_BOOL:
        if (literal(r, "true", 4))
            return put_varint_field(r, sf->number, 1);
        if (literal(r, "false", 5))
            return keep ? put_varint_field(r, sf->number, 0) : DMVF_OK;
        return wrong_type(r, tf, "true or false");
    case DMVF_T_MESSAGE: {
        if (peek(r) != '{')
            return wrong_type(r, tf, "an object");
        if ((rc = put_key(r, sf->number, 2)) != DMVF_OK)
            return rc;
        /* room for the length as long as this field's took last time */
        size_t guess = r->d->wide[tf->id] ? 2 : 1;
        if (dmvf__wbuf_reserve(r->out, guess) != 0)
            return nomem(r);
        size_t len_at = r->out->len, body = len_at + guess;
        r->out->len = body;
        if ((rc = read_message(r, tf->child)) != DMVF_OK)
            return rc;
        size_t m = r->out->len - body, lsz = dmvf__varint_size(m);
        r->d->wide[tf->id] = lsz > 1;
        if (lsz != guess) {
            if (lsz > guess && dmvf__wbuf_reserve(r->out, lsz - guess) != 0)
                return nomem(r);
            memmove(r->out->p + len_at + lsz, r->out->p + body, m);
            r->out->len = len_at + lsz + m;
        }
        dmvf__put_varint(r->out->p + len_at, m);
        return DMVF_OK;
    }
    default:
        abort(); /* the schema has no other type */
    }
}

/* Entering message field tf (element idx, -1 singular): for reports. */
static inline void enter(dmvf__jdec *d, const dmvf__tfield *tf, long idx)
{
    if (d->depth < DMVF__JSON_DEPTH) {
        d->at[d->depth].tf = tf;
        d->at[d->depth].idx = idx;
    }
    d->depth++;
}

/* A field's value: null (absent), an array for a repeated field, else one. */
static int read_value(jr *r, const dmvf__tfield *tf)
{
    if (literal(r, "null", 4))
        return DMVF_OK;
    if (!tf->sf->repeated)
        return read_one(r, tf);
    if (peek(r) != '[')
        return wrong_type(r, tf, "an array");
    r->p++;
    skip_ws(r);
    if (peek(r) == ']') {
        r->p++;
        return DMVF_OK;
    }
    for (size_t k = 0;; k++) {
        if (k == DMVF_MAX_REPEATED)
            return fail(r, r->p, DMVF_ETOOBIG, "field '%s' has more than %u elements", tf->sf->path,
                        DMVF_MAX_REPEATED);
        if (peek(r) == 'n' && literal(r, "null", 4)) {
            r->p -= 4;
            return fail(r, r->p, DMVF_EMALFORMED, "field '%s': null as an array element", tf->sf->path);
        }
        if (tf->sf->type == DMVF_T_MESSAGE && r->d->depth - 1 < DMVF__JSON_DEPTH)
            r->d->at[r->d->depth - 1].idx = (long)k;
        int rc = read_one(r, tf);
        if (rc)
            return rc;
        int more = next_item(r, ']');
        if (more > 0)
            continue;
        if (more == 0)
            return DMVF_OK;
        return fail(r, r->p, DMVF_EMALFORMED, "expected ',' or ']'");
    }
}

typedef struct span {
    uint32_t num;
    size_t off, end;
} span;

/* Puts the fields written since base in field-number order (the spans of
 * one object; each field's values are one span). */
static int reorder(jr *r, size_t base, span *sp, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        span x = sp[i];
        size_t j = i;
        for (; j > 0 && sp[j - 1].num > x.num; j--)
            sp[j] = sp[j - 1];
        sp[j] = x;
    }
    size_t len = r->out->len - base;
    r->d->tmp.len = 0;
    if (dmvf__wbuf_reserve(&r->d->tmp, len) != 0)
        return nomem(r);
    memcpy(r->d->tmp.p, r->out->p + base, len);
    size_t o = base;
    for (size_t i = 0; i < n; i++) {
        size_t m = sp[i].end - sp[i].off;
        memcpy(r->out->p + o, r->d->tmp.p + (sp[i].off - base), m);
        o += m;
    }
    return DMVF_OK;
}

/* A key that names no field: "person.favorite_color", "vehicles.1.paint". */
static void report_unknown(dmvf__jdec *d, const uint8_t *key, size_t n)
{
    d->unknown_keys++;
    if (!d->unknown)
        return;
    char path[256];
    dmvf__text t = dmvf__text_buf(path, sizeof path);
    for (unsigned i = 0; i < d->depth && i < DMVF__JSON_DEPTH; i++) {
        if (i)
            dmvf__text_put(&t, ".", 1);
        dmvf__text_puts(&t, d->at[i].tf->name);
        if (d->at[i].idx >= 0) {
            char num[24];
            num[0] = '.';
            dmvf__text_put(&t, num, 1 + dmvf__fmt_i64(num + 1, d->at[i].idx));
        }
    }
    if (d->depth)
        dmvf__text_put(&t, ".", 1);
    dmvf__text_escaped(&t, (const char *)key, n, 0);
    d->unknown(d->ctx, path, t.len);
}

/* An object at r->p ('{') for message node tn. */
static int read_message(jr *r, const dmvf__tnode *tn)
{
    span sp[DMVF_MAX_FIELD_NUMBER + 1];
    size_t nsp = 0, base = r->out->len;
    uint64_t seen = 0;
    uint32_t last = 0;
    int sorted = 1, rc;
    unsigned hint = 0;
    r->p++;
    skip_ws(r);
    if (peek(r) == '}') {
        r->p++;
        return DMVF_OK;
    }
    for (;;) {
        const uint8_t *kat = r->p, *raw, *key = NULL;
        size_t n, kn = 0;
        int esc;
        if (peek(r) != '"')
            return fail(r, r->p, DMVF_EMALFORMED, "expected a key (a string)");
        /* the key is most often the proto name of one of the next fields:
         * "name" followed by its closing quote is that name, no scan needed */
        const dmvf__tfield *tf = NULL;
        if (r->end - r->p >= 16) {
            uint64_t in[2];
            memcpy(in, r->p, 16);   /* "name" in at most 16 bytes: two masked words */
            for (unsigned i = hint; i < tn->n && i < hint + 4; i++) {
                const dmvf__tfield *g = &tn->f[i];
                if (g->qfits ? ((in[0] & g->qmask[0]) == g->qname[0] && (in[1] & g->qmask[1]) == g->qname[1])
                             : ((size_t)(r->end - r->p) > g->nlen + 1 && r->p[g->nlen + 1] == '"' &&
                                dmvf__same((const char *)r->p + 1, g->name, g->nlen))) {
                    tf = g;
                    r->p += g->nlen + 2;
                    break;
                }
            }
        }
        if (!tf) {
            if ((rc = scan_string(r, &raw, &n, &esc)) != DMVF_OK ||
                (rc = string_text(r, raw, n, esc, &key, &kn)) != DMVF_OK)
                return rc;
        }
        if ((rc = colon(r)) != DMVF_OK)
            return rc;
        if (!tf)
            tf = dmvf__tnode_find(tn, (const char *)key, kn, 1, hint);
        if (!tf) {
            report_unknown(r->d, key, kn);
            if ((rc = skip_value(r, 1)) != DMVF_OK)
                return rc;
        } else {
            uint32_t num = tf->number;
            hint = tf->pos + 1;
            if (seen & ((uint64_t)1 << num))
                return fail(r, kat, DMVF_EMALFORMED, "field '%s' is given twice", tf->sf->path);
            seen |= (uint64_t)1 << num;
            size_t off = r->out->len;
            int msg = tf->type == DMVF_T_MESSAGE;
            if (msg)
                enter(r->d, tf, -1);
            rc = read_value(r, tf);
            r->d->depth -= msg;
            if (rc)
                return rc;
            if (r->out->len > off) {
                sp[nsp++] = (span){num, off, r->out->len};
                sorted &= num > last;
                last = num;
            }
        }
        int k = next_item(r, '}');
        if (k > 0)
            continue;
        if (k == 0)
            break;
        return fail(r, r->p, DMVF_EMALFORMED, "expected ',' or '}'");
    }
    return sorted ? DMVF_OK : reorder(r, base, sp, nsp);
}

int dmvf__json_decode(dmvf__jdec *d, const uint8_t *s, size_t n, dmvf__wbuf *wire, dmvf_error *err)
{
    jr r = {d, s, s, s + n, wire, err};
    d->unknown_keys = 0;
    d->depth = 0;
    skip_ws(&r);
    if (r.p == r.end)
        return fail(&r, r.p, DMVF_EMALFORMED, "an empty line, not a JSON object");
    if (*r.p != '{')
        return fail(&r, r.p, DMVF_EMALFORMED, "not a JSON object");
    int rc = read_message(&r, dmvf__tnode_root());
    if (rc)
        return rc;
    skip_ws(&r);
    if (r.p != r.end)
        return fail(&r, r.p, DMVF_EMALFORMED, "text after the JSON object");
    return DMVF_OK;
}

void dmvf__jdec_free(dmvf__jdec *d)
{
    dmvf__wbuf_free(&d->tmp);
}
