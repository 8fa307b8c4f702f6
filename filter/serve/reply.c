/*
 * reply.c - what a call answers: the messages (binary or the proto3 JSON
 * mapping) and Connect errors.
 *
 *   ReleaseResponse (wire)   ( 0x0a len DriverRecord )* 0x12 len Trailer
 *   ReleaseResponse (JSON)   {"records":[{...},...],"trailer":{...}}
 *   ExplainResponse          0x0a len text  |  {"text":"..."}
 *   error                    HTTP status, {"code":"invalid_argument","message":"..."}
 *
 * The framed release a request made (records and its trailer: the service
 * asks for no seal, dmvf_framed_set_seal) is
 * read back frame by frame; its records are written as they are (binary)
 * or by the JSON Lines writer, the trailer as the framed format signed it.
 * JSON: proto field names, defaults omitted, uint64 as strings, enums by
 * name, bytes in base64, as the JSON Lines writer writes records.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "filter/core/base64.h"
#include "filter/core/varint.h"
#include "filter/release/json_record.h"
#include "filter/serve/serve_int.h"
#include "dmv/v1/service.pb-c.h"

static const struct {
    const char *name;
    int status;
} codes[DMVF__C_COUNT] = {
    [DMVF__C_OK] = {"ok", 200},
    [DMVF__C_INVALID_ARGUMENT] = {"invalid_argument", 400},
    [DMVF__C_UNAUTHENTICATED] = {"unauthenticated", 401},
    [DMVF__C_PERMISSION_DENIED] = {"permission_denied", 403},
    [DMVF__C_RESOURCE_EXHAUSTED] = {"resource_exhausted", 429},
    [DMVF__C_UNAVAILABLE] = {"unavailable", 503},
    [DMVF__C_INTERNAL] = {"internal", 500},
    [DMVF__C_NOT_FOUND] = {"not_found", 404},
    [DMVF__C_UNIMPLEMENTED] = {"unimplemented", 501},
};

const char *dmvf__code_name(int code)
{
    return code >= 0 && code < DMVF__C_COUNT ? codes[code].name : "unknown";
}

int dmvf__code_status(int code)
{
    return code >= 0 && code < DMVF__C_COUNT ? codes[code].status : 500;
}

void dmvf__reply_init(dmvf__reply *r)
{
    memset(r, 0, sizeof *r);
    r->body = dmvf__text_mem();
    r->status = 200;
}

void dmvf__reply_free(dmvf__reply *r)
{
    dmvf__text_free(&r->body);
}

int dmvf__reply_error(dmvf__reply *r, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dmvf__text_free(&r->body);
    r->body = dmvf__text_mem();
    r->code = code;
    r->status = dmvf__code_status(code);
    r->ctype = "application/json";
    dmvf__text_puts(&r->body, "{\"code\":\"");
    dmvf__text_puts(&r->body, dmvf__code_name(code));
    dmvf__text_puts(&r->body, "\",\"message\":");
    dmvf__text_json_c(&r->body, msg);
    dmvf__text_puts(&r->body, "}");
    return code;
}

static void put_field(dmvf__text *t, uint8_t key, const uint8_t *v, size_t n)
{
    uint8_t pre[11];
    pre[0] = key;
    size_t k = (size_t)(dmvf__put_varint(pre + 1, n) - pre);
    dmvf__text_put(t, pre, k);
    dmvf__text_put(t, v, n);
}

/* A singular-fields message (Trailer) as JSON, from its descriptor. */
static void json_message(dmvf__text *t, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *md = m->descriptor;
    const char *base = (const char *)m;
    int first = 1;
    char num[32];
    dmvf__text_put(t, "{", 1);
    for (unsigned i = 0; i < md->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &md->fields[i];
        const void *v = base + fd->offset;
        char *b64 = NULL;
        const char *val = NULL;
        int quoted = 0;
        switch (fd->type) {
        case PROTOBUF_C_TYPE_STRING: {
            const char *s = *(char *const *)v;
            if (!s || !*s)
                continue;
            val = s;
            quoted = 2;
            break;
        }
        case PROTOBUF_C_TYPE_UINT64: {
            uint64_t x = *(const uint64_t *)v;
            if (!x)
                continue;
            snprintf(num, sizeof num, "%llu", (unsigned long long)x);
            val = num;
            quoted = 1;
            break;
        }
        case PROTOBUF_C_TYPE_UINT32: {
            uint32_t x = *(const uint32_t *)v;
            if (!x)
                continue;
            snprintf(num, sizeof num, "%u", (unsigned)x);
            val = num;
            break;
        }
        case PROTOBUF_C_TYPE_ENUM: {
            int x = *(const int *)v;
            if (!x)
                continue;
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, x);
            if (ev) {
                val = ev->name;
                quoted = 1;
            } else {
                snprintf(num, sizeof num, "%d", x);
                val = num;
            }
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *bd = v;
            if (!bd->len)
                continue;
            b64 = malloc(dmvf__base64_len(bd->len) + 1);
            if (!b64) {
                t->failed = 1;
                continue;
            }
            dmvf__base64_encode(b64, bd->data, bd->len);
            b64[dmvf__base64_len(bd->len)] = '\0';
            val = b64;
            quoted = 1;
            break;
        }
        default:
            continue;
        }
        dmvf__text_puts(t, first ? "\"" : ",\"");
        dmvf__text_puts(t, fd->name);
        dmvf__text_puts(t, "\":");
        if (quoted == 2)
            dmvf__text_json_c(t, val);
        else if (quoted)
            dmvf__text_puts(t, "\""), dmvf__text_puts(t, val), dmvf__text_puts(t, "\"");
        else
            dmvf__text_puts(t, val);
        free(b64);
        first = 0;
    }
    dmvf__text_put(t, "}", 1);
}

