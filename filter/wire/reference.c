/*
 * reference.c - the slow, obviously-right release path: protobuf-c unpack,
 * apply the plan to the message objects, protobuf-c pack. The tests compare
 * the wire rewriter (rewrite.c) with it byte for byte.
 *
 * Three steps:
 *
 *   1. strip      walk the wire bytes with the schema tree and the plan and
 *                 write a copy that holds only what the plan looks at:
 *                 - drop every opaque field (plan.h: a number the schema
 *                   does not know, a redacted sub-message, an M or C field
 *                   without marking: release) after stepping over its
 *                   framing only, whatever its wire type or content;
 *                 - refuse a kept field with the wrong wire type (protobuf-c
 *                   would take a bool of any wire type; protobuf does not),
 *                   a repeated field of more than DMVF_MAX_REPEATED
 *                   elements (DMVF_ETOOBIG, unless the record is also
 *                   malformed: then DMVF_EMALFORMED, as the rewriter says;
 *                   the pass that looks for it looks past a NUL byte,
 *                   which is no protobuf error),
 *                   and a string whose value the plan uses that
 *                   holds a NUL byte (protobuf-c keeps strings
 *                   NUL-terminated and would cut it short: DMVF_EINVAL);
 *                 - merge the occurrences of a singular sub-message into
 *                   one, their stripped bodies one after the other, which
 *                   is what protobuf's merge is (protobuf-c 1.4's own merge
 *                   drops a proto3 scalar of an earlier piece, so it is not
 *                   relied on).
 *                 Kept fields are copied as they are, in input order.
 *   2. unpack     protobuf_c_message_unpack of the copy, default allocator.
 *   3. transform  walk the objects with the plan node of each message
 *                 position, generically through the field descriptors
 *                 (offset, quantifier_offset), then pack. protobuf-c packs
 *                 proto3 fields in field-number order and only when not
 *                 default; with unknown fields cleared, that is the canonical
 *                 form of filter.h.
 *
 * Which fields are opaque is decided here from the schema classes, the
 * plan's actions and marking_release, not from the plan's opaque flags, so
 * that the differential test checks those too.
 *
 * The wire layout the strip walks (protobuf encoding, read with
 * protobuf-c's limits):
 *
 *   message := field*
 *   field   := key value
 *   key     := varint(number << 3 | wire_type)       at most 5 bytes
 *   value   := varint                   wire_type 0, at most 10 bytes
 *            | 8 bytes                  wire_type 1
 *            | varint(len) len bytes    wire_type 2, prefix at most 5 bytes,
 *                                                   len < 2^32
 *            | field* END_GROUP         wire_type 3: a group, closed by wire
 *                                                   type 4 with its number,
 *                                                   at most 32 deep
 *            | 4 bytes                  wire_type 5
 *   (6, 7 and an END_GROUP that closes nothing are refused; keys, varints
 *   and length prefixes are read by core/varint.h, as the rewriter reads
 *   them)
 *
 * Values of singular fields that equal the proto3 default (0, false, empty)
 * are absent whether or not the bytes spelled them out, so they are not
 * transformed: a constant or a pseudonym never appears for a field the
 * record does not have. Elements of repeated fields are always present.
 *
 * Strings replaced here are allocated with malloc, as protobuf-c's default
 * allocator does, so protobuf_c_message_free_unpacked frees them.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/core/text.h"
#include "filter/core/varint.h"
#include "filter/wire/reference.h"
#include "filter/wire/transform.h"
#include "dmv/v1/record.pb-c.h"

/* ---- 1. strip ---- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };
#define GROUP_DEPTH 32

typedef struct scan {
    const uint8_t *base;  /* start of the record: offsets in errors */
    dmvf_error *err;
    int count;            /* the first pass: count the elements of repeated fields
                             and refuse NUL bytes; 0: the malformed-only pass */
} scan;

static int scan_fail(const scan *s, int code, const uint8_t *at, const char *path, const char *what,
                     unsigned num)
{
    if (s->err) {
        dmvf__seterr(s->err, code, "%s: %s (field %u) at byte %llu", path, what, num,
                     (unsigned long long)(at - s->base));
        s->err->offset = (uint64_t)(at - s->base);
    }
    return code;
}

