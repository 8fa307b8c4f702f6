/*
 * rewrite.c - the hot path: protobuf wire bytes in, released wire bytes out.
 *
 * The wire layout this file relies on (protobuf encoding; fields_int.h
 * steps over one field):
 *
 *   message := field*                       (any order, fields may repeat)
 *   field   := key value
 *   key     := varint( number << 3 | wire_type )      at most 5 bytes
 *   value   := varint                        wire_type 0, at most 10 bytes
 *            | 8 bytes                       wire_type 1
 *            | varint(len) len bytes         wire_type 2, prefix at most 5 bytes
 *            | field* END_GROUP              wire_type 3 (a group; 4 closes it)
 *            | 4 bytes                       wire_type 5
 *   (wire types 6, 7, and 4 outside a group, are malformed)
 *
 *   varint  := 1xxxxxxx* 0xxxxxxx            7 bits a byte, little end first
 *
 * The limits are those of protobuf-c's parser, so that the rewriter accepts
 * exactly what the reference path accepts.
 *
 * Fields the plan marks opaque (plan.h: unknown numbers, redacted
 * sub-messages, M and C fields without marking: release) are stepped over
 * by their framing alone: any wire type, groups included, nothing inside
 * looked at, not counted, no order. Every other field of a message is
 * checked: the schema's wire type, at most DMVF_MAX_REPEATED elements.
 *
 * A message is rewritten in one pass when its known fields come in
 * canonical order (rewrite_message), else in two (rewrite_slow), with the
 * node of the compiled plan for its position. The one pass dispatches each
 * field on its key through the node's op table (plan.h: what the plan does
 * with that number and wire type, said once when the plan is built); the
 * two passes, and keys the table does not cover, read the plan entry.
 *
 *   scan:  walk every field once; check wire types of known fields; remember
 *          for each known field number the first and last occurrence and the
 *          count.
 *   emit:  for number = 1 .. max_number, in order: apply the action to the
 *          last occurrence (singular) or to every occurrence in input order
 *          (repeated); rewrite sub-messages recursively into the output and
 *          fix their length prefix afterwards (one memmove when the length
 *          needs more than one byte). A singular sub-message that occurs
 *          more than once is merged as protobuf merges it: rewritten as the
 *          one message its pieces make (dmvf__msg), read in place.
 *
 * The output is canonical (filter.h): number order, minimal varints, last
 * occurrence wins, pieces merged, proto3 defaults omitted, unknown fields
 * gone. The schema is not recursive, so recursion depth is bounded by the
 * schema (3). No allocation: all state is on the stack, output goes to the
 * caller's buffer.
 */
#include <string.h>
#include "filter/wire/rewrite.h"
#include "filter/wire/transform.h"
#include "filter/core/varint.h"
#include "filter/wire/fields_int.h"

enum { WT_VARINT = DMVF__WT_VARINT, WT_LEN = DMVF__WT_LEN };

