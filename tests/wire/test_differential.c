/*
 * test_differential.c - the wire rewriter (rewrite.c) against the protobuf-c
 * reference path (reference.c), byte for byte.
 *
 * Inputs: the generator's corpora ($DMVF_GEN: ordinary, --wild, --photo,
 * --hostile), a schema-driven random wire corpus made here (field order
 * shuffled, scalars repeated, explicit defaults, unknown fields of every
 * wire type, groups among them, nested, non-minimal varints, out-of-range
 * values, singular sub-messages in pieces, M and C fields with other wire
 * types or garbage inside, the odd wrong wire type elsewhere), hand-written
 * edge cases, and corrupted variants of generator records (truncated at
 * every 7th byte, random bytes changed).
 *
 * Plans: the example policy's plans for four requesters (in-state police,
 * also restricted to requested fields; immigration with a judicial warrant;
 * a researcher; the DMV's own staff, with marking: release), a synthetic
 * plan that uses every action on every field type, and a synthetic one
 * with marking: release that names every marking and marking-correlated
 * field, so that those flow through too.
 *
 * For every input and plan both paths must accept or both reject (with the
 * same code), and accepted outputs must be the same bytes and decode with
 * protobuf-c without unknown fields. The reference path cannot carry a
 * string holding a NUL byte (DMVF_EINVAL); such inputs are counted and
 * skipped. The first mismatches are printed in hex with the plan, the
 * corpus and the record index.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/policy/decide.h"
#include "filter/wire/plan.h"
#include "filter/wire/reference.h"
#include "filter/wire/rewrite.h"
#include "dmv/v1/record.pb-c.h"

/* ---- growable byte buffers and corpora ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void buf_put(buf *b, const void *v, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void buf_byte(buf *b, uint8_t c)
{
    buf_put(b, &c, 1);
}

/* A varint, with `extra` redundant continuation bytes (at most 10 in all). */
static void buf_varint(buf *b, uint64_t v, unsigned extra)
{
    uint8_t t[16];
    unsigned n = 0;
    do {
        t[n++] = (uint8_t)(v & 0x7f);
        v >>= 7;
    } while (v);
    while (extra-- && n < 10)
        t[n++] = 0;
    for (unsigned i = 0; i + 1 < n; i++)
        t[i] |= 0x80;
    buf_put(b, t, n);
}

typedef struct corpus {
    const char *name;
    buf data;
    size_t n;
    size_t *off, *len;
    size_t cap;
} corpus;

static void corpus_add(corpus *c, const uint8_t *p, size_t n)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->off = realloc(c->off, c->cap * sizeof *c->off);
        c->len = realloc(c->len, c->cap * sizeof *c->len);
        if (!c->off || !c->len)
            abort();
    }
    c->off[c->n] = c->data.n;
    c->len[c->n] = n;
    c->n++;
    buf_put(&c->data, p, n);
}

static const uint8_t *corpus_rec(const corpus *c, size_t i)
{
    return c->data.p + c->off[i];
}

static void corpus_free(corpus *c)
{
    free(c->data.p);
    free(c->off);
    free(c->len);
    memset(c, 0, sizeof *c);
}

/* Runs the generator and splits its varint-delimited output into records. */
static int corpus_from_gen(corpus *c, const char *name, const char *gen, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s", gen, args);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    buf all = {0};
    uint8_t tmp[65536];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_put(&all, tmp, got);
    int st = pclose(f);
    c->name = name;
    size_t pos = 0;
    int bad = st != 0;
    while (!bad && pos < all.n) {
        uint64_t len = 0;
        unsigned shift = 0;
        for (;;) {
            if (pos >= all.n || shift > 63) {
                bad = 1;
                break;
            }
            uint8_t b = all.p[pos++];
            len |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            if (!(b & 0x80))
                break;
        }
        if (bad || len > all.n - pos) {
            bad = 1;
            break;
        }
        corpus_add(c, all.p + pos, (size_t)len);
        pos += (size_t)len;
    }
    free(all.p);
    if (bad)
        fprintf(stderr, "generator `%s` failed (status %d) or wrote a broken stream\n", cmd, st);
    return bad ? -1 : 0;
}

/* ---- random numbers (xorshift64*) ---- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ull;
}

static unsigned rn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* A random value of random width. (Every draw is its own statement, so
 * that the sequence does not depend on the compiler's evaluation order.) */
static uint64_t rbits(void)
{
    unsigned shift = rn(64);
    return rnd() >> shift;
}

/* ---- a schema-driven random wire corpus ---- */

static const char *const words[] = {
    "", "DP", "D", "FLA", "TVDL", "LP", "L", "B", "C", "A", "AB60", "FEDERAL LIMITS APPLY",
    "12 Main St", "Apt 4", "New York", "NY", "10027", "1002", "10", "US", "5551234567",
    "jd@example.org", "M\xc3\xbcller", "\xe5\x90\x8d\xe5\x89\x8d", "\xf0\x9f\x9a\x97", "\xc3",
    "\x80\x80", "O'Brien-Smith", "x", "123-45-6789", "speeding", "NOT A ZIP", "9",
};

static void gen_string(buf *b)
{
    if (rn(3)) {
        const char *w = words[rn(sizeof words / sizeof words[0])];
        buf_put(b, w, strlen(w));
        return;
    }
    unsigned n = rn(48);
    for (unsigned i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(rn(4) ? 0x20 + rn(95) : 0x80 + rn(0x80)); /* never NUL */
        buf_byte(b, c);
    }
}

