/*
 * names.c - what the text formats share: the schema's fields with their
 * proto and JSON names (built once from the schema tree, thread-safe),
 * integer and enum spellings, the growing wire buffer.
 *
 * The JSON name of a field is protoc's: the proto name with each '_'
 * dropped and the letter after it upper-cased ("postal_code" ->
 * "postalCode"); protobuf-c's descriptors do not carry it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/core/varint.h"
#include "filter/release/format_int.h"

/* ---- the growing buffer ---- */

int dmvf__wbuf_grow(dmvf__wbuf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    if (more > SIZE_MAX / 2 - b->len)
        return -1;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap - b->len < more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void dmvf__wbuf_free(dmvf__wbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- errors ---- */

int dmvf__fail_at(dmvf_error *err, int code, uint64_t offset, const char *fmt, ...)
{
    if (err) {
        char m[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m, sizeof m, fmt, ap);
        va_end(ap);
        dmvf__seterr(err, code, "%s", m);
        err->offset = offset;
    }
    return code;
}

int dmvf__not_canonical(dmvf_error *err, uint64_t offset, const char *what, uint32_t num)
{
    return dmvf__fail_at(err, DMVF_EMALFORMED, offset, "not a canonical release: %s (field %u)", what,
                         (unsigned)num);
}

/* ---- the schema with names ---- */

#define MAX_TNODES 32
#define MAX_TFIELDS DMVF__TFIELDS
#define JSON_NAMES 4096

static dmvf__tnode g_nodes[MAX_TNODES];
static dmvf__tfield g_fields[MAX_TFIELDS];
static char g_json[JSON_NAMES];
static size_t g_nnodes, g_nfields, g_jused;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static char *names_alloc(size_t n)
{
    if (g_jused + n > JSON_NAMES)
        abort(); /* the schema's names fit: sized for it */
    char *out = g_json + g_jused;
    g_jused += n;
    return out;
}

/* "name": */
static const char *json_key(const char *name)
{
    size_t n = strlen(name);
    char *out = names_alloc(n + 4);
    out[0] = '"';
    memcpy(out + 1, name, n);
    memcpy(out + 1 + n, "\":", 3);
    return out;
}

static const char *json_name(const char *name)
{
    char *out = names_alloc(strlen(name) + 1), *o = out;
    int up = 0;
    for (const char *c = name; *c; c++) {
        if (*c == '_') {
            up = 1;
            continue;
        }
        *o++ = up && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        up = 0;
    }
    *o = '\0';
    return out;
}

static const dmvf__tnode *build(const dmvf_snode *sn)
{
    if (g_nnodes >= MAX_TNODES || g_nfields + sn->nfields > MAX_TFIELDS)
        abort();
    dmvf__tnode *t = &g_nodes[g_nnodes++];
    dmvf__tfield *f = &g_fields[g_nfields];
    g_nfields += sn->nfields;
    t->sn = sn;
    t->n = sn->nfields;
    t->f = f;
    for (size_t i = 0; i < sn->nfields; i++) {
        const dmvf_sfield *sf = &sn->fields[i];
        f[i].sf = sf;
        f[i].name = sf->name;
        f[i].nlen = strlen(sf->name);
        f[i].json = json_name(sf->name);
        f[i].jlen = strlen(f[i].json);
        f[i].key = json_key(sf->name);
        f[i].klen = (uint16_t)(f[i].nlen + 3);
        f[i].type = sf->type;
        f[i].repeated = sf->repeated;
        f[i].number = sf->number;
        if (f[i].nlen + 2 <= 16) {
            uint8_t img[16] = {0}, msk[16] = {0};
            img[0] = '"';
            memcpy(img + 1, sf->name, f[i].nlen);
            img[f[i].nlen + 1] = '"';
            memset(msk, 0xff, f[i].nlen + 2);
            memcpy(f[i].qname, img, 16);
            memcpy(f[i].qmask, msk, 16);
            f[i].qfits = 1;
        }
        f[i].pos = (unsigned)i;
        f[i].id = (unsigned)(&f[i] - g_fields);
        t->by_num[sf->number] = &f[i];
        if (sf->type == DMVF_T_MESSAGE)
            f[i].child = build(sf->child);
    }
    return t;
}

static void init(void)
{
    build(dmvf__schema_root());
}

const dmvf__tnode *dmvf__tnode_root(void)
{
    pthread_once(&g_once, init);
    return &g_nodes[0];
}

static inline int named(const dmvf__tfield *f, const char *s, size_t n, int json)
{
    return (f->nlen == n && dmvf__same(f->name, s, n)) ||
           (json && f->jlen == n && dmvf__same(f->json, s, n));
}

const dmvf__tfield *dmvf__tnode_find(const dmvf__tnode *t, const char *s, size_t n, int json,
                                     unsigned hint)
{
    /* from the hint on (keys mostly come in field order), then before it */
    for (size_t i = hint < t->n ? hint : 0; i < t->n; i++)
        if (named(&t->f[i], s, n, json))
            return &t->f[i];
    for (size_t i = 0; i < hint && i < t->n; i++)
        if (named(&t->f[i], s, n, json))
            return &t->f[i];
    return NULL;
}

/* ---- numbers and enums ---- */

int dmvf__json_number(const char *s, size_t n, int *integer)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return 0;
    }
    *integer = 1;
    if (i < n && s[i] == '.') {
        *integer = 0;
        if (++i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *integer = 0;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == n;
}

/* -?[0-9]+ */
static int decimal(const char *s, size_t n)
{
    size_t i = n && s[0] == '-';
    if (i >= n)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* The value of the number s[0..n) (dmvf__json_number's grammar, or
 * decimal's) when it is an integer that fits in 64 bits, computed exactly
 * (no floating point, no locale): digits d with exponent e, value d * 10^e. */
static int exact_int(const char *s, size_t n, int64_t *v)
{
    size_t i = s[0] == '-';
    char digits[24];
    size_t nd = 0;
    int64_t e = 0;
    int frac = 0;
    for (; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            frac = 1;
            continue;
        }
        if (nd == 0 && s[i] == '0') {
            e -= frac;               /* a leading zero: no digit yet */
            continue;
        }
        if (nd == sizeof digits) {
            if (!frac)
                e++;                 /* an integer part this long is out of range */
            if (s[i] != '0')
                return -1;           /* past 24 significant digits: out of range or not integral */
            continue;
        }
        digits[nd++] = s[i];
        e -= frac;
    }
    if (nd == 0) {
        *v = 0;                      /* zero, whatever its exponent */
        return 0;
    }
    if (i < n) {                     /* the exponent */
        i++;
        int neg = s[i] == '-';
        i += s[i] == '-' || s[i] == '+';
        int64_t x = 0;
        for (; i < n; i++)
            if ((x = x * 10 + (s[i] - '0')) > 100000)
                return -1;           /* far out of range (or, negative, of any integer) */
        e += neg ? -x : x;
    }
    while (digits[nd - 1] == '0') {  /* digits[0] is not '0' */
        nd--;
        e++;
    }
    if (e < 0 || (int64_t)nd + e > 19)
        return -1;                   /* not integral, or past 64 bits */
    uint64_t m = 0;
    for (size_t k = 0; k < nd; k++)
        m = m * 10 + (uint64_t)(digits[k] - '0');
    for (int64_t k = 0; k < e; k++)
        m *= 10;
    if (m > (uint64_t)INT64_MAX)
        return -1;
    *v = s[0] == '-' ? -(int64_t)m : (int64_t)m;
    return 0;
}

int dmvf__text_int(const char *s, size_t n, unsigned flags, int64_t *v)
{
    int integer = 0;
    if ((flags & DMVF__INT_ZEROS) && decimal(s, n))
        integer = 1;
    else if (!dmvf__json_number(s, n, &integer))
        return -1;
    if (!integer && !(flags & DMVF__INT_REALS))
        return -1;
    return exact_int(s, n, v);
}

int dmvf__int_fits(unsigned type, int64_t v)
{
    if (type == DMVF_T_UINT32)
        return v >= 0 && v <= (int64_t)UINT32_MAX;
    return v >= INT32_MIN && v <= INT32_MAX;
}

int dmvf__enum_by_name(const dmvf_sfield *sf, const char *s, size_t n, int32_t *v)
{
    const ProtobufCEnumDescriptor *ed = sf->fd->descriptor;
    for (unsigned i = 0; i < ed->n_values; i++) {
        const char *name = ed->values[i].name;
        if (strlen(name) == n && memcmp(name, s, n) == 0) {
            *v = ed->values[i].value;
            return 0;
        }
    }
    return -1;
}

const char *dmvf__enum_name(const dmvf_sfield *sf, int32_t v)
{
    const ProtobufCEnumDescriptor *ed = sf->fd->descriptor;
    if (v >= 0 && (unsigned)v < ed->n_values && ed->values[v].value == v)
        return ed->values[v].name;  /* numbered 0..n-1, the usual case */
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    return ev ? ev->name : NULL;
}

size_t dmvf__fmt_i64(char *out, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    return k;
}
