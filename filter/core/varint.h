/*
 * varint.h - protobuf base-128 varints, shared by the rewriter, the stream
 * framing and the framed processor (inline: the rewriter calls them per field).
 *
 *   varint := 1xxxxxxx* 0xxxxxxx      7 bits a byte, little end first
 */
#ifndef DMVF_VARINT_H
#define DMVF_VARINT_H

#include <stddef.h>
#include <stdint.h>

static inline size_t dmvf__varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *dmvf__put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

/* A length prefix in p[0..n): 1 with *len and *pre set, 0 when incomplete,
 * -1 when it runs past 10 bytes. */
static inline int dmvf__varint_prefix(const uint8_t *p, size_t n, uint64_t *len, size_t *pre)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *len = v;
            *pre = i + 1;
            return 1;
        }
    }
    return n >= 10 ? -1 : 0;
}

#endif