static uint64_t gen_number(unsigned type)
{
    switch (type) {
    case DMVF_T_BOOL:
        return rn(8) ? rn(2) : rbits();
    case DMVF_T_INT32:
    case DMVF_T_ENUM:
        switch (rn(6)) {
        case 0: return 0;
        case 1: return rn(7);
        case 2: return (uint64_t)-(int64_t)(1 + rn(300));
        case 3: return (uint64_t)(int64_t)INT32_MIN;
        case 4: return (uint32_t)-(int32_t)(1 + rn(5)); /* a negative as 32 bits */
        default: return rbits();
        }
    default: /* UINT32 */
        switch (rn(6)) {
        case 0: return 0;
        case 1: {
            uint32_t y = 1900u + rn(136);
            uint32_t m = 1 + rn(12);
            return y * 10000u + m * 100u + 1 + rn(31);
        }
        case 2: return rn(300);
        case 3: return 0xffffffffu;
        case 4: {
            uint64_t hi = (uint64_t)(1 + rn(8)) << 32;
            return hi | (19800615u + rn(3));
        }
        default: return rbits();
        }
    }
}

static void gen_message(buf *out, const dmvf_snode *node, unsigned depth);

static unsigned wire_type_of(unsigned t)
{
    return t == DMVF_T_STRING || t == DMVF_T_BYTES || t == DMVF_T_MESSAGE ? 2 : 0;
}

static void gen_unknown(buf *b, const dmvf_snode *node);

/* One occurrence of field sf, key included. */
static void gen_field(buf *b, const dmvf_sfield *sf, unsigned depth)
{
    unsigned wt = wire_type_of(sf->type);
    int mc = (sf->klass & (DMVF_CLASS_M | DMVF_CLASS_C)) != 0;
    if (mc && rn(10) == 0) {
        /* an M or C field in another encoding: opaque for most plans */
        static const unsigned other[] = {0, 1, 2, 3, 5};
        unsigned w = other[rn(5)];
        buf_varint(b, (uint64_t)sf->number << 3 | w, 0);
        switch (w) {
        case 0: buf_varint(b, rbits(), 0); break;
        case 1: for (int i = 0; i < 8; i++) buf_byte(b, (uint8_t)rnd()); break;
        case 5: for (int i = 0; i < 4; i++) buf_byte(b, (uint8_t)rnd()); break;
        case 3: /* a group of unknown fields, closed */
            for (unsigned k = rn(3); k; k--)
                gen_unknown(b, sf->parent);
            buf_varint(b, (uint64_t)sf->number << 3 | 4, 0);
            break;
        default: { /* bytes that need not parse as fields */
            unsigned n = rn(12);
            buf_varint(b, n, 0);
            for (unsigned i = 0; i < n; i++)
                buf_byte(b, (uint8_t)rnd());
        }
        }
        return;
    }
    if (rn(400) == 0)
        wt = wt == 2 ? 0 : 2; /* a wrong wire type: refused where the plan looks */
    buf_varint(b, (uint64_t)sf->number << 3 | wt, rn(30) == 0 ? 1 : 0);
    if (wt == 0) {
        uint64_t v = gen_number(sf->type);
        buf_varint(b, v, rn(20) == 0 ? 1 + rn(3) : 0);
        return;
    }
    buf v = {0};
    if (sf->type == DMVF_T_MESSAGE)
        gen_message(&v, sf->child, depth + 1);
    else if (sf->type == DMVF_T_STRING)
        gen_string(&v);
    else {
        unsigned n = rn(5) ? rn(64) : 1000 + rn(4000);
        for (unsigned i = 0; i < n; i++)
            buf_byte(&v, (uint8_t)rnd());
    }
    buf_varint(b, v.n, rn(40) == 0 ? 1 : 0);
    buf_put(b, v.p, v.n);
    free(v.p);
}

static void gen_unknown_at(buf *b, const dmvf_snode *node, unsigned depth)
{
    static const unsigned wts[] = {0, 1, 2, 5, 3};
    unsigned wt = wts[rn(depth < 4 ? 5 : 4)];
    uint32_t num = node->max_number + 1 + rn(rn(2) ? 20 : 5000);
    buf_varint(b, (uint64_t)num << 3 | wt, 0);
    switch (wt) {
    case 3: /* a group: fields, nested groups, then its END_GROUP (now and then a wrong one) */
        for (unsigned k = rn(4); k; k--)
            gen_unknown_at(b, node, depth + 1);
        buf_varint(b, (uint64_t)(rn(200) ? num : num + 1) << 3 | 4, 0);
        break;
    case 0: buf_varint(b, rbits(), 0); break;
    case 1: for (int i = 0; i < 8; i++) buf_byte(b, (uint8_t)rnd()); break;
    case 5: for (int i = 0; i < 4; i++) buf_byte(b, (uint8_t)rnd()); break;
    default: {
        unsigned n = rn(20);
        buf_varint(b, n, 0);
        for (unsigned i = 0; i < n; i++)
            buf_byte(b, (uint8_t)rnd());
    }
    }
}

static void gen_unknown(buf *b, const dmvf_snode *node)
{
    gen_unknown_at(b, node, 0);
}

/* A message: fields in random order, some repeated, some unknown. */
static void gen_message(buf *out, const dmvf_snode *node, unsigned depth)
{
    buf chunks[96];
    size_t nc = 0;
    for (size_t i = 0; i < node->nfields && nc < 80; i++) {
        const dmvf_sfield *sf = &node->fields[i];
        if (rn(100) < 35)
            continue;
        unsigned occ = 1;
        if (sf->repeated)
            occ = rn(4);
        else if (sf->type == DMVF_T_MESSAGE)
            occ = rn(10) == 0 ? 2 + rn(2) : 1; /* pieces: merged */
        else if (rn(8) == 0)
            occ = 2 + rn(2);            /* a repeated scalar: the last wins */
        for (unsigned k = 0; k < occ && nc < 80; k++) {
            memset(&chunks[nc], 0, sizeof chunks[nc]);
            gen_field(&chunks[nc++], sf, depth);
        }
    }
    unsigned nu = rn(4) == 0 ? 1 + rn(3) : 0;
    for (unsigned k = 0; k < nu; k++) {
        memset(&chunks[nc], 0, sizeof chunks[nc]);
        gen_unknown(&chunks[nc++], node);
    }
    /* shuffle, but keep repeated elements in their relative order sometimes */
    if (rn(3))
        for (size_t i = nc; i > 1; i--) {
            size_t j = rn((unsigned)i);
            buf t = chunks[i - 1];
            chunks[i - 1] = chunks[j];
            chunks[j] = t;
        }
    for (size_t i = 0; i < nc; i++) {
        buf_put(out, chunks[i].p, chunks[i].n);
        free(chunks[i].p);
    }
}