static const dmvf_sfield *sfield_by_number(const dmvf_snode *node, uint32_t num)
{
    size_t lo = 0, hi = node->nfields;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (node->fields[mid].number == num)
            return &node->fields[mid];
        if (node->fields[mid].number < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The plan entry for a field number of a plan node; NULL (redact) when the
 * node is NULL (a redacted subtree) or the number is beyond its table. */
static const dmvf_fplan *fplan_of(const dmvf_pnode *pn, uint32_t num)
{
    return pn && num <= pn->max_number ? &pn->f[num] : NULL;
}

/* One field as the strip reads it. */
typedef struct wfield {
    const uint8_t *at, *val, *next;
    uint32_t num, len;
    unsigned wt;
} wfield;

/* Reads the field at p (< end) into *f; fails (reported) when it does not
 * step. Groups are read through their END_GROUP key, nested ones too. */
static int read_field(const scan *s, const char *where, const uint8_t *p, const uint8_t *end, wfield *f)
{
    uint32_t open[GROUP_DEPTH];
    const uint8_t *open_at[GROUP_DEPTH];
    unsigned depth = 0;
    f->at = p;
    for (;;) {
        const uint8_t *at = p;
        uint32_t num;
        unsigned wt;
        if (p >= end)
            return scan_fail(s, DMVF_EMALFORMED, open_at[depth - 1], where,
                             "group not closed before the end of its message", open[depth - 1]);
        size_t k = dmvf__key_read(p, end, &num, &wt); /* field 0 is invalid however it is spelled */
        if (!k)
            return scan_fail(s, DMVF_EMALFORMED, at, where, "bad field key", 0);
        p += k;
        if (depth == 0) {
            f->num = num;
            f->wt = wt;
            f->val = p;
            f->len = 0;
        }
        switch (wt) {
        case WT_VARINT: {
            size_t n = dmvf__varint_len(p, end);
            if (!n)
                return scan_fail(s, DMVF_EMALFORMED, p, where, "unterminated varint", num);
            if (depth == 0)
                f->len = (uint32_t)n;
            p += n;
            break;
        }
        case WT_I64:
            if (end - p < 8)
                return scan_fail(s, DMVF_EMALFORMED, p, where, "truncated 64-bit value", num);
            p += 8;
            break;
        case WT_I32:
            if (end - p < 4)
                return scan_fail(s, DMVF_EMALFORMED, p, where, "truncated 32-bit value", num);
            p += 4;
            break;
        case WT_LEN: {
            uint32_t len;
            size_t n = dmvf__len_read(p, end, &len);
            if (!n)
                return scan_fail(s, DMVF_EMALFORMED, p, where, "bad length prefix", num);
            if (len > (size_t)(end - p) - n)
                return scan_fail(s, DMVF_EMALFORMED, p, where, "length runs past the end of its message", num);
            if (depth == 0) {
                f->val = p + n;
                f->len = len;
            }
            p += n + len;
            break;
        }
        case WT_SGROUP:
            if (depth == GROUP_DEPTH)
                return scan_fail(s, DMVF_EMALFORMED, at, where, "groups nested too deep", num);
            open_at[depth] = at;
            open[depth++] = num;
            break;
        case WT_EGROUP:
            if (depth == 0)
                return scan_fail(s, DMVF_EMALFORMED, at, where, "end of a group that was not started", num);
            if (open[depth - 1] != num)
                return scan_fail(s, DMVF_EMALFORMED, at, where, "end of a group does not match its start", num);
            depth--;
            break;
        default:
            return scan_fail(s, DMVF_EMALFORMED, at, where, "invalid wire type", num);
        }
        if (depth == 0) {
            f->next = p;
            return DMVF_OK;
        }
    }
}

/* Whether field sf (NULL: unknown) with plan entry fp (NULL: in a redacted
 * subtree, or beyond the table) is dropped unread. */
static int opaque(const dmvf_sfield *sf, const dmvf_fplan *fp, int marking_release)
{
    if (!sf || !fp || fp->action == DMVF_ACT_REDACT)
        return !sf || sf->type == DMVF_T_MESSAGE || !fp ||
               (!marking_release && (sf->klass & (DMVF_CLASS_M | DMVF_CLASS_C)));
    return 0;
}

/* Output bytes go to a growing sink (core/text.h: `failed` when out of
 * memory). */
static void put_varint(dmvf__text *b, uint64_t v)
{
    uint8_t t[10];
    dmvf__text_put(b, t, (size_t)(dmvf__put_varint(t, v) - t));
}

/* A message's bytes: one or more pieces, read in order. */
typedef struct piece {
    const uint8_t *p, *end;
} piece;

typedef struct pieces {
    piece *v;
    size_t n, cap;
} pieces;

static int pieces_add(pieces *l, const uint8_t *p, const uint8_t *end)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        piece *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (piece){p, end};
    return 0;
}

static int nomem_strip(const scan *s)
{
    return dmvf__seterr(s->err, DMVF_ENOMEM, "out of memory in the reference path");
}

static int strip(const scan *s, const dmvf_snode *node, const dmvf_pnode *pn, int mr,
                 const piece *in, size_t nin, dmvf__text *out);

/* One merged sub-message (its pieces) written as key, length, body. */
static int strip_sub(const scan *s, const dmvf_sfield *sf, const dmvf_pnode *pn, int mr, const piece *in,
                     size_t nin, dmvf__text *out)
{
    dmvf__text body = dmvf__text_mem();
    int rc = strip(s, sf->child, pn, mr, in, nin, &body);
    if (rc == DMVF_OK) {
        put_varint(out, (uint64_t)sf->number << 3 | WT_LEN);
        put_varint(out, body.len);
        dmvf__text_put(out, body.p, body.len);
        if (body.failed || out->failed)
            rc = nomem_strip(s);
    }
    dmvf__text_free(&body);
    return rc;
}

/* Strips one message, given as its pieces in[0..nin), into out. node: its
 * schema node; pn: its plan node (never NULL here: redacted messages are
 * opaque). */
static int strip(const scan *s, const dmvf_snode *node, const dmvf_pnode *pn, int mr,
                 const piece *in, size_t nin, dmvf__text *out)
{
    const char *where = *node->path ? node->path : "record";
    uint32_t count[64] = {0};     /* elements of repeated fields, by index in node->fields */
    pieces subs[64];              /* singular sub-messages: the pieces of each */
    memset(subs, 0, sizeof subs);
    int rc = DMVF_OK;
    wfield f;

    /* pass 1: check what is kept, gather the pieces of singular sub-messages */
    for (size_t i = 0; i < nin && rc == DMVF_OK; i++) {
        for (const uint8_t *p = in[i].p; p < in[i].end && rc == DMVF_OK; p = f.next) {
            if ((rc = read_field(s, where, p, in[i].end, &f)) != DMVF_OK)
                break;
            const dmvf_sfield *sf = sfield_by_number(node, f.num);
            const dmvf_fplan *fp = fplan_of(pn, f.num);
            if (opaque(sf, fp, mr))
                continue;
            unsigned want = sf->type == DMVF_T_STRING || sf->type == DMVF_T_BYTES ||
                            sf->type == DMVF_T_MESSAGE ? WT_LEN : WT_VARINT;
            if (f.wt != want) { /* protobuf-c would take a bool of any wire type */
                rc = scan_fail(s, DMVF_EMALFORMED, f.at, sf->path, "wrong wire type for a known field", f.num);
                break;
            }
            size_t idx = (size_t)(sf - node->fields);
            if (s->count && sf->repeated && ++count[idx] > DMVF_MAX_REPEATED) {
                rc = scan_fail(s, DMVF_ETOOBIG, f.at, sf->path, "repeated field has too many elements", f.num);
                break;
            }
            if (sf->type == DMVF_T_MESSAGE) {
                DMVF_REQUIRE(fp->action == DMVF_ACT_DESCEND && fp->child,
                             "a message field must be REDACT or DESCEND");
                if (!sf->repeated && pieces_add(&subs[idx], f.val, f.val + f.len) != 0)
                    rc = nomem_strip(s);
            } else if (s->count && sf->type == DMVF_T_STRING && fp->action != DMVF_ACT_REDACT &&
                       memchr(f.val, 0, (size_t)f.len)) {
                rc = scan_fail(s, DMVF_EINVAL, f.at, sf->path,
                               "string holds a NUL byte, which protobuf-c cannot represent", f.num);
            }
        }
    }

    /* pass 2: write what is kept, a singular sub-message at its first piece */
    for (size_t i = 0; i < nin && rc == DMVF_OK; i++) {
        for (const uint8_t *p = in[i].p; p < in[i].end && rc == DMVF_OK; p = f.next) {
            read_field(s, where, p, in[i].end, &f); /* stepped in pass 1 */
            const dmvf_sfield *sf = sfield_by_number(node, f.num);
            const dmvf_fplan *fp = fplan_of(pn, f.num);
            if (opaque(sf, fp, mr))
                continue;
            if (sf->type != DMVF_T_MESSAGE) {
                dmvf__text_put(out, f.at, (size_t)(f.next - f.at));
                continue;
            }
            if (sf->repeated) {
                piece one = {f.val, f.val + f.len};
                rc = strip_sub(s, sf, fp->child, mr, &one, 1, out);
                continue;
            }
            pieces *l = &subs[sf - node->fields];
            if (l->n && l->v[0].p == f.val) {
                rc = strip_sub(s, sf, fp->child, mr, l->v, l->n, out);
                l->n = 0; /* written: the later pieces are skipped */
            }
        }
    }
    if (rc == DMVF_OK && out->failed)
        rc = nomem_strip(s);
    for (size_t i = 0; i < 64; i++)
        free(subs[i].v);
    return rc;
}

/* ---- 3. transform ---- */

typedef struct xf {
    const dmvf_keyctx *kc;
    dmvf_error *err;
} xf;

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))

