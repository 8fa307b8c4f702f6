/*
 * json_env.c - the JSON form of a call (decode.h) read into the wire bytes
 * of its message, driven by the protobuf-c descriptors of the envelope and
 * of Request; records go through the JSON Lines reader (json_record.h).
 *
 *   value   := object | array | string | number | true | false | null
 *   object  := '{' [ string ':' value ( ',' string ':' value )* ] '}'
 *
 *   string field     key | len | UTF-8 bytes
 *   integer, enum    key | varint  (enum: a value name or a number)
 *   bool             key | 0 or 1
 *   message          key | len | its fields       (DriverRecord: json_record.h)
 *   repeated         an array: one field per element
 *   null             nothing (absent)
 *
 * Arrays and objects nest at most lim->json_depth levels, records
 * included (DMVF_ETOOBIG past it); a key twice is malformed.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/core/error.h"
#include "filter/core/hex.h"
#include "filter/core/text.h"
#include "filter/core/varint.h"
#include "filter/release/json_record.h"
#include "filter/serve/decode.h"
#include "dmv/v1/service.pb-c.h"

typedef struct jp {
    dmvf_serve_dec *d;
    const uint8_t *s, *p, *end;
    unsigned max_depth;
    dmvf_error *err;
} jp;

#define JFAIL(r, code, ...) (dmvf__seterr((r)->err, (code), __VA_ARGS__), \
                             dmvf__serve_at((r)->err, (code), (uint64_t)((r)->p - (r)->s)))

static void ws(jp *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
        r->p++;
}

static int out_room(jp *r, size_t more)
{
    dmvf_serve_dec *d = r->d;
    if (d->bin_cap - d->bin_len >= more)
        return 0;
    size_t cap = d->bin_cap ? d->bin_cap : 1024;
    while (cap - d->bin_len < more) {
        if (cap > SIZE_MAX / 2)
            return JFAIL(r, DMVF_ENOMEM, "out of memory");
        cap *= 2;
    }
    uint8_t *p = realloc(d->bin, cap);
    if (!p)
        return JFAIL(r, DMVF_ENOMEM, "out of memory");
    d->bin = p;
    d->bin_cap = cap;
    return 0;
}

static int put_varint(jp *r, uint64_t v)
{
    if (out_room(r, 10))
        return DMVF_ENOMEM;
    r->d->bin_len = (size_t)(dmvf__put_varint(r->d->bin + r->d->bin_len, v) - r->d->bin);
    return 0;
}

static int put_bytes(jp *r, uint32_t num, const void *v, size_t n)
{
    if (put_varint(r, (uint64_t)num << 3 | 2u) || put_varint(r, n) || out_room(r, n))
        return DMVF_ENOMEM;
    if (n)
        memcpy(r->d->bin + r->d->bin_len, v, n);
    r->d->bin_len += n;
    return 0;
}

/* Skips a JSON string at r->p (the opening quote): 0 with its raw
 * contents [*a, *b) and whether it holds escapes, or an error. */
static int scan_string(jp *r, const uint8_t **a, const uint8_t **b, int *esc)
{
    if (r->p >= r->end || *r->p != '"')
        return JFAIL(r, DMVF_EMALFORMED, "a string was expected");
    r->p++;
    *a = r->p;
    *esc = 0;
    while (r->p < r->end && *r->p != '"') {
        if (*r->p < 0x20)
            return JFAIL(r, DMVF_EMALFORMED, "a control character in a string");
        if (*r->p == '\\') {
            *esc = 1;
            r->p++;
            if (r->p >= r->end)
                break;
        }
        r->p++;
    }
    if (r->p >= r->end)
        return JFAIL(r, DMVF_EMALFORMED, "a string that does not end");
    *b = r->p++;
    return 0;
}