int dmvf__reply_release(dmvf__reply *r, int json, const uint8_t *out, size_t n)
{
    const uint8_t *p = out, *end = out + n, *trailer = NULL;
    uint32_t tlen = 0;
    size_t nrec = 0;
    dmvf__text *t = &r->body;
    r->ctype = json ? "application/json" : "application/proto";
    if (json)
        dmvf__text_puts(t, "{");
    while (p < end) {
        uint64_t flen;
        size_t pre;
        if (dmvf__varint_prefix(p, (size_t)(end - p), &flen, &pre) != 1 || flen > (uint64_t)(end - p) - pre)
            return dmvf__reply_error(r, DMVF__C_INTERNAL, "the release does not read back");
        const uint8_t *f = p + pre, *fend = f + flen;
        p = fend;
        uint32_t num, len;
        unsigned wt;
        size_t k = f < fend ? dmvf__key_read(f, fend, &num, &wt) : 0;
        size_t l = k ? dmvf__len_read(f + k, fend, &len) : 0;
        if (!k || !l || wt != 2 || (size_t)(fend - f) != k + l + len)
            return dmvf__reply_error(r, DMVF__C_INTERNAL, "the release does not read back");
        const uint8_t *v = f + k + l;
        if (num == 2) {
            if (!json) {
                put_field(t, 0x0a, v, len);
            } else {
                dmvf__text_puts(t, nrec ? "," : "\"records\":[");
                dmvf_error e;
                memset(&e, 0, sizeof e);
                if (dmvf__jrec_encode(v, len, t, &e) != DMVF_OK)
                    return dmvf__reply_error(r, DMVF__C_INTERNAL, "a released record does not write as JSON: %s",
                                             e.msg);
            }
            nrec++;
        } else if (num == 3 && !trailer) {
            trailer = v;
            tlen = len;
        }
    }
    if (!trailer)
        return dmvf__reply_error(r, DMVF__C_INTERNAL, "the release has no trailer");
    if (!json) {
        put_field(t, 0x12, trailer, tlen);
    } else {
        Dmv__V1__Trailer *tr = dmv__v1__trailer__unpack(NULL, tlen, trailer);
        if (!tr)
            return dmvf__reply_error(r, DMVF__C_INTERNAL, "the trailer does not read back");
        dmvf__text_puts(t, nrec ? "],\"trailer\":" : "\"trailer\":");
        json_message(t, &tr->base);
        dmv__v1__trailer__free_unpacked(tr, NULL);
        dmvf__text_puts(t, "}");
    }
    if (t->failed)
        return dmvf__reply_error(r, DMVF__C_RESOURCE_EXHAUSTED, "out of memory writing the reply");
    return DMVF_OK;
}

int dmvf__reply_explain(dmvf__reply *r, int json, const char *text, size_t n)
{
    r->ctype = json ? "application/json" : "application/proto";
    if (json) {
        dmvf__text_puts(&r->body, "{\"text\":");
        dmvf__text_json(&r->body, text, n);
        dmvf__text_puts(&r->body, "}");
    } else if (n) {
        put_field(&r->body, 0x0a, (const uint8_t *)text, n);
    }
    if (r->body.failed)
        return dmvf__reply_error(r, DMVF__C_RESOURCE_EXHAUSTED, "out of memory writing the reply");
    return DMVF_OK;
}