static int nomem(const xf *x)
{
    return dmvf__seterr(x->err, DMVF_ENOMEM, "out of memory in the reference path");
}

static void clear_unknown(ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        free(m->unknown_fields[i].data);
    free(m->unknown_fields);
    m->unknown_fields = NULL;
    m->n_unknown_fields = 0;
}

/* Clears a field to its proto3 default, freeing what it held. */
static void clear_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
    void *mem = MEMBER(m, fd->offset);
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *pn = MEMBER(m, fd->quantifier_offset);
        void *arr = *(void **)mem;
        for (size_t i = 0; arr && i < *pn; i++) {
            switch (fd->type) {
            case PROTOBUF_C_TYPE_STRING: free(((char **)arr)[i]); break;
            case PROTOBUF_C_TYPE_BYTES: free(((ProtobufCBinaryData *)arr)[i].data); break;
            case PROTOBUF_C_TYPE_MESSAGE:
                protobuf_c_message_free_unpacked(((ProtobufCMessage **)arr)[i], NULL);
                break;
            default: break;
            }
        }
        free(arr);
        *(void **)mem = NULL;
        *pn = 0;
        return;
    }
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char **ps = mem;
        if (*ps && *ps != (const char *)fd->default_value)
            free(*ps);
        *ps = (char *)fd->default_value;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *bd = mem;
        free(bd->data);
        bd->data = NULL;
        bd->len = 0;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage **pm = mem;
        protobuf_c_message_free_unpacked(*pm, NULL);
        *pm = NULL;
        break;
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_ENUM:
        memset(mem, 0, 4);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)mem = 0;
        break;
    default:
        dmvf__misuse(__func__, "field type outside the schema");
    }
}