static size_t put_utf8(uint8_t *o, unsigned c)
{
    if (c < 0x80) {
        o[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (uint8_t)(0xc0 | c >> 6);
        o[1] = (uint8_t)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xe0 | c >> 12);
        o[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
        o[2] = (uint8_t)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | c >> 18);
    o[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
    o[3] = (uint8_t)(0x80 | (c & 0x3f));
    return 4;
}

/* The string's text (escapes resolved, UTF-8 checked) into a malloc'd
 * buffer *t of *tn bytes. */
static int string_text(jp *r, const uint8_t *a, const uint8_t *b, int esc, uint8_t **t, size_t *tn)
{
    size_t n = (size_t)(b - a);
    uint8_t *o = malloc(n + 1);
    if (!o)
        return JFAIL(r, DMVF_ENOMEM, "out of memory");
    size_t k = 0;
    for (const uint8_t *p = a; p < b;) {
        if (!esc || *p != '\\') {
            o[k++] = *p++;
            continue;
        }
        p++;
        unsigned c;
        switch (*p) {
        case '"': case '\\': case '/': c = *p; p++; break;
        case 'b': c = '\b'; p++; break;
        case 'f': c = '\f'; p++; break;
        case 'n': c = '\n'; p++; break;
        case 'r': c = '\r'; p++; break;
        case 't': c = '\t'; p++; break;
        case 'u': {
            uint64_t u, lo;
            if (b - p < 5 || dmvf__hex_u64((const char *)p + 1, 4, 0, &u) != 0)
                goto bad;
            c = (unsigned)u;
            p += 5;
            if (c >= 0xd800 && c < 0xdc00) {
                if (b - p < 6 || p[0] != '\\' || p[1] != 'u' || dmvf__hex_u64((const char *)p + 2, 4, 0, &lo) != 0)
                    goto bad;
                if (lo < 0xdc00 || lo > 0xdfff)
                    goto bad;
                c = 0x10000 + ((c - 0xd800) << 10) + (unsigned)(lo - 0xdc00);
                p += 6;
            } else if (c >= 0xdc00 && c < 0xe000) {
                goto bad;
            }
            break;
        }
        default:
            goto bad;
        }
        k += put_utf8(o + k, c);
    }
    for (size_t i = 0; i < k;) {
        size_t l = dmvf__utf8_seq(o + i, k - i);
        if (!l) {
            free(o);
            return JFAIL(r, DMVF_EMALFORMED, "a string that is not UTF-8");
        }
        i += l;
    }
    *t = o;
    *tn = k;
    return 0;
bad:
    free(o);
    return JFAIL(r, DMVF_EMALFORMED, "a bad escape in a string");
}

/* Steps over any JSON value, depth levels deep already. */
static int skip_value(jp *r, unsigned depth)
{
    ws(r);
    if (r->p >= r->end)
        return JFAIL(r, DMVF_EMALFORMED, "a value was expected");
    int c = *r->p;
    if (c == '{' || c == '[') {
        if (depth + 1 > r->max_depth)
            return JFAIL(r, DMVF_ETOOBIG, "JSON nested deeper than %u levels", r->max_depth);
        int close = c == '{' ? '}' : ']';
        r->p++;
        ws(r);
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        for (;;) {
            int rc;
            if (close == '}') {
                const uint8_t *a, *b;
                int esc;
                ws(r);
                if ((rc = scan_string(r, &a, &b, &esc)))
                    return rc;
                ws(r);
                if (r->p >= r->end || *r->p != ':')
                    return JFAIL(r, DMVF_EMALFORMED, "':' was expected");
                r->p++;
            }
            if ((rc = skip_value(r, depth + 1)))
                return rc;
            ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == close) {
                r->p++;
                return 0;
            }
            return JFAIL(r, DMVF_EMALFORMED, "',' or '%c' was expected", close);
        }
    }
    if (c == '"') {
        const uint8_t *a, *b;
        int esc;
        return scan_string(r, &a, &b, &esc);
    }
    const uint8_t *a = r->p;
    while (r->p < r->end && (strchr("+-.0123456789eE", *r->p) || (*r->p >= 'a' && *r->p <= 'z')))
        r->p++;
    size_t n = (size_t)(r->p - a);
    if (n == 0)
        return JFAIL(r, DMVF_EMALFORMED, "a value was expected");
    return 0;
}

/* proto name "agency_kind" or JSON name "agencyKind" */
static int name_is(const char *name, const uint8_t *k, size_t n)
{
    if (strlen(name) == n && memcmp(name, k, n) == 0)
        return 1;
    size_t i = 0;
    for (const char *c = name; *c; c++) {
        char want = *c;
        if (*c == '_' && c[1]) {
            c++;
            want = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        }
        if (i >= n || k[i] != (uint8_t)want)
            return 0;
        i++;
    }
    return i == n;
}

static int read_message(jp *r, const ProtobufCMessageDescriptor *md, unsigned depth);

/* An integer: a JSON number of integral value or a string of one. */
static int read_int(jp *r, const ProtobufCFieldDescriptor *fd, uint64_t *v)
{
    const uint8_t *a = r->p, *b = r->p;
    int esc = 0;
    if (*r->p == '"') {
        int rc = scan_string(r, &a, &b, &esc);
        if (rc)
            return rc;
    } else {
        a = r->p;
        while (r->p < r->end && strchr("+-.0123456789eE", *r->p))
            r->p++;
        b = r->p;
    }
    char buf[32];
    size_t n = (size_t)(b - a);
    if (esc || n == 0 || n >= sizeof buf)
        return JFAIL(r, DMVF_EMALFORMED, "field %s: an integer was expected", fd->name);
    memcpy(buf, a, n);
    buf[n] = '\0';
    char *e;
    int neg = buf[0] == '-';
    for (size_t i = neg; i < n; i++)
        if (buf[i] < '0' || buf[i] > '9')
            return JFAIL(r, DMVF_EMALFORMED, "field %s: '%s' is not a decimal integer", fd->name, buf);
    unsigned long long u = strtoull(buf + neg, &e, 10);
    int64_t sv = neg ? -(int64_t)u : (int64_t)u;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_UINT32:
        if (neg || u > UINT32_MAX)
            return JFAIL(r, DMVF_EMALFORMED, "field %s: %s is out of range", fd->name, buf);
        break;
    case PROTOBUF_C_TYPE_UINT64:
        if (neg)
            return JFAIL(r, DMVF_EMALFORMED, "field %s: %s is out of range", fd->name, buf);
        break;
    default: /* int32, enum */
        if (u > (neg ? 2147483648ull : 2147483647ull))
            return JFAIL(r, DMVF_EMALFORMED, "field %s: %s is out of range", fd->name, buf);
        *v = (uint64_t)sv;
        return 0;
    }
    *v = u;
    return 0;
}

