/*
 * rewrite.c - the hot path: protobuf wire bytes in, released wire bytes out.
 *
 * The wire layout this file relies on (protobuf encoding):
 *
 *   message := field*                       (any order, fields may repeat)
 *   field   := key value
 *   key     := varint( number << 3 | wire_type )      at most 5 bytes
 *   value   := varint                        wire_type 0, at most 10 bytes
 *            | 8 bytes                       wire_type 1
 *            | varint(len) len bytes         wire_type 2, prefix at most 5 bytes
 *            | 4 bytes                       wire_type 5
 *   (wire types 3 and 4, groups, and 6, 7 are malformed)
 *
 *   varint  := 1xxxxxxx* 0xxxxxxx            7 bits a byte, little end first
 *
 * The limits are those of protobuf-c's parser, so that the rewriter accepts
 * exactly what the reference path (protobuf-c unpack) accepts.
 *
 * A message is rewritten in two passes over its bytes, with the node of the
 * compiled plan for its position (plan.h):
 *
 *   scan:  walk every field once; check wire types of known fields; remember
 *          for each known field number the first and last occurrence and the
 *          count; validate the sub-messages that will not be rewritten.
 *   emit:  for number = 1 .. max_number, in order: apply the action to the
 *          last occurrence (singular) or to every occurrence in input order
 *          (repeated); rewrite sub-messages recursively into the output and
 *          fix their length prefix afterwards (one memmove when the length
 *          needs more than one byte).
 *
 * The output is canonical (filter.h): number order, minimal varints, last
 * occurrence wins, proto3 defaults omitted, unknown fields gone. The schema
 * is not recursive, so recursion depth is bounded by the schema (3).
 * No allocation: all state is on the stack, output goes to the caller's
 * buffer.
 */
#include <string.h>
#include "filter/wire/rewrite.h"
#include "filter/wire/transform.h"
#include "filter/core/varint.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct rw {
    const dmvf_keyctx *kc;
    const uint8_t *base;  /* start of the record: offsets in errors */
    uint8_t *op;          /* output cursor */
    uint8_t *oend;
    dmvf_error *err;
} rw;

typedef struct field_info {
    const uint8_t *first;  /* key of the first occurrence */
    const uint8_t *val;    /* value of the last occurrence (after the length prefix for LEN) */
    uint32_t len;          /* LEN: payload length; VARINT: encoded length */
    uint32_t count;
} field_info;

/* ---- reading ---- */

static int malformed(rw *r, const uint8_t *at, const char *what, uint32_t num)
{
    if (r->err) {
        dmvf__seterr(r->err, DMVF_EMALFORMED, "%s (field %u)", what, (unsigned)num);
        r->err->offset = (uint64_t)(at - r->base);
    }
    return DMVF_EMALFORMED;
}

static int too_many(rw *r, const uint8_t *at, uint32_t num)
{
    if (r->err) {
        dmvf__seterr(r->err, DMVF_ETOOBIG, "repeated field %u has more than %u elements",
                     (unsigned)num, DMVF_MAX_REPEATED);
        r->err->offset = (uint64_t)(at - r->base);
    }
    return DMVF_ETOOBIG;
}

/* Steps over one field at p: sets *num, *wt, *val (value start after any
 * length prefix), *vlen (payload length for LEN, encoded length for VARINT)
 * and returns the pointer after the field, or NULL if malformed (reported). */
static inline __attribute__((always_inline)) const uint8_t *next_field(rw *r, const uint8_t *p, const uint8_t *end,
                                 uint32_t *num, unsigned *wt, const uint8_t **val, uint32_t *vlen)
{
    size_t k = dmvf__key_read(p, end, num, wt);
    if (DMVF_UNLIKELY(k == 0)) {
        malformed(r, p, "bad field key", 0);
        return NULL;
    }
    const uint8_t *q = p + k;
    switch (*wt) {
    case WT_VARINT: {
        size_t n = dmvf__varint_len(q, end);
        if (DMVF_UNLIKELY(n == 0)) {
            malformed(r, q, "unterminated varint", *num);
            return NULL;
        }
        *val = q;
        *vlen = (uint32_t)n;
        return q + n;
    }
    case WT_LEN: {
        uint32_t len;
        size_t n = dmvf__len_read(q, end, &len);
        if (DMVF_UNLIKELY(n == 0)) {
            malformed(r, q, "bad length prefix", *num);
            return NULL;
        }
        if (DMVF_UNLIKELY((size_t)(end - q - (ptrdiff_t)n) < len)) {
            malformed(r, q, "length runs past the end of its message", *num);
            return NULL;
        }
        *val = q + n;
        *vlen = len;
        return q + n + len;
    }
    case WT_I64:
        if (DMVF_UNLIKELY(end - q < 8)) {
            malformed(r, q, "truncated 64-bit value", *num);
            return NULL;
        }
        *val = q;
        *vlen = 8;
        return q + 8;
    case WT_I32:
        if (DMVF_UNLIKELY(end - q < 4)) {
            malformed(r, q, "truncated 32-bit value", *num);
            return NULL;
        }
        *val = q;
        *vlen = 4;
        return q + 4;
    default:
        malformed(r, p, *wt == 3 || *wt == 4 ? "groups are not supported" : "invalid wire type", *num);
        return NULL;
    }
}