/* The transformed copy of v[0..n) as a malloc'd buffer with a NUL after
 * its *out_n bytes; NULL when out of memory. */
static uint8_t *xf_copy(const xf *x, const dmvf_fplan *fp, const uint8_t *v, size_t n, size_t *out_n)
{
    size_t bound = dmvf__xf_string_bound(fp, n);
    uint8_t *buf = malloc(bound + 1);
    if (!buf)
        return NULL;
    *out_n = dmvf__xf_string(fp, x->kc, v, n, buf);
    DMVF_REQUIRE(*out_n <= bound, "a transform wrote past its bound");
    buf[*out_n] = 0;
    return buf;
}

/* One string value: normalized, then transformed. Returns 1 when it is to
 * be dropped, 0 with *s replaced (or kept), -1 when out of memory. *s is
 * freed when replaced unless it is `keep` (protobuf-c's static default). */
static int xf_one_string(const xf *x, const dmvf_fplan *fp, int normalize, char **s, const char *keep)
{
    const uint8_t *v = (const uint8_t *)*s;
    size_t n = strlen(*s);
    if (normalize && dmvf__normalize(fp, &v, &n))
        return 1;
    if (fp->action == DMVF_ACT_RELEASE && v == (const uint8_t *)*s)
        return 0;
    size_t m;
    uint8_t *buf = xf_copy(x, fp, v, n, &m);
    if (!buf)
        return -1;
    if (*s != keep)
        free(*s);
    *s = (char *)buf;
    return 0;
}