/* One value of field fd (an element, for a repeated one). */
static int read_one(jp *r, const ProtobufCFieldDescriptor *fd, unsigned depth)
{
    int rc;
    uint64_t v = 0;
    const uint8_t *a, *b;
    int esc;
    ws(r);
    if (r->p >= r->end)
        return JFAIL(r, DMVF_EMALFORMED, "a value was expected");
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        if ((rc = scan_string(r, &a, &b, &esc)))
            return rc;
        uint8_t *t = NULL;
        size_t tn = 0;
        if ((rc = string_text(r, a, b, esc, &t, &tn)))
            return rc;
        rc = put_bytes(r, fd->id, t, tn);
        free(t);
        return rc;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (r->end - r->p >= 4 && memcmp(r->p, "true", 4) == 0) {
            r->p += 4;
            v = 1;
        } else if (r->end - r->p >= 5 && memcmp(r->p, "false", 5) == 0) {
            r->p += 5;
        } else {
            return JFAIL(r, DMVF_EMALFORMED, "field %s: true or false was expected", fd->name);
        }
        break;
    case PROTOBUF_C_TYPE_ENUM:
        if (*r->p == '"') {
            const uint8_t *save = r->p;
            if ((rc = scan_string(r, &a, &b, &esc)))
                return rc;
            char nm[80];
            size_t n = (size_t)(b - a);
            const ProtobufCEnumValue *ev = NULL;
            if (!esc && n < sizeof nm) {
                memcpy(nm, a, n);
                nm[n] = '\0';
                ev = protobuf_c_enum_descriptor_get_value_by_name(fd->descriptor, nm);
            }
            if (!ev) {
                r->p = save;
                if (read_int(r, fd, &v))
                    return JFAIL(r, DMVF_EMALFORMED, "field %s: an unknown value name", fd->name);
            } else {
                v = (uint64_t)(int64_t)ev->value;
            }
        } else if ((rc = read_int(r, fd, &v))) {
            return rc;
        }
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_UINT64:
        if ((rc = read_int(r, fd, &v)))
            return rc;
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (*r->p != '{')
            return JFAIL(r, DMVF_EMALFORMED, "field %s: an object was expected", fd->name);
        if (fd->descriptor == &dmv__v1__driver_record__descriptor) {
            const uint8_t *start = r->p;
            if ((rc = skip_value(r, depth)))
                return rc;
            if (!r->d->jr && !(r->d->jr = dmvf__jrec_create()))
                return JFAIL(r, DMVF_ENOMEM, "out of memory");
            const uint8_t *w;
            size_t wn;
            uint64_t unknown = 0;
            dmvf_error e;
            memset(&e, 0, sizeof e);
            rc = dmvf__jrec_decode(r->d->jr, start, (size_t)(r->p - start), &w, &wn, &unknown, &e);
            if (rc != DMVF_OK) {
                dmvf__seterr(r->err, rc, "record %zu: %s", r->d->records, e.msg);
                return dmvf__serve_at(r->err, rc, (uint64_t)(start - r->s) + e.offset);
            }
            r->d->unknown += unknown;
            r->d->records++;
            return put_bytes(r, fd->id, w, wn);
        }
        /* a message of our own: its bytes after a reserved length */
        if (put_varint(r, (uint64_t)fd->id << 3 | 2u))
            return DMVF_ENOMEM;
        size_t at = r->d->bin_len;
        if ((rc = read_message(r, fd->descriptor, depth)))
            return rc;
        size_t n = r->d->bin_len - at;
        size_t pre = dmvf__varint_size(n);
        if (out_room(r, pre))
            return DMVF_ENOMEM;
        memmove(r->d->bin + at + pre, r->d->bin + at, n);
        dmvf__put_varint(r->d->bin + at, n);
        r->d->bin_len += pre;
        return 0;
    }
    default:
        return JFAIL(r, DMVF_EMALFORMED, "field %s: a type the service does not read", fd->name);
    }
    if (put_varint(r, (uint64_t)fd->id << 3) || put_varint(r, v))
        return DMVF_ENOMEM;
    return 0;
}

