/*
 * gen.c - dmvf-gen: deterministic synthetic DMV records for tests and benchmarks.
 *
 * Writes a varint-length-delimited stream of dmv.v1.DriverRecord (or of
 * dmv.v1.Frame with --framed), or the same records as JSON Lines or CSV
 * (--format jsonl|csv, for the peer benchmarks; layout at "Text formats"
 * below). The same flags and seed give the same bytes on
 * every machine: all randomness comes from xoshiro256** streams seeded by
 * splitmix64 from (seed, record index, stream), never from rand() or the clock.
 *
 * Per record i three independent streams are used:
 *
 *   SHARED (i)  everything that is neither marking (M) nor marking-correlated (C)
 *   MC     (i)  the M and C fields of the record (and "DP" / "FLA")
 *   TWIN   (i)  the M and C fields of its twin (--twins)
 *
 * so a twin differs from its record only in M and C fields (plus the class
 * "DP" <-> "D" and the "FLA" restriction, which the policy normalizes).
 *
 * Records are built as protobuf-c structs and written by the wire encoder
 * below, which walks the protobuf-c descriptors. In canonical mode it writes
 * what protobuf_c_message_pack writes (fields in number order, defaults
 * omitted, minimal varints, unknown fields last); --self-check compares the
 * two. With --wild it writes valid but non-canonical protobuf:
 *
 *   key     [tag varint, 1..5 bytes, maybe padded 0x80.. 0x00]
 *   value   varint (1..10 bytes, maybe padded; uint32 maybe >= 2^32;
 *           enums maybe unknown or negative; bools maybe 2 or 300)
 *         | fixed32 / fixed64 (unknown fields only)
 *         | length [1..5 bytes, maybe padded] payload
 *   fields in any order (the elements of one repeated field keep their order),
 *   a singular scalar preceded by an earlier occurrence with another value,
 *   explicitly encoded defaults, unknown fields 24..2000 of wire types
 *   0, 1, 2, 5 in every message, a singular sub-message sent in pieces
 *   (protobuf merges them) that every decoder here reads alike: the earlier
 *   pieces hold only leading elements of repeated fields and leading
 *   occurrences of singular strings, the last piece the rest (protobuf-c
 *   1.4 drops a proto3 scalar, bytes or sub-message of an earlier piece when
 *   it merges). Never groups, never a NUL inside a string.
 *
 * --hostile adds to --wild what protobuf allows but protobuf-c cannot read,
 * and shapes that only a plan without marking: release accepts, all of
 * them where such a plan does not look (opaque, filter/wire/plan.h):
 *
 *   - unknown groups (wire types 3 and 4), nested, in every message;
 *   - pieces of any content (an earlier piece may hold anything: the last
 *     occurrence of each field still wins);
 *   - M and C fields re-encoded: as a group, with another wire type, a
 *     sub-message whose bytes are garbage that still frames, in pieces;
 *     now and then 10,001 empty documents.
 *
 * A record and its twin draw these from their own streams, so they differ
 * in them; what a plan without marking: release releases must not.
 *
 * --canary writes records in which every leaf position of the schema (from
 * filter/schema.h, so new fields are covered) holds a unique value, with a
 * manifest (path TAB type TAB value) for the leak test.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <protobuf-c/protobuf-c.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/wire/schema.h"
#include "dmv/v1/record.pb-c.h"
#include "dmv/v1/request.pb-c.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* PRNG: splitmix64 seeds xoshiro256**.                                      */

typedef struct rng { uint64_t s[4]; } rng;

enum { STREAM_SHARED = 1, STREAM_MC, STREAM_TWIN, STREAM_MUTATE, STREAM_WILD, STREAM_WILD_TWIN,
       STREAM_CANARY, STREAM_MUTATE_MC, STREAM_MUTATE_MC_TWIN };

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t index, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    x = a ^ (index * 0xD6E8FEB86659FD93ull);
    uint64_t b = splitmix64(&x);
    x = b ^ (stream * 0xA0761D6478BD642Full);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t v, int k) { return (v << k) | (v >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n); n > 0. */
static uint32_t below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static uint32_t between(rng *r, uint32_t lo, uint32_t hi)
{
    return lo + below(r, hi - lo + 1);
}

static int chance(rng *r, double p)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53 < p;
}

/* ------------------------------------------------------------------------ */
/* Arena: everything a record's structs point at; freed after each record.   */

typedef struct chunk { struct chunk *next; size_t used, cap; max_align_t data[]; } chunk;
static chunk *g_arena;

static void *arena_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!g_arena || g_arena->cap - g_arena->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        chunk *c = malloc(sizeof *c + cap);
        if (!c) {
            fprintf(stderr, "dmvf-gen: out of memory\n");
            exit(EX_OSERR);
        }
        c->next = g_arena;
        c->used = 0;
        c->cap = cap;
        g_arena = c;
    }
    void *p = (char *)g_arena->data + g_arena->used;
    g_arena->used += n;
    memset(p, 0, n);
    return p;
}

static void arena_reset(void)
{
    while (g_arena) {
        chunk *next = g_arena->next;
        free(g_arena);
        g_arena = next;
    }
}

static char *astr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *astr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = arena_alloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void *new_msg(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = arena_alloc(d->sizeof_message);
    d->message_init(m);
    return m;
}

/* ------------------------------------------------------------------------ */
/* Growable byte buffer.                                                      */

typedef struct bbuf { uint8_t *p; size_t n, cap; } bbuf;

static void bb_reserve(bbuf *b, size_t add)
{
    if (b->cap - b->n >= add)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->n < add)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "dmvf-gen: out of memory\n");
        exit(EX_OSERR);
    }
    b->p = p;
    b->cap = cap;
}

static void bb_put(bbuf *b, const void *v, size_t n)
{
    bb_reserve(b, n);
    if (n)
        memcpy(b->p + b->n, v, n);
    b->n += n;
}


static unsigned varint_len(uint64_t v)
{
    unsigned n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* A varint of v followed by `pad` redundant bytes (0x80 ... 0x00). */
static void bb_varint(bbuf *b, uint64_t v, unsigned pad)
{
    uint8_t tmp[20];
    unsigned n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | 0x80);
        v >>= 7;
    } while (v);
    tmp[n - 1] &= 0x7f;
    if (pad) {
        tmp[n - 1] |= 0x80;
        for (unsigned k = 1; k < pad; k++)
            tmp[n++] = 0x80;
        tmp[n++] = 0x00;
    }
    bb_put(b, tmp, n);
}

/* ------------------------------------------------------------------------ */
/* The wire encoder (canonical or wild).                                      */

/* protobuf-c limits: keys and lengths at most 5 bytes, varint values 10. */
#define KEY_MAX 5u
#define LEN_MAX 5u
#define VAL_MAX 10u

typedef struct wild {
    rng r;
    int on;
    int hostile;           /* --hostile (with on) */
} wild;

typedef struct item {
    uint32_t number;
    size_t off, len;       /* in the message's scratch buffer */
} item;

static unsigned pick_pad(wild *w, uint64_t v, unsigned max)
{
    if (!w || !w->on)
        return 0;
    unsigned n = varint_len(v);
    if (n >= max || !chance(&w->r, 0.12))
        return 0;
    return between(&w->r, 1, max - n);
}

static void put_key(wild *w, bbuf *b, uint32_t number, unsigned wt)
{
    uint64_t key = ((uint64_t)number << 3) | wt;
    bb_varint(b, key, pick_pad(w, key, KEY_MAX));
}

static void put_len(wild *w, bbuf *b, size_t n)
{
    bb_varint(b, n, pick_pad(w, n, LEN_MAX));
}

static void put_val(wild *w, bbuf *b, uint64_t v)
{
    bb_varint(b, v, pick_pad(w, v, VAL_MAX));
}

/* The wire varint of a scalar field's value, as protobuf-c packs it. */
static uint64_t scalar_wire(const ProtobufCFieldDescriptor *fd, const void *p)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_UINT32: return *(const uint32_t *)p;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_ENUM: return (uint64_t)(int64_t)*(const int32_t *)p;
    case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)p ? 1u : 0u;
    default: abort();
    }
}

static int is_scalar(const ProtobufCFieldDescriptor *fd)
{
    return fd->type == PROTOBUF_C_TYPE_UINT32 || fd->type == PROTOBUF_C_TYPE_INT32 ||
           fd->type == PROTOBUF_C_TYPE_ENUM || fd->type == PROTOBUF_C_TYPE_BOOL;
}

static void enc_varint_field(wild *w, bbuf *b, const ProtobufCFieldDescriptor *fd, uint64_t v)
{
    put_key(w, b, fd->id, 0);
    if (w && w->on) {
        if (fd->type == PROTOBUF_C_TYPE_UINT32 && chance(&w->r, 0.08))
            v |= (uint64_t)between(&w->r, 1, 0xFFFFFFFFu) << 32;  /* protobuf-c keeps the low 32 bits */
        else if (fd->type == PROTOBUF_C_TYPE_BOOL && v && chance(&w->r, 0.25))
            v = chance(&w->r, 0.5) ? 2 : 300;
    }
    put_val(w, b, v);
}

static void enc_bytes_field(wild *w, bbuf *b, uint32_t number, const void *v, size_t n)
{
    put_key(w, b, number, 2);
    put_len(w, b, n);
    bb_put(b, v, n);
}

static void rand_ascii(rng *r, char *out, size_t n)
{
    static const char cs[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -";
    for (size_t i = 0; i < n; i++)
        out[i] = cs[below(r, sizeof cs - 1)];
    out[n] = 0;
}

/* An earlier occurrence of a singular scalar with another value. */
static void enc_decoy(wild *w, bbuf *b, const ProtobufCFieldDescriptor *fd, const void *p)
{
    if (fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_BYTES) {
        char s[24];
        rand_ascii(&w->r, s, between(&w->r, 1, 16));
        enc_bytes_field(w, b, fd->id, s, strlen(s));
        return;
    }
    uint64_t cur = scalar_wire(fd, p), v;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_BOOL: v = cur ? 0 : 1; break;
    case PROTOBUF_C_TYPE_ENUM: v = (cur + 1 + below(&w->r, 4)) % 6; break;
    default: v = cur ^ (1u + below(&w->r, 0x7FFFFFFFu)); break;
    }
    if (fd->type != PROTOBUF_C_TYPE_UINT32)
        v = (uint64_t)(int64_t)(int32_t)(uint32_t)v;
    enc_varint_field(w, b, fd, v);
}

static void enc_message(wild *w, const ProtobufCMessage *m, const dmvf_snode *sn, int with_unknown, bbuf *out);

/* The fields of an encoded message (wire types 0, 1, 2, 5 and groups):
 * number, offset and length of each; returns how many (at most max). */
typedef struct wspan { uint32_t number; size_t off, len; } wspan;

static size_t wire_read_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned s = 0; *at < n && s < 70; s += 7) {
        uint8_t b = p[(*at)++];
        x |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    abort(); /* the encoder wrote it: cannot happen */
}

static size_t wire_fields(const uint8_t *p, size_t n, wspan *out, size_t max)
{
    size_t at = 0, k = 0;
    while (at < n) {
        size_t start = at;
        uint64_t key, v;
        wire_read_varint(p, n, &at, &key);
        unsigned depth = 0;
        for (;;) {
            switch (key & 7) {
            case 0: wire_read_varint(p, n, &at, &v); break;
            case 1: at += 8; break;
            case 5: at += 4; break;
            case 2: wire_read_varint(p, n, &at, &v); at += (size_t)v; break;
            case 3: depth++; break;
            case 4: depth--; break;
            default: abort();
            }
            if (!depth)
                break;
            wire_read_varint(p, n, &at, &key);
        }
        if (k == max)
            abort();
        out[k++] = (wspan){(uint32_t)(key >> 3), start, at - start};
    }
    return k;
}

/* The pieces of the body sub[0..n) of a singular sub-message of type d:
 * the leading occurrences of some fields go to an earlier piece, the rest
 * stays in order in the last (see the top of the file). Writes each piece
 * as field `number` into scratch, one item each. */
