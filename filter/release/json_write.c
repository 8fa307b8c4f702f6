/*
 * json_write.c - canonical DriverRecord wire bytes -> one JSON object, in
 * the proto3 JSON mapping, canonical itself:
 *
 *   {"record_id":"NY-1","person":{"family_name":"Ng","sex":"SEX_X"},"vehicles":[{...},{...}]}
 *
 * Keys are proto field names in field-number order (the wire order); a
 * repeated field is one array of its elements in wire order; enums by
 * value name, a number when the schema names none; bools true; int32 and
 * uint32 as decimal numbers; bytes as base64 (standard, padded); strings
 * through the library's one JSON string writer (core/text.h: control bytes
 * escaped, bytes that are not UTF-8 as \ufffd). Defaults are not in a
 * canonical record; should one be, it is left out all the same.
 *
 * The input must be canonical (filter.h): known fields only, in number
 * order, a singular field once, each with its type's wire type. Anything
 * else is DMVF_EMALFORMED: a release always is canonical, so this only
 * guards the encoder's callers.
 */
#include <string.h>
#include "filter/core/base64.h"
#include "filter/core/varint.h"
#include "filter/release/format_int.h"

typedef struct jw {
    const uint8_t *base;
    dmvf__text *out;
    dmvf_error *err;
} jw;

static inline void put(dmvf__text *t, const void *s, size_t n)
{
    char *o = dmvf__text_room(t, n);
    if (o) {
        memcpy(o, s, n);
        t->len += n;
    }
}

static inline void put1(dmvf__text *t, char c)
{
    char *o = dmvf__text_room(t, 1);
    if (o) {
        *o = c;
        t->len++;
    }
}

/* A string: as it is when every byte is plain (dmvf__plain_run), else
 * through the library's JSON string writer. */
static void put_string(dmvf__text *t, const uint8_t *v, size_t n)
{
    if (dmvf__plain_run(v, n) < n) {
        dmvf__text_json(t, (const char *)v, n);
        return;
    }
    char *o = dmvf__text_room(t, n + 2);
    if (o) {
        o[0] = '"';
        memcpy(o + 1, v, n);
        o[n + 1] = '"';
        t->len += n + 2;
    }
}

static void put_bytes_b64(dmvf__text *t, const uint8_t *v, size_t n)
{
    size_t k = dmvf__base64_len(n);
    char *o = dmvf__text_room(t, k + 2);
    if (o) {
        o[0] = '"';
        dmvf__base64_encode(o + 1, v, n);
        o[k + 1] = '"';
        t->len += k + 2;
    }
}

/* A varint value of field sf (canonical value v). */
static void put_number(dmvf__text *t, const dmvf_sfield *sf, uint64_t v)
{
    char *o = dmvf__text_room(t, 24);
    if (!o)
        return;
    switch (sf->type) {
    case DMVF_T_BOOL:
        if (v)
            put(t, "true", 4);
        else
            put(t, "false", 5);
        return;
    case DMVF_T_UINT32:
        t->len += dmvf__fmt_i64(o, (int64_t)(uint32_t)v);
        return;
    case DMVF_T_ENUM: {
        const char *name = dmvf__enum_name(sf, (int32_t)v);
        if (name) {
            put1(t, '"');
            put(t, name, strlen(name));
            put1(t, '"');
            return;
        }
        t->len += dmvf__fmt_i64(o, (int32_t)v);
        return;
    }
    default: /* INT32 */
        t->len += dmvf__fmt_i64(o, (int32_t)v);
        return;
    }
}

static int write_message(jw *w, const dmvf__tnode *tn, const uint8_t *p, const uint8_t *end)
{
    uint32_t last = 0;
    int open = 0, first = 1;
    dmvf__text *t = w->out;
    put1(t, '{');
    while (p < end) {
        uint32_t vlen = 0;
        unsigned wt = 0;
        const uint8_t *val = NULL;
        const dmvf__tfield *tf = NULL;
        int rc = dmvf__release_field(tn, &p, end, &last, &tf, &wt, &val, &vlen, w->base, w->err);
        if (rc)
            return rc;
        const uint32_t num = tf->number;
        const unsigned type = tf->type, repeated = tf->repeated;
        uint64_t v = 0;
        if (wt == 0) {
            v = dmvf__ftype_canon(type, dmvf__varint_value(val, vlen));
            if (!v && !repeated) {
                last = num;
                continue; /* a default: not in the JSON */
            }
        } else if (vlen == 0 && !repeated && type != DMVF_T_MESSAGE) {
            last = num;
            continue;
        }
        if (num == last) {
            put1(t, ',');
        } else {
            char *o = dmvf__text_room(t, tf->klen + 3);
            if (o) {
                size_t k = 0;
                if (open)
                    o[k++] = ']';
                if (!first)
                    o[k++] = ',';
                memcpy(o + k, tf->key, tf->klen);
                k += tf->klen;
                if (repeated)
                    o[k++] = '[';
                t->len += k;
            }
            first = 0;
            open = (int)repeated;
        }
        last = num;
        switch (type) {
        case DMVF_T_STRING:
            put_string(t, val, vlen);
            break;
        case DMVF_T_BYTES:
            put_bytes_b64(t, val, vlen);
            break;
        case DMVF_T_MESSAGE:
            if ((rc = write_message(w, tf->child, val, val + vlen)) != DMVF_OK)
                return rc;
            break;
        default:
            put_number(t, tf->sf, v);
            break;
        }
    }
    if (open)
        put1(t, ']');
    put1(t, '}');
    return DMVF_OK;
}

int dmvf__json_encode(const uint8_t *wire, size_t n, dmvf__text *out, dmvf_error *err)
{
    jw w = {wire, out, err};
    int rc = write_message(&w, dmvf__tnode_root(), wire, wire + n);
    if (rc == DMVF_OK && out->failed)
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing a JSON record");
    return rc;
}
