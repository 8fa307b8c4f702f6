/* text.c - sinks, JSON strings, one-line escaping, UTF-8 (core/text.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "filter/core/hex.h"
#include "filter/core/text.h"

/* ---- sinks ---- */

dmvf__text dmvf__text_mem(void)
{
    dmvf__text t;
    memset(&t, 0, sizeof t);
    return t;
}

dmvf__text dmvf__text_buf(char *buf, size_t cap)
{
    dmvf__text t;
    memset(&t, 0, sizeof t);
    t.p = buf;
    t.cap = cap;
    t.fixed = 1;
    if (cap)
        buf[0] = '\0';
    return t;
}

dmvf__text dmvf__text_file(FILE *f)
{
    dmvf__text t;
    memset(&t, 0, sizeof t);
    t.f = f;
    return t;
}

void dmvf__text_free(dmvf__text *t)
{
    if (t->f || t->fixed)
        return;
    free(t->p);
    t->p = NULL;
    t->len = t->cap = 0;
}

/* Room for n more bytes in a growing sink; 0, or -1 (failed set). */
static int grow(dmvf__text *t, size_t n)
{
    if (n <= t->cap - t->len)
        return 0;
    size_t cap = t->cap ? t->cap : 4096;
    while (n > cap - t->len) {
        if (cap > SIZE_MAX / 2) {
            t->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *np = realloc(t->p, cap);
    if (!np) {
        t->failed = 1;
        return -1;
    }
    t->p = np;
    t->cap = cap;
    return 0;
}

void dmvf__text_put(dmvf__text *t, const void *s, size_t n)
{
    if (n == 0 || t->failed)
        return;
    if (t->f) {
        fwrite(s, 1, n, t->f);
        return;
    }
    if (t->fixed) {
        if (t->cap == 0 || n >= t->cap - t->len) {
            t->failed = 1;
            return;
        }
        memcpy(t->p + t->len, s, n);
        t->len += n;
        t->p[t->len] = '\0';
        return;
    }
    if (grow(t, n) == 0) {
        memcpy(t->p + t->len, s, n);
        t->len += n;
    }
}

char *dmvf__text_grow_room(dmvf__text *t, size_t n)
{
    if (t->f || t->fixed || t->failed || grow(t, n) != 0)
        return NULL;
    return t->p + t->len;
}

void dmvf__text_puts(dmvf__text *t, const char *s)
{
    dmvf__text_put(t, s, strlen(s));
}

/* ---- UTF-8 ---- */

size_t dmvf__utf8_seq(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t k;
    unsigned lo = 0x80, hi = 0xbf;   /* the second byte's range */
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        if (c == 0xe0) lo = 0xa0;    /* no overlong forms */
        if (c == 0xed) hi = 0x9f;    /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        if (c == 0xf0) lo = 0x90;    /* no overlong forms */
        if (c == 0xf4) hi = 0x8f;    /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < k || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return k;
}

/* ---- JSON strings ---- */

void dmvf__text_json(dmvf__text *t, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    dmvf__text_put(t, "\"", 1);
    size_t i = 0;
    while (i < n) {
        /* a run of bytes that need nothing */
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '"' && p[j] != '\\')
            j++;
        dmvf__text_put(t, p + i, j - i);
        if ((i = j) >= n)
            break;
        unsigned c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            dmvf__text_put(t, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                              : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (named) {
                dmvf__text_put(t, named, 2);
            } else {
                uint8_t b = (uint8_t)c;
                memcpy(esc, "\\u00", 4);
                dmvf__hex_encode(esc + 4, &b, 1);
                dmvf__text_put(t, esc, 6);
            }
            i++;
        } else {
            size_t k = dmvf__utf8_seq(p + i, n - i);
            if (k) {
                dmvf__text_put(t, p + i, k);
                i += k;
            } else {
                dmvf__text_put(t, "\\ufffd", 6);
                i++;
            }
        }
    }
    dmvf__text_put(t, "\"", 1);
}

void dmvf__text_json_c(dmvf__text *t, const char *s)
{
    dmvf__text_json(t, s ? s : "", s ? strlen(s) : 0);
}

void dmvf__text_json_strs(dmvf__text *t, const char *const *v, size_t n)
{
    dmvf__text_put(t, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            dmvf__text_put(t, ",", 1);
        dmvf__text_json_c(t, v[i]);
    }
    dmvf__text_put(t, "]", 1);
}

void dmvf__json_fput(FILE *f, const char *s)
{
    dmvf__text t = dmvf__text_file(f);
    dmvf__text_json_c(&t, s);
}

void dmvf__json_fput_strs(FILE *f, const char *const *v, size_t n)
{
    dmvf__text t = dmvf__text_file(f);
    dmvf__text_json_strs(&t, v, n);
}

/* ---- CSV fields ---- */

static int formula_lead(unsigned char c)
{
    return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

size_t dmvf__csv_unguard(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    return n >= 2 && p[0] == '\'' && (formula_lead(p[1]) || p[1] == '\'') ? 1 : 0;
}

static int guarded(const char *s, size_t n)
{
    return n > 0 && (formula_lead((unsigned char)s[0]) || dmvf__csv_unguard(s, n));
}

/* the bytes that make a CSV field quoted */
static const unsigned char csv_special[256] = {[','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1};

/* A byte of x is c: the high bit of that byte set (and perhaps of bytes
 * above one that is: enough to say whether any is). */
static inline uint64_t has_byte(uint64_t x, unsigned char c)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t y = x ^ (ones * c);
    return (y - ones) & ~y & (ones << 7);
}

int dmvf__csv_plain(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (guarded(s, n))
        return 0;
    /* a short field byte by byte, a long one eight at a time (its last word
     * overlapping the one before) */
    if (n < 8) {
        unsigned any = 0;
        for (size_t i = 0; i < n; i++)
            any |= csv_special[p[i]];
        return !any;
    }
    uint64_t x;
    for (size_t i = 0;; i += 8) {
        memcpy(&x, p + (i + 8 <= n ? i : n - 8), 8);
        if (has_byte(x, ',') | has_byte(x, '"') | has_byte(x, '\r') | has_byte(x, '\n'))
            return 0;
        if (i + 8 >= n)
            return 1;
    }
}

void dmvf__text_csv(dmvf__text *t, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (dmvf__csv_plain(s, n)) {
        dmvf__text_put(t, s, n);
        return;
    }
    int guard = guarded(s, n);
    dmvf__text_put(t, guard ? "\"'" : "\"", guard ? 2 : 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '"')
            continue;
        dmvf__text_put(t, s + run, i + 1 - run);  /* through the quote, */
        run = i;                                  /* which starts the next run: doubled */
    }
    dmvf__text_put(t, s + run, n - run);
    dmvf__text_put(t, "\"", 1);
}

/* ---- one-line escaping ---- */

void dmvf__text_escaped(dmvf__text *t, const char *s, size_t n, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n && !t->failed) {
        size_t j = i;
        for (; j < n; j++) {
            unsigned c = p[j];
            if (c < 0x20 || c == 0x7f || (c == '\\' && (flags & DMVF__ESC_BACKSLASH)) ||
                (c == '"' && (flags & DMVF__ESC_QUOTE)) || (c >= 0x80 && (flags & DMVF__ESC_ASCII)))
                break;
        }
        if (t->fixed) {
            /* byte by byte, so that a cut keeps all that fits */
            for (size_t k = i; k < j && !t->failed; k++)
                dmvf__text_put(t, p + k, 1);
        } else {
            dmvf__text_put(t, p + i, j - i);
        }
        if ((i = j) >= n)
            break;
        char esc[5] = "\\x";
        dmvf__hex_encode(esc + 2, p + i, 1);
        dmvf__text_put(t, esc, 4);
        i++;
    }
}

void dmvf__escape_copy(char *dst, size_t cap, const char *src)
{
    dmvf__text t = dmvf__text_buf(dst, cap);
    dmvf__text_escaped(&t, src, strlen(src), 0);
}

void dmvf__quote_copy(char *dst, size_t cap, const char *s, size_t n, unsigned flags)
{
    dst[0] = '"';
    dmvf__text t = dmvf__text_buf(dst + 1, cap - 5);
    dmvf__text_escaped(&t, s, n, flags);
    memcpy(dst + 1 + t.len, t.failed ? "...\"" : "\"", t.failed ? 5 : 2);
}