#define MAX_ITEMS 512
static void enc_pieces(wild *w, const ProtobufCMessageDescriptor *d, uint32_t number, const uint8_t *sub,
                       size_t n, bbuf *scratch, item *items, size_t *nitems, size_t maxitems)
{
    wspan f[MAX_ITEMS];
    size_t nf = wire_fields(sub, n, f, MAX_ITEMS);
    unsigned char early[MAX_ITEMS] = {0};
    uint32_t stop[64] = {0}; /* per field number: leading occurrences kept moving; 0 unset */
    for (size_t i = 0; i < nf; i++) {
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(d, f[i].number);
        int movable = w->hostile || (fd && (fd->label == PROTOBUF_C_LABEL_REPEATED ||
                                            fd->type == PROTOBUF_C_TYPE_STRING));
        uint32_t num = f[i].number < 64 ? f[i].number : 63;
        if (!movable)
            continue;
        if (stop[num] == 0)
            stop[num] = chance(&w->r, 0.5) ? 1 : 2; /* 1: this number moves its leading run */
        if (stop[num] == 1) {
            early[i] = 1;
            if (chance(&w->r, 0.3))
                stop[num] = 2; /* the rest of its occurrences stay */
        }
    }
    for (int piece = 0; piece < 2; piece++) {
        bbuf body = {0};
        for (size_t i = 0; i < nf; i++)
            if (early[i] == (piece == 0))
                bb_put(&body, sub + f[i].off, f[i].len);
        if (piece == 0 && body.n == 0 && !chance(&w->r, 0.3)) {
            free(body.p);
            continue; /* mostly no empty first piece */
        }
        if (*nitems >= maxitems)
            abort();
        size_t off = scratch->n;
        enc_bytes_field(w, scratch, number, body.p, body.n);
        items[(*nitems)++] = (item){number, off, scratch->n - off};
        free(body.p);
    }
}

static void bb_byte(bbuf *b, char c);

/* --hostile: field[0..n) (one occurrence of an M or C field) written
 * another way into out; none of them is what the schema says. */
static void enc_hostile_mc(wild *w, uint32_t number, const uint8_t *field, size_t n, bbuf *out)
{
    size_t at = 0;
    uint64_t key, v = 0;
    wire_read_varint(field, n, &at, &key);
    const uint8_t *val = field + at;
    size_t vlen = n - at;
    if ((key & 7) == 2) {
        wire_read_varint(field, n, &at, &v);
        val = field + at;
        vlen = n - at;
    }
    switch (below(&w->r, 5)) {
    case 0: /* a group holding the value */
        bb_varint(out, (uint64_t)number << 3 | 3, 0);
        if ((key & 7) == 2)
            enc_bytes_field(w, out, 1, val, vlen);
        else
            bb_put(out, field, n); /* the field itself, nested */
        bb_varint(out, (uint64_t)number << 3 | 4, 0);
        break;
    case 1: /* a varint */
        bb_varint(out, (uint64_t)number << 3 | 0, 0);
        bb_varint(out, (key & 7) == 2 ? vlen : rng_next(&w->r) >> below(&w->r, 64), 0);
        break;
    case 2: { /* a fixed64, a fixed32 */
        uint64_t x = rng_next(&w->r);
        int wide = chance(&w->r, 0.5);
        bb_varint(out, (uint64_t)number << 3 | (wide ? 1u : 5u), 0);
        bb_put(out, &x, wide ? 8 : 4);
        break;
    }
    case 3: { /* length-delimited garbage that frames: never parses as fields */
        uint8_t g[40];
        size_t k = 1 + below(&w->r, sizeof g - 1);
        for (size_t i = 0; i < k; i++)
            g[i] = (uint8_t)(rng_next(&w->r) | 0x80); /* continuation bytes only */
        enc_bytes_field(w, out, number, g, k);
        break;
    }
    default: /* the same value in two pieces, cut anywhere */
        if ((key & 7) == 2 && vlen > 1) {
            size_t cut = 1 + below(&w->r, (uint32_t)(vlen - 1));
            enc_bytes_field(w, out, number, val, cut);
            enc_bytes_field(w, out, number, val + cut, vlen - cut);
        } else {
            bb_put(out, field, n);
            bb_put(out, field, n);
        }
        break;
    }
}

/* Appends every occurrence of field fd of m to scratch, one item each. sf:
 * fd's position in the schema (NULL: none). */
static void enc_field(wild *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
                      const dmvf_sfield *sf, int with_unknown, bbuf *scratch, item *items, size_t *nitems,
                      size_t maxitems)
{
    const char *base = (const char *)m;
    const void *p = base + fd->offset;
    int wildon = w && w->on;
    int hostile_mc = wildon && w->hostile && sf && (sf->klass & (DMVF_CLASS_M | DMVF_CLASS_C));
    const dmvf_snode *child = sf ? sf->child : NULL;
#define ITEM_BEGIN() size_t off_ = scratch->n
#define ITEM_END() do { if (*nitems >= maxitems) abort(); \
        if (hostile_mc && chance(&w->r, 0.3)) { \
            bbuf h_ = {0}; \
            enc_hostile_mc(w, fd->id, scratch->p + off_, scratch->n - off_, &h_); \
            scratch->n = off_; \
            bb_put(scratch, h_.p, h_.n); \
            free(h_.p); \
        } \
        items[(*nitems)++] = (item){fd->id, off_, scratch->n - off_}; } while (0)

    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)(base + fd->quantifier_offset);
        for (size_t i = 0; i < n; i++) {
            ITEM_BEGIN();
            switch (fd->type) {
            case PROTOBUF_C_TYPE_STRING: {
                char *const *arr = *(char *const *const *)p;
                const char *s = arr[i] ? arr[i] : "";
                enc_bytes_field(w, scratch, fd->id, s, strlen(s));
                break;
            }
            case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *c = ((ProtobufCMessage *const *)*(void *const *)p)[i];
                bbuf sub = {0};
                enc_message(w, c, child, with_unknown, &sub);
                enc_bytes_field(w, scratch, fd->id, sub.p, sub.n);
                free(sub.p);
                break;
            }
            default:
                abort();  /* the schema repeats only strings and messages */
            }
            ITEM_END();
        }
        return;
    }

    if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *c = *(ProtobufCMessage *const *)p;
        if (!c)
            return;
        bbuf sub = {0};
        enc_message(w, c, child, with_unknown, &sub);
        if (wildon && chance(&w->r, 0.15)) {
            enc_pieces(w, c->descriptor, fd->id, sub.p, sub.n, scratch, items, nitems, maxitems);
            free(sub.p);
            return;
        }
        ITEM_BEGIN();
        enc_bytes_field(w, scratch, fd->id, sub.p, sub.n);
        free(sub.p);
        ITEM_END();
        return;
    }

    const void *v = NULL;
    size_t vn = 0;
    uint64_t num = 0;
    int present;
    if (fd->type == PROTOBUF_C_TYPE_STRING) {
        v = *(const char *const *)p;
        vn = v ? strlen(v) : 0;
        present = vn > 0;
    } else if (fd->type == PROTOBUF_C_TYPE_BYTES) {
        const ProtobufCBinaryData *bd = p;
        v = bd->data;
        vn = bd->len;
        present = vn > 0;
    } else if (is_scalar(fd)) {
        num = scalar_wire(fd, p);
        present = num != 0;
    } else {
        abort();
    }

    int explicit_default = !present && wildon && chance(&w->r, 0.10);
    if (!present && !explicit_default)
        return;
    if (wildon && chance(&w->r, present ? 0.08 : 0.3)) {
        ITEM_BEGIN();
        enc_decoy(w, scratch, fd, p);
        ITEM_END();
    }
    ITEM_BEGIN();
    if (fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_BYTES)
        enc_bytes_field(w, scratch, fd->id, v, vn);
    else
        enc_varint_field(w, scratch, fd, num);
    ITEM_END();
#undef ITEM_BEGIN
#undef ITEM_END
}

static void enc_unknown(wild *w, bbuf *b, const ProtobufCMessageUnknownField *u)
{
    put_key(w, b, u->tag, (unsigned)u->wire_type);
    bb_put(b, u->data, u->len);
}

/* A random unknown field: number 24..2000, wire type 0, 1, 2 or 5; with
 * --hostile also 3, a group of such fields (depth: groups it is inside). */
static void enc_random_unknown(wild *w, bbuf *b, unsigned depth)
{
    static const unsigned wts[] = {0, 1, 2, 5, 3};
    uint32_t number = between(&w->r, 24, 2000);
    unsigned wt = wts[below(&w->r, w->hostile && depth < 3 ? 5 : 4)];
    put_key(w, b, number, wt);
    switch (wt) {
    case 3: {
        unsigned k = below(&w->r, 4);
        for (unsigned i = 0; i < k; i++)
            enc_random_unknown(w, b, depth + 1);
        put_key(w, b, number, 4);
        break;
    }
    case 0: {
        uint64_t v = rng_next(&w->r);
        v >>= below(&w->r, 64);
        put_val(w, b, v);
        break;
    }
    case 1: {
        uint64_t v = rng_next(&w->r);
        bb_put(b, &v, 8);
        break;
    }
    case 5: {
        uint32_t v = (uint32_t)rng_next(&w->r);
        bb_put(b, &v, 4);
        break;
    }
    default: {
        uint8_t tmp[32];
        size_t n = below(&w->r, sizeof tmp + 1);
        for (size_t i = 0; i < n; i++)
            tmp[i] = (uint8_t)rng_next(&w->r);
        put_len(w, b, n);
        bb_put(b, tmp, n);
        break;
    }
    }
}

/* Encodes m (without its own key and length) into out. sn: m's position
 * in the schema (NULL: none). with_unknown: also the unknown fields the
 * struct carries. */