static uint64_t varint_get(const void *mem, ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_UINT32: return *(const uint32_t *)mem;
    case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)mem != 0;
    default: return (uint64_t)(int64_t)*(const int32_t *)mem; /* INT32, ENUM */
    }
}

static void varint_put(void *mem, ProtobufCType t, uint64_t v)
{
    switch (t) {
    case PROTOBUF_C_TYPE_UINT32: *(uint32_t *)mem = (uint32_t)v; break;
    case PROTOBUF_C_TYPE_BOOL: *(protobuf_c_boolean *)mem = v != 0; break;
    default: { /* INT32, ENUM: the low 32 bits, two's complement */
        uint32_t u = (uint32_t)v;
        memcpy(mem, &u, 4);
        break;
    }
    }
}

static size_t elt_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    default: return 4;
    }
}

static int walk(const xf *x, const dmvf_pnode *pn, ProtobufCMessage *m);

/* One repeated field that is not redacted. */
static int xf_repeated(const xf *x, const dmvf_fplan *fp, const dmvf_sfield *sf, ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fd = sf->fd;
    size_t *pn = MEMBER(m, fd->quantifier_offset);
    char *arr = *(char **)MEMBER(m, fd->offset);
    size_t n = *pn, keep = 0, esz = elt_size(fd->type);

    switch (sf->type) {
    case DMVF_T_MESSAGE:
        for (size_t i = 0; i < n; i++) {
            int rc = walk(x, fp->child, ((ProtobufCMessage **)(void *)arr)[i]);
            if (rc)
                return rc;
        }
        return DMVF_OK;
    case DMVF_T_STRING: {
        char **a = (char **)(void *)arr;
        for (size_t i = 0; i < n; i++) {
            int r = xf_one_string(x, fp, 1, &a[i], NULL);
            if (r < 0) {
                /* keep the array consistent for the final free */
                memmove(&a[keep], &a[i], (n - i) * sizeof *a);
                *pn = keep + (n - i);
                return nomem(x);
            }
            if (r == 1)
                free(a[i]);
            else
                a[keep++] = a[i];
        }
        *pn = keep;
        return DMVF_OK;
    }
    case DMVF_T_BYTES: {
        ProtobufCBinaryData *a = (ProtobufCBinaryData *)(void *)arr;
        if (fp->action == DMVF_ACT_RELEASE)
            return DMVF_OK;
        for (size_t i = 0; i < n; i++) {
            size_t m2;
            uint8_t *buf = xf_copy(x, fp, a[i].data ? a[i].data : (const uint8_t *)"", a[i].len, &m2);
            if (!buf)
                return nomem(x);
            free(a[i].data);
            a[i].data = buf;
            a[i].len = m2;
        }
        return DMVF_OK;
    }
    default:
        for (size_t i = 0; i < n; i++) {
            void *e = arr + i * esz;
            varint_put(e, fd->type, dmvf__xf_varint(fp, varint_get(e, fd->type)));
        }
        return DMVF_OK;
    }
}