typedef struct rw {
    const dmvf_keyctx *kc;
    const uint8_t *base;  /* start of the record: offsets in errors */
    const uint8_t *limit; /* end of the record: varints are read 8 bytes at a time before it */
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

static int malformed_at(rw *r, const dmvf__wbad *bad)
{
    return malformed(r, bad->at, bad->why, bad->num);
}

/* Steps over one field at p: sets *num, *wt, *val (value start after any
 * length prefix), *vlen (payload length for LEN, encoded length for VARINT)
 * and returns the pointer after the field, or NULL if malformed (reported). */
static inline __attribute__((always_inline)) const uint8_t *next_field(rw *r, const uint8_t *p, const uint8_t *end,
                                 uint32_t *num, unsigned *wt, const uint8_t **val, uint32_t *vlen)
{
    dmvf__wbad bad;
    const uint8_t *q = dmvf__field_next(p, end, num, wt, val, vlen, &bad);
    if (DMVF_UNLIKELY(!q))
        malformed_at(r, &bad);
    return q;
}

/* A known field the plan looks at, with another wire type than its schema's. */
static int wrong_wire_type(rw *r, const uint8_t *at, unsigned wt, uint32_t num)
{
    return malformed(r, at, wt == DMVF__WT_SGROUP ? "wrong wire type for a known field: a group"
                                                  : "wrong wire type for a known field", num);
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
    if (fp->norm && dmvf__normalize(fp, &v, &n))
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
 * Keys. A field's key is read through the node's op table (plan.h) when it
 * is minimal and of one or two bytes (numbers up to 31): key_fast returns
 * the key (number << 3 | wire type) and moves *p past it; any other key
 * gives 0, whose op is DMVF_OP_GENERIC, with *p unchanged.
 */
static inline unsigned key_fast(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *q = *p;
    unsigned k = q[0];
    if (DMVF_LIKELY(k < 0x80)) {
        *p = q + 1;
        return k;
    }
    if (end - q >= 2 && q[1] == 1) {
        *p = q + 2;
        return (k & 0x7f) | 0x80;
    }
    return 0;
}

/* The length of the varint at p as dmvf__varint_len(p, end) gives it,
 * from one 8-byte load when 8 bytes of the record (limit) are there: the
 * first byte without its high bit ends it, found without a branch a byte. */
static inline size_t varint_len_fast(const uint8_t *p, const uint8_t *end, const uint8_t *limit)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (DMVF_LIKELY(limit - p >= 8)) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t stop = ~w & 0x8080808080808080ull;
        if (DMVF_LIKELY(stop != 0)) {
            size_t n = (size_t)__builtin_ctzll(stop) / 8 + 1;
            if (DMVF_LIKELY(n <= (size_t)(end - p)))
                return n;
        }
    }
#else
    (void)limit;
#endif
    return dmvf__varint_len(p, end);
}

/* The value of a field whose key ended at p, by the wire type its op names
 * (what dmvf__field_next reads for that wire type, with its errors when
 * r is set): *val, *vlen and the pointer after the field, or NULL. limit:
 * the end of the record (varint_len_fast). */
static inline __attribute__((always_inline)) const uint8_t *
value_read(rw *r, unsigned op, uint32_t num, const uint8_t *p, const uint8_t *end, const uint8_t *limit,
           const uint8_t **val, uint32_t *vlen)
{
    if (op & DMVF_OPF_LEN) {
        uint32_t len;
        size_t n;
        if (DMVF_LIKELY(p < end && p[0] < 0x80)) {
            len = p[0];
            n = 1;
        } else if ((n = dmvf__len_read(p, end, &len)) == 0) {
            if (r)
                malformed(r, p, "bad length prefix", num);
            return NULL;
        }
        if (DMVF_UNLIKELY((size_t)(end - p - (ptrdiff_t)n) < len)) {
            if (r)
                malformed(r, p, "length runs past the end of its message", num);
            return NULL;
        }
        *val = p + n;
        *vlen = len;
        return p + n + len;
    }
    size_t n = varint_len_fast(p, end, limit);
    if (DMVF_UNLIKELY(n == 0)) {
        if (r)
            malformed(r, p, "unterminated varint", num);
        return NULL;
    }
    *val = p;
    *vlen = (uint32_t)n;
    return p + n;
}

/*
 * The canonical-field rule: 1 when a field with a minimal key, its value
 * read as (val, vlen) after the key's end kend, is already exactly what the
 * rewriter writes for it when its value is released unchanged, so that its
 * bytes can be copied as they are:
 *   - the length prefix is minimal (wire type 2), or the varint is
 *     (wire type 0);
 *   - a singular string or bytes field is not empty (an explicit default is
 *     omitted); an empty sub-message is written as it is, empty;
 *   - a varint is not an explicit 0, a bool is 1, and the value is the one
 *     protobuf-c keeps for its type (dmvf__ftype_canon), with no bits past
 *     the 64th.
 * Sub-messages are checked here for their length only; whole_ok checks
 * their contents. A field with a key that is not minimal is never
 * canonical: the generic path (rewrite_message) demotes its op.
 */
