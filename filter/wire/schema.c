/*
 * schema.c - the record contract as a tree of positions, built from the
 * protoc-c descriptors so it always agrees with schema/dmv/v1/record.proto.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/wire/schema.h"
#include "dmv/v1/record.pb-c.h"

#define MAX_POS 256
#define MAX_NODES 32
#define MAX_PATH 96

/* Marking classes by path; a class on a message covers everything in it.
 * N marks the ordinary fields in which states write their marking values
 * (class "DP", restriction "FLA"): the policy compiler requires an allow
 * list for them (marking.normalize) wherever marking is suppressed. */
static const struct { const char *path; uint8_t klass; } class_table[] = {
    {"marking", DMVF_CLASS_M},
    {"documents", DMVF_CLASS_C},
    {"photo", DMVF_CLASS_P},
    {"application", DMVF_CLASS_C},
    {"person.race", DMVF_CLASS_C},
    {"person.place_of_birth", DMVF_CLASS_C},
    {"person.ssn", DMVF_CLASS_C | DMVF_CLASS_P},
    {"person.ssn_status", DMVF_CLASS_C},
    {"person.employer", DMVF_CLASS_C},
    {"person.voter_registered", DMVF_CLASS_C},
    {"license.document_discriminator", DMVF_CLASS_C},
    {"license.expiration_date", DMVF_CLASS_C},
    {"license.card_revision_date", DMVF_CLASS_C},
    {"license.inventory_control_number", DMVF_CLASS_C},
    {"license.enhanced", DMVF_CLASS_C},
    {"license.class_code", DMVF_CLASS_N},
    {"license.restrictions", DMVF_CLASS_N},
    {"license.endorsements", DMVF_CLASS_N},
};

static dmvf_sfield g_fields[MAX_POS];
static size_t g_nfields;
static dmvf_snode g_nodes[MAX_NODES];
static size_t g_nnodes;
static char g_paths[MAX_POS][MAX_PATH];
static const dmvf_sfield *g_by_id[MAX_POS];
static size_t g_npaths;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static uint8_t class_of(const char *path)
{
    for (size_t i = 0; i < sizeof class_table / sizeof class_table[0]; i++)
        if (strcmp(class_table[i].path, path) == 0)
            return class_table[i].klass;
    return 0;
}

static uint8_t ftype(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: return DMVF_T_STRING;
    case PROTOBUF_C_TYPE_BYTES: return DMVF_T_BYTES;
    case PROTOBUF_C_TYPE_UINT32: return DMVF_T_UINT32;
    case PROTOBUF_C_TYPE_INT32: return DMVF_T_INT32;
    case PROTOBUF_C_TYPE_ENUM: return DMVF_T_ENUM;
    case PROTOBUF_C_TYPE_BOOL: return DMVF_T_BOOL;
    case PROTOBUF_C_TYPE_MESSAGE: return DMVF_T_MESSAGE;
    default: abort(); /* the schema uses no other type */
    }
}

static int by_number(const void *a, const void *b)
{
    const ProtobufCFieldDescriptor *x = *(const ProtobufCFieldDescriptor *const *)a;
    const ProtobufCFieldDescriptor *y = *(const ProtobufCFieldDescriptor *const *)b;
    return (x->id > y->id) - (x->id < y->id);
}

static const dmvf_snode *build(const ProtobufCMessageDescriptor *desc, const char *path, uint8_t inherited,
                               unsigned depth)
{
    dmvf_snode *node = &g_nodes[g_nnodes++];
    const ProtobufCFieldDescriptor *sorted[64];
    size_t n = desc->n_fields;
    if (g_nnodes > MAX_NODES || n > 64 || g_nfields + n > MAX_POS || depth >= DMVF_MAX_SCHEMA_DEPTH)
        abort();
    for (size_t i = 0; i < n; i++)
        sorted[i] = &desc->fields[i];
    qsort(sorted, n, sizeof sorted[0], by_number);

    dmvf_sfield *fields = &g_fields[g_nfields];
    g_nfields += n;
    node->path = path;
    node->desc = desc;
    node->nfields = n;
    node->fields = fields;
    node->max_number = n ? sorted[n - 1]->id : 0;
    if (node->max_number > DMVF_MAX_FIELD_NUMBER)
        abort(); /* every table indexed by field number is this large */
    for (size_t i = 0; i < n; i++) {
        const ProtobufCFieldDescriptor *fd = sorted[i];
        dmvf_sfield *f = &fields[i];
        char *p = g_paths[g_npaths];
        char tmp[MAX_PATH]; /* path is an earlier g_paths row: never format into the array itself */
        int len = *path ? snprintf(tmp, sizeof tmp, "%s.%s", path, fd->name)
                        : snprintf(tmp, sizeof tmp, "%s", fd->name);
        if (len < 0 || (size_t)len >= sizeof tmp)
            abort(); /* every schema path fits */
        memcpy(p, tmp, (size_t)len + 1);
        f->path = p;
        f->name = fd->name;
        f->number = fd->id;
        f->type = ftype(fd);
        f->repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        f->klass = (uint8_t)(inherited | class_of(p));
        f->is_date = f->type == DMVF_T_UINT32 && strstr(fd->name, "date") != NULL;
        f->id = (uint16_t)g_npaths;
        f->fd = fd;
        f->parent = node;
        g_by_id[g_npaths++] = f;
        if (f->type == DMVF_T_MESSAGE)
            f->child = build((const ProtobufCMessageDescriptor *)fd->descriptor, p, f->klass, depth + 1);
    }
    return node;
}

static void init(void)
{
    build(&dmv__v1__driver_record__descriptor, "", 0, 0);
}

const dmvf_snode *dmvf__schema_root(void)
{
    pthread_once(&g_once, init);
    return &g_nodes[0];
}

size_t dmvf__schema_npaths(void)
{
    pthread_once(&g_once, init);
    return g_npaths;
}

const dmvf_sfield *dmvf__schema_field(size_t id)
{
    pthread_once(&g_once, init);
    return id < g_npaths ? g_by_id[id] : NULL;
}

const dmvf_sfield *dmvf__schema_find(const char *path)
{
    pthread_once(&g_once, init);
    for (size_t i = 0; i < g_npaths; i++)
        if (strcmp(g_by_id[i]->path, path) == 0)
            return g_by_id[i];
    return NULL;
}

const char *dmvf__ftype_name(unsigned t)
{
    static const char *const names[] = {"?", "string", "bytes", "uint32", "int32", "enum", "bool", "message"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

const char *dmvf__class_name(unsigned k)
{
    static const char *const names[] = {"",    "M",     "C",     "M,C",     "P",     "M,P",     "C,P",     "M,C,P",
                                        "N",   "M,N",   "C,N",   "M,C,N",   "P,N",   "M,P,N",   "C,P,N",   "M,C,P,N"};
    return names[k & 15u];
}