/* One singular field that is not redacted. */
static int xf_singular(const xf *x, const dmvf_fplan *fp, const dmvf_sfield *sf, ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fd = sf->fd;
    void *mem = MEMBER(m, fd->offset);

    switch (sf->type) {
    case DMVF_T_MESSAGE: {
        ProtobufCMessage *sub = *(ProtobufCMessage **)mem;
        return sub ? walk(x, fp->child, sub) : DMVF_OK;
    }
    case DMVF_T_STRING: {
        char **ps = mem;
        if (!*ps || !**ps)
            return DMVF_OK; /* absent */
        int r = xf_one_string(x, fp, 1, ps, (const char *)fd->default_value);
        if (r < 0)
            return nomem(x);
        if (r == 1)
            clear_field(m, fd);
        return DMVF_OK;
    }
    case DMVF_T_BYTES: {
        ProtobufCBinaryData *bd = mem;
        if (bd->len == 0 || fp->action == DMVF_ACT_RELEASE)
            return DMVF_OK;
        size_t m2;
        uint8_t *buf = xf_copy(x, fp, bd->data, bd->len, &m2);
        if (!buf)
            return nomem(x);
        free(bd->data);
        bd->data = buf;
        bd->len = m2;
        return DMVF_OK;
    }
    default: {
        uint64_t v = varint_get(mem, fd->type);
        if (v == 0)
            return DMVF_OK; /* absent */
        varint_put(mem, fd->type, dmvf__xf_varint(fp, v));
        return DMVF_OK;
    }
    }
}

static int walk(const xf *x, const dmvf_pnode *pn, ProtobufCMessage *m)
{
    const dmvf_snode *node = pn->schema;
    DMVF_REQUIRE(node && node->desc == m->descriptor, "plan node does not match the message");
    clear_unknown(m);
    for (size_t i = 0; i < node->nfields; i++) {
        const dmvf_sfield *sf = &node->fields[i];
        const dmvf_fplan *fp = fplan_of(pn, sf->number);
        unsigned action = fp ? fp->action : DMVF_ACT_REDACT;
        if (action == DMVF_ACT_REDACT) {
            clear_field(m, sf->fd);
            continue;
        }
        DMVF_REQUIRE(!fp->sf || fp->sf == sf, "plan entry names another field");
        if (sf->type == DMVF_T_MESSAGE)
            DMVF_REQUIRE(action == DMVF_ACT_DESCEND && fp->child, "a message field must be REDACT or DESCEND");
        else
            DMVF_REQUIRE(action != DMVF_ACT_DESCEND, "DESCEND on a scalar field");
        int rc = sf->repeated ? xf_repeated(x, fp, sf, m) : xf_singular(x, fp, sf, m);
        if (rc)
            return rc;
    }
    return DMVF_OK;
}

/* ---- the entry point ---- */

int dmvf__reference_record(const dmvf_plan *plan, const dmvf_keyctx *kc,
                           const uint8_t *in, size_t n, uint8_t **out, size_t *out_len,
                           dmvf_error *err)
{
    DMVF_REQUIRE(plan && plan->root && out && out_len, "plan, out and out_len are required");
    DMVF_REQUIRE(in || n == 0, "input is NULL");
    *out = NULL;
    *out_len = 0;
    static const uint8_t empty[1];
    if (!in)
        in = empty;

    scan s = {in, err, 1};
    dmvf__text kept = dmvf__text_mem();
    piece whole = {in, in + n};
    int rc = strip(&s, dmvf__schema_root(), plan->root, plan->marking_release, &whole, 1, &kept);
    if (rc == DMVF_ETOOBIG) {
        /* too many elements; malformed elsewhere too? then malformed */
        dmvf_error e2;
        scan again = {in, &e2, 0};
        kept.len = 0;
        if (strip(&again, dmvf__schema_root(), plan->root, plan->marking_release, &whole, 1, &kept) ==
            DMVF_EMALFORMED) {
            if (err)
                *err = e2;
            rc = DMVF_EMALFORMED;
        }
    }
    if (rc) {
        dmvf__text_free(&kept);
        return rc;
    }

    ProtobufCMessage *m = protobuf_c_message_unpack(&dmv__v1__driver_record__descriptor, NULL, kept.len,
                                                    kept.p ? (const uint8_t *)kept.p : empty);
    dmvf__text_free(&kept);
    if (!m)
        return dmvf__seterr(err, DMVF_EMALFORMED, "protobuf-c rejects the record");

    xf x = {kc, err};
    rc = walk(&x, plan->root, m);
    if (rc) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        protobuf_c_message_free_unpacked(m, NULL);
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory packing %zu bytes", size);
    }
    size_t packed = protobuf_c_message_pack(m, buf);
    protobuf_c_message_free_unpacked(m, NULL);
    DMVF_REQUIRE(packed == size, "protobuf-c packed another size than it announced");
    *out = buf;
    *out_len = size;
    return DMVF_OK;
}
