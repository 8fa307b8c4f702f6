/*
 * measure.c - the size a record is judged by (measure.h).
 */
#include "filter/wire/measure.h"
#include "filter/wire/fields_int.h"

#define MC (DMVF_CLASS_M | DMVF_CLASS_C)

static size_t size_of(const dmvf_snode *sn, const uint8_t *p, const uint8_t *end)
{
    size_t total = 0;
    while (p < end) {
        uint32_t num, vlen;
        unsigned wt;
        const uint8_t *val;
        dmvf__wbad bad;
        const uint8_t *q = dmvf__field_next(p, end, &num, &wt, &val, &vlen, &bad);
        if (!q)
            return total + (size_t)(end - p);
        const dmvf_sfield *sf = sn ? dmvf__schema_child(sn, num) : NULL;
        if (sf && (sf->klass & MC)) {
            /* not counted */
        } else if (sf && sf->type == DMVF_T_MESSAGE && wt == DMVF__WT_LEN) {
            size_t s = size_of(sf->child, val, val + vlen);
            uint32_t n2;
            unsigned wt2;
            total += dmvf__key_read(p, end, &n2, &wt2) + dmvf__varint_size(s) + s;
        } else {
            total += (size_t)(q - p);
        }
        p = q;
    }
    return total;
}

size_t dmvf__size_without_marking(const uint8_t *rec, size_t n)
{
    return n ? size_of(dmvf__schema_root(), rec, rec + n) : 0;
}