static void enc_message(wild *w, const ProtobufCMessage *m, const dmvf_snode *sn, int with_unknown, bbuf *out)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int wildon = w && w->on;
    bbuf scratch = {0};
    item items[MAX_ITEMS];
    size_t nitems = 0;

    for (unsigned i = 0; i < d->n_fields; i++)
        enc_field(w, m, &d->fields[i], sn ? dmvf__schema_child(sn, d->fields[i].id) : NULL, with_unknown,
                  &scratch, items, &nitems, MAX_ITEMS);
    if (with_unknown) {
        for (unsigned i = 0; i < m->n_unknown_fields; i++) {
            if (nitems >= MAX_ITEMS)
                abort();
            size_t off = scratch.n;
            enc_unknown(w, &scratch, &m->unknown_fields[i]);
            items[nitems++] = (item){m->unknown_fields[i].tag, off, scratch.n - off};
        }
    }
    if (wildon && chance(&w->r, 0.25)) {
        unsigned k = between(&w->r, 1, 3);
        for (unsigned i = 0; i < k && nitems < MAX_ITEMS; i++) {
            size_t off = scratch.n;
            enc_random_unknown(w, &scratch, 0);
            items[nitems++] = (item){0xFFFFFFFFu, off, scratch.n - off};
        }
    }

    size_t order[MAX_ITEMS];
    for (size_t i = 0; i < nitems; i++)
        order[i] = i;
    if (wildon && nitems > 1 && chance(&w->r, 0.5)) {
        /* Shuffle the slots, then give each field's slots back to that field's
         * items in their original order, so that repeated elements and the
         * decoy-before-value pairs keep their relative order. */
        size_t perm[MAX_ITEMS];
        unsigned char used[MAX_ITEMS] = {0};
        for (size_t i = 0; i < nitems; i++)
            perm[i] = i;
        for (size_t i = nitems - 1; i > 0; i--) {
            size_t j = below(&w->r, (uint32_t)(i + 1));
            size_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t s = 0; s < nitems; s++) {
            uint32_t num = items[perm[s]].number;
            for (size_t i = 0; i < nitems; i++) {
                if (!used[i] && items[i].number == num) {
                    used[i] = 1;
                    order[s] = i;
                    break;
                }
            }
        }
    }
    for (size_t s = 0; s < nitems; s++)
        bb_put(out, scratch.p + items[order[s]].off, items[order[s]].len);
    free(scratch.p);
    if (wildon && w->hostile && sn == dmvf__schema_root() && chance(&w->r, 0.004)) {
        /* more documents (C) than a repeated field may hold: not counted */
        for (unsigned i = 0; i < 10001; i++) {
            bb_byte(out, 0x2a);
            bb_byte(out, 0x00);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Data tables.                                                               */

static const char *const FAMILY[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyễn", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Chen", "Wang", "Kim", "Patel",
    "O'Brien", "Kowalski", "Müller", "Núñez", "Peña", "Ibáñez", "Trần", "Lê", "Phạm", "Dubois",
    "Cohen", "Goldberg", "Rossi", "Russo", "Murphy", "Sullivan", "Díaz", "Cruz", "Reyes",
    "Morales", "Ortiz", "Gutiérrez", "Chávez", "Ramos", "Ruiz", "Álvarez", "Castillo",
    "Jiménez", "Vásquez", "Romero", "Herrera", "Medina", "Aguilar", "Vargas", "Mendoza",
    "Castro", "Singh", "Khan", "Ali", "Ahmed", "Okafor", "Mensah", "Diallo", "Haddad",
    "Yılmaz", "Öztürk", "Van der Berg", "St. John",
};

static const char *const GIVEN[] = {
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Christopher", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty",
    "Mark", "Sandra", "José", "María", "Juan", "Guadalupe", "Luis", "Ana", "Carlos", "Sofía",
    "Jesús", "Lucía", "Wei", "Mei", "Jin", "Hyun-woo", "Priya", "Arjun", "Fatima", "Mohammed",
    "Aisha", "Omar", "Chidi", "Ngozi", "Kwame", "Zoë", "Chloé", "Renée", "André", "François",
    "Łukasz", "Agnieszka", "Søren", "Björn", "Minh", "Thảo", "Huy", "Ngọc", "Dmitri", "Olga",
    "Siobhán", "Seán", "Ayşe", "Mehmet", "Emily", "Noah", "Olivia", "Liam", "Ava", "Ethan",
};

/* ASCII spellings for e-mail addresses. */
static const struct { const char *u, *a; } FOLD[] = {
    {"á", "a"}, {"é", "e"}, {"í", "i"}, {"ó", "o"}, {"ú", "u"}, {"ñ", "n"}, {"ü", "u"},
    {"ö", "o"}, {"ë", "e"}, {"ø", "o"}, {"ç", "c"}, {"ş", "s"}, {"ı", "i"}, {"ł", "l"},
    {"Ł", "l"}, {"Á", "a"}, {"Ö", "o"}, {"ễ", "e"}, {"ầ", "a"}, {"ạ", "a"}, {"ả", "a"},
    {"ọ", "o"},
};

static const char *const SUFFIX[] = {"JR", "SR", "II", "III", "IV"};
static const char *const EYES[] = {"BRO", "BLU", "GRN", "HAZ", "BLK", "GRY", "DIC"};
static const char *const HAIR[] = {"BRO", "BLK", "BLN", "RED", "GRY", "BAL", "WHI", "SDY"};
static const char *const RACE[] = {"WHITE", "BLACK", "ASIAN", "HISPANIC", "NATIVE AMERICAN",
                                   "PACIFIC ISLANDER", "MULTIRACIAL", "OTHER"};
static const char *const US_PLACES[] = {"NEW YORK", "NEW YORK", "NEW YORK", "NEW JERSEY",
    "PENNSYLVANIA", "CONNECTICUT", "MASSACHUSETTS", "FLORIDA", "CALIFORNIA", "TEXAS",
    "PUERTO RICO", "OHIO", "ILLINOIS", "GEORGIA", "MICHIGAN", "VIRGINIA"};
static const char *const COUNTRIES[] = {"MEXICO", "GUATEMALA", "ECUADOR", "DOMINICAN REPUBLIC",
    "CHINA", "HONDURAS", "EL SALVADOR", "COLOMBIA", "HAITI", "INDIA", "BANGLADESH", "JAMAICA",
    "PERU", "VENEZUELA", "NIGERIA", "GHANA", "SENEGAL", "PHILIPPINES", "VIETNAM", "POLAND"};
static const char *const COUNTRY_CODES[] = {"MEX", "GTM", "ECU", "DOM", "CHN", "HND", "SLV",
    "COL", "HTI", "IND", "BGD", "JAM", "PER", "VEN", "NGA", "GHA", "SEN", "PHL", "VNM", "POL"};

static const struct { const char *city, *county, *zip3; } CITIES[] = {
    {"NEW YORK", "NEW YORK", "100"}, {"BROOKLYN", "KINGS", "112"}, {"BRONX", "BRONX", "104"},
    {"STATEN ISLAND", "RICHMOND", "103"}, {"JAMAICA", "QUEENS", "114"},
    {"FLUSHING", "QUEENS", "113"}, {"ASTORIA", "QUEENS", "111"}, {"CORONA", "QUEENS", "113"},
    {"YONKERS", "WESTCHESTER", "107"}, {"WHITE PLAINS", "WESTCHESTER", "106"},
    {"NEW ROCHELLE", "WESTCHESTER", "108"}, {"HEMPSTEAD", "NASSAU", "115"},
    {"BRENTWOOD", "SUFFOLK", "117"}, {"ALBANY", "ALBANY", "122"},
    {"SCHENECTADY", "SCHENECTADY", "123"}, {"TROY", "RENSSELAER", "121"},
    {"SYRACUSE", "ONONDAGA", "132"}, {"ROCHESTER", "MONROE", "146"}, {"BUFFALO", "ERIE", "142"},
    {"UTICA", "ONEIDA", "135"}, {"BINGHAMTON", "BROOME", "139"}, {"ITHACA", "TOMPKINS", "148"},
    {"POUGHKEEPSIE", "DUTCHESS", "126"}, {"NEWBURGH", "ORANGE", "125"},
    {"KINGSTON", "ULSTER", "124"}, {"PLATTSBURGH", "CLINTON", "129"},
    {"WATERTOWN", "JEFFERSON", "136"}, {"ELMIRA", "CHEMUNG", "149"},
    {"JAMESTOWN", "CHAUTAUQUA", "147"}, {"NIAGARA FALLS", "NIAGARA", "143"},
    {"SARATOGA SPRINGS", "SARATOGA", "128"}, {"RIVERHEAD", "SUFFOLK", "119"},
};

static const char *const STREETS[] = {
    "MAIN ST", "BROADWAY", "ELM ST", "5TH AVE", "LEXINGTON AVE", "JAMAICA AVE", "OCEAN PKWY",
    "CENTRAL AVE", "STATE ST", "LAKE RD", "MAPLE AVE", "PARK PL", "WASHINGTON ST",
    "GRAND CONCOURSE", "ATLANTIC AVE", "QUEENS BLVD", "ROOSEVELT AVE", "FLATBUSH AVE",
    "DELAWARE AVE", "GENESEE ST", "ERIE BLVD", "MARKET ST", "CHURCH ST", "RIVER RD",
    "HILLSIDE AVE", "NORTHERN BLVD", "E 149TH ST", "W 181ST ST", "AMSTERDAM AVE", "UNION TPKE",
};
static const unsigned AREA_CODES[] = {212, 718, 917, 347, 646, 929, 516, 631, 914, 845, 518,
                                      315, 585, 716, 607};
static const char *const MAIL_DOMAINS[] = {"gmail.com", "yahoo.com", "outlook.com", "aol.com",
                                           "hotmail.com", "icloud.com", "verizon.net"};
static const char *const EMPLOYERS[] = {
    "NEW YORK CITY DOE", "MOUNT SINAI HOSPITAL", "AMAZON", "TARGET", "WALMART", "SELF-EMPLOYED",
    "NORTHWELL HEALTH", "MTA NEW YORK CITY TRANSIT", "STATE OF NEW YORK", "IBM", "WEGMANS",
    "JPMORGAN CHASE", "CON EDISON", "UPS", "DELI 23 INC", "GREEN LEAF RESTAURANT",
    "ACME CONSTRUCTION LLC", "SUNRISE FARMS", "HUDSON VALLEY DAIRY", "CLEAN SWEEP JANITORIAL",
};
static const char *const RESTRICTIONS[] = {"B", "C", "D", "E", "F", "G", "I", "J", "K", "W"};
static const char *const CDL_ENDORSE[] = {"H", "N", "P", "S", "T", "X"};

static const struct { const char *make, *model; } VEHICLES[] = {
    {"TOYOTA", "CAMRY"}, {"TOYOTA", "COROLLA"}, {"TOYOTA", "RAV4"}, {"HONDA", "ACCORD"},
    {"HONDA", "CIVIC"}, {"HONDA", "CR-V"}, {"FORD", "F-150"}, {"FORD", "ESCAPE"},
    {"FORD", "EXPLORER"}, {"CHEVROLET", "SILVERADO"}, {"CHEVROLET", "EQUINOX"},
    {"NISSAN", "ALTIMA"}, {"NISSAN", "ROGUE"}, {"HYUNDAI", "ELANTRA"}, {"SUBARU", "OUTBACK"},
    {"JEEP", "GRAND CHEROKEE"}, {"BMW", "X3"}, {"TESLA", "MODEL 3"}, {"KIA", "SORENTO"},
    {"RAM", "1500"}, {"VOLKSWAGEN", "JETTA"}, {"HARLEY-DAVIDSON", "SPORTSTER"},
};
static const char *const COLORS[] = {"BLK", "WHI", "SIL", "GRY", "BLU", "RED", "GRN", "BRO",
                                     "TAN", "GLD"};
static const char *const PLATE_TYPES[] = {"PAS", "PAS", "PAS", "PAS", "COM", "MOT", "SRF", "ORG"};

static const struct { const char *code, *desc; int kind, points; } EVENTS[] = {
    {"VTL1180B", "SPEED OVER POSTED LIMIT", 1, 4},
    {"VTL1180D", "SPEED IN ZONE", 1, 3},
    {"VTL1225C2A", "OPERATING MV USING PORTABLE PHONE", 1, 5},
    {"VTL1225D", "OPERATING MV USING PORTABLE ELECTRONIC DEVICE", 1, 5},
    {"VTL1192-2", "DRIVING WHILE INTOXICATED", 1, 0},
    {"VTL1192-1", "DRIVING WHILE ABILITY IMPAIRED", 1, 0},
    {"VTL1110A", "DISOBEYED TRAFFIC DEVICE", 1, 2},
    {"VTL1111D1", "FAILED TO STOP AT RED LIGHT", 1, 3},
    {"VTL1172A", "FAILED TO STOP AT STOP SIGN", 1, 3},
    {"VTL1128A", "UNSAFE LANE CHANGE", 1, 3},
    {"VTL1229C3", "NO SEAT BELT", 1, 0},
    {"VTL319-1", "NO INSURANCE", 1, 0},
    {"VTL509-1", "UNLICENSED OPERATOR", 1, 0},
    {"VTL600-1A", "LEAVING SCENE PROPERTY DAMAGE", 1, 3},
    {"ACC", "ACCIDENT REPORTED", 3, 0},
    {"ACC-INJ", "ACCIDENT WITH INJURY", 3, 0},
    {"SUSP-FTA", "SUSPENSION FAILURE TO ANSWER SUMMONS", 2, 0},
    {"SUSP-FTP", "SUSPENSION FAILURE TO PAY FINE", 2, 0},
    {"PTS-11", "POINT ACCUMULATION HEARING", 4, 0},
    {"REIN", "REINSTATEMENT", 5, 0},
};
static const char *const COURTS[] = {
    "NYC TVB MANHATTAN SOUTH", "NYC TVB BROOKLYN NORTH", "NYC TVB QUEENS", "NYC TVB BRONX",
    "ALBANY CITY COURT", "BUFFALO TVB", "ROCHESTER TVB", "TOWN OF COLONIE COURT",
    "HEMPSTEAD VILLAGE COURT", "SUFFOLK COUNTY TPVA", "NASSAU COUNTY TPVA",
    "SYRACUSE CITY COURT",
};
static const char *const EVENT_JUR[] = {"NY", "NY", "NY", "NY", "NY", "NY", "NJ", "PA", "CT",
                                        "MA", "VT"};
static const char *const PROGRAMS[] = {"AB60", "TVDL", "DAC", "DPC"};
static const char *const DENIALS[] = {"VISION TEST FAILED", "FEES UNPAID",
                                      "DOCUMENTS INSUFFICIENT", "ROAD TEST NOT PASSED"};
static const char *const SAVE_RESULTS[] = {"NO RECORD FOUND", "INSTITUTE ADDITIONAL VERIFICATION",
                                           "NOT SUBMITTED", "CASE CLOSED NO MATCH"};

#define PICK(r, a) ((a)[below((r), (uint32_t)N_(a))])

/* ------------------------------------------------------------------------ */
/* Dates (uint32 YYYYMMDD).                                                   */

static int leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned mdays(unsigned y, unsigned m)
{
    static const unsigned d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

static uint32_t ymd(unsigned y, unsigned m, unsigned d) { return y * 10000u + m * 100u + d; }

static uint32_t rand_date(rng *r, unsigned y0, unsigned y1)
{
    unsigned y = between(r, y0, y1), m = between(r, 1, 12);
    return ymd(y, m, between(r, 1, mdays(y, m)));
}

static uint32_t add_years(uint32_t date, unsigned k)
{
    unsigned y = date / 10000 + k, m = date / 100 % 100, d = date % 100;
    if (m == 2 && d == 29 && !leap(y))
        d = 28;
    return ymd(y, m, d);
}

/* Days since 1970-01-01 to YYYYMMDD (proleptic Gregorian). */
static uint32_t date_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return ymd((unsigned)(y + (m <= 2)), m, d);
}

/* ------------------------------------------------------------------------ */
/* Realistic records.                                                         */

static char *fold_ascii_lower(const char *s)
{
    char *out = arena_alloc(strlen(s) + 1), *o = out;
    while (*s) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x80) {
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                *o++ = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            s++;
            continue;
        }
        size_t k = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : 2, j;
        for (j = 0; j < N_(FOLD); j++) {
            if (strncmp(s, FOLD[j].u, strlen(FOLD[j].u)) == 0) {
                *o++ = FOLD[j].a[0];
                break;
            }
        }
        s += k;
    }
    *o = 0;
    return out;
}

