/*
 * transform.c - the value transforms of plan.h, shared by the wire rewriter
 * and the protobuf-c reference path.
 */
#include <string.h>
#include "filter/wire/transform.h"

int dmvf__normalize(const dmvf_fplan *fp, const uint8_t **v, size_t *n)
{
    if (fp->nnorm == 0 || *n == 0)
        return 0;
    for (uint32_t i = 0; i < fp->nnorm; i++) {
        const dmvf_norm_entry *e = &fp->norm[i];
        if (e->from_len == *n && memcmp(e->from, *v, *n) == 0) {
            if (e->drop)
                return 1;
            *v = e->to;
            *n = e->to_len;
            return 0;
        }
    }
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
static size_t mask(const dmvf_fplan *fp, const uint8_t *v, size_t n, uint8_t *out)
{
    size_t cps = n ? 1 : 0;
    for (size_t i = 1; i < n; i++)
        cps += (v[i] & 0xC0) != 0x80;
    size_t first = fp->mask_first, last = fp->mask_last;
    int all = cps <= first + last;
    size_t o = 0, k = 0;
    for (size_t i = 0; i < n; k++) {
        size_t j = i + 1;
        while (j < n && (v[j] & 0xC0) == 0x80)
            j++;
        if (!all && (k < first || k >= cps - last)) {
            memcpy(out + o, v + i, j - i);
            o += j - i;
        } else {
            out[o++] = '*';
        }
        i = j;
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
