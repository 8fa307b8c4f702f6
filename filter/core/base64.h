/*
 * core/base64.h - base64 (RFC 4648): the encoder the record formats write
 * bytes fields with (standard alphabet, padded, as protobuf's JSON printers
 * write them) and the decoder they read them with (what protobuf's JSON
 * parsers accept: either alphabet, with or without padding).
 *
 *   standard  A-Z a-z 0-9 + /      (RFC 4648 section 4)
 *   URL-safe  A-Z a-z 0-9 - _      (section 5)
 *   padding   '=' up to a multiple of 4 characters
 *
 * Not for secrets: both look characters up in tables.
 */
#ifndef DMVF_CORE_BASE64_H
#define DMVF_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* The characters dmvf__base64_encode writes for n bytes: 4 * ceil(n / 3). */
static inline size_t dmvf__base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Writes p[0..n) in the standard alphabet, padded, to out (which holds
 * dmvf__base64_len(n) bytes; no NUL is written). Returns the end of the
 * output. */
char *dmvf__base64_encode(char *out, const uint8_t *p, size_t n);

/* The most bytes dmvf__base64_decode writes for n characters. */
static inline size_t dmvf__base64_max(size_t n)
{
    return n / 4 * 3 + 2;
}

/* Decodes s[0..n): characters of either alphabet (mixed, too), then at most
 * the '=' the last group lacks of 4 characters (all, some or none of them).
 * The unused low bits of a final partial group are ignored, as protobuf's
 * parsers ignore them. out holds dmvf__base64_max(n) bytes.
 * Returns 0 with *len the bytes written, or -1 with *bad the offset in s of
 * the first character that cannot be there (a lone last character: that
 * one; too much padding: where the padding starts). */
int dmvf__base64_decode(uint8_t *out, const char *s, size_t n, size_t *len, size_t *bad);

#endif
