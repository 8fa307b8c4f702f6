/*
 * boundary.c - where text input can be cut between whole records
 * (dmvf_text_boundary, dmvfilter/format.h), for callers that hand pieces
 * of one stream to several codecs. The record ends are the codec's own
 * (codec.c): an LF for JSON Lines, the first LF outside quotes for CSV
 * (dmvf__rowscan), so every piece starts where a record does.
 */
#include <string.h>
#include "dmvfilter/format.h"
#include "filter/core/error.h"
#include "filter/release/format_int.h"

int dmvf_text_boundary(dmvf_format fmt, const void *p, size_t n, size_t from, size_t max_record,
                       size_t *cut, uint64_t *lines)
{
    DMVF_REQUIRE((p != NULL || n == 0) && cut != NULL && lines != NULL, "NULL argument");
    if (fmt != DMVF_FORMAT_JSONL && fmt != DMVF_FORMAT_CSV)
        return -1;
    const uint8_t *s = p;
    size_t start = 0;
    uint64_t nl = 0;
    dmvf__rowscan sc = {0};
    while (start < n) {
        size_t e;
        if (fmt == DMVF_FORMAT_CSV) {
            e = dmvf__rowscan_next(&sc, s + start, n - start);
        } else {
            const uint8_t *q = memchr(s + start, '\n', n - start);
            e = q ? (size_t)(q - (s + start)) + 1 : 0;
        }
        if (!e)
            return n - start > max_record + 2 ? -1 : 0;
        /* the record's text, without its CR LF or LF, within the limit */
        size_t len = e - 1 - (e >= 2 && s[start + e - 2] == '\r');
        if (len > max_record)
            return -1;
        for (const uint8_t *q = s + start, *end = s + start + e; (q = memchr(q, '\n', (size_t)(end - q)));)
            nl++, q++;
        start += e;
        if (start >= from) {
            *cut = start;
            *lines = nl;
            return 1;
        }
    }
    return 0;
}
