/*
 * schema.h - the record contract as a tree of field positions.
 *
 * Built once (thread-safe) from the protoc-c descriptors of dmv.v1.DriverRecord,
 * so it cannot disagree with schema/dmv/v1/record.proto; the marking classes
 * (M, C, P) come from the table in schema.c. A position is a field at a path:
 * Address appears three times (person.residence, person.mailing,
 * vehicles.registered_address), each its own position with its own path.
 * Repeated message fields have no index in paths: "vehicles.plate".
 */
#ifndef DMVF_SCHEMA_H
#define DMVF_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

enum dmvf_ftype {
    DMVF_T_STRING = 1,
    DMVF_T_BYTES,
    DMVF_T_UINT32,
    DMVF_T_INT32,
    DMVF_T_ENUM,
    DMVF_T_BOOL,
    DMVF_T_MESSAGE
};

#define DMVF_CLASS_M 1u  /* marking-bearing */
#define DMVF_CLASS_C 2u  /* marking-correlated */
#define DMVF_CLASS_P 4u  /* highly restricted personal data */
#define DMVF_CLASS_N 8u  /* a state's marking values may appear (class code "DP",
                            restriction "FLA"): released only as a value its
                            marking.normalize allow list names */

/* The largest field number a message of the schema may use. Tables indexed
 * by field number (the rewriter's, the counter's, a plan node's) have
 * DMVF_MAX_FIELD_NUMBER + 1 entries, and per-message bit sets of field
 * numbers fit a uint32_t. Checked once, when the schema tree is built: a
 * schema that uses a larger number does not start (abort). */
#define DMVF_MAX_FIELD_NUMBER 31u

/* The most levels of messages, the record included, a position may be
 * nested in (the schema has 3: record, person, person.residence). Walkers
 * that keep one state per level size their tables by it. Checked when the
 * schema tree is built, like DMVF_MAX_FIELD_NUMBER. */
#define DMVF_MAX_SCHEMA_DEPTH 4u

struct dmvf_snode;

typedef struct dmvf_sfield {
    const char *path;        /* "person.residence.postal_code" */
    const char *name;        /* "postal_code" */
    uint32_t number;
    uint8_t type;            /* enum dmvf_ftype */
    uint8_t repeated;
    uint8_t klass;           /* DMVF_CLASS_* bits, inherited from enclosing messages */
    uint8_t is_date;         /* uint32 YYYYMMDD */
    uint16_t id;             /* index among all positions, 0..dmvf__schema_npaths()-1 */
    const ProtobufCFieldDescriptor *fd;
    const struct dmvf_snode *child;   /* for DMVF_T_MESSAGE */
    const struct dmvf_snode *parent;  /* the node this field belongs to */
} dmvf_sfield;

typedef struct dmvf_snode {
    const char *path;                 /* "" for the record itself, else the message field's path */
    const ProtobufCMessageDescriptor *desc;
    size_t nfields;
    const dmvf_sfield *fields;        /* sorted by number */
    uint32_t max_number;
} dmvf_snode;

const dmvf_snode *dmvf__schema_root(void);
/* The field numbered num of node sn, or NULL when the node has none. */
static inline const dmvf_sfield *dmvf__schema_child(const dmvf_snode *sn, uint32_t num)
{
    if (num == 0 || num > sn->max_number)
        return NULL;
    if (num <= sn->nfields && sn->fields[num - 1].number == num)
        return &sn->fields[num - 1]; /* numbered 1..n, the usual case */
    for (size_t i = 0; i < sn->nfields; i++)
        if (sn->fields[i].number == num)
            return &sn->fields[i];
    return NULL;
}
/* The wire type a field of type t (enum dmvf_ftype) is encoded with:
 * 2 (length-delimited) for strings, bytes and messages, else 0 (varint). */
static inline unsigned dmvf__ftype_wire(unsigned t)
{
    return t == DMVF_T_STRING || t == DMVF_T_BYTES || t == DMVF_T_MESSAGE ? 2u : 0u;
}
/* The value protobuf-c stores for a varint v of type t: uint32 truncated,
 * bool 0/1, int32 and enums sign-extended from 32 bits. */
static inline uint64_t dmvf__ftype_canon(unsigned t, uint64_t v)
{
    switch (t) {
    case DMVF_T_UINT32: return (uint32_t)v;
    case DMVF_T_BOOL: return v != 0;
    default: return (uint64_t)(int64_t)(int32_t)(uint32_t)v; /* INT32, ENUM */
    }
}
size_t dmvf__schema_npaths(void);
const dmvf_sfield *dmvf__schema_field(size_t id);      /* by id, depth-first order */
const dmvf_sfield *dmvf__schema_find(const char *path); /* by exact path, NULL if none */
const char *dmvf__ftype_name(unsigned t);
const char *dmvf__class_name(unsigned klass);          /* "M", "C", "P", "C,P", "" */

#endif
