/*
 * varint.h - protobuf base-128 varints and field keys, shared by the
 * rewriter, the field counter, the stream framing and the framed processor
 * (inline: the rewriter calls them per field). The readers accept exactly
 * what protobuf-c's parser accepts.
 *
 *   varint := 1xxxxxxx* 0xxxxxxx      7 bits a byte, little end first
 *   key    := varint( number << 3 | wire_type )      at most 5 bytes
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

/* Length of the varint at p (at most 10 bytes), 0 if unterminated. */
static inline size_t dmvf__varint_len(const uint8_t *p, const uint8_t *end)
{
    size_t max = (size_t)(end - p) < 10 ? (size_t)(end - p) : 10;
    for (size_t i = 0; i < max; i++)
        if (!(p[i] & 0x80))
            return i + 1;
    return 0;
}

/* The value of the n-byte varint at p (n from dmvf__varint_len). */
static inline uint64_t dmvf__varint_value(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    return v;
}

/* Reads a field key as protobuf-c does: at most 5 bytes, a number that is
 * not 0 however it is spelled. Returns the bytes used, 0 if malformed. */
static inline size_t dmvf__key_read(const uint8_t *p, const uint8_t *end, uint32_t *num, unsigned *wt)
{
    size_t max = (size_t)(end - p) < 5 ? (size_t)(end - p) : 5;
    uint32_t tag = (uint32_t)(p[0] & 0x7f) >> 3;
    unsigned shift = 4;
    *wt = p[0] & 7u;
    if ((p[0] & 0xf8) == 0)
        return 0; /* field number 0 */
    if (!(p[0] & 0x80)) {
        *num = tag;
        return 1;
    }
    for (size_t i = 1; i < max; i++) {
        if (p[i] & 0x80) {
            tag |= (uint32_t)(p[i] & 0x7f) << shift;
            shift += 7;
        } else {
            tag |= (uint32_t)p[i] << shift;
            *num = tag;
            return tag ? i + 1 : 0;
        }
    }
    return 0;
}

/* A length prefix as protobuf-c reads it: at most 5 bytes, a value that
 * fits in 32 bits. Returns the bytes used, 0 if malformed. */
static inline size_t dmvf__len_read(const uint8_t *p, const uint8_t *end, uint32_t *len)
{
    size_t max = (size_t)(end - p) < 5 ? (size_t)(end - p) : 5;
    uint64_t v = 0;
    unsigned shift = 0;
    for (size_t i = 0; i < max; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << shift;
        shift += 7;
        if (!(p[i] & 0x80)) {
            if (v > UINT32_MAX)
                return 0;
            *len = (uint32_t)v;
            return i + 1;
        }
    }
    return 0;
}

#endif