/* ---- hand-written edge cases ---- */

typedef struct edge {
    const char *what;
    const char *hex;
} edge;

static const edge edges[] = {
    {"empty record", ""},
    {"record_id, explicit empty", "0a00"},
    {"record_id twice, last wins", "0a01610a0162"},
    {"record_id twice, last empty", "0a01610a00"},
    {"empty person", "1200"},
    {"person: explicit defaults", "12100a00300040004800920100a801003800"},
    {"person.organ_donor = 2", "1203a80102"},
    {"person.organ_donor = 2^35", "1208a801808080808001"},
    {"person.organ_donor unterminated", "1205a801808080"},
    {"person.birth_date > 2^32", "120630a7c4b88910"},
    {"person.birth_date 10-byte varint", "120b30ffffffffffffffffff01"},
    {"person.birth_date 10-byte varint, high bits", "120b30ffffffffffffffffff7f"},
    {"person.birth_date 11-byte varint", "120c30ffffffffffffffffffff01"},
    {"person.birth_date non-minimal", "120730a7c4b8898000"},
    {"person.sex = -1 (10 bytes)", "120b38ffffffffffffffffff01"},
    {"person.sex = -1 (5 bytes)", "120638ffffffff0f"},
    {"person.sex = 99", "12023863"},
    {"person.sex non-minimal 0", "1203388000"},
    {"history.points = -3 (5 bytes)", "420638fdffffff0f"},
    {"history.points = -3 (10 bytes)", "420b38fdffffffffffffffff01"},
    {"history.points = 2^31 (5 bytes)", "4206388080808008"},
    {"license.kind non-minimal", "1a03208100"},
    {"license.expiration_date > 2^32", "1a0648c582d78950"},
    {"non-minimal length prefix", "0a810061"},
    {"non-minimal length prefix, 5 bytes", "0a818080800061"},
    {"length prefix, 6 bytes", "0a81808080800061"},
    {"length prefix overflowing 32 bits", "0a8080808010"},
    {"length prefix overflowing 32 bits, wraps to 1", "0a818080801061"},
    {"sub-message length overflowing 32 bits", "128080808010"},
    {"non-minimal key", "8a000161"},
    {"key of 5 bytes", "8a808080000161"},
    {"key of 6 bytes", "8a80808080000161"},
    {"key with field number 0, one byte", "0200"},
    {"key with field number 0, varint", "0000"},
    {"key with field number 0, two bytes", "820000"},
    {"key overflowing 32 bits", "faffffff7f00"},
    {"key of 5 bytes naming record_id", "8a808080100161"},
    {"unknown field, varint", "f80701"},
    {"unknown field, fixed64", "c13e0102030405060708"},
    {"unknown field, fixed32", "c53e01020304"},
    {"unknown fixed64, truncated", "c13e010203"},
    {"unknown fixed32, truncated", "c53e0102"},
    {"unknown group start", "a306a406"},
    {"unknown group end", "a406"},
    {"wire type 6", "0e00"},
    {"wire type 7", "0f00"},
    {"record_id as fixed32", "0d61626364"},
    {"unknown field number 24 in person", "1203c00101"},
    {"record_id as varint", "0801"},
    {"person as varint", "1001"},
    {"person.organ_donor as LEN", "1203aa0100"},
    {"person.aliases as varint", "12022801"},
    {"marking twice", "22002200"},
    {"marking with bad inner varint", "220208ff"},
    {"marking inner wrong wire type", "22021801"},
    {"documents with unknown group inside", "2a02a306"},
    {"photo with an unknown inside", "3203f80701"},
    {"application twice", "4a004a00"},
    {"person twice", "12001200"},
    {"residence twice in person", "1206820100820100"},
    {"mailing empty", "12038a0100"},
    {"vehicle with registered_address twice", "3a044a004a00"},
    {"three empty vehicles", "3a003a003a00"},
    {"aliases: empty, DP, empty", "12082a002a0244502a00"},
    {"aliases: DP dropped, LP", "12082a0244502a024c50"},
    {"class_code DP", "1a042a024450"},
    {"class_code TV (normalized to empty)", "1a042a025456"},
    {"class_code DP twice, then C", "1a0b2a0244502a0244502a0143"},
    {"class_code C, then DP", "1a072a01432a024450"},
    {"restrictions FLA, TVDL, LP, empty", "1a113203464c4132045456444c32024c503200"},
    {"invalid UTF-8 in masked fields", "120f1204c3c3c3ff920106808080808080"},
    {"a long phone", "129401920190014142434445464748494a4b4c4d4e4f505152535455565758595a303132333435363738394142434445464748494a4b4c4d4e4f505152535455565758595a303132333435363738394142434445464748494a4b4c4d4e4f505152535455565758595a303132333435363738394142434445464748494a4b4c4d4e4f505152535455565758595a30313233343536373839"},
    {"photo image 200 bytes", "32d1010ac801000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c71a046a706567"},
    {"person fields in reverse order", "12269a01037631399201037631385a037631315203763130220276341a027633120276320a027631"},
    {"truncated after key", "0a"},
    {"truncated in length", "0a80"},
    {"truncated sub-message", "12050a036162"},
    {"sub-message length past its parent", "12030a056162"},
    {"string with NUL (skipped)", "0a03610062"},
    {"marking in two pieces", "2202080222021001"},
    {"marking after an empty piece", "22002202080222021001"},
    {"marking with an unknown group", "2206a3060801a406"},
    {"marking with unknown fields of every wire type", "2217a00101a1010102030405060708a2010161a50101020304"},
    {"marking as a group", "230801240a0172"},
    {"marking as an open group", "2308010a0172"},
    {"marking with garbage inside", "2203ffffff0a0161"},
    {"nested unknown groups", "a306ab060801ac06a4060a0161"},
    {"group closed by another number", "a306ac06"},
    {"group end only in person", "1202a406"},
    {"person in two pieces", "12030a016112031201620a0172"},
    {"person in two pieces, birth_date in the first", "120230051203120162"},
    {"person in three pieces, the last empty", "12030a0161120230051200"},
    {"residence across person pieces", "12068201031a016312068201030a0173"},
    {"registered_address in pieces", "3a0a4a030a01614a031a0162"},
    {"person.race as a varint", "12026001"},
    {"person.voter_registered as LEN", "1204ba010101"},
    {"license.expiration_date as fixed32", "1a054d01020304"},
    {"license.enhanced as a group", "1a027374"},
    {"documents as fixed32", "2d01020304"},
    {"application as fixed64", "490102030405060708"},
    {"photo as a group", "33080134"},
    {"unknown field 25 of person as a group", "1204cb01cc01"},
};

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int v;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            if (n == cap)
                abort();
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