static char *digits(rng *r, unsigned n)
{
    char *s = arena_alloc(n + 1);
    for (unsigned i = 0; i < n; i++)
        s[i] = (char)('0' + below(r, 10));
    return s;
}

static char *alnum(rng *r, unsigned n)
{
    static const char cs[] = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";
    char *s = arena_alloc(n + 1);
    for (unsigned i = 0; i < n; i++)
        s[i] = cs[below(r, sizeof cs - 1)];
    return s;
}

static Dmv__V1__Address *gen_address(rng *r, int po_box)
{
    Dmv__V1__Address *a = new_msg(&dmv__v1__address__descriptor);
    unsigned c = below(r, N_(CITIES));
    if (po_box) {
        a->street = astr("PO BOX %u", between(r, 1, 9999));
    } else {
        unsigned num = between(r, 1, 2999);
        a->street = astr("%u %s", num, PICK(r, STREETS));
        if (chance(r, 0.3)) {
            switch (below(r, 4)) {
            case 0: {
                unsigned apt = between(r, 1, 30);
                a->unit = astr("APT %u%c", apt, (char)('A' + below(r, 8)));
                break;
            }
            case 1: a->unit = astr("#%u", between(r, 1, 40)); break;
            case 2: a->unit = astr("FL %u", between(r, 1, 12)); break;
            default: a->unit = astr("UNIT %u", between(r, 100, 999)); break;
            }
        }
    }
    a->city = (char *)CITIES[c].city;
    a->state = "NY";
    a->postal_code = astr("%s%02u", CITIES[c].zip3, below(r, 100));
    a->county = (char *)CITIES[c].county;
    if (chance(r, 0.4))
        a->country = "US";
    return a;
}

static char *gen_vin(rng *r, unsigned model_year)
{
    static const char cs[] = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    static const char years[] = "ABCDEFGHJKLMNPRS";  /* 2010..2025 */
    static const int weight[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    char *v = arena_alloc(18);
    for (int i = 0; i < 17; i++)
        v[i] = cs[below(r, sizeof cs - 1)];
    v[9] = model_year >= 2010 && model_year <= 2025 ? years[model_year - 2010]
         : model_year >= 2001 && model_year <= 2009 ? (char)('0' + model_year - 2000) : 'Y';
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        char c = v[i];
        int val;
        if (c >= '0' && c <= '9')
            val = c - '0';
        else {
            static const char *const trans = "12345678-12345-7-923456789";
            val = trans[c - 'A'] - '0';
        }
        sum += val * weight[i];
    }
    v[8] = sum % 11 == 10 ? 'X' : (char)('0' + sum % 11);
    return v;
}

static Dmv__V1__Person *gen_person(rng *r)
{
    Dmv__V1__Person *p = new_msg(&dmv__v1__person__descriptor);
    const char *given = PICK(r, GIVEN), *family = PICK(r, FAMILY);
    p->family_name = (char *)family;
    p->given_name = (char *)given;
    if (chance(r, 0.55))
        p->middle_name = chance(r, 0.5) ? (char *)PICK(r, GIVEN) : astr("%c", 'A' + below(r, 26));
    if (chance(r, 0.04))
        p->name_suffix = (char *)PICK(r, SUFFIX);
    if (chance(r, 0.08)) {
        p->n_aliases = between(r, 1, 2);
        p->aliases = arena_alloc(p->n_aliases * sizeof(char *));
        for (size_t i = 0; i < p->n_aliases; i++) {
            const char *ag = chance(r, 0.5) ? given : PICK(r, GIVEN);
            p->aliases[i] = astr("%s %s", ag, PICK(r, FAMILY));
        }
    }
    p->birth_date = rand_date(r, 1940, 2008);
    unsigned s = below(r, 1000);
    p->sex = s < 492 ? DMV__V1__PERSON__SEX__SEX_MALE
           : s < 995 ? DMV__V1__PERSON__SEX__SEX_FEMALE : DMV__V1__PERSON__SEX__SEX_X;
    p->height_cm = p->sex == DMV__V1__PERSON__SEX__SEX_MALE ? between(r, 158, 198) : between(r, 148, 185);
    p->weight_kg = between(r, 45, 140);
    p->eye_color = (char *)PICK(r, EYES);
    p->hair_color = (char *)PICK(r, HAIR);
    p->residence = gen_address(r, 0);
    if (chance(r, 0.12))
        p->mailing = gen_address(r, chance(r, 0.5));
    if (chance(r, 0.85)) {
        unsigned ac = PICK(r, AREA_CODES), ex = between(r, 200, 999);
        p->phone = astr("(%u) %u-%04u", ac, ex, below(r, 10000));
    }
    if (chance(r, 0.65)) {
        unsigned k = below(r, 100);
        p->email = astr("%s.%s%u@%s", fold_ascii_lower(given), fold_ascii_lower(family),
                        k, PICK(r, MAIL_DOMAINS));
    }
    p->organ_donor = chance(r, 0.45);
    p->veteran = chance(r, 0.05);
    return p;
}

static Dmv__V1__License *gen_license(rng *r)
{
    Dmv__V1__License *l = new_msg(&dmv__v1__license__descriptor);
    unsigned k = below(r, 100);
    l->kind = k < 82 ? DMV__V1__LICENSE__KIND__KIND_DRIVER_LICENSE
            : k < 90 ? DMV__V1__LICENSE__KIND__KIND_ID_CARD
            : k < 95 ? DMV__V1__LICENSE__KIND__KIND_LEARNER_PERMIT
                     : DMV__V1__LICENSE__KIND__KIND_COMMERCIAL;
    l->number = digits(r, 9);
    l->issuing_jurisdiction = "NY";
    int id = l->kind == DMV__V1__LICENSE__KIND__KIND_ID_CARD;
    int cdl = l->kind == DMV__V1__LICENSE__KIND__KIND_COMMERCIAL;
    if (cdl) {
        static const char *const cc[] = {"CDL-A", "CDL-B", "C"};
        l->class_code = (char *)PICK(r, cc);
    } else if (!id) {
        unsigned c = below(r, 100);
        l->class_code = c < 86 ? "D" : c < 93 ? "E" : "M";
    }
    if (!id) {
        unsigned c = below(r, 100);
        size_t n = c < 60 ? 0 : c < 90 ? 1 : 2;
        if (n) {
            l->restrictions = arena_alloc((n + 2) * sizeof(char *));  /* room for FLA and "" */
            uint32_t first = below(r, N_(RESTRICTIONS));
            l->restrictions[0] = (char *)RESTRICTIONS[first];
            if (n == 2)
                l->restrictions[1] = (char *)RESTRICTIONS[(first + 1 + below(r, N_(RESTRICTIONS) - 1)) % N_(RESTRICTIONS)];
            l->n_restrictions = n;
        }
        if ((cdl && chance(r, 0.6)) || (!cdl && chance(r, 0.05))) {
            l->endorsements = arena_alloc(2 * sizeof(char *));
            l->endorsements[0] = cdl ? (char *)PICK(r, CDL_ENDORSE) : "M";
            l->n_endorsements = 1;
        }
    }
    l->issue_date = rand_date(r, 2016, 2024);
    unsigned s = below(r, 100);
    l->status = id ? DMV__V1__LICENSE__STATUS__STATUS_VALID
              : s < 86 ? DMV__V1__LICENSE__STATUS__STATUS_VALID
              : s < 91 ? DMV__V1__LICENSE__STATUS__STATUS_EXPIRED
              : s < 96 ? DMV__V1__LICENSE__STATUS__STATUS_SUSPENDED
              : s < 98 ? DMV__V1__LICENSE__STATUS__STATUS_REVOKED
              : s < 99 ? DMV__V1__LICENSE__STATUS__STATUS_CANCELLED
                       : DMV__V1__LICENSE__STATUS__STATUS_NOT_LICENSED;
    if (cdl && l->n_endorsements && (strcmp(l->endorsements[0], "H") == 0 || strcmp(l->endorsements[0], "X") == 0))
        l->hazmat_expiration_date = add_years(l->issue_date, 5);
    return l;
}

static Dmv__V1__VehicleRegistration *gen_vehicle(rng *r)
{
    Dmv__V1__VehicleRegistration *v = new_msg(&dmv__v1__vehicle_registration__descriptor);
    unsigned m = below(r, N_(VEHICLES));
    {
        int c1 = 'A' + (int)below(r, 26), c2 = 'A' + (int)below(r, 26), c3 = 'A' + (int)below(r, 26);
        v->plate = astr("%c%c%c%04u", c1, c2, c3, below(r, 10000));
    }
    v->plate_type = (char *)PICK(r, PLATE_TYPES);
    v->plate_year = between(r, 2010, 2025);
    v->model_year = between(r, 2005, 2025);
    v->vin = gen_vin(r, v->model_year);
    v->make = (char *)VEHICLES[m].make;
    v->model = (char *)VEHICLES[m].model;
    v->color = (char *)PICK(r, COLORS);
    if (chance(r, 0.3))
        v->registered_address = gen_address(r, 0);
    v->expiration_date = rand_date(r, 2025, 2027);
    return v;
}

static Dmv__V1__HistoryEvent *gen_event(rng *r)
{
    Dmv__V1__HistoryEvent *h = new_msg(&dmv__v1__history_event__descriptor);
    unsigned e = below(r, N_(EVENTS));
    h->date = rand_date(r, 2012, 2025);
    h->kind = (Dmv__V1__HistoryEvent__Kind)EVENTS[e].kind;
    h->code = (char *)EVENTS[e].code;
    h->description = (char *)EVENTS[e].desc;
    h->jurisdiction = (char *)PICK(r, EVENT_JUR);
    if (EVENTS[e].kind == 1)
        h->court = (char *)PICK(r, COURTS);
    h->points = EVENTS[e].points;
    return h;
}

static Dmv__V1__Photo *gen_photo(rng *r, uint32_t capture)
{
    Dmv__V1__Photo *ph = new_msg(&dmv__v1__photo__descriptor);
    size_t n = 18000 + below(r, 4096);
    uint8_t *img = arena_alloc(n);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rng_next(r);
        memcpy(img + i, &v, n - i < 8 ? n - i : 8);
    }
    static const uint8_t soi[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00};
    memcpy(img, soi, sizeof soi);
    img[n - 2] = 0xFF;
    img[n - 1] = 0xD9;
    ph->image.data = img;
    ph->image.len = n;
    ph->capture_date = capture;
    ph->image_format = "jpeg";
    uint8_t *ft = arena_alloc(128);
    for (size_t i = 0; i < 128; i += 8) {
        uint64_t v = rng_next(r);
        memcpy(ft + i, &v, 8);
    }
    ph->face_template.data = ft;
    ph->face_template.len = 128;
    return ph;
}

