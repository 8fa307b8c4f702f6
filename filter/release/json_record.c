/*
 * json_record.c - one record between JSON and wire bytes (json_record.h),
 * over json_read.c and json_write.c.
 */
#include <stdlib.h>
#include "filter/release/format_int.h"
#include "filter/release/json_record.h"

struct dmvf__jrec {
    dmvf__jdec jd;
    dmvf__wbuf wire;
};

dmvf__jrec *dmvf__jrec_create(void)
{
    return calloc(1, sizeof(dmvf__jrec));
}

void dmvf__jrec_free(dmvf__jrec *j)
{
    if (!j)
        return;
    dmvf__jdec_free(&j->jd);
    dmvf__wbuf_free(&j->wire);
    free(j);
}

int dmvf__jrec_decode(dmvf__jrec *j, const void *s, size_t n, const uint8_t **wire, size_t *len,
                      uint64_t *unknown, dmvf_error *err)
{
    j->wire.len = 0;
    int rc = dmvf__json_decode(&j->jd, s, n, &j->wire, err);
    *unknown = j->jd.unknown_keys;
    *wire = j->wire.p;
    *len = j->wire.len;
    return rc;
}

int dmvf__jrec_encode(const void *wire, size_t n, dmvf__text *out, dmvf_error *err)
{
    return dmvf__json_encode(wire, n, out, err);
}
