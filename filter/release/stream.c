/*
 * stream.c - delimited-message reader and output queue.
 *
 *   stream  := message*
 *   message := varint(len) payload[len]      1 <= len <= max
 *
 * max is what a stream may hold of one message: for records
 * dmvf_stream_record_limit(max_record_bytes), for frames 16 bytes more.
 * The record-size limit itself is judged on the record (filter.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/release/stream_int.h"


void dmvf__reader_init(dmvf__reader *rd, size_t max)
{
    memset(rd, 0, sizeof *rd);
    rd->max = max;
    rd->what = "record";
}

void dmvf__reader_reset(dmvf__reader *rd)
{
    rd->acc_len = rd->need = rd->pre = 0;
    rd->consumed = rd->index = 0;
}

void dmvf__reader_free(dmvf__reader *rd)
{
    free(rd->acc);
    rd->acc = NULL;
    rd->acc_cap = 0;
}

static int fail(dmvf__reader *rd, dmvf_error *err, int code, uint64_t at, const char *fmt, ...)
    DMVF_PRINTF(5, 6);
static int fail(dmvf__reader *rd, dmvf_error *err, int code, uint64_t at, const char *fmt, ...)
{
    if (err) {
        char m[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m, sizeof m, fmt, ap);
        va_end(ap);
        dmvf__seterr(err, code, "%s %s", rd->what, m);
        err->offset = at;
        err->record = rd->index;
    }
    return -1;
}

int dmvf_stream_prefix(const void *p, size_t n, uint64_t *len, size_t *pre)
{
    DMVF_REQUIRE((p != NULL || n == 0) && len != NULL && pre != NULL, "NULL argument");
    return dmvf__varint_prefix(p, n, len, pre);
}

size_t dmvf_stream_record_limit(size_t max_record_bytes)
{
    size_t max = max_record_bytes ? max_record_bytes : DMVF_DEFAULT_MAX_RECORD_BYTES;
    size_t top = SIZE_MAX / 2; /* room for a frame's framing above it */
    size_t lim = max > top / DMVF_STREAM_RECORD_LIMIT_FACTOR ? top : max * DMVF_STREAM_RECORD_LIMIT_FACTOR;
    return lim < DMVF_STREAM_RECORD_LIMIT_MIN ? DMVF_STREAM_RECORD_LIMIT_MIN : lim;
}

static int check_len(dmvf__reader *rd, uint64_t len, uint64_t at, dmvf_error *err)
{
    if (len == 0 && !rd->allow_empty)
        return fail(rd, err, DMVF_EMALFORMED, at, "is empty (0 bytes)");
    if (len > rd->max)
        return fail(rd, err, DMVF_ETOOBIG, at, "of %llu bytes exceeds the limit of %llu bytes that a stream "
                    "holds of one %s", (unsigned long long)len, (unsigned long long)rd->max, rd->what);
    return 0;
}

/* Room in acc for at least want bytes, grown by doubling as the bytes
 * arrive (never beyond the message being gathered), so that a length
 * prefix alone never makes the reader hold memory the input has not
 * brought. 0 or -1 (reported). */
static int acc_room(dmvf__reader *rd, size_t want, uint64_t at, dmvf_error *err)
{
    if (rd->acc_cap >= want)
        return 0;
    size_t cap = rd->acc_cap < 4096 ? 4096 : rd->acc_cap;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    if (rd->need && cap > rd->need)
        cap = rd->need > want ? rd->need : want;
    uint8_t *a = realloc(rd->acc, cap);
    if (!a)
        return fail(rd, err, DMVF_ENOMEM, at, "needs more memory than is available");
    rd->acc = a;
    rd->acc_cap = cap;
    return 0;
}