/* ---- the comparison ---- */

typedef struct plan_case {
    const char *name;
    const dmvf_plan *plan;
    dmvf_keyctx *kc;
} plan_case;

typedef struct stats {
    size_t compared, released, rejected, skipped, mismatches, invalid;
} stats;

static unsigned g_printed;

static void hexdump(const char *label, const uint8_t *p, size_t n)
{
    fprintf(stderr, "  %s (%zu bytes):", label, n);
    size_t show = n < 1024 ? n : 1024;
    for (size_t i = 0; i < show; i++)
        fprintf(stderr, "%s%02x", i % 32 ? "" : "\n    ", p[i]);
    fprintf(stderr, "%s\n", show < n ? " ..." : "");
}

static size_t count_unknown(const ProtobufCMessage *m)
{
    size_t n = m->n_unknown_fields;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *mem = (const char *)m + fd->offset;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t k = *(const size_t *)(const void *)((const char *)m + fd->quantifier_offset);
            ProtobufCMessage *const *a = *(ProtobufCMessage *const *const *)(const void *)mem;
            for (size_t j = 0; j < k; j++)
                n += count_unknown(a[j]);
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(const void *)mem;
            if (sub)
                n += count_unknown(sub);
        }
    }
    return n;
}

static uint8_t *g_out;
static size_t g_cap;

/* Compares both paths on one input; returns 1 on a mismatch. */
static int compare(const plan_case *pc, const char *cname, size_t idx, const uint8_t *in, size_t n,
                   stats *st)
{
    dmvf_error er, ew;
    memset(&er, 0, sizeof er);
    memset(&ew, 0, sizeof ew);
    uint8_t *ro = NULL;
    size_t rn_ = 0, wn = 0;
    int rr = dmvf__reference_record(pc->plan, pc->kc, in, n, &ro, &rn_, &er);
    if (rr == DMVF_EINVAL) {
        st->skipped++;
        return 0;
    }
    size_t want = 2 * n + 4096;
    if (g_cap < want) {
        free(g_out);
        g_cap = want;
        g_out = malloc(g_cap);
        if (!g_out)
            abort();
    }
    int rw;
    for (;;) {
        rw = dmvf__rewrite(pc->plan, pc->kc, in, n, g_out, g_cap, &wn, &ew);
        if (rw != DMVF_ESPACE || g_cap > ((size_t)64 << 20))
            break;
        free(g_out);
        g_cap *= 2;
        g_out = malloc(g_cap);
        if (!g_out)
            abort();
    }
    st->compared++;
    const char *why = NULL;
    if (rr != rw)
        why = rr == DMVF_OK ? "the rewriter refuses what the reference accepts"
            : rw == DMVF_OK ? "the rewriter accepts what the reference refuses"
            : "both refuse, with different codes";
    else if (rr == DMVF_OK && (rn_ != wn || memcmp(ro, g_out, wn) != 0))
        why = "different bytes";
    if (!why) {
        if (rr == DMVF_OK) {
            st->released++;
            ProtobufCMessage *m = protobuf_c_message_unpack(&dmv__v1__driver_record__descriptor, NULL, wn,
                                                            g_out);
            if (!m || count_unknown(m) != 0) {
                st->invalid++;
                if (g_printed++ < 8) {
                    fprintf(stderr, "INVALID OUTPUT: plan %s, corpus %s, record %zu: %s\n", pc->name, cname,
                            idx, m ? "unknown fields remain" : "protobuf-c cannot decode it");
                    hexdump("output", g_out, wn);
                }
            }
            protobuf_c_message_free_unpacked(m, NULL);
        } else {
            st->rejected++;
        }
        free(ro);
        return 0;
    }
    st->mismatches++;
    if (g_printed++ < 8) {
        fprintf(stderr, "MISMATCH: plan %s, corpus %s, record %zu: %s\n", pc->name, cname, idx, why);
        fprintf(stderr, "  reference: %s%s%s (offset %llu)\n", dmvf_strerror(rr), rr ? ": " : "",
                rr ? er.msg : "", (unsigned long long)er.offset);
        fprintf(stderr, "  rewriter:  %s%s%s (offset %llu)\n", dmvf_strerror(rw), rw ? ": " : "",
                rw ? ew.msg : "", (unsigned long long)ew.offset);
        hexdump("input", in, n);
        if (rr == DMVF_OK)
            hexdump("reference output", ro, rn_);
        if (rw == DMVF_OK)
            hexdump("rewriter output", g_out, wn);
        if (rr == DMVF_OK && rw == DMVF_OK) {
            size_t k = 0;
            while (k < rn_ && k < wn && ro[k] == g_out[k])
                k++;
            fprintf(stderr, "  first difference at output byte %zu\n", k);
        }
    }
    free(ro);
    return 1;
}