static inline int canonical_field(const dmvf_pnode *node, unsigned op, uint32_t num, const uint8_t *kend,
                                  const uint8_t *val, uint32_t vlen)
{
    if (op & DMVF_OPF_LEN) {
        if (vlen == 0 && !(op & DMVF_OPF_REPEATED) && (op & DMVF_OP_KIND) != DMVF_OP_DESCEND)
            return 0;
        size_t pre = (size_t)(val - kend);
        return pre == 1 || pre == dmvf__varint_size(vlen);
    }
    if (val[vlen - 1] == 0)
        return 0; /* value not minimal, or an explicit 0 */
    if (DMVF_LIKELY(vlen < 5))
        return !(op & DMVF_OPF_BOOL) || val[0] == 1; /* < 2^28: canonical for every type */
    uint64_t v = dmvf__varint_value(val, vlen);
    /* minimal, and no bits past the 64th in a tenth byte */
    return v == dmvf__ftype_canon(node->f[num].type, v) && dmvf__varint_size(v) == vlen &&
           (vlen < 10 || val[9] == 1);
}

static int rewrite_message(rw *r, const dmvf_pnode *node, const uint8_t *p, const uint8_t *end);

/* For a node released whole: 1 when the message's bytes are already exactly
 * what the rewriter would write (every field known, in order, canonically
 * encoded, no default singular value, sub-messages likewise), so they can be
 * copied as they are. 0 sends the message through the rewriter, which then
 * also reports anything malformed (and decides anything unusual: a key
 * read the generic way is never copied from here). */
static int whole_ok(const dmvf_pnode *node, const uint8_t *p, const uint8_t *end, const uint8_t *limit)
{
    uint32_t last = 0, elems = 0;
    while (p < end) {
        const unsigned key = key_fast(&p, end);
        const unsigned op = node->op[key], kind = op & DMVF_OP_KIND;
        const uint32_t num = key >> 3;
        if (kind != DMVF_OP_COPY && !(kind == DMVF_OP_DESCEND && (op & DMVF_OPF_WHOLE)))
            return 0;
        if (num < last || (num == last && !(op & DMVF_OPF_REPEATED)))
            return 0;
        if (num == last) {
            if (++elems > DMVF_MAX_REPEATED)
                return 0;
        } else {
            elems = 1;
        }
        last = num;
        const uint8_t *kend = p, *val;
        uint32_t vlen;
        if (!(p = value_read(NULL, op, num, p, end, limit, &val, &vlen)) ||
            !canonical_field(node, op, num, kend, val, vlen) ||
            (kind == DMVF_OP_DESCEND && !whole_ok(node->f[num].child, val, val + vlen, limit)))
            return 0;
    }
    return 1;
}

static int rewrite_slow(rw *r, const dmvf_pnode *node, const dmvf__msg *m);

/* A sub-message: key, length fixed up after the body is written. m is its
 * bytes, or its pieces (m->up set), which only the two-pass path reads. */