/* Validates a message that is not rewritten (redacted): the same checks the
 * reference path's parser makes, recursively into known sub-messages. */
static int validate(rw *r, const dmvf_snode *node, const uint8_t *p, const uint8_t *end)
{
    uint32_t seen = 0; /* singular sub-messages seen, by number */
    uint32_t count[DMVF_MAX_FIELD_NUMBER + 1] = {0};
    while (p < end) {
        uint32_t num, vlen;
        unsigned wt;
        const uint8_t *val;
        const uint8_t *at = p;
        p = next_field(r, p, end, &num, &wt, &val, &vlen);
        if (!p)
            return DMVF_EMALFORMED;
        if (num == 0 || num > node->max_number)
            continue;
        const dmvf_sfield *sf = dmvf__schema_child(node, num);
        if (!sf)
            continue;
        if (wt != dmvf__ftype_wire(sf->type))
            return malformed(r, at, "wrong wire type for a known field", num);
        if (sf->repeated && ++count[num] > DMVF_MAX_REPEATED)
            return too_many(r, at, num);
        if (sf->type == DMVF_T_MESSAGE) {
            if (!sf->repeated) {
                if (seen & (1u << num))
                    return malformed(r, at, "singular sub-message occurs twice", num);
                seen |= 1u << num;
            }
            int rc = validate(r, sf->child, val, val + vlen);
            if (rc)
                return rc;
        }
    }
    return DMVF_OK;
}

/* ---- writing ---- */


#define NEED(r, n) do { if (DMVF_UNLIKELY((size_t)((r)->oend - (r)->op) < (size_t)(n))) return DMVF_ESPACE; } while (0)

static int emit_varint_field(rw *r, uint32_t num, uint64_t v)
{
    NEED(r, 5 + 10);
    r->op = dmvf__put_varint(r->op, (uint64_t)num << 3 | WT_VARINT);
    r->op = dmvf__put_varint(r->op, v);
    return DMVF_OK;
}

static int emit_bytes_field(rw *r, uint32_t num, const uint8_t *v, size_t n)
{
    NEED(r, 10 + n);
    r->op = dmvf__put_varint(r->op, (uint64_t)num << 3 | WT_LEN);
    r->op = dmvf__put_varint(r->op, n);
    memcpy(r->op, v, n);
    r->op += n;
    return DMVF_OK;
}

/* A string/bytes value through its action. keep_empty: repeated elements
 * are emitted even when empty. */
static int emit_string(rw *r, const dmvf_fplan *fp, uint32_t num, const uint8_t *v, size_t n, int keep_empty)
{
    if (dmvf__normalize(fp, &v, &n))
        return DMVF_OK; /* dropped */
    if (fp->action == DMVF_ACT_RELEASE) {
        if (n == 0 && !keep_empty)
            return DMVF_OK;
        return emit_bytes_field(r, num, v, n);
    }
    size_t bound = dmvf__xf_string_bound(fp, n);
    size_t pre = dmvf__varint_size(bound);
    NEED(r, 5 + pre + bound);
    uint8_t *key_at = r->op;
    uint8_t *k_end = dmvf__put_varint(key_at, (uint64_t)num << 3 | WT_LEN);
    uint8_t *val_at = k_end + pre;
    size_t m = dmvf__xf_string(fp, r->kc, v, n, val_at);
    if (m == 0 && !keep_empty)
        return DMVF_OK; /* r->op unchanged: nothing emitted */
    size_t lsz = dmvf__varint_size(m);
    if (lsz != pre)
        memmove(k_end + lsz, val_at, m);
    dmvf__put_varint(k_end, m);
    r->op = k_end + lsz + m;
    return DMVF_OK;
}

