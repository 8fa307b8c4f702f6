/* hex.c - hexadecimal digits (core/hex.h). */
#include "filter/core/hex.h"

static const char digits[] = "0123456789abcdef";

char *dmvf__hex_encode(char *out, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

int dmvf__hex_digit(int c, unsigned flags)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (!(flags & DMVF__HEX_LOWER) && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dmvf__hex_decode(uint8_t *out, size_t n, const char *s, size_t len, unsigned flags)
{
    if (len / 2 != n || len % 2)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = dmvf__hex_digit((unsigned char)s[2 * i], flags);
        int lo = dmvf__hex_digit((unsigned char)s[2 * i + 1], flags);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int dmvf__hex_u64(const char *s, size_t n, unsigned flags, uint64_t *v)
{
    if (n < 1 || n > 16)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        int d = dmvf__hex_digit((unsigned char)s[i], flags);
        if (d < 0)
            return -1;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return 0;
}