static int emit_message(rw *r, const dmvf_fplan *fp, uint32_t num, const dmvf__msg *m)
{
    /* the body is rarely longer than its input: reserve the input's prefix size */
    size_t guess = m->up ? 2 : dmvf__varint_size((size_t)(m->end - m->p));
    NEED(r, 5 + guess);
    r->op = dmvf__put_varint(r->op, (uint64_t)num << 3 | WT_LEN);
    uint8_t *len_at = r->op;
    uint8_t *body = r->op += guess;
    int rc = m->up ? rewrite_slow(r, fp->child, m) : rewrite_message(r, fp->child, m->p, m->end);
    if (rc)
        return rc;
    size_t n = (size_t)(r->op - body);
    size_t lsz = dmvf__varint_size(n);
    if (lsz != guess) {
        if (lsz > guess)
            NEED(r, lsz - guess);
        memmove(len_at + lsz, body, n);
        r->op = len_at + lsz + n;
    }
    dmvf__put_varint(len_at, n);
    return DMVF_OK;
}

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
 * protobuf encoder writes. Each field is dispatched by its key's op
 * (plan.h); a key the table does not cover is read by its framing and
 * given the op its plan entry has, demoted when the key is not minimal (a
 * COPY is re-encoded, a sub-message released whole is rewritten). Released
 * fields whose bytes are already canonical (minimal key and length,
 * canonical non-default value, no normalization) are copied as runs, one
 * memcpy for adjacent ones. On the first field out of order the output of
 * this message is rolled back and the two-pass canonicalizer takes over;
 * both give the same bytes.
 */
static int rewrite_message(rw *r, const dmvf_pnode *node, const uint8_t *p, const uint8_t *end)
{
    uint8_t *const out0 = r->op;
    const uint8_t *const start = p;
    const uint8_t *run = p, *run_end = p; /* input bytes to copy as they are */
    uint32_t last = 0, elems = 0;
    while (p < end) {
        const uint8_t *const at = p, *kend, *val;
        uint32_t num, vlen;
        const unsigned key = key_fast(&p, end);
        unsigned op = node->op[key];
        if (DMVF_LIKELY(op != DMVF_OP_GENERIC)) {
            num = key >> 3;
            kend = p;
            p = value_read(r, op, num, p, end, r->limit, &val, &vlen);
            if (DMVF_UNLIKELY(!p))
                return DMVF_EMALFORMED;
            if ((op & DMVF_OP_KIND) == DMVF_OP_SKIP)
                continue; /* redacted, never looked into */
        } else {
            unsigned wt;
            p = next_field(r, at, end, &num, &wt, &val, &vlen);
            if (DMVF_UNLIKELY(!p))
                return DMVF_EMALFORMED;
            if (num > node->max_number || node->f[num].opaque)
                continue; /* redacted, never looked into */
            const dmvf_fplan *fp = &node->f[num];
            op = dmvf__fplan_op(fp, wt);
            if (DMVF_UNLIKELY(op == DMVF_OP_GENERIC))
                return wrong_wire_type(r, at, wt, num);
            const uint64_t kv = (uint64_t)num << 3 | wt;
            kend = at + dmvf__varint_size(kv);
            if (dmvf__key_read(at, end, &num, &wt) != (size_t)(kend - at)) {
                /* not minimal: never its own output */
                if ((op & DMVF_OP_KIND) == DMVF_OP_COPY)
                    op = (op & ~DMVF_OP_KIND) | DMVF_OP_XFORM;
                op &= ~DMVF_OPF_WHOLE;
            }
        }
        if (DMVF_UNLIKELY(num < last || (num == last && !(op & DMVF_OPF_REPEATED)))) {
            r->op = out0; /* not in canonical order: start over, two passes */
            dmvf__msg whole = {start, end, NULL, 0};
            return rewrite_slow(r, node, &whole);
        }
        if (num == last) {
            if (DMVF_UNLIKELY(++elems > DMVF_MAX_REPEATED))
                return too_many(r, at, num);
        } else {
            elems = 1;
        }
        last = num;
        int rc;
        switch (op & DMVF_OP_KIND) {
        case DMVF_OP_CHECK:
            continue; /* checked above, not written */
        case DMVF_OP_DESCEND:
            if ((op & DMVF_OPF_WHOLE) && canonical_field(node, op, num, kend, val, vlen) &&
                whole_ok(node->f[num].child, val, val + vlen, r->limit))
                goto copy; /* already its own output: part of the copy run */
            FLUSH_RUN();
            {
                dmvf__msg sub = {val, val + vlen, NULL, 0};
                rc = emit_message(r, &node->f[num], num, &sub);
            }
            break;
        case DMVF_OP_COPY:
            if (DMVF_LIKELY(canonical_field(node, op, num, kend, val, vlen)))
                goto copy;
            /* fall through - released, but re-encoded */
        default: {
            const dmvf_fplan *fp = &node->f[num];
            FLUSH_RUN();
            rc = DMVF_OK;
            if (op & DMVF_OPF_LEN) {
                if (vlen || (op & DMVF_OPF_REPEATED))
                    rc = emit_string(r, fp, num, val, vlen, (op & DMVF_OPF_REPEATED) != 0);
            } else {
                uint64_t v = dmvf__ftype_canon(fp->type, dmvf__varint_value(val, vlen));
                if (v && (v = dmvf__xf_varint(fp, v)) != 0)
                    rc = emit_varint_field(r, num, v);
            }
            break;
        }
        }
        if (rc)
            return rc;
        run = run_end = p;
        continue;
    copy:
        if (run_end != at) {
            FLUSH_RUN();
            run = at;
        }
        run_end = p;
    }
    FLUSH_RUN();
    return DMVF_OK;
}