/*
 * The canonical-field rule: 1 when the field whose key is at `at`, read by
 * next_field as (num, wt, val, vlen), is already exactly what the rewriter
 * writes for it when its value is released unchanged, so that its bytes can
 * be copied as they are:
 *   - the key is minimal, and so is the length prefix (wire type 2) or the
 *     varint (wire type 0);
 *   - a singular string or bytes field is not empty (an explicit default is
 *     omitted); an empty sub-message is written as it is, empty;
 *   - a varint is not an explicit 0, a bool is 1, and the value is the one
 *     protobuf-c keeps for its type (dmvf__ftype_canon), with no bits past
 *     the 64th.
 * Sub-messages are checked here for their key and length only; whole_ok
 * checks their contents.
 */
static inline int canonical_field(const dmvf_fplan *fp, uint32_t num, unsigned wt, const uint8_t *at,
                                  const uint8_t *val, uint32_t vlen)
{
    size_t ksz = num < 16 ? 1 : dmvf__varint_size((uint64_t)num << 3 | wt);
    if (wt == WT_LEN) {
        if (vlen == 0 && !fp->repeated && fp->type != DMVF_T_MESSAGE)
            return 0;
        return (size_t)(val - at) == ksz + (vlen < 128 ? 1 : dmvf__varint_size(vlen));
    }
    if ((size_t)(val - at) != ksz || val[vlen - 1] == 0)
        return 0; /* key or value not minimal, or an explicit 0 */
    if (vlen < 5)
        return fp->type != DMVF_T_BOOL || val[0] == 1; /* < 2^28: canonical for every type */
    uint64_t v = dmvf__varint_value(val, vlen);
    /* minimal, and no bits past the 64th in a tenth byte */
    return v == dmvf__ftype_canon(fp->type, v) && dmvf__varint_size(v) == vlen && (vlen < 10 || val[9] == 1);
}

static int rewrite_message(rw *r, const dmvf_pnode *node, const uint8_t *p, const uint8_t *end);

/* For a node released whole: 1 when the message's bytes are already exactly
 * what the rewriter would write (every field known, in order, canonically
 * encoded, no default singular value, sub-messages likewise), so they can be
 * copied as they are. 0 sends the message through the rewriter, which then
 * also reports anything malformed. */
static int whole_ok(const dmvf_pnode *node, const uint8_t *p, const uint8_t *end)
{
    uint32_t last = 0, elems = 0;
    while (p < end) {
        uint32_t num, vlen;
        unsigned wt;
        const uint8_t *at = p, *val;
        size_t k = dmvf__key_read(p, end, &num, &wt);
        if (k == 0 || num > node->max_number)
            return 0;
        const dmvf_fplan *fp = &node->f[num];
        if (!fp->type || wt != dmvf__ftype_wire(fp->type) || num < last || (num == last && !fp->repeated))
            return 0;
        if (num == last) {
            if (++elems > DMVF_MAX_REPEATED)
                return 0;
        } else {
            elems = 1;
        }
        last = num;
        p += k;
        if (wt == WT_LEN) {
            size_t n = dmvf__len_read(p, end, &vlen);
            if (n == 0 || (size_t)(end - p - (ptrdiff_t)n) < vlen)
                return 0;
            val = p + n;
        } else {
            size_t n = dmvf__varint_len(p, end);
            if (n == 0)
                return 0;
            val = p;
            vlen = (uint32_t)n;
        }
        if (!canonical_field(fp, num, wt, at, val, vlen) ||
            (fp->type == DMVF_T_MESSAGE && !whole_ok(fp->child, val, val + vlen)))
            return 0;
        p = val + vlen;
    }
    return 1;
}

/* A sub-message: key, length fixed up after the body is written. */
static int emit_message(rw *r, const dmvf_fplan *fp, uint32_t num, const uint8_t *v, size_t n)
{
    /* the body is rarely longer than its input: reserve the input's prefix size */
    size_t guess = dmvf__varint_size(n);
    NEED(r, 5 + guess);
    r->op = dmvf__put_varint(r->op, (uint64_t)num << 3 | WT_LEN);
    uint8_t *len_at = r->op;
    uint8_t *body = r->op += guess;
    int rc = rewrite_message(r, fp->child, v, v + n);
    if (rc)
        return rc;
    size_t m = (size_t)(r->op - body);
    size_t lsz = dmvf__varint_size(m);
    if (lsz != guess) {
        if (lsz > guess)
            NEED(r, lsz - guess);
        memmove(len_at + lsz, body, m);
        r->op = len_at + lsz + m;
    }
    dmvf__put_varint(len_at, m);
    return DMVF_OK;
}