static void run_corpus(const plan_case *plans, size_t np, const corpus *c, stats *st)
{
    for (size_t p = 0; p < np; p++)
        for (size_t i = 0; i < c->n; i++)
            compare(&plans[p], c->name, i, corpus_rec(c, i), c->len[i], st);
}

/* Truncations at every 7th byte and random byte changes of `nrec` records
 * spread over c. */
static void run_corrupted(const plan_case *plans, size_t np, const corpus *c, size_t nrec, stats *st)
{
    if (c->n == 0)
        return;
    size_t step = c->n / nrec ? c->n / nrec : 1;
    buf v = {0};
    char name[64];
    for (size_t i = 0; i < c->n && i / step < nrec; i += step) {
        const uint8_t *r = corpus_rec(c, i);
        size_t n = c->len[i];
        snprintf(name, sizeof name, "%s/truncated", c->name);
        for (size_t cut = 0; cut < n; cut += 7)
            for (size_t p = 0; p < np; p++)
                compare(&plans[p], name, i, r, cut, st);
        snprintf(name, sizeof name, "%s/changed", c->name);
        for (unsigned k = 0; k < 12 && n; k++) {
            v.n = 0;
            buf_put(&v, r, n);
            unsigned changes = 1 + rn(3);
            for (unsigned j = 0; j < changes; j++) {
                size_t at = rn((unsigned)n);
                v.p[at] = rn(2) ? (uint8_t)(v.p[at] ^ (1u << rn(8))) : (uint8_t)rnd();
            }
            for (size_t p = 0; p < np; p++)
                compare(&plans[p], name, i, v.p, v.n, st);
        }
    }
    free(v.p);
}

/* ---- the values normalization tables name, and odd spellings of them ---- */

static const char *const spellings[] = {
    "DP", "dp", " DP", "DP ", "Dp", "D", "d", "FLA", "fla", "FLA ", "F\xe2\x80\x8bLA", "TV", "TVDL", "LP", "L",
    "", "CDL-A", "cdl-a", "B", "H", "X", "W", "ZZ", "\xff", "D\xcc\x81",
};
#define N_SPELLINGS (sizeof spellings / sizeof spellings[0])

/* Records of `from` whose class code, restrictions and endorsements hold
 * those values (two more restrictions at drawn positions, one more
 * endorsement first), packed by protobuf-c. */
static void corpus_spellings(corpus *out, const corpus *from, size_t nrec)
{
    out->name = "spellings";
    for (size_t i = 0; i < from->n && i < nrec; i++) {
        Dmv__V1__DriverRecord *r = dmv__v1__driver_record__unpack(NULL, from->len[i], corpus_rec(from, i));
        if (!r)
            abort();
        if (!r->license) {
            dmv__v1__driver_record__free_unpacked(r, NULL);
            continue;
        }
        Dmv__V1__License *l = r->license;
        char *cc = l->class_code, **rs = l->restrictions, **en = l->endorsements;
        size_t nrs = l->n_restrictions, nen = l->n_endorsements;
        char **rs2 = malloc((nrs + 2) * sizeof *rs2), **en2 = malloc((nen + 1) * sizeof *en2);
        if (!rs2 || !en2)
            abort();
        size_t at = i % (nrs + 1);
        for (size_t k = 0, j = 0; k < nrs + 2; k++)
            rs2[k] = k == at ? (char *)spellings[(i * 7 + 1) % N_SPELLINGS]
                   : k == nrs + 1 ? (char *)spellings[(i * 3 + 2) % N_SPELLINGS] : rs[j++];
        en2[0] = (char *)spellings[(i * 5 + 3) % N_SPELLINGS];
        for (size_t k = 0; k < nen; k++)
            en2[k + 1] = en[k];
        l->class_code = (char *)spellings[i % N_SPELLINGS];
        l->restrictions = rs2;
        l->n_restrictions = nrs + 2;
        l->endorsements = en2;
        l->n_endorsements = nen + 1;
        size_t n = dmv__v1__driver_record__get_packed_size(r);
        uint8_t *b = malloc(n ? n : 1);
        if (!b)
            abort();
        dmv__v1__driver_record__pack(r, b);
        corpus_add(out, b, n);
        free(b);
        l->class_code = cc;
        l->restrictions = rs;
        l->n_restrictions = nrs;
        l->endorsements = en;
        l->n_endorsements = nen;
        free(rs2);
        free(en2);
        dmv__v1__driver_record__free_unpacked(r, NULL);
    }
}

/* ---- policies ---- */