/* Two passes: any field order, duplicates, pieces; the general
 * canonicalizer. m is one message's bytes or its pieces. */
static int rewrite_slow(rw *r, const dmvf_pnode *node, const dmvf__msg *m)
{
    field_info fi[DMVF_MAX_FIELD_NUMBER + 1];
    const uint32_t maxn = node->max_number;
    memset(fi, 0, sizeof(fi[0]) * (maxn + 1));
    dmvf__cursor c;
    dmvf__field f;
    dmvf__wbad bad;
    int k;

    /* scan */
    dmvf__cursor_init(&c, m);
    while ((k = dmvf__cursor_next(&c, &f, &bad)) > 0) {
        const uint32_t num = f.num;
        if (num > maxn || node->f[num].opaque)
            continue; /* redacted, never looked into */
        const dmvf_fplan *fp = &node->f[num];
        if (DMVF_UNLIKELY(f.wt != dmvf__ftype_wire(fp->type)))
            return wrong_wire_type(r, f.at, f.wt, num);
        field_info *fo = &fi[num];
        if (fp->repeated && fo->count >= DMVF_MAX_REPEATED)
            return too_many(r, f.at, num);
        if (!fo->count)
            fo->first = f.at;
        fo->val = f.val;
        fo->len = f.vlen;
        fo->count++;
    }
    if (k < 0)
        return malformed_at(r, &bad);

    /* emit, in field-number order */
    for (uint32_t num = 1; num <= maxn; num++) {
        const field_info *fo = &fi[num];
        const dmvf_fplan *fp = &node->f[num];
        if (!fo->count || fp->action == DMVF_ACT_REDACT)
            continue;
        int rc = DMVF_OK;
        if (!fp->repeated) {
            if (fp->type == DMVF_T_MESSAGE) {
                /* one occurrence: its bytes; more: the pieces, merged */
                dmvf__msg sub = {fo->val, fo->val + fo->len, NULL, 0};
                if (fo->count > 1)
                    sub = (dmvf__msg){NULL, NULL, m, num};
                rc = emit_message(r, fp, num, &sub);
            } else if (fp->type == DMVF_T_STRING || fp->type == DMVF_T_BYTES) {
                /* an explicit default is absent: it is not transformed */
                if (fo->len)
                    rc = emit_string(r, fp, num, fo->val, fo->len, 0);
            } else {
                uint64_t v = dmvf__ftype_canon(fp->type, dmvf__varint_value(fo->val, fo->len));
                if (v && (v = dmvf__xf_varint(fp, v)) != 0)
                    rc = emit_varint_field(r, num, v);
            }
        } else {
            /* every occurrence, in input order: from the first (the
             * message's own bytes) or from the start (pieces) */
            dmvf__msg from = m->up ? *m : (dmvf__msg){fo->first, m->end, NULL, 0};
            dmvf__cursor_init(&c, &from);
            while (rc == DMVF_OK && (k = dmvf__cursor_next(&c, &f, &bad)) > 0) {
                if (f.num != num)
                    continue;
                if (fp->type == DMVF_T_MESSAGE) {
                    dmvf__msg sub = {f.val, f.val + f.vlen, NULL, 0};
                    rc = emit_message(r, fp, num, &sub);
                } else {
                    rc = emit_string(r, fp, num, f.val, f.vlen, 1);
                }
            }
            if (k < 0)
                return malformed_at(r, &bad); /* cannot happen: scanned above */
        }
        if (rc)
            return rc;
    }
    return DMVF_OK;
}

