/*
 * transform.c - the value transforms of plan.h, shared by the wire rewriter
 * and the protobuf-c reference path.
 */
#include <string.h>
#include "filter/wire/transform.h"

/* Tables up to this size are searched in order: a value's length and
 * first byte rule out nearly every entry, where each step of a binary
 * search is a branch no predictor can learn. */
#define NORM_LINEAR 16u

/* The index of v[0..n) in a table of `count` elements of `size` bytes
 * sorted by dmvf__norm_cmp, holding no value twice, its bytes read by get;
 * -1 when it is not there. */
static inline __attribute__((always_inline)) long
find_sorted(const void *table, uint32_t count, size_t size, const uint8_t *v, size_t n,
            void (*get)(const void *elt, const uint8_t **p, size_t *len))
{
    if (count <= NORM_LINEAR) {
        for (uint32_t i = 0; i < count; i++) {
            const uint8_t *p;
            size_t len;
            get((const char *)table + (size_t)i * size, &p, &len);
            if (len == n && (n == 0 || (p[0] == v[0] && memcmp(p, v, n) == 0)))
                return (long)i;
        }
        return -1;
    }
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *p;
        size_t len;
        get((const char *)table + (size_t)mid * size, &p, &len);
        int c = dmvf__norm_cmp(p, len, v, n);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void entry_bytes(const void *elt, const uint8_t **p, size_t *len)
{
    const dmvf_norm_entry *e = elt;
    *p = e->from;
    *len = e->from_len;
}

static void value_bytes(const void *elt, const uint8_t **p, size_t *len)
{
    const dmvf_norm_value *a = elt;
    *p = a->v;
    *len = a->len;
}

int dmvf__normalize(const dmvf_fplan *fp, const uint8_t **v, size_t *n)
{
    const dmvf_norm *nm = fp->norm;
    if (!nm)
        return 0;
    long i = find_sorted(nm->entry, nm->nentry, sizeof *nm->entry, *v, *n, entry_bytes);
    if (i >= 0) {
        const dmvf_norm_entry *e = &nm->entry[i];
        if (e->drop)
            return 1;
        *v = e->to;
        *n = e->to_len;
    }
    if (nm->nallow == 0 || find_sorted(nm->allow, nm->nallow, sizeof *nm->allow, *v, *n, value_bytes) >= 0)
        return 0;
    if (!nm->otherwise)
        return 1;
    *v = nm->otherwise->v;
    *n = nm->otherwise->len;
    return 0;
}

size_t dmvf__xf_string_bound(const dmvf_fplan *fp, size_t n)
{
    switch (fp->action) {
    case DMVF_ACT_PSEUDONYMIZE: return DMVF_PSEUDONYM_LEN;
    case DMVF_ACT_ENCRYPT: return dmvf__encrypt_len(n);
    case DMVF_ACT_CONSTANT: return fp->clen;
    case DMVF_ACT_GENERALIZE: return n < 3 ? n : 3;
    default: return n; /* RELEASE, MASK: never longer */
    }
}

/* A code point starts at byte 0 and at every byte that is not a UTF-8
 * continuation byte (10xxxxxx); invalid UTF-8 is thus still masked
 * deterministically. Values with no more code points than are kept are
 * masked whole: a short value is not released by a mask. */
/* 1 when no byte of v[0..n) has its high bit set (ASCII: a code point a
 * byte), read 8 bytes at a time. */
static int all_ascii(const uint8_t *v, size_t n)
{
    uint64_t acc = 0, w;
    if (n >= 8) {
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&w, v + i, 8);
            acc |= w;
        }
        memcpy(&w, v + n - 8, 8);
        acc |= w;
    } else {
        for (size_t i = 0; i < n; i++)
            acc |= v[i];
    }
    return (acc & 0x8080808080808080ull) == 0;
}

static size_t mask(const dmvf_fplan *fp, const uint8_t *v, size_t n, uint8_t *out)
{
    if (n == 0)
        return 0;
    if (all_ascii(v, n)) {
        size_t first = fp->mask_first, last = fp->mask_last;
        if (n <= first + last) {
            memset(out, '*', n);
        } else {
            memcpy(out, v, first);
            memset(out + first, '*', n - first - last);
            memcpy(out + n - last, v + n - last, last);
        }
        return n;
    }
    size_t cps = 1;
    for (size_t i = 1; i < n; i++)
        cps += (v[i] & 0xC0) != 0x80;
    size_t first = fp->mask_first, last = fp->mask_last;
    if (cps <= first + last) {
        memset(out, '*', cps);
        return cps;
    }
    /* code points [first, cps - last) become one '*' each; the others are
     * copied with their continuation bytes. One pass over the bytes. */
    size_t o = 0, k = 0;
    const size_t hi = cps - last;
    out[o] = v[0];
    o += first > 0;
    if (first == 0)
        out[o++] = '*';
    for (size_t i = 1; i < n; i++) {
        int lead = (v[i] & 0xC0) != 0x80;
        k += lead;
        if (k < first || k >= hi)
            out[o++] = v[i];
        else if (lead)
            out[o++] = '*';
    }
    return o;
}

size_t dmvf__xf_string(const dmvf_fplan *fp, const dmvf_keyctx *kc,
                       const uint8_t *v, size_t n, uint8_t *out)
{
    switch (fp->action) {
    case DMVF_ACT_MASK:
        return mask(fp, v, n, out);
    case DMVF_ACT_GENERALIZE: /* ZIP3 */
        n = n < 3 ? n : 3;
        memcpy(out, v, n);
        return n;
    case DMVF_ACT_PSEUDONYMIZE:
        dmvf__pseudonym(kc, fp->pidx, v, n, out);
        return DMVF_PSEUDONYM_LEN;
    case DMVF_ACT_ENCRYPT:
        dmvf__encrypt(kc, v, n, out);
        return dmvf__encrypt_len(n);
    case DMVF_ACT_CONSTANT:
        if (fp->clen)
            memcpy(out, fp->cval, fp->clen);
        return fp->clen;
    default: /* RELEASE */
        if (n)
            memcpy(out, v, n);
        return n;
    }
}

uint64_t dmvf__xf_varint(const dmvf_fplan *fp, uint64_t v)
{
    switch (fp->action) {
    case DMVF_ACT_CONSTANT:
        return fp->cnum;
    case DMVF_ACT_GENERALIZE: {
        uint32_t d = (uint32_t)v;
        switch (fp->gen) {
        case DMVF_GEN_YEAR: return d / 10000u * 10000u;
        case DMVF_GEN_MONTH: return d / 100u * 100u;
        case DMVF_GEN_DECADE: return d / 100000u * 100000u;
        default: return v;
        }
    }
    default:
        return v;
    }
}