static const char everything_yaml[] =
    "version: 1\n"
    "jurisdiction: NY\n"
    "refusal: refused\n"
    "profiles:\n"
    "  everything:\n"
    "    default: release\n"
    "    fields:\n"
    "      record_id: pseudonymize\n"
    "      person.given_name: {mask: {keep_first: 1}}\n"
    "      person.middle_name: {mask: {keep_first: 1, keep_last: 1}}\n"
    "      person.name_suffix: encrypt\n"
    "      person.aliases: pseudonymize\n"
    "      person.birth_date: {generalize: year}\n"
    "      person.sex: {constant: x}\n"
    "      person.height_cm: {constant: 170}\n"
    "      person.weight_kg: redact\n"
    "      person.eye_color: {constant: brown}\n"
    "      person.hair_color: {constant: \"\"}\n"
    "      person.phone: {mask: {keep_last: 4}}\n"
    "      person.email: encrypt\n"
    "      person.organ_donor: {constant: true}\n"
    "      person.veteran: {constant: false}\n"
    "      person.residence.street: encrypt\n"
    "      person.residence.postal_code: {generalize: zip3}\n"
    "      person.residence.unit: pseudonymize\n"
    "      person.mailing: redact\n"
    "      license.number: encrypt\n"
    "      license.endorsements: {mask: {keep_first: 1}}\n"
    "      license.issue_date: {generalize: month}\n"
    "      license.hazmat_expiration_date: {generalize: decade}\n"
    "      license.status: {constant: valid}\n"
    "      license.kind: {constant: 2}\n"
    "      photo.image: {constant: no-image}\n"
    "      photo.face_template: redact\n"
    "      photo.capture_date: {generalize: year}\n"
    "      photo.image_format: {mask: {keep_last: 1}}\n"
    "      vehicles.plate: {mask: {keep_last: 2}}\n"
    "      vehicles.vin: pseudonymize\n"
    "      vehicles.model_year: {constant: 2000}\n"
    "      vehicles.expiration_date: {generalize: month}\n"
    "      vehicles.registered_address.street: redact\n"
    "      vehicles.registered_address.postal_code: {generalize: zip3}\n"
    "      vehicles.registered_address.city: {constant: Somewhere}\n"
    "      history.date: {generalize: year}\n"
    "      history.kind: {constant: conviction}\n"
    "      history.points: {constant: -1}\n"
    "      history.court: {constant: withheld}\n"
    "      history.description: encrypt\n"
    "marking:\n"
    "  normalize:\n"
    "    license.class_code: {map: {DP: D, TV: \"\"}, allow: [\"\", A, B, C, CDL-A, CDL-B, D, E, M]}\n"
    "    license.restrictions: {drop: [FLA, TVDL], map: {LP: L}, allow: [\"\", B, C, D, E, F, G, I, J, K, L, W],\n"
    "                           otherwise: W}\n"
    "    license.endorsements: {allow: [H, M, N, P, S, T, X]}\n"
    "    person.aliases: {drop: [DP]}\n"
    "requesters:\n"
    "  - {ori: NY0000000, name: State agency, kind: state, jurisdiction: NY}\n"
    "rules:\n"
    "  - name: everything\n"
    "    match: {agency_kind: [state]}\n"
    "    decision: release\n"
    "    profile: everything\n";

/* Every marking (M) and marking-correlated (C) scalar field, named one by
 * one (as marking: release requires), with an action that fits its type. */
static char *marking_yaml(void)
{
    buf y = {0};
    static const char head[] =
        "version: 1\n"
        "jurisdiction: NY\n"
        "profiles:\n"
        "  internal:\n"
        "    default: release\n"
        "    fields:\n";
    buf_put(&y, head, sizeof head - 1);
    char line[256];
    unsigned k = 0;
    for (size_t i = 0; i < dmvf__schema_npaths(); i++) {
        const dmvf_sfield *sf = dmvf__schema_field(i);
        if (!(sf->klass & (DMVF_CLASS_M | DMVF_CLASS_C)) || sf->type == DMVF_T_MESSAGE)
            continue;
        const char *a = "release";
        k++;
        if (sf->type == DMVF_T_STRING && !sf->repeated && k % 4 == 1)
            a = "{mask: {keep_last: 2}}";
        else if (sf->type == DMVF_T_STRING && k % 4 == 2)
            a = "pseudonymize";
        else if (sf->type == DMVF_T_UINT32 && sf->is_date && k % 2)
            a = "{generalize: year}";
        snprintf(line, sizeof line, "      %s: %s\n", sf->path, a);
        buf_put(&y, line, strlen(line));
    }
    static const char tail[] =
        "marking:\n"
        "  normalize:\n"
        "    license.class_code: {map: {DP: D}, allow: [A, B, C, D, E, M]}\n"
        "    license.restrictions: {drop: [FLA], allow: [B, C, D, E, F, G, I, J, K, W]}\n"
        "requesters:\n"
        "  - {ori: NYDMV0000, name: DMV, kind: internal, jurisdiction: NY}\n"
        "rules:\n"
        "  - name: dmv internal\n"
        "    match: {agency_kind: [internal]}\n"
        "    decision: release\n"
        "    marking: release\n"
        "    profile: internal\n";
    buf_put(&y, tail, sizeof tail);
    return (char *)y.p;
}

static const dmvf_plan *decide(const dmvf_policy *p, const char *what, const dmvf_request *req)
{
    dmvf_verdict v;
    memset(&v, 0, sizeof v);
    dmvf__policy_decide(p, req, 20260101, &v); /* judged as of a fixed day */
    CHECK_MSG(v.decision == DMVF_DECISION_RELEASE && v.plan != NULL, "%s: not released (rule %s: %s)", what,
              v.rule_name ? v.rule_name : "none", v.reason);
    return v.decision == DMVF_DECISION_RELEASE ? v.plan : NULL;
}

static void add_stats(stats *t, const stats *s)
{
    t->compared += s->compared;
    t->released += s->released;
    t->rejected += s->rejected;
    t->skipped += s->skipped;
    t->mismatches += s->mismatches;
    t->invalid += s->invalid;
}

/* Rewrites into buffers of exactly 0, half and all but one byte of the
 * released length (so that the sanitizers see any write past them): each
 * must be DMVF_ESPACE. Returns the number of failures. */