/* Whether message m is malformed where the plan looks (framing, wire
 * types; opaque fields by their framing), at any depth, pieces merged:
 * DMVF_OK, or DMVF_EMALFORMED reported. Counts nothing, writes nothing. */
static int check_malformed(rw *r, const dmvf_pnode *node, const dmvf__msg *m)
{
    field_info fi[DMVF_MAX_FIELD_NUMBER + 1];
    const uint32_t maxn = node->max_number;
    memset(fi, 0, sizeof(fi[0]) * (maxn + 1));
    dmvf__cursor c;
    dmvf__field f;
    dmvf__wbad bad;
    int k, rc;
    dmvf__cursor_init(&c, m);
    while ((k = dmvf__cursor_next(&c, &f, &bad)) > 0) {
        if (f.num > maxn || node->f[f.num].opaque)
            continue;
        const dmvf_fplan *fp = &node->f[f.num];
        if (f.wt != dmvf__ftype_wire(fp->type))
            return wrong_wire_type(r, f.at, f.wt, f.num);
        if (fp->action != DMVF_ACT_DESCEND)
            continue;
        if (fp->repeated) {
            dmvf__msg sub = {f.val, f.val + f.vlen, NULL, 0};
            if ((rc = check_malformed(r, fp->child, &sub)) != DMVF_OK)
                return rc;
            continue;
        }
        fi[f.num].val = f.val;
        fi[f.num].len = f.vlen;
        fi[f.num].count++;
    }
    if (k < 0)
        return malformed_at(r, &bad);
    for (uint32_t num = 1; num <= maxn; num++) {
        if (!fi[num].count)
            continue;
        dmvf__msg sub = {fi[num].val, fi[num].val + fi[num].len, NULL, 0};
        if (fi[num].count > 1)
            sub = (dmvf__msg){NULL, NULL, m, num};
        if ((rc = check_malformed(r, node->f[num].child, &sub)) != DMVF_OK)
            return rc;
    }
    return DMVF_OK;
}

int dmvf__rewrite(const dmvf_plan *plan, const dmvf_keyctx *kc,
                  const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                  size_t *out_len, dmvf_error *err)
{
    rw r = {kc, in, in + n, out, out + cap, err};
    int rc = rewrite_message(&r, plan->root, in, in + n);
    if (DMVF_UNLIKELY(rc == DMVF_ETOOBIG)) {
        /* too many elements, and malformed elsewhere too: malformed wins,
         * whichever the walk met first */
        dmvf__msg whole = {in, in + n, NULL, 0};
        if (check_malformed(&r, plan->root, &whole) == DMVF_EMALFORMED)
            rc = DMVF_EMALFORMED;
    }
    if (rc == DMVF_ESPACE)
        dmvf__seterr(err, DMVF_ESPACE, "output buffer of %zu bytes too small", cap);
    *out_len = rc ? 0 : (size_t)(r.op - out);
    return rc;
}

size_t dmvf__wire_field(const uint8_t *p, const uint8_t *end, uint32_t *num, unsigned *wt,
                        const uint8_t **val, uint32_t *vlen)
{
    dmvf__wbad bad;
    const uint8_t *q = dmvf__field_next(p, end, num, wt, val, vlen, &bad);
    return q ? (size_t)(q - p) : 0;
}