static int read_value(jp *r, const ProtobufCFieldDescriptor *fd, unsigned depth)
{
    ws(r);
    if (r->end - r->p >= 4 && memcmp(r->p, "null", 4) == 0) {
        r->p += 4;
        return 0;
    }
    if (fd->label != PROTOBUF_C_LABEL_REPEATED)
        return read_one(r, fd, depth);
    if (r->p >= r->end || *r->p != '[')
        return JFAIL(r, DMVF_EMALFORMED, "field %s: an array was expected", fd->name);
    if (depth + 1 > r->max_depth)
        return JFAIL(r, DMVF_ETOOBIG, "JSON nested deeper than %u levels", r->max_depth);
    r->p++;
    ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return 0;
    }
    for (;;) {
        int rc = read_one(r, fd, depth + 1);
        if (rc)
            return rc;
        ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            return 0;
        }
        return JFAIL(r, DMVF_EMALFORMED, "field %s: ',' or ']' was expected", fd->name);
    }
}

static int read_message(jp *r, const ProtobufCMessageDescriptor *md, unsigned depth)
{
    ws(r);
    if (r->p >= r->end || *r->p != '{')
        return JFAIL(r, DMVF_EMALFORMED, "an object was expected (%s)", md->short_name);
    if (depth + 1 > r->max_depth)
        return JFAIL(r, DMVF_ETOOBIG, "JSON nested deeper than %u levels", r->max_depth);
    r->p++;
    ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 0;
    }
    uint64_t seen = 0;
    for (;;) {
        const uint8_t *a, *b;
        int esc, rc;
        ws(r);
        if ((rc = scan_string(r, &a, &b, &esc)))
            return rc;
        const ProtobufCFieldDescriptor *fd = NULL;
        unsigned i = 0;
        for (; !esc && i < md->n_fields && i < 64; i++)
            if (name_is(md->fields[i].name, a, (size_t)(b - a))) {
                fd = &md->fields[i];
                break;
            }
        if (!fd) {
            char raw[64], k[128];
            size_t kl = (size_t)(b - a) < sizeof raw - 1 ? (size_t)(b - a) : sizeof raw - 1;
            memcpy(raw, a, kl);
            raw[kl] = '\0';
            dmvf__escape_copy(k, sizeof k, raw);
            return JFAIL(r, DMVF_EMALFORMED, "%s has no field \"%s\"", md->short_name, k);
        }
        if (seen & (1ull << i))
            return JFAIL(r, DMVF_EMALFORMED, "field %s is given twice", fd->name);
        seen |= 1ull << i;
        ws(r);
        if (r->p >= r->end || *r->p != ':')
            return JFAIL(r, DMVF_EMALFORMED, "':' was expected");
        r->p++;
        if ((rc = read_value(r, fd, depth + 1)))
            return rc;
        ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            return 0;
        }
        return JFAIL(r, DMVF_EMALFORMED, "',' or '}' was expected");
    }
}

int dmvf__serve_json_read(dmvf_serve_dec *d, int call, const uint8_t *s, size_t n, const dmvf_serve_limits *lim,
                          dmvf_error *err)
{
    jp r = {d, s, s, s + n, lim->json_depth, err};
    int rc = read_message(&r, call == DMVF_SERVE_CALL_RELEASE ? &dmv__v1__release_request__descriptor
                                                             : &dmv__v1__explain_request__descriptor, 0);
    if (rc)
        return rc;
    ws(&r);
    if (r.p != r.end)
        return JFAIL(&r, DMVF_EMALFORMED, "text after the object");
    return DMVF_OK;
}