static size_t check_space(const plan_case *pc, const uint8_t *in, size_t n, size_t idx)
{
    size_t wn = 0, bad = 0;
    dmvf_error ew;
    if (dmvf__rewrite(pc->plan, pc->kc, in, n, g_out, g_cap, &wn, &ew) != DMVF_OK || wn == 0)
        return 0;
    size_t caps[3] = {0, wn / 2, wn - 1};
    for (int k = 0; k < 3; k++) {
        uint8_t *o = malloc(caps[k] ? caps[k] : 1);
        size_t on = 0;
        if (!o)
            abort();
        int rc = dmvf__rewrite(pc->plan, pc->kc, in, n, o, caps[k], &on, &ew);
        if (rc != DMVF_ESPACE) {
            bad++;
            fprintf(stderr, "plan %s, record %zu: capacity %zu of %zu needed gives %s, not ESPACE\n", pc->name,
                    idx, caps[k], wn, dmvf_strerror(rc));
        }
        free(o);
    }
    return bad;
}

static void print_stats(const char *what, const stats *st)
{
    printf("%-28s compared %7zu  released %7zu  refused %6zu  skipped %4zu  mismatches %zu  invalid %zu\n",
           what, st->compared, st->released, st->rejected, st->skipped, st->mismatches, st->invalid);
}