int dmvf__reader_next(dmvf__reader *rd, dmvf_in_buffer *in, int end,
                      const uint8_t **msg, size_t *len, uint64_t *offset, dmvf_error *err)
{
    const uint8_t *p = (const uint8_t *)in->src + in->pos;
    size_t avail = in->size - in->pos;

    if (rd->acc_len == 0) {
        if (avail == 0)
            return 0;
        uint64_t l;
        size_t pre;
        int pr = dmvf__varint_prefix(p, avail, &l, &pre);
        if (pr < 0)
            return fail(rd, err, DMVF_EMALFORMED, rd->consumed, "has a bad length prefix");
        if (pr > 0) {
            if (check_len(rd, l, rd->consumed, err))
                return -1;
            if (avail - pre >= l) {
                *msg = p + pre;
                *len = (size_t)l;
                *offset = rd->consumed;
                in->pos += pre + (size_t)l;
                rd->consumed += pre + l;
                rd->index++;
                return 1;
            }
            rd->need = pre + (size_t)l;
            rd->pre = pre;
        }
        if (!rd->need && avail > 10)
            avail = 10; /* cannot happen: a complete prefix fits in 10 bytes */
        if (acc_room(rd, avail > 16 ? avail : 16, rd->consumed, err))
            return -1;
        memcpy(rd->acc, p, avail);
        rd->acc_len = avail;
        in->pos += avail;
        rd->consumed += avail;
    } else {
        /* complete the prefix byte by byte, then the payload */
        while (!rd->need && avail) {
            rd->acc[rd->acc_len++] = *p++;
            in->pos++;
            rd->consumed++;
            avail--;
            uint64_t l;
            size_t pre;
            int pr = dmvf__varint_prefix(rd->acc, rd->acc_len, &l, &pre);
            uint64_t at = rd->consumed - rd->acc_len;
            if (pr < 0)
                return fail(rd, err, DMVF_EMALFORMED, at, "has a bad length prefix");
            if (pr > 0) {
                if (check_len(rd, l, at, err))
                    return -1;
                rd->need = pre + (size_t)l;
                rd->pre = pre;
            }
        }
        if (rd->need) {
            size_t take = rd->need - rd->acc_len;
            if (take > avail)
                take = avail;
            if (acc_room(rd, rd->acc_len + take, rd->consumed - rd->acc_len, err))
                return -1;
            memcpy(rd->acc + rd->acc_len, p, take);
            rd->acc_len += take;
            in->pos += take;
            rd->consumed += take;
        }
    }
    if (rd->need && rd->acc_len == rd->need) {
        *msg = rd->acc + rd->pre;
        *len = rd->need - rd->pre;
        *offset = rd->consumed - rd->need;
        rd->acc_len = rd->need = rd->pre = 0;
        rd->index++;
        return 1;
    }
    if (end && rd->acc_len) {
        uint64_t at = rd->consumed - rd->acc_len;
        if (!rd->need)
            return fail(rd, err, DMVF_EMALFORMED, at, "is cut short: the stream ends inside its length prefix");
        return fail(rd, err, DMVF_EMALFORMED, at, "is cut short: the stream ends after %llu of its %llu bytes",
                    (unsigned long long)rd->acc_len, (unsigned long long)rd->need);
    }
    return 0;
}

void dmvf__outq_init(dmvf__outq *q)
{
    memset(q, 0, sizeof *q);
}

void dmvf__outq_free(dmvf__outq *q)
{
    free(q->buf);
    memset(q, 0, sizeof *q);
}

static int ensure(dmvf__outq *q, size_t extra)
{
    if (q->cap - q->len >= extra)
        return 0;
    if (q->pos) {
        memmove(q->buf, q->buf + q->pos, q->len - q->pos);
        q->len -= q->pos;
        q->mark -= q->pos;
        q->pos = 0;
        if (q->cap - q->len >= extra)
            return 0;
    }
    size_t cap = q->cap ? q->cap : 65536;
    while (cap - q->len < extra)
        cap *= 2;
    uint8_t *b = realloc(q->buf, cap);
    if (!b)
        return -1;
    q->buf = b;
    q->cap = cap;
    return 0;
}

#define MAXPRE 11 /* varint(frame) + key + varint(record) */

static size_t prefix_guess(const dmvf__outq *q, size_t n)
{
    if (!q->frame_key)
        return dmvf__varint_size(n);
    return dmvf__varint_size(n + 1 + dmvf__varint_size(n)) + 1 + dmvf__varint_size(n);
}

void dmvf__outq_reserve(dmvf__outq *q, size_t in_len, uint8_t **dst, size_t *room)
{
    size_t pre = prefix_guess(q, in_len);
    if (ensure(q, MAXPRE + in_len + 64) != 0) {
        *dst = NULL;
        *room = 0;
        return;
    }
    q->pre = pre;
    *dst = q->buf + q->len + pre;
    *room = q->cap - q->len - MAXPRE; /* a longer prefix than guessed still fits */
}

int dmvf__outq_grow(dmvf__outq *q)
{
    size_t want = q->cap ? q->cap : 65536;
    return ensure(q, q->cap - q->len + want);
}

void dmvf__outq_commit(dmvf__outq *q, size_t olen)
{
    size_t pre = prefix_guess(q, olen);
    uint8_t *body = q->buf + q->len + q->pre;
    if (pre != q->pre) {
        memmove(q->buf + q->len + pre, body, olen);
    }
    uint8_t *o = q->buf + q->len;
    if (q->frame_key) {
        o = dmvf__put_varint(o, 1 + dmvf__varint_size(olen) + olen);
        *o++ = q->frame_key;
    }
    o = dmvf__put_varint(o, olen);
    q->len = (size_t)(o - q->buf) + olen;
}

int dmvf__outq_append(dmvf__outq *q, const uint8_t *msg, size_t n)
{
    if (ensure(q, 10 + n) != 0)
        return -1;
    uint8_t *o = dmvf__put_varint(q->buf + q->len, n);
    memcpy(o, msg, n);
    q->len = (size_t)(o - q->buf) + n;
    return 0;
}

int dmvf__outq_flush(dmvf__outq *q, dmvf_out_buffer *out)
{
    size_t upto = q->hold ? q->mark : q->len;
    size_t n = upto - q->pos, room = out->size - out->pos;
    if (n > room)
        n = room;
    if (n) {
        memcpy((uint8_t *)out->dst + out->pos, q->buf + q->pos, n);
        out->pos += n;
        q->pos += n;
    }
    if (q->pos == q->len) {
        q->pos = q->len = q->mark = 0;
        return 0;
    }
    return q->pos < upto;
}

void dmvf__outq_discard(dmvf__outq *q)
{
    if (q->buf && q->len > q->mark)
        memset(q->buf + q->mark, 0, q->len - q->mark);
    q->len = q->mark;
    if (q->pos > q->len)
        q->pos = q->len;
}