/* Everything that is neither M nor C, drawn from the SHARED stream. The M and
 * C fields are left at their defaults for apply_mc to fill. */
static Dmv__V1__DriverRecord *gen_shared(rng *r, uint64_t index, int photo)
{
    Dmv__V1__DriverRecord *rec = new_msg(&dmv__v1__driver_record__descriptor);
    /* 2654435761 is coprime with 10^9: distinct ids for the first 10^9 records */
    rec->record_id = astr("NY-%09" PRIu64, (uint64_t)((index * 2654435761ull + 123456789ull) % 1000000000ull));
    rec->person = gen_person(r);
    rec->license = gen_license(r);
    unsigned nv = below(r, 100);
    rec->n_vehicles = nv < 30 ? 0 : nv < 75 ? 1 : 2;
    if (rec->n_vehicles) {
        rec->vehicles = arena_alloc(rec->n_vehicles * sizeof(void *));
        for (size_t i = 0; i < rec->n_vehicles; i++)
            rec->vehicles[i] = gen_vehicle(r);
    }
    unsigned nh = below(r, 100);
    rec->n_history = nh < 40 ? 0 : nh < 70 ? 1 : nh < 88 ? 2 : 3;
    if (rec->n_history) {
        rec->history = arena_alloc(rec->n_history * sizeof(void *));
        for (size_t i = 0; i < rec->n_history; i++)
            rec->history[i] = gen_event(r);
    }
    if (photo)
        rec->photo = gen_photo(r, rec->license->issue_date);
    return rec;
}

static Dmv__V1__IdentityDocument *gen_document(rng *r, int marked)
{
    Dmv__V1__IdentityDocument *d = new_msg(&dmv__v1__identity_document__descriptor);
    if (marked) {
        static const Dmv__V1__IdentityDocument__Type t[] = {
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_FOREIGN_PASSPORT,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_FOREIGN_PASSPORT,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_CONSULAR_ID,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_FOREIGN_BIRTH_CERTIFICATE,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_FOREIGN_DRIVER_LICENSE,
        };
        d->type = PICK(r, t);
        d->issuing_country = (char *)PICK(r, COUNTRY_CODES);
        d->number = d->type == DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_CONSULAR_ID
                        ? astr("MCAS%s", digits(r, 9)) : astr("%c%s", 'A' + below(r, 26), digits(r, 8));
        if (d->type != DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_FOREIGN_BIRTH_CERTIFICATE)
            d->expiration_date = rand_date(r, 2024, 2034);
    } else {
        static const Dmv__V1__IdentityDocument__Type t[] = {
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_US_PASSPORT,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_US_PASSPORT,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_US_BIRTH_CERTIFICATE,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_US_BIRTH_CERTIFICATE,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_US_BIRTH_CERTIFICATE,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_PERMANENT_RESIDENT_CARD,
            DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_EMPLOYMENT_AUTHORIZATION,
        };
        d->type = PICK(r, t);
        d->issuing_country = "USA";
        d->number = d->type == DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_PERMANENT_RESIDENT_CARD
                        ? astr("IOE%s", digits(r, 10)) : digits(r, 9);
        if (d->type != DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_US_BIRTH_CERTIFICATE)
            d->expiration_date = rand_date(r, 2024, 2035);
    }
    return d;
}

/* Fills every M and C field of rec (each one assigned, present or absent),
 * drawn from r, plus the state marking values in class_code and restrictions. */
static void apply_mc(rng *r, Dmv__V1__DriverRecord *rec, int marked)
{
    Dmv__V1__Person *p = rec->person;
    Dmv__V1__License *l = rec->license;
    uint32_t issue = l->issue_date;

    p->race = chance(r, 0.8) ? (char *)PICK(r, RACE) : "";
    if (marked)
        p->place_of_birth = chance(r, 0.95) ? (char *)PICK(r, COUNTRIES) : "";
    else
        p->place_of_birth = chance(r, 0.9) ? (char *)PICK(r, US_PLACES) : (char *)PICK(r, COUNTRIES);
    if (marked) {
        p->ssn = "";
        p->ssn_status = chance(r, 0.6) ? DMV__V1__PERSON__SSN_STATUS__SSN_STATUS_AFFIDAVIT_NONE
                                       : DMV__V1__PERSON__SSN_STATUS__SSN_STATUS_ITIN;
    } else if (chance(r, 0.97)) {
        unsigned area = between(r, 1, 898);
        if (area == 666)
            area = 667;
        unsigned grp = between(r, 1, 99);
        p->ssn = astr("%03u-%02u-%04u", area, grp, between(r, 1, 9999));
        p->ssn_status = DMV__V1__PERSON__SSN_STATUS__SSN_STATUS_PRESENT;
    } else {
        p->ssn = "";
        p->ssn_status = DMV__V1__PERSON__SSN_STATUS__SSN_STATUS_NOT_ELIGIBLE;
    }
    p->employer = chance(r, marked ? 0.35 : 0.55) ? (char *)PICK(r, EMPLOYERS) : "";
    p->voter_registered = !marked && p->birth_date <= 20070101 && chance(r, 0.7);

    l->document_discriminator = alnum(r, 10);
    uint32_t lawful_end = add_years(issue, between(r, 1, 4));
    l->expiration_date = marked ? (chance(r, 0.7) ? lawful_end : add_years(issue, between(r, 2, 4)))
                                : add_years(issue, 8);
    {
        static const uint32_t unmarked_rev[] = {20130830, 20170410, 20200420};
        static const uint32_t marked_rev[] = {20191216, 20220701};
        l->card_revision_date = marked ? PICK(r, marked_rev) : PICK(r, unmarked_rev);
    }
    l->inventory_control_number = astr("%s%s", marked ? "NYL" : "NYS", digits(r, 9));
    l->enhanced = !marked && l->kind != DMV__V1__LICENSE__KIND__KIND_COMMERCIAL && chance(r, 0.15);

    if (marked && l->class_code && strcmp(l->class_code, "D") == 0 && chance(r, 0.5))
        l->class_code = "DP";
    if (marked) {
        /* "FLA" at a random position; the other restrictions keep their order */
        char **old = l->restrictions;
        size_t n = l->n_restrictions, at = below(r, (uint32_t)n + 1);
        char **nr = arena_alloc((n + 1) * sizeof(char *));
        for (size_t i = 0, j = 0; i <= n; i++)
            nr[i] = i == at ? "FLA" : old[j++];
        l->restrictions = nr;
        l->n_restrictions = n + 1;
    }

    rec->marking = NULL;
    if (marked) {
        Dmv__V1__Marking *m = new_msg(&dmv__v1__marking__descriptor);
        m->compliance = DMV__V1__MARKING__COMPLIANCE__COMPLIANCE_NONCOMPLIANT;
        m->limited_duration = chance(r, 0.7);
        m->program = (char *)PICK(r, PROGRAMS);
        m->card_legend = "FEDERAL LIMITS APPLY";
        if (m->limited_duration)
            m->lawful_status_end_date = lawful_end;
        rec->marking = m;
    } else if (chance(r, 0.4)) {
        Dmv__V1__Marking *m = new_msg(&dmv__v1__marking__descriptor);
        m->compliance = DMV__V1__MARKING__COMPLIANCE__COMPLIANCE_COMPLIANT;
        rec->marking = m;
    }

    rec->n_documents = marked ? between(r, 1, 2) : below(r, 3);
    rec->documents = NULL;
    if (rec->n_documents) {
        rec->documents = arena_alloc(rec->n_documents * sizeof(void *));
        for (size_t i = 0; i < rec->n_documents; i++)
            rec->documents[i] = gen_document(r, marked);
    }

    rec->application = NULL;
    if (marked || chance(r, 0.25)) {
        Dmv__V1__Application *a = new_msg(&dmv__v1__application__descriptor);
        a->last_application_date = issue;
        if (marked) {
            const char *res = PICK(r, SAVE_RESULTS);
            a->save_verification = astr("%s %s", res, digits(r, 13));
        } else if (chance(r, 0.05))
            a->denial_reason = (char *)PICK(r, DENIALS);
        a->fingerprints_on_file = chance(r, marked ? 0.3 : 0.1);
        rec->application = a;
    }
}

/* --wild, on the struct: enums with unknown or negative values, negative
 * points, empty repeated strings. Two passes: over the shared fields (from the
 * MUTATE stream, before apply_mc, the same for a record and its twin) and over
 * the M and C fields (after apply_mc, from the record's or the twin's own
 * stream). `mc` selects the pass; messages are walked in both. */