int main(void)
{
    const char *src = getenv("DMVF_SRC"), *gen = getenv("DMVF_GEN");
    CHECK_MSG(src && gen, "DMVF_SRC and DMVF_GEN must be set");
    if (!src || !gen)
        CHECK_DONE();

    /* keys */
    char dir[] = "/tmp/dmvf-diff-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char kpath[64];
    snprintf(kpath, sizeof kpath, "%s/keyring", dir);
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(0xa5 ^ i);
    dmvf_error err;
    int rc = dmvf__keyring_create_seeded(kpath, seed, 2, &err);
    CHECK_MSG(rc == DMVF_OK, "seeded keyring: %s", err.msg);
    dmvf_keyring *kr = rc ? NULL : dmvf_keyring_load(kpath, NULL, &err);
    CHECK_MSG(kr != NULL, "keyring: %s", err.msg);
    unlink(kpath);
    rmdir(dir);
    if (!kr)
        CHECK_DONE();

    /* plans */
    char ppath[1024];
    snprintf(ppath, sizeof ppath, "%s/examples/policy.yaml", src);
    dmvf_policy *example = dmvf_policy_load_file(ppath, &err);
    CHECK_MSG(example != NULL, "%s: %s", ppath, err.msg);
    dmvf_policy *every = dmvf_policy_load_buffer(everything_yaml, sizeof everything_yaml - 1, "<everything>", &err);
    CHECK_MSG(every != NULL, "everything policy: %s", err.msg);
    char *myaml = marking_yaml();
    dmvf_policy *internal = dmvf_policy_load_buffer(myaml, strlen(myaml), "<marking-release>", &err);
    CHECK_MSG(internal != NULL, "marking-release policy: %s", err.msg);
    free(myaml);

    plan_case plans[10];
    const char *scopes[10];
    size_t np = 0;
    dmvf_plan *restricted = NULL;
    if (example) {
        dmvf_request police = {0};
        police.ori = "NY0303000";
        police.agency_kind = DMVF_AGENCY_LOCAL;
        police.jurisdiction = "NY";
        police.purpose = 1;
        police.query_kind = DMVF_QUERY_BY_LICENSE;
        const dmvf_plan *p = decide(example, "in-state police", &police);
        if (p) {
            scopes[np] = police.ori;
            plans[np++] = (plan_case){"example/in-state-police", p, NULL};
            static const char *const fields[] = {"record_id", "person.family_name", "person.residence",
                                                 "license.*", "vehicles.plate"};
            restricted = dmvf__plan_restrict(p, fields, sizeof fields / sizeof fields[0], &err);
            CHECK_MSG(restricted != NULL, "plan_restrict: %s", err.msg);
            if (restricted) {
                scopes[np] = police.ori;
                plans[np++] = (plan_case){"example/in-state-police+fields", restricted, NULL};
            }
        }
        static const char *const tags[] = {"immigration-enforcement"};
        dmvf_request ice = {0};
        ice.ori = "DCICE0000";
        ice.agency_kind = DMVF_AGENCY_FEDERAL;
        ice.tags = tags;
        ice.ntags = 1;
        ice.legal_process = DMVF_LEGAL_JUDICIAL_WARRANT;
        ice.query_kind = DMVF_QUERY_BY_LICENSE;
        ice.purpose = 1;
        p = decide(example, "immigration with a judicial warrant", &ice);
        if (p) {
            scopes[np] = ice.ori;
            plans[np++] = (plan_case){"example/immigration-warrant", p, NULL};
        }
        dmvf_request dmv = {0};
        dmv.ori = "NYDMV0001";
        dmv.agency_kind = DMVF_AGENCY_INTERNAL;
        dmv.jurisdiction = "NY";
        p = decide(example, "dmv internal", &dmv);
        CHECK(p == NULL || p->marking_release);
        if (p) {
            scopes[np] = dmv.ori;
            plans[np++] = (plan_case){"example/dmv-internal", p, NULL};
        }
        dmvf_request res = {0};
        res.ori = "NYRES0001";
        res.agency_kind = DMVF_AGENCY_RESEARCH;
        res.purpose = 5;
        p = decide(example, "researcher", &res);
        if (p) {
            scopes[np] = res.ori;
            plans[np++] = (plan_case){"example/researcher", p, NULL};
        }
    }
    if (every) {
        dmvf_request r = {0};
        r.ori = "NY0000000";
        r.agency_kind = DMVF_AGENCY_STATE;
        const dmvf_plan *p = decide(every, "everything", &r);
        if (p) {
            scopes[np] = r.ori;
            plans[np++] = (plan_case){"synthetic/everything", p, NULL};
        }
    }
    if (internal) {
        dmvf_request r = {0};
        r.ori = "NYDMV0000";
        r.agency_kind = DMVF_AGENCY_INTERNAL;
        const dmvf_plan *p = decide(internal, "marking release", &r);
        CHECK(p == NULL || p->marking_release);
        if (p) {
            scopes[np] = r.ori;
            plans[np++] = (plan_case){"synthetic/marking-release", p, NULL};
        }
    }
    for (size_t i = 0; i < np; i++) {
        plans[i].kc = dmvf__keyctx_create(kr, scopes[i], plans[i].plan->pseudo_paths, plans[i].plan->npseudo);
        CHECK(plans[i].kc != NULL);
    }
    for (size_t i = 0; i < np; i++)
        if (!plans[i].kc) {
            for (size_t j = 0; j < np; j++)
                dmvf__keyctx_free(plans[j].kc);
            np = 0;
        }

    /* corpora */
    corpus plain = {0}, wild = {0}, photo = {0}, hostile = {0}, synth = {0}, edge_c = {0}, spell = {0};
    CHECK(corpus_from_gen(&plain, "gen", gen, "--count 10000 --seed 7") == 0);
    CHECK(corpus_from_gen(&wild, "gen-wild", gen, "--wild --count 5000 --seed 8") == 0);
    CHECK(corpus_from_gen(&photo, "gen-photo", gen, "--photo --count 300 --seed 9") == 0);
    CHECK(corpus_from_gen(&hostile, "gen-hostile", gen, "--hostile --count 3000 --seed 10") == 0);
    CHECK_MSG(plain.n == 10000, "gen --count 10000 gave %zu records", plain.n);
    CHECK_MSG(wild.n == 5000, "gen --wild --count 5000 gave %zu records", wild.n);
    CHECK_MSG(photo.n == 300, "gen --photo --count 300 gave %zu records", photo.n);
    CHECK_MSG(hostile.n == 3000, "gen --hostile --count 3000 gave %zu records", hostile.n);
    synth.name = "random-wire";
    for (int i = 0; i < 3000; i++) {
        buf b = {0};
        gen_message(&b, dmvf__schema_root(), 0);
        corpus_add(&synth, b.p, b.n);
        free(b.p);
    }
    edge_c.name = "edge";
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        uint8_t tmp[512];
        size_t n = unhex(edges[i].hex, tmp, sizeof tmp);
        corpus_add(&edge_c, tmp, n);
    }
    size_t nedges = edge_c.n;
    /* unknown groups 32 deep (the most) and 33; marking in 10,001 pieces */
    for (unsigned depth = 32; depth <= 33; depth++) {
        buf g = {0};
        for (unsigned k = 0; k < depth; k++)
            buf_put(&g, "\xa3\x06", 2);
        for (unsigned k = 0; k < depth; k++)
            buf_put(&g, "\xa4\x06", 2);
        buf_put(&g, "\x0a\x01r", 3);
        corpus_add(&edge_c, g.p, g.n);
        free(g.p);
    }
    {
        buf g = {0};
        for (unsigned k = 0; k < 10001; k++)
            buf_put(&g, "\x22\x02\x08\x01", 4);
        corpus_add(&edge_c, g.p, g.n);
        free(g.p);
    }

    corpus_spellings(&spell, &plain, 2000);
    CHECK_MSG(spell.n > 1500, "only %zu records with spellings", spell.n);

    stats total = {0};
    const corpus *clean[] = {&plain, &wild, &photo, &hostile, &synth, &edge_c, &spell};
    for (size_t k = 0; k < sizeof clean / sizeof clean[0]; k++) {
        stats st = {0};
        run_corpus(plans, np, clean[k], &st);
        print_stats(clean[k]->name, &st);
        add_stats(&total, &st);
        if (clean[k] == &plain || clean[k] == &spell)
            CHECK_MSG(st.released > 0 && st.rejected == 0, "the %s records must all be accepted "
                      "(%zu refused)", clean[k]->name, st.rejected);
    }
    for (size_t i = 0; i < nedges; i++) /* name the edge cases that mismatch */
        for (size_t p = 0; p < np; p++) {
            stats st = {0};
            unsigned saved = g_printed;
            g_printed = 1000;
            if (compare(&plans[p], "edge", i, corpus_rec(&edge_c, i), edge_c.len[i], &st))
                fprintf(stderr, "edge case %zu (%s) mismatches under %s\n", i, edges[i].what, plans[p].name);
            g_printed = saved;
        }
    stats cor = {0};
    run_corrupted(plans, np, &plain, 120, &cor);
    run_corrupted(plans, np, &wild, 50, &cor);
    run_corrupted(plans, np, &hostile, 30, &cor);
    run_corrupted(plans, np, &synth, 30, &cor);
    print_stats("corrupted", &cor);
    add_stats(&total, &cor);
    print_stats("total", &total);

    /* too little room is DMVF_ESPACE, never a short or overlong write */
    size_t space_bad = 0;
    for (size_t p = 0; p < np; p++)
        for (size_t i = 0; i < plain.n && i < 200; i++)
            space_bad += check_space(&plans[p], corpus_rec(&plain, i), plain.len[i], i);
    CHECK_EQ_INT(space_bad, 0);

    CHECK_MSG(np >= 3, "only %zu plans to compare", np);
    CHECK_MSG(total.compared > 100000, "only %zu comparisons", total.compared);
    CHECK_EQ_INT(total.mismatches, 0);
    CHECK_EQ_INT(total.invalid, 0);

    corpus_free(&plain);
    corpus_free(&wild);
    corpus_free(&photo);
    corpus_free(&hostile);
    corpus_free(&synth);
    corpus_free(&edge_c);
    corpus_free(&spell);
    for (size_t i = 0; i < np; i++)
        dmvf__keyctx_free(plans[i].kc);
    dmvf__plan_free(restricted);
    dmvf_policy_free(example);
    dmvf_policy_free(every);
    dmvf_policy_free(internal);
    dmvf_keyring_free(kr);
    free(g_out);
    CHECK_DONE();
}