static int rewrite_slow(rw *r, const dmvf_pnode *node, const uint8_t *p, const uint8_t *end);

#define FLUSH_RUN() do { \
    if (run_end != run) { \
        size_t n_ = (size_t)(run_end - run); \
        NEED(r, n_); \
        memcpy(r->op, run, n_); \
        r->op += n_; \
        run = run_end; \
    } \
} while (0)

/*
 * One pass, for input whose known fields come in non-decreasing number
 * order with only repeated fields occurring more than once: what any
 * protobuf encoder writes. Released fields whose bytes are already
 * canonical (minimal key and length, canonical non-default value, no
 * normalization) are copied as runs, one memcpy for adjacent ones. On the
 * first field out of order the output of this message is rolled back and
 * the two-pass canonicalizer takes over; both give the same bytes.
 */
static int rewrite_message(rw *r, const dmvf_pnode *node, const uint8_t *p, const uint8_t *end)
{
    uint8_t *const out0 = r->op;
    const uint8_t *const start = p;
    const uint8_t *run = p, *run_end = p; /* input bytes to copy as they are */
    const uint32_t maxn = node->max_number;
    uint32_t last = 0, elems = 0;
    while (p < end) {
        uint32_t num, vlen;
        unsigned wt;
        const uint8_t *val;
        const uint8_t *at = p;
        p = next_field(r, p, end, &num, &wt, &val, &vlen);
        if (DMVF_UNLIKELY(!p))
            return DMVF_EMALFORMED;
        if (num > maxn || num == 0 || !node->f[num].type)
            continue; /* unknown: redacted */
        const dmvf_fplan *fp = &node->f[num];
        const unsigned type = fp->type;
        if (DMVF_UNLIKELY(wt != dmvf__ftype_wire(type)))
            return malformed(r, at, "wrong wire type for a known field", num);
        if (DMVF_UNLIKELY(num < last || (num == last && !fp->repeated))) {
            r->op = out0; /* not in canonical order: start over, two passes */
            return rewrite_slow(r, node, start, end);
        }
        if (num == last) {
            if (DMVF_UNLIKELY(++elems > DMVF_MAX_REPEATED))
                return too_many(r, at, num);
        } else {
            elems = 1;
        }
        last = num;
        int rc = DMVF_OK;
        switch (fp->action) {
        case DMVF_ACT_REDACT:
            if (type == DMVF_T_MESSAGE && (rc = validate(r, fp->sf->child, val, val + vlen)) != DMVF_OK)
                return rc;
            continue;
        case DMVF_ACT_DESCEND:
            if (fp->child->whole && canonical_field(fp, num, wt, at, val, vlen) &&
                whole_ok(fp->child, val, val + vlen)) {
                if (run_end != at) { /* already its own output: part of the copy run */
                    FLUSH_RUN();
                    run = at;
                }
                run_end = p;
                continue;
            }
            FLUSH_RUN();
            rc = emit_message(r, fp, num, val, vlen);
            break;
        case DMVF_ACT_RELEASE:
            if (DMVF_UNLIKELY(type == DMVF_T_MESSAGE))
                continue; /* plans release messages by descending; never copy one blind */
            if (!fp->norm && canonical_field(fp, num, wt, at, val, vlen)) {
                if (run_end != at) {
                    FLUSH_RUN();
                    run = at;
                }
                run_end = p;
                continue;
            }
            /* fall through - released, but re-encoded */
        default:
            FLUSH_RUN();
            if (wt == WT_LEN) {
                if (vlen || fp->repeated)
                    rc = emit_string(r, fp, num, val, vlen, fp->repeated);
            } else {
                uint64_t v = dmvf__ftype_canon(type, dmvf__varint_value(val, vlen));
                if (v && (v = dmvf__xf_varint(fp, v)) != 0)
                    rc = emit_varint_field(r, num, v);
            }
            break;
        }
        if (rc)
            return rc;
        run = run_end = p;
    }
    FLUSH_RUN();
    return DMVF_OK;
}

