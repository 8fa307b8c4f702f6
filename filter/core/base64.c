/* base64.c - base64 both ways (core/base64.h). */
#include "filter/core/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *dmvf__base64_encode(char *out, const uint8_t *p, size_t n)
{
    char *o = out;
    for (; n >= 3; n -= 3, p += 3, o += 4) {
        uint32_t x = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        o[0] = alphabet[x >> 18];
        o[1] = alphabet[(x >> 12) & 63];
        o[2] = alphabet[(x >> 6) & 63];
        o[3] = alphabet[x & 63];
    }
    if (n) {
        uint32_t x = (uint32_t)p[0] << 16 | (n > 1 ? (uint32_t)p[1] << 8 : 0);
        o[0] = alphabet[x >> 18];
        o[1] = alphabet[(x >> 12) & 63];
        o[2] = n > 1 ? alphabet[(x >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    return o;
}

/* 0..63 for a character of either alphabet, 64 for anything else. */
static unsigned value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26u;
    if (c >= '0' && c <= '9')
        return c - '0' + 52u;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return 64;
}

int dmvf__base64_decode(uint8_t *out, const char *s, size_t n, size_t *len, size_t *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t chars = n;
    while (chars > 0 && u[chars - 1] == '=')
        chars--;
    if (chars % 4 == 1) {
        *bad = chars - 1;        /* a lone character cannot end a group */
        return -1;
    }
    if (n - chars > (4 - chars % 4) % 4) {
        *bad = chars;            /* more padding than the last group lacks */
        return -1;
    }
    size_t o = 0, i = 0;
    uint32_t acc = 0;
    for (; i < chars; i++) {
        unsigned v = value(u[i]);
        if (v > 63) {
            *bad = i;
            return -1;
        }
        acc = acc << 6 | v;
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    switch (chars % 4) {
    case 2:
        out[o++] = (uint8_t)(acc >> 4);
        break;
    case 3:
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
        break;
    default:
        break;
    }
    *len = o;
    return 0;
}