static void mutate_message(rng *r, ProtobufCMessage *m, const dmvf_snode *node, int mc)
{
    char *base = (char *)m;
    for (size_t i = 0; i < node->nfields; i++) {
        const dmvf_sfield *sf = &node->fields[i];
        const ProtobufCFieldDescriptor *fd = sf->fd;
        void *p = base + fd->offset;
        int mine = ((sf->klass & (DMVF_CLASS_M | DMVF_CLASS_C)) != 0) == mc;
        if (sf->repeated) {
            size_t *np = (size_t *)(base + fd->quantifier_offset);
            if (sf->type == DMVF_T_STRING && mine && chance(r, 0.15)) {
                char **old = *(char ***)p;
                size_t n = *np, at = below(r, (uint32_t)n + 1);
                char **nr = arena_alloc((n + 1) * sizeof(char *));
                for (size_t k = 0, j = 0; k <= n; k++)
                    nr[k] = k == at ? "" : old[j++];
                *(char ***)p = nr;
                *np = n + 1;
            } else if (sf->type == DMVF_T_MESSAGE) {
                for (size_t k = 0; k < *np; k++)
                    mutate_message(r, (*(ProtobufCMessage ***)p)[k], sf->child, mc);
            }
            continue;
        }
        if (sf->type == DMVF_T_MESSAGE) {
            if (*(ProtobufCMessage **)p)
                mutate_message(r, *(ProtobufCMessage **)p, sf->child, mc);
        } else if (!mine) {
            continue;
        } else if (sf->type == DMVF_T_ENUM && chance(r, 0.06)) {
            *(int32_t *)p = chance(r, 0.5) ? (int32_t)between(r, 7, 100000) : -(int32_t)between(r, 1, 100000);
        } else if (sf->type == DMVF_T_INT32 && chance(r, 0.06)) {
            *(int32_t *)p = -(int32_t)between(r, 1, 12);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Canary records.                                                            */

typedef struct canary {
    rng r;
    FILE *manifest;
    uint64_t nums;          /* numbers handed out, file-wide */
    uint64_t dates;         /* dates handed out, file-wide */
    uint64_t unknowns;
    unsigned occ[1024];     /* occurrences of each path id in this record */
} canary;

static uint32_t canary_num(canary *c) { return (uint32_t)(100003u + 7u * c->nums++); }

static uint32_t canary_date(canary *c)
{
    return date_from_days(-7305 + (int64_t)c->dates++);  /* from 1950-01-01, one day each */
}

static void canary_fill(canary *c, ProtobufCMessage *m, const dmvf_snode *node)
{
    char *base = (char *)m;
    for (size_t i = 0; i < node->nfields; i++) {
        const dmvf_sfield *sf = &node->fields[i];
        const ProtobufCFieldDescriptor *fd = sf->fd;
        size_t n = sf->repeated ? 2 : 1;
        void *p = base + fd->offset;
        void **arr = NULL;
        if (sf->repeated) {
            arr = arena_alloc(n * sizeof(void *));
            *(size_t *)(base + fd->quantifier_offset) = n;
            *(void ***)p = arr;
        }
        for (size_t e = 0; e < n; e++) {
            unsigned occ = sf->id < N_(c->occ) ? c->occ[sf->id]++ : 0;
            switch (sf->type) {
            case DMVF_T_STRING:
            case DMVF_T_BYTES: {
                char *s = astr("CNRY%uX%uQ%08" PRIx32, (unsigned)sf->id, occ, (uint32_t)rng_next(&c->r));
                fprintf(c->manifest, "%s\t%s\t%s\n", sf->path, dmvf__ftype_name(sf->type), s);
                if (sf->type == DMVF_T_STRING) {
                    if (arr)
                        arr[e] = s;
                    else
                        *(char **)p = s;
                } else {
                    ProtobufCBinaryData bd = {strlen(s), (uint8_t *)s};
                    if (arr)
                        abort();  /* no repeated bytes in the schema */
                    *(ProtobufCBinaryData *)p = bd;
                }
                break;
            }
            case DMVF_T_UINT32:
            case DMVF_T_INT32: {
                uint32_t v = sf->is_date ? canary_date(c) : canary_num(c);
                if (arr)
                    abort();  /* no repeated numbers in the schema */
                *(uint32_t *)p = v;
                fprintf(c->manifest, "%s\t%s\t%" PRIu32 "\n", sf->path, dmvf__ftype_name(sf->type), v);
                break;
            }
            case DMVF_T_ENUM: {
                const ProtobufCEnumDescriptor *ed = fd->descriptor;
                int32_t v = 1;
                for (unsigned k = 0; k < ed->n_values; k++)
                    if (ed->values[k].value > v)
                        v = ed->values[k].value;  /* the largest: nonzero, and rare in real data */
                if (arr)
                    abort();
                *(int32_t *)p = v;
                fprintf(c->manifest, "%s\tenum\t%" PRId32 "\n", sf->path, v);
                break;
            }
            case DMVF_T_BOOL:
                if (arr)
                    abort();
                *(protobuf_c_boolean *)p = 1;
                fprintf(c->manifest, "%s\tbool\t1\n", sf->path);
                break;
            case DMVF_T_MESSAGE: {
                ProtobufCMessage *child = new_msg(sf->child->desc);
                canary_fill(c, child, sf->child);
                if (arr)
                    arr[e] = child;
                else
                    *(ProtobufCMessage **)p = child;
                break;
            }
            default:
                abort();
            }
        }
    }

    /* Unknown fields: a length-delimited canary and a varint canary. */
    const char *mp = node->path;
    const char *dot = *mp ? "." : "";
    ProtobufCMessageUnknownField *u = arena_alloc(2 * sizeof *u);
    char *s = astr("CNRYU%" PRIu64 "Q%08" PRIx32, c->unknowns++, (uint32_t)rng_next(&c->r));
    size_t sl = strlen(s);
    bbuf b = {0};
    bb_varint(&b, sl, 0);
    bb_put(&b, s, sl);
    u[0].tag = 1999;
    u[0].wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    u[0].len = b.n;
    u[0].data = arena_alloc(b.n);
    memcpy(u[0].data, b.p, b.n);
    fprintf(c->manifest, "%s%sunknown.1999\tbytes\t%s\n", mp, dot, s);
    uint32_t v = canary_num(c);
    b.n = 0;
    bb_varint(&b, v, 0);
    u[1].tag = 1998;
    u[1].wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
    u[1].len = b.n;
    u[1].data = arena_alloc(b.n);
    memcpy(u[1].data, b.p, b.n);
    fprintf(c->manifest, "%s%sunknown.1998\tuint64\t%" PRIu32 "\n", mp, dot, v);
    free(b.p);
    m->n_unknown_fields = 2;
    m->unknown_fields = u;
}

static Dmv__V1__DriverRecord *gen_canary(canary *c)
{
    memset(c->occ, 0, sizeof c->occ);
    Dmv__V1__DriverRecord *rec = new_msg(&dmv__v1__driver_record__descriptor);
    canary_fill(c, &rec->base, dmvf__schema_root());
    return rec;
}

/* ------------------------------------------------------------------------ */
/* Self-check.                                                                */

/* Whether bytes unpack with protobuf-c into a message whose canonical
 * encoding equals that of expect (unknown fields compared when with_unknown).
 * In canonical mode also that the encoder agrees with protobuf_c_message_pack. */
static int self_check(const uint8_t *bytes, size_t n, const ProtobufCMessage *expect,
                      int with_unknown, int canonical, uint64_t index, const char *what)
{
    int ok = 1;
    ProtobufCMessage *u = protobuf_c_message_unpack(expect->descriptor, NULL, n, bytes);
    if (!u) {
        fprintf(stderr, "dmvf-gen: self-check: %s record %" PRIu64 ": protobuf_c_message_unpack rejected it\n",
                what, index);
        return 0;
    }
    bbuf a = {0}, b = {0};
    enc_message(NULL, u, NULL, with_unknown, &a);
    enc_message(NULL, expect, NULL, with_unknown, &b);
    if (a.n != b.n || memcmp(a.p, b.p, a.n) != 0) {
        fprintf(stderr, "dmvf-gen: self-check: %s record %" PRIu64 ": decodes to another record\n",
                what, index);
        ok = 0;
    }
    if (canonical) {
        size_t pn = protobuf_c_message_get_packed_size(expect);
        uint8_t *pk = malloc(pn ? pn : 1);
        if (!pk) {
            fprintf(stderr, "dmvf-gen: out of memory\n");
            exit(EX_OSERR);
        }
        protobuf_c_message_pack(expect, pk);
        if (pn != n || memcmp(pk, bytes, n) != 0) {
            fprintf(stderr, "dmvf-gen: self-check: %s record %" PRIu64
                    ": canonical encoding differs from protobuf_c_message_pack\n", what, index);
            ok = 0;
        }
        free(pk);
    }
    free(a.p);
    free(b.p);
    protobuf_c_message_free_unpacked(u, NULL);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Output.                                                                    */

typedef struct out {
    FILE *f;
    const char *name;
    uint64_t bytes;
} out;

static void out_write(out *o, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, o->f) != n) {
        fprintf(stderr, "dmvf-gen: writing %s: %s\n", o->name, strerror(errno));
        exit(EX_IOERR);
    }
    o->bytes += n;
}

static void out_delimited(out *o, const uint8_t *p, size_t n)
{
    bbuf b = {0};
    bb_varint(&b, n, 0);
    out_write(o, b.p, b.n);
    out_write(o, p, n);
    free(b.p);
}

/* A Frame with body field `number` (1 request, 2 record) holding p[0..n). */
static void out_frame(out *o, uint32_t number, const uint8_t *p, size_t n)
{
    bbuf b = {0};
    bb_varint(&b, (uint64_t)number << 3 | 2, 0);
    bb_varint(&b, n, 0);
    bb_put(&b, p, n);
    out_delimited(o, b.p, b.n);
    free(b.p);
}

static out *out_open(const char *path)
{
    out *o = calloc(1, sizeof *o);
    if (!o)
        exit(EX_OSERR);
    if (!path || strcmp(path, "-") == 0) {
        o->f = stdout;
        o->name = "<stdout>";
    } else {
        o->f = fopen(path, "wb");
        o->name = path;
        if (!o->f) {
            fprintf(stderr, "dmvf-gen: cannot create %s: %s\n", path, strerror(errno));
            exit(EX_CANTCREAT);
        }
    }
    return o;
}

static void out_close(out *o)
{
    if (!o)
        return;
    int bad = ferror(o->f);
    if (o->f == stdout)
        bad |= fflush(o->f) != 0;
    else
        bad |= fclose(o->f) != 0;
    if (bad) {
        fprintf(stderr, "dmvf-gen: writing %s: %s\n", o->name, strerror(errno));
        exit(EX_IOERR);
    }
    free(o);
}

/* ------------------------------------------------------------------------ */
/* Text formats for the peers (--format jsonl|csv).                           */
/*
 * The same records as the protobuf stream, walked through the schema tree
 * (filter/schema.h) in field-number order:
 *
 *   JSON Lines: one object per line; keys are the proto field names; a
 *     sub-message is a nested object, a repeated field an array. As in the
 *     proto3 JSON mapping, a field holding its default (0, false, "", empty
 *     bytes, empty repeated) is omitted, enums are their value names
 *     ("SEX_FEMALE"), bytes are base64 (RFC 4648, padded).
 *   CSV (RFC 4180): a header row, then one row per record with one column
 *     per leaf position; repeated fields are flattened with their index
 *     (person.aliases.0, vehicles.1.registered_address.city), up to a fixed
 *     number of elements per field (csv_cap). A cell is empty where the JSON
 *     omits the field. Cells holding a comma, a quote or a line break are
 *     quoted, quotes doubled; lines end in LF.
 */

static void bb_byte(bbuf *b, char c)
{
    bb_reserve(b, 1);
    b->p[b->n++] = (uint8_t)c;
}

static void bb_str(bbuf *b, const char *s) { bb_put(b, s, strlen(s)); }

static void bb_u64(bbuf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    bb_put(b, tmp, (size_t)n);
}

static void bb_i64(bbuf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    bb_put(b, tmp, (size_t)n);
}

static void bb_base64(bbuf *b, const uint8_t *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bb_reserve(b, (n + 2) / 3 * 4);
    uint8_t *o = b->p + b->n;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = (uint8_t)al[v >> 18];
        *o++ = (uint8_t)al[(v >> 12) & 63];
        *o++ = (uint8_t)al[(v >> 6) & 63];
        *o++ = (uint8_t)al[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = (uint8_t)al[v >> 18];
        *o++ = (uint8_t)al[(v >> 12) & 63];
        *o++ = i + 1 < n ? (uint8_t)al[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->n = (size_t)(o - b->p);
}

/* A singular scalar's value is its default (and so omitted). */
static int is_default(const dmvf_sfield *sf, const void *p)
{
    switch (sf->type) {
    case DMVF_T_STRING: {
        const char *s = *(const char *const *)p;
        return !s || !*s;
    }
    case DMVF_T_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
    case DMVF_T_UINT32:
    case DMVF_T_INT32:
    case DMVF_T_ENUM: return *(const int32_t *)p == 0;
    case DMVF_T_BOOL: return !*(const protobuf_c_boolean *)p;
    default: abort();
    }
}

/* A non-default scalar as text (strings and bytes are left to the caller). */
static void text_number(bbuf *b, const dmvf_sfield *sf, const void *p, int quote_enum)
{
    switch (sf->type) {
    case DMVF_T_UINT32: bb_u64(b, *(const uint32_t *)p); break;
    case DMVF_T_INT32: bb_i64(b, *(const int32_t *)p); break;
    case DMVF_T_BOOL: bb_str(b, "true"); break;
    case DMVF_T_ENUM: {
        int32_t v = *(const int32_t *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(sf->fd->descriptor, v);
        if (!ev) {
            bb_i64(b, v);        /* a value the schema does not name: its number */
        } else {
            if (quote_enum)
                bb_byte(b, '"');
            bb_str(b, ev->name);
            if (quote_enum)
                bb_byte(b, '"');
        }
        break;
    }
    default: abort();
    }
}

static void json_string(bbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    bb_byte(b, '"');
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        unsigned char c = *u;
        if (c == '"' || c == '\\') {
            bb_byte(b, '\\');
            bb_byte(b, (char)c);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            bb_put(b, e, sizeof e);
        } else {
            bb_byte(b, (char)c);
        }
    }
    bb_byte(b, '"');
}

static void json_message(bbuf *b, const ProtobufCMessage *m, const dmvf_snode *node)
{
    const char *base = (const char *)m;
    int first = 1;
    bb_byte(b, '{');
    for (size_t i = 0; i < node->nfields; i++) {
        const dmvf_sfield *sf = &node->fields[i];
        const ProtobufCFieldDescriptor *fd = sf->fd;
        const void *p = base + fd->offset;
        size_t n = 0;
        if (sf->repeated) {
            n = *(const size_t *)(base + fd->quantifier_offset);
            if (n == 0)
                continue;
        } else if (sf->type == DMVF_T_MESSAGE) {
            if (!*(const ProtobufCMessage *const *)p)
                continue;
        } else if (is_default(sf, p)) {
            continue;
        }
        if (!first)
            bb_byte(b, ',');
        first = 0;
        json_string(b, sf->name);
        bb_byte(b, ':');
        if (sf->repeated) {
            bb_byte(b, '[');
            for (size_t k = 0; k < n; k++) {
                if (k)
                    bb_byte(b, ',');
                if (sf->type == DMVF_T_STRING) {
                    const char *s = (*(char *const *const *)p)[k];
                    json_string(b, s ? s : "");
                } else if (sf->type == DMVF_T_MESSAGE) {
                    json_message(b, (*(ProtobufCMessage *const *const *)p)[k], sf->child);
                } else {
                    abort();     /* the schema repeats only strings and messages */
                }
            }
            bb_byte(b, ']');
        } else if (sf->type == DMVF_T_MESSAGE) {
            json_message(b, *(const ProtobufCMessage *const *)p, sf->child);
        } else if (sf->type == DMVF_T_STRING) {
            json_string(b, *(const char *const *)p);
        } else if (sf->type == DMVF_T_BYTES) {
            const ProtobufCBinaryData *bd = p;
            bb_byte(b, '"');
            bb_base64(b, bd->data, bd->len);
            bb_byte(b, '"');
        } else {
            text_number(b, sf, p, 1);
        }
    }
    bb_byte(b, '}');
}

/* Columns per repeated field in CSV: the most elements the realistic
 * generator writes (restrictions: two plus the "FLA" marking). */
static size_t csv_cap(const dmvf_sfield *sf)
{
    static const struct { const char *path; size_t cap; } caps[] = {
        {"person.aliases", 2}, {"license.restrictions", 3}, {"license.endorsements", 2},
        {"documents", 2}, {"vehicles", 2}, {"history", 3},
    };
    for (size_t i = 0; i < N_(caps); i++)
        if (strcmp(sf->path, caps[i].path) == 0)
            return caps[i].cap;
    return 2;
}

static void csv_cell(bbuf *b, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        bb_put(b, s, n);
        return;
    }
    bb_byte(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            bb_byte(b, '"');
        bb_byte(b, s[i]);
    }
    bb_byte(b, '"');
}

static void csv_sep(bbuf *b, int *first)
{
    if (!*first)
        bb_byte(b, ',');
    *first = 0;
}

static void csv_name(char *dst, size_t cap, const char *prefix, const char *name, long index)
{
    const char *dot = *prefix ? "." : "";
    if (index < 0)
        snprintf(dst, cap, "%s%s%s", prefix, dot, name);
    else
        snprintf(dst, cap, "%s%s%s.%ld", prefix, dot, name, index);
}

/* The header (m NULL, header set) or one row: the same walk, so the cells
 * line up with the columns. m NULL without header: an absent message, all
 * of its cells empty. */
static void csv_walk(bbuf *b, const ProtobufCMessage *m, const dmvf_snode *node,
                     const char *prefix, int header, int *first)
{
    const char *base = (const char *)m;
    for (size_t i = 0; i < node->nfields; i++) {
        const dmvf_sfield *sf = &node->fields[i];
        const ProtobufCFieldDescriptor *fd = sf->fd;
        const void *p = base ? base + fd->offset : NULL;
        char col[512];
        if (sf->repeated) {
            size_t cap = csv_cap(sf), n = p ? *(const size_t *)(base + fd->quantifier_offset) : 0;
            if (n > cap) {
                fprintf(stderr, "dmvf-gen: --format csv: %s has %zu elements, more than its %zu columns\n",
                        sf->path, n, cap);
                exit(EX_SOFTWARE);
            }
            for (size_t k = 0; k < cap; k++) {
                csv_name(col, sizeof col, prefix, sf->name, (long)k);
                if (sf->type == DMVF_T_MESSAGE) {
                    const ProtobufCMessage *c = k < n ? (*(ProtobufCMessage *const *const *)p)[k] : NULL;
                    csv_walk(b, c, sf->child, col, header, first);
                    continue;
                }
                if (sf->type != DMVF_T_STRING)
                    abort();     /* the schema repeats only strings and messages */
                csv_sep(b, first);
                if (header) {
                    csv_cell(b, col, strlen(col));
                } else if (k < n) {
                    const char *s = (*(char *const *const *)p)[k];
                    csv_cell(b, s ? s : "", s ? strlen(s) : 0);
                }
            }
            continue;
        }
        csv_name(col, sizeof col, prefix, sf->name, -1);
        if (sf->type == DMVF_T_MESSAGE) {
            csv_walk(b, p ? *(const ProtobufCMessage *const *)p : NULL, sf->child, col, header, first);
            continue;
        }
        csv_sep(b, first);
        if (header) {
            csv_cell(b, col, strlen(col));
        } else if (p && !is_default(sf, p)) {
            if (sf->type == DMVF_T_STRING) {
                const char *s = *(const char *const *)p;
                csv_cell(b, s, strlen(s));
            } else if (sf->type == DMVF_T_BYTES) {
                const ProtobufCBinaryData *bd = p;
                bb_base64(b, bd->data, bd->len);
            } else {
                text_number(b, sf, p, 0);
            }
        }
    }
}

enum { FMT_PB = 0, FMT_JSONL, FMT_CSV };

/* One record as a line of JSON or a CSV row (with its line break). */
static void text_record(int format, const ProtobufCMessage *rec, bbuf *b)
{
    b->n = 0;
    if (format == FMT_JSONL) {
        json_message(b, rec, dmvf__schema_root());
        bb_byte(b, '\n');
    } else {
        int first = 1;
        csv_walk(b, rec, dmvf__schema_root(), "", 0, &first);
        bb_byte(b, '\n');
    }
}

static void csv_header(bbuf *b)
{
    int first = 1;
    b->n = 0;
    csv_walk(b, NULL, dmvf__schema_root(), "", 1, &first);
    bb_byte(b, '\n');
}

/* ------------------------------------------------------------------------ */
/* Command line.                                                              */

static void usage(FILE *f)
{
    fputs(
"usage: dmvf-gen [options]\n"
"\n"
"Writes deterministic synthetic dmv.v1.DriverRecord messages as a\n"
"varint-length-delimited stream (the dmvfilter native format), or the same\n"
"records as JSON Lines or CSV (--format). The same options and seed always\n"
"give the same bytes.\n"
"\n"
"Records:\n"
"  --count N            number of records (default 1000)\n"
"  --seed S             64-bit seed (default 1)\n"
"  --marked F           fraction of marked licenses, 0..1 (default 0.10)\n"
"  --photo              give every record a Photo (~20 KB image, 128-byte template)\n"
"  --format pb|jsonl|csv\n"
"                       pb (default): the delimited protobuf stream; jsonl: the\n"
"                       same records as JSON Lines (proto field names, nested\n"
"                       objects and arrays, defaults omitted, enums by name,\n"
"                       bytes base64); csv: a header, then one row per record,\n"
"                       columns flattened (person.family_name, vehicles.0.plate,\n"
"                       license.restrictions.2), empty where JSON omits a field.\n"
"                       Same records for the same seed in every format; not with\n"
"                       --wild, --hostile, --canary, --framed or --self-check\n"
"  --out F              write to file F (default: standard output; \"-\" too)\n"
"  --twins F2           also write each record's twin to F2: identical except that\n"
"                       every M and C field is re-drawn, presence included (marked\n"
"                       and unmarked swap in about half the pairs), and class \"DP\"\n"
"                       vs \"D\" and the \"FLA\" restriction follow the twin's marking\n"
"  --wild               valid but non-canonical protobuf: fields out of order,\n"
"                       singular scalars repeated (last wins), unknown fields\n"
"                       24..2000 of wire types 0/1/2/5 in every message, padded\n"
"                       varints, explicit defaults, uint32 >= 2^32, unknown and\n"
"                       negative enums, bools 2 and 300, empty repeated strings,\n"
"                       singular sub-messages in pieces (merged by protobuf; laid\n"
"                       out so that protobuf-c 1.4 reads them alike too)\n"
"  --hostile            --wild, and what protobuf allows but protobuf-c cannot read,\n"
"                       or only a rule without marking: release accepts, where such\n"
"                       a rule does not look: unknown groups (nested) in every\n"
"                       message, pieces holding anything, M and C fields as groups,\n"
"                       with other wire types, as garbage that frames, in pieces,\n"
"                       now and then 10,001 documents; not with --self-check\n"
"  --canary             canary records: every leaf position of the schema (2\n"
"                       elements per repeated field) holds a unique value, and\n"
"                       every message carries unknown fields 1998 (varint) and\n"
"                       1999 (bytes) with canary values; requires --manifest\n"
"  --manifest F         with --canary: one line per value: path TAB type TAB value\n"
"                       (unknown fields as <message path>.unknown.<n>)\n"
"  --self-check         check every record: protobuf-c unpacks it to the intended\n"
"                       record, and canonical output equals protobuf_c_message_pack\n"
"  --stats              print records, bytes, average record size and marked count\n"
"                       to standard error\n"
"\n"
"Framed output (dmv.v1.Frame: a request frame, then one record frame each):\n"
"  --framed             write frames instead of bare records\n"
"  --requests K         split the records over K requests (ids suffixed -1..-K\n"
"                       when K > 1; default 1)\n"
"  --request-id ID      request id (default \"gen-request\")\n"
"  --ori ORI            requester ORI (default \"NY0303000\")\n"
"  --agency-kind K      what the request says the requester is: federal|state|\n"
"                       local|tribal|foreign|court|research|commercial|internal\n"
"                       (default: nothing; the policy's requester directory says)\n"
"  --jurisdiction J     the jurisdiction it says, two letters (default: nothing)\n"
"  --tag T              a tag it says it has; repeatable\n"
"  --purpose N          DPPA 2721(b)(N), 0..14 (default 1)\n"
"  --legal-process P    none|administrative_subpoena|judicial_subpoena|\n"
"                       court_order|judicial_warrant (default none)\n"
"  --legal-reference R  the legal process reference (default none)\n"
"  --query-kind Q       by_license|by_name_dob|by_plate|by_vin|by_name_only|\n"
"                       by_address|by_attribute|partial_plate|list\n"
"                       (default by_license)\n"
"  --date YYYYMMDD      the date the request says it is of (default 0: none; a\n"
"                       date other than the day it is judged on is refused)\n"
"\n"
"  --help               this text\n"
"\n"
"Exit status: 0 success, 64 usage error, 70 self-check failure,\n"
"73 cannot create an output file, 74 write error.\n", f);
}

typedef struct opts {
    uint64_t count, seed, requests;
    double marked;
    int photo, wild, hostile, canary, framed, self_check, stats, format;
    const char *out, *twins, *manifest;
    const char *request_id, *ori, *jurisdiction, *legal_reference;
    dmvf_agency_kind agency_kind;
    dmvf_legal_process legal_process;
    dmvf_query_kind query_kind;
    unsigned purpose;
    uint32_t date;
    const char *tags[64];
    size_t ntags;
} opts;

static void die_usage(const char *what, const char *arg) __attribute__((noreturn));
static void die_usage(const char *what, const char *arg)
{
    fprintf(stderr, "dmvf-gen: %s: %s (see --help)\n", what, arg);
    exit(EX_USAGE);
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        die_usage(what, s);
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        die_usage(what, s);
    return v;
}

static void parse_args(int argc, char **argv, opts *o)
{
    enum { O_COUNT = 256, O_SEED, O_MARKED, O_PHOTO, O_OUT, O_TWINS, O_WILD, O_HOSTILE, O_CANARY,
           O_MANIFEST, O_FRAMED, O_REQUESTS, O_REQID, O_ORI, O_AGENCY, O_JUR, O_TAG,
           O_PURPOSE, O_LEGAL, O_LEGALREF, O_QUERY, O_DATE, O_SELF, O_STATS, O_FORMAT, O_HELP };
    static const struct option lo[] = {
        {"count", required_argument, 0, O_COUNT}, {"seed", required_argument, 0, O_SEED},
        {"marked", required_argument, 0, O_MARKED}, {"photo", no_argument, 0, O_PHOTO},
        {"out", required_argument, 0, O_OUT}, {"twins", required_argument, 0, O_TWINS},
        {"wild", no_argument, 0, O_WILD}, {"hostile", no_argument, 0, O_HOSTILE},
        {"canary", no_argument, 0, O_CANARY},
        {"manifest", required_argument, 0, O_MANIFEST}, {"framed", no_argument, 0, O_FRAMED},
        {"requests", required_argument, 0, O_REQUESTS},
        {"request-id", required_argument, 0, O_REQID}, {"ori", required_argument, 0, O_ORI},
        {"agency-kind", required_argument, 0, O_AGENCY},
        {"jurisdiction", required_argument, 0, O_JUR}, {"tag", required_argument, 0, O_TAG},
        {"purpose", required_argument, 0, O_PURPOSE},
        {"legal-process", required_argument, 0, O_LEGAL},
        {"legal-reference", required_argument, 0, O_LEGALREF},
        {"query-kind", required_argument, 0, O_QUERY}, {"date", required_argument, 0, O_DATE},
        {"self-check", no_argument, 0, O_SELF}, {"stats", no_argument, 0, O_STATS},
        {"format", required_argument, 0, O_FORMAT},
        {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->count = 1000;
    o->seed = 1;
    o->marked = 0.10;
    o->requests = 1;
    o->request_id = "gen-request";
    o->ori = "NY0303000";
    o->jurisdiction = "";
    o->legal_process = DMVF_LEGAL_NONE;
    o->query_kind = DMVF_QUERY_BY_LICENSE;
    o->purpose = 1;

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_COUNT: o->count = parse_u64(optarg, "bad --count"); break;
        case O_SEED: o->seed = parse_u64(optarg, "bad --seed"); break;
        case O_MARKED: {
            char *end;
            o->marked = strtod(optarg, &end);
            if (*end || !(o->marked >= 0.0 && o->marked <= 1.0))
                die_usage("bad --marked (a fraction 0..1)", optarg);
            break;
        }
        case O_PHOTO: o->photo = 1; break;
        case O_OUT: o->out = optarg; break;
        case O_TWINS: o->twins = optarg; break;
        case O_WILD: o->wild = 1; break;
        case O_HOSTILE: o->wild = o->hostile = 1; break;
        case O_CANARY: o->canary = 1; break;
        case O_MANIFEST: o->manifest = optarg; break;
        case O_FRAMED: o->framed = 1; break;
        case O_REQUESTS:
            o->requests = parse_u64(optarg, "bad --requests");
            if (o->requests == 0)
                die_usage("bad --requests (at least 1)", optarg);
            break;
        case O_REQID: o->request_id = optarg; break;
        case O_ORI: o->ori = optarg; break;
        case O_AGENCY:
            if (dmvf_agency_kind_parse(optarg, &o->agency_kind) != DMVF_OK)
                die_usage("bad --agency-kind", optarg);
            break;
        case O_JUR: o->jurisdiction = optarg; break;
        case O_TAG:
            if (o->ntags == N_(o->tags))
                die_usage("too many --tag", optarg);
            o->tags[o->ntags++] = optarg;
            break;
        case O_PURPOSE:
            o->purpose = (unsigned)parse_u64(optarg, "bad --purpose");
            if (o->purpose > 14)
                die_usage("bad --purpose (0..14)", optarg);
            break;
        case O_LEGAL:
            if (dmvf_legal_process_parse(optarg, &o->legal_process) != DMVF_OK)
                die_usage("bad --legal-process", optarg);
            break;
        case O_LEGALREF: o->legal_reference = optarg; break;
        case O_QUERY:
            if (dmvf_query_kind_parse(optarg, &o->query_kind) != DMVF_OK)
                die_usage("bad --query-kind", optarg);
            break;
        case O_DATE: {
            uint64_t d = parse_u64(optarg, "bad --date");
            if (d != 0 && (d < 19000101 || d > 99991231 || d / 100 % 100 < 1 || d / 100 % 100 > 12 ||
                           d % 100 < 1 || d % 100 > mdays((unsigned)(d / 10000), (unsigned)(d / 100 % 100))))
                die_usage("bad --date (YYYYMMDD)", optarg);
            o->date = (uint32_t)d;
            break;
        }
        case O_SELF: o->self_check = 1; break;
        case O_STATS: o->stats = 1; break;
        case O_FORMAT:
            if (strcmp(optarg, "pb") == 0)
                o->format = FMT_PB;
            else if (strcmp(optarg, "jsonl") == 0)
                o->format = FMT_JSONL;
            else if (strcmp(optarg, "csv") == 0)
                o->format = FMT_CSV;
            else
                die_usage("bad --format (pb, jsonl or csv)", optarg);
            break;
        case O_HELP: usage(stdout); exit(0);
        default:
            die_usage("unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        die_usage("unexpected argument", argv[optind]);
    if (o->canary && !o->manifest)
        die_usage("--canary needs --manifest F", "--canary");
    if (o->manifest && !o->canary)
        die_usage("--manifest is only for --canary", o->manifest);
    if (o->canary && o->twins)
        die_usage("--canary and --twins do not combine", o->twins);
    if (o->requests > 1 && !o->framed)
        die_usage("--requests needs --framed", "--requests");
    if (o->hostile && o->self_check)
        die_usage("--hostile records do not decode with protobuf-c; not with --self-check", "--hostile");
    if (o->format != FMT_PB) {
        const char *f = o->format == FMT_JSONL ? "jsonl" : "csv";
        if (o->wild)
            die_usage("--wild writes protobuf only; not with --format", f);
        if (o->canary)
            die_usage("--canary writes protobuf only; not with --format", f);
        if (o->framed)
            die_usage("--framed writes protobuf only; not with --format", f);
        if (o->self_check)
            die_usage("--self-check checks protobuf only; not with --format", f);
    }
}

static void write_request(out *o, const opts *op, uint64_t k)
{
    Dmv__V1__Request rq = DMV__V1__REQUEST__INIT;
    char id[512];
    if (op->requests > 1)
        snprintf(id, sizeof id, "%s-%" PRIu64, op->request_id, k + 1);
    else
        snprintf(id, sizeof id, "%s", op->request_id);
    rq.request_id = id;
    rq.ori = (char *)op->ori;
    rq.agency_kind = (Dmv__V1__AgencyKind)op->agency_kind;
    rq.jurisdiction = (char *)op->jurisdiction;
    rq.n_tags = op->ntags;
    rq.tags = (char **)op->tags;
    rq.purpose = op->purpose;
    rq.legal_process = (Dmv__V1__LegalProcess)op->legal_process;
    if (op->legal_reference)
        rq.legal_reference = (char *)op->legal_reference;
    rq.query_kind = (Dmv__V1__QueryKind)op->query_kind;
    rq.date = op->date;
    size_t n = dmv__v1__request__get_packed_size(&rq);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        exit(EX_OSERR);
    dmv__v1__request__pack(&rq, buf);
    out_frame(o, 1, buf, n);
    free(buf);
}

static void write_record(out *o, const opts *op, const uint8_t *p, size_t n)
{
    if (op->framed)
        out_frame(o, 2, p, n);
    else
        out_delimited(o, p, n);
}

int main(int argc, char **argv)
{
    opts op;
    parse_args(argc, argv, &op);

    out *o = out_open(op.out);
    out *ot = op.twins ? out_open(op.twins) : NULL;
    canary cn;
    memset(&cn, 0, sizeof cn);
    if (op.canary) {
        cn.manifest = fopen(op.manifest, "w");
        if (!cn.manifest) {
            fprintf(stderr, "dmvf-gen: cannot create %s: %s\n", op.manifest, strerror(errno));
            return EX_CANTCREAT;
        }
        rng_seed(&cn.r, op.seed, 0, STREAM_CANARY);
    }

    uint64_t marked = 0, twin_marked = 0, flipped = 0, record_bytes = 0, failures = 0;
    uint64_t next_request = 0;
    bbuf enc = {0};
    if (op.format == FMT_CSV) {
        csv_header(&enc);
        out_write(o, enc.p, enc.n);
        if (ot)
            out_write(ot, enc.p, enc.n);
    }
    for (uint64_t i = 0; i < op.count; i++) {
        /* a request frame starts each of the K slices (several when a slice is empty) */
        while (op.framed && next_request < op.requests && i == next_request * op.count / op.requests) {
            write_request(o, &op, next_request);
            if (ot)
                write_request(ot, &op, next_request);
            next_request++;
        }

        Dmv__V1__DriverRecord *rec, *twin = NULL;
        int is_marked = 0;
        if (op.canary) {
            rec = gen_canary(&cn);
        } else {
            rng rs, rm, rx;
            rng_seed(&rs, op.seed, i, STREAM_SHARED);
            rec = gen_shared(&rs, i, op.photo);
            if (op.wild) {
                rng_seed(&rx, op.seed, i, STREAM_MUTATE);
                mutate_message(&rx, &rec->base, dmvf__schema_root(), 0);
            }
            rng_seed(&rm, op.seed, i, STREAM_MC);
            is_marked = chance(&rm, op.marked);
            apply_mc(&rm, rec, is_marked);
            if (op.wild) {
                rng_seed(&rx, op.seed, i, STREAM_MUTATE_MC);
                mutate_message(&rx, &rec->base, dmvf__schema_root(), 1);
            }
            marked += (uint64_t)is_marked;
            if (ot) {
                rng ts, tm, tx;
                rng_seed(&ts, op.seed, i, STREAM_SHARED);
                twin = gen_shared(&ts, i, op.photo);
                if (op.wild) {
                    rng_seed(&tx, op.seed, i, STREAM_MUTATE);
                    mutate_message(&tx, &twin->base, dmvf__schema_root(), 0);
                }
                rng_seed(&tm, op.seed, i, STREAM_TWIN);
                int tmk = chance(&tm, 0.5) ? !is_marked : is_marked;
                apply_mc(&tm, twin, tmk);
                if (op.wild) {
                    rng_seed(&tx, op.seed, i, STREAM_MUTATE_MC_TWIN);
                    mutate_message(&tx, &twin->base, dmvf__schema_root(), 1);
                }
                twin_marked += (uint64_t)tmk;
                flipped += (uint64_t)(tmk != is_marked);
            }
        }

        if (op.format != FMT_PB) {
            text_record(op.format, &rec->base, &enc);
            out_write(o, enc.p, enc.n);
            record_bytes += enc.n;
            if (twin) {
                text_record(op.format, &twin->base, &enc);
                out_write(ot, enc.p, enc.n);
            }
            arena_reset();
            continue;
        }

        wild w;
        w.on = op.wild || op.hostile;
        w.hostile = op.hostile;
        rng_seed(&w.r, op.seed, i, STREAM_WILD);
        enc.n = 0;
        enc_message(&w, &rec->base, dmvf__schema_root(), 1, &enc);
        if (op.self_check &&
            !self_check(enc.p, enc.n, &rec->base, !op.wild, !op.wild, i, "output"))
            failures++;
        write_record(o, &op, enc.p, enc.n);
        record_bytes += enc.n;

        if (twin) {
            rng_seed(&w.r, op.seed, i, STREAM_WILD_TWIN);
            enc.n = 0;
            enc_message(&w, &twin->base, dmvf__schema_root(), 1, &enc);
            if (op.self_check &&
                !self_check(enc.p, enc.n, &twin->base, !op.wild, !op.wild, i, "twin"))
                failures++;
            write_record(ot, &op, enc.p, enc.n);
        }
        arena_reset();
    }
    if (op.framed)
        while (next_request < op.requests) {
            write_request(o, &op, next_request);
            if (ot)
                write_request(ot, &op, next_request);
            next_request++;
        }
    free(enc.p);

    if (op.stats) {
        fprintf(stderr, "records %" PRIu64 "\nbytes %" PRIu64 "\nrecord bytes %" PRIu64
                "\naverage record %.1f\nmarked %" PRIu64 "\n",
                op.count, o->bytes, record_bytes,
                op.count ? (double)record_bytes / (double)op.count : 0.0, marked);
        if (ot)
            fprintf(stderr, "twin marked %" PRIu64 "\nmarking flipped %" PRIu64 "\n",
                    twin_marked, flipped);
    }
    out_close(o);
    out_close(ot);
    if (cn.manifest && fclose(cn.manifest) != 0) {
        fprintf(stderr, "dmvf-gen: writing %s: %s\n", op.manifest, strerror(errno));
        return EX_IOERR;
    }
    if (failures) {
        fprintf(stderr, "dmvf-gen: self-check: %" PRIu64 " failures\n", failures);
        return EX_SOFTWARE;
    }
    return 0;
}