/* Two passes: any field order, duplicates; the general canonicalizer. */
static int rewrite_slow(rw *r, const dmvf_pnode *node, const uint8_t *p, const uint8_t *end)
{
    field_info fi[DMVF_MAX_FIELD_NUMBER + 1];
    const uint32_t maxn = node->max_number;
    memset(fi, 0, sizeof(fi[0]) * (maxn + 1));

    /* scan */
    for (const uint8_t *q = p; q < end;) {
        uint32_t num, vlen;
        unsigned wt;
        const uint8_t *val;
        const uint8_t *at = q;
        q = next_field(r, q, end, &num, &wt, &val, &vlen);
        if (DMVF_UNLIKELY(!q))
            return DMVF_EMALFORMED;
        if (num > maxn || num == 0)
            continue; /* unknown: redacted */
        const dmvf_fplan *fp = &node->f[num];
        const dmvf_sfield *sf = fp->sf;
        if (!sf)
            continue;
        if (DMVF_UNLIKELY(wt != dmvf__ftype_wire(sf->type)))
            return malformed(r, at, "wrong wire type for a known field", num);
        field_info *f = &fi[num];
        if (sf->repeated && f->count >= DMVF_MAX_REPEATED)
            return too_many(r, at, num);
        if (sf->type == DMVF_T_MESSAGE) {
            if (!sf->repeated && f->count)
                return malformed(r, at, "singular sub-message occurs twice", num);
            if (fp->action != DMVF_ACT_DESCEND) {
                int rc = validate(r, sf->child, val, val + vlen);
                if (rc)
                    return rc;
            }
        }
        if (!f->count)
            f->first = at;
        f->val = val;
        f->len = vlen;
        f->count++;
    }

    /* emit, in field-number order */
    for (uint32_t num = 1; num <= maxn; num++) {
        const field_info *f = &fi[num];
        const dmvf_fplan *fp = &node->f[num];
        if (!f->count || fp->action == DMVF_ACT_REDACT)
            continue;
        const dmvf_sfield *sf = fp->sf;
        int rc = DMVF_OK;
        if (!sf->repeated) {
            if (sf->type == DMVF_T_MESSAGE) {
                rc = emit_message(r, fp, num, f->val, f->len);
            } else if (sf->type == DMVF_T_STRING || sf->type == DMVF_T_BYTES) {
                /* an explicit default is absent: it is not transformed */
                if (f->len)
                    rc = emit_string(r, fp, num, f->val, f->len, 0);
            } else {
                uint64_t v = dmvf__ftype_canon(sf->type, dmvf__varint_value(f->val, f->len));
                if (v && (v = dmvf__xf_varint(fp, v)) != 0)
                    rc = emit_varint_field(r, num, v);
            }
        } else {
            /* every occurrence, in input order, from the first */
            for (const uint8_t *q = f->first; q < end;) {
                uint32_t n2 = 0, vlen = 0;
                unsigned wt = 0;
                const uint8_t *val = NULL;
                q = next_field(r, q, end, &n2, &wt, &val, &vlen); /* already validated */
                if (!q)
                    return DMVF_EMALFORMED;
                if (n2 != num)
                    continue;
                rc = sf->type == DMVF_T_MESSAGE ? emit_message(r, fp, num, val, vlen)
                                                : emit_string(r, fp, num, val, vlen, 1);
                if (rc)
                    break;
            }
        }
        if (rc)
            return rc;
    }
    return DMVF_OK;
}

int dmvf__rewrite(const dmvf_plan *plan, const dmvf_keyctx *kc,
                  const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                  size_t *out_len, dmvf_error *err)
{
    rw r = {kc, in, out, out + cap, err};
    int rc = rewrite_message(&r, plan->root, in, in + n);
    if (rc == DMVF_ESPACE)
        dmvf__seterr(err, DMVF_ESPACE, "output buffer of %zu bytes too small", cap);
    *out_len = rc ? 0 : (size_t)(r.op - out);
    return rc;
}

size_t dmvf__wire_field(const uint8_t *p, const uint8_t *end, uint32_t *num, unsigned *wt,
                        const uint8_t **val, uint32_t *vlen)
{
    rw r = {NULL, p, NULL, NULL, NULL};
    const uint8_t *q = next_field(&r, p, end, num, wt, val, vlen);
    return q ? (size_t)(q - p) : 0;
}
