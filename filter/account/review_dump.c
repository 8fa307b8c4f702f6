/*
 * review_dump.c - the records of a held release printed field by field
 * (`review show --records`), so that a reviewer sees exactly what would
 * leave: every field set, by its path in the schema.
 *
 * The release is a stream of varint-length-delimited DriverRecords,
 * exactly the bytes the filter would have released:
 *
 *   release := (varint(len) DriverRecord[len])*
 *
 *   record N:
 *       PATH: VALUE          a line per value set: PATH as a.b[i].c, a
 *                            proto3 scalar at its default left out (an
 *                            optional one shown when present); strings
 *                            quoted (control bytes, DEL, '"' and '\' as
 *                            \xNN), bytes as "<N bytes>"
 *
 * Nested messages at most 8 deep. A record that does not decode is said
 * so; a stream cut short is DMVF_ETAMPER. Each record is decoded into
 * memory wiped when freed.
 */
#include <stdio.h>
#include <string.h>
#include "dmv/v1/record.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/pballoc.h"
#include "filter/core/text.h"
#include "filter/account/review_int.h"

/* A string value between quotes, on one line: control bytes, DEL, '"' and
 * '\' as \xNN. */
static void put_quoted(FILE *out, const char *s)
{
    dmvf__text t = dmvf__text_file(out);
    dmvf__text_put(&t, "\"", 1);
    dmvf__text_escaped(&t, s, strlen(s), DMVF__ESC_QUOTE | DMVF__ESC_BACKSLASH);
    dmvf__text_put(&t, "\"", 1);
}

/* One value of a scalar field at p (the element of a repeated field or the
 * singular member). */
static void dump_value(FILE *out, const char *path, const ProtobufCFieldDescriptor *fd,
                       const void *p)
{
    fprintf(out, "    %s: ", path);
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        put_quoted(out, dmvf__review_nz(s));
        break;
    }
    case PROTOBUF_C_TYPE_BYTES:
        fprintf(out, "<%zu bytes>", ((const ProtobufCBinaryData *)p)->len);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        fputs(*(const protobuf_c_boolean *)p ? "true" : "false", out);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)fd->descriptor, v);
        if (ev)
            fputs(ev->name, out);
        else
            fprintf(out, "%d", v);
        break;
    }
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        fprintf(out, "%d", *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        fprintf(out, "%u", *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        fprintf(out, "%lld", (long long)*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        fprintf(out, "%g", (double)*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        fprintf(out, "%g", *(const double *)p);
        break;
    default:
        fputs("?", out);
        break;
    }
    fputc('\n', out);
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: return 8;
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default: return 4;
    }
}

/* Whether a singular proto3 scalar holds its default (then it is absent). */
static int is_default(const ProtobufCFieldDescriptor *fd, const void *p)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_BOOL: return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_ENUM: return *(const int *)p == 0;
    default: {
        size_t n = elem_size(fd->type);
        static const uint8_t zero[8];
        return memcmp(p, zero, n) == 0;
    }
    }
}

static void dump_message(FILE *out, const ProtobufCMessage *m, const char *prefix, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        const char *member = (const char *)m + fd->offset;
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", fd->name);
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(const void *)((const char *)m + fd->quantifier_offset);
            const char *arr = *(const char *const *)(const void *)member;
            size_t es = elem_size(fd->type);
            for (size_t j = 0; j < n && arr; j++) {
                char ipath[540];
                snprintf(ipath, sizeof ipath, "%s[%zu]", path, j);
                const void *el = arr + j * es;
                if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                    const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)el;
                    if (sub && depth < 8)
                        dump_message(out, sub, ipath, depth + 1);
                } else {
                    dump_value(out, ipath, fd, el);
                }
            }
        } else if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(const void *)member;
            if (sub && depth < 8)
                dump_message(out, sub, path, depth + 1);
        } else if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset &&
                   fd->type != PROTOBUF_C_TYPE_STRING) {
            if (*(const protobuf_c_boolean *)(const void *)((const char *)m + fd->quantifier_offset))
                dump_value(out, path, fd, member);
        } else if (!is_default(fd, member)) {
            dump_value(out, path, fd, member);
        }
    }
}

int dmvf__review_dump_records(FILE *out, const ProtobufCBinaryData *rel, const char *spath,
                              dmvf_error *err)
{
    size_t pos = 0;
    uint64_t idx = 0;
    while (pos < rel->len) {
        uint64_t len;
        size_t pre;
        if (dmvf_stream_prefix(rel->data + pos, rel->len - pos, &len, &pre) != 1 ||
            len > rel->len - pos - pre)
            return dmvf__seterr(err, DMVF_ETAMPER, "%s: the held release is cut at byte %zu",
                                spath, pos);
        dmvf__pballoc w;
        Dmv__V1__DriverRecord *r = dmv__v1__driver_record__unpack(
            dmvf__pballoc_init(&w, DMVF__PB_WIPED), (size_t)len, rel->data + pos + pre);
        fprintf(out, "record %llu:\n", (unsigned long long)(idx + 1));
        if (!r) {
            if (w.oom)
                return dmvf__seterr(err, DMVF_ENOMEM, "out of memory showing record %llu",
                                    (unsigned long long)(idx + 1));
            fputs("    (does not decode as a DriverRecord)\n", out);
        } else {
            if (len == 0)
                fputs("    (empty: every field redacted)\n", out);
            dump_message(out, &r->base, "", 0);
            dmv__v1__driver_record__free_unpacked(r, &w.pb);
        }
        pos += pre + (size_t)len;
        idx++;
    }
    return DMVF_OK;
}
