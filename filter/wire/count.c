/*
 * count.c - the counting walk over one record, the subject list, and the
 * all-redacting plan (count.h).
 *
 * The walk reads the protobuf wire layout of a record the rewriter has
 * already accepted, fields stepped over as fields_int.h says:
 *
 *   message := field*                         any order, fields may repeat
 *   field   := key value
 *   key     := varint( number << 3 | wire_type )
 *   value   := varint                         wire type 0 (uint32, int32,
 *                                             enum, bool)
 *            | varint(len) byte[len]          wire type 2 (string, bytes,
 *                                             sub-message)
 *            | 8 bytes | 4 bytes | a group    wire types 1, 5, 3 (skipped)
 *
 * by the schema tree (schema.h), beside the plan tree of the rewriter
 * (plan.h). A field whose wire type is not its schema type is not a value
 * (the rewriter accepts that only where it does not look: opaque fields).
 * Singular scalars are counted after the message is walked, once each,
 * from their last occurrence, as canonical output keeps them; a singular
 * sub-message that occurs more than once is walked once, its pieces merged
 * (fields_int.h). Inside a redacted sub-message, which the rewriter did
 * not look into, the walk stops where the bytes stop stepping.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "filter/wire/count.h"
#include "filter/wire/rewrite.h"
#include "filter/wire/transform.h"
#include "filter/core/varint.h"
#include "filter/wire/fields_int.h"

_Static_assert(DMVF_FIELD_CLASS_M == DMVF_CLASS_M, "class bits differ");
_Static_assert(DMVF_FIELD_CLASS_C == DMVF_CLASS_C, "class bits differ");
_Static_assert(DMVF_FIELD_CLASS_P == DMVF_CLASS_P, "class bits differ");
_Static_assert(DMVF_FIELD_CLASS_N == DMVF_CLASS_N, "class bits differ");
_Static_assert((int)DMVF_FIELD_REDACT == DMVF_ACT_REDACT && (int)DMVF_FIELD_RELEASE == DMVF_ACT_RELEASE &&
                   (int)DMVF_FIELD_MASK == DMVF_ACT_MASK && (int)DMVF_FIELD_GENERALIZE == DMVF_ACT_GENERALIZE &&
                   (int)DMVF_FIELD_PSEUDONYMIZE == DMVF_ACT_PSEUDONYMIZE &&
                   (int)DMVF_FIELD_ENCRYPT == DMVF_ACT_ENCRYPT && (int)DMVF_FIELD_CONSTANT == DMVF_ACT_CONSTANT &&
                   DMVF__NACT == DMVF_ACT_DESCEND,
               "dmvf_field_action and enum dmvf_action differ");

#define CHUNK_MIN 65536u

/* ------------------------------------------------------------------ counting */

/* One value of a leaf field. repeated: elements are values even when empty. */
static void count_value(uint64_t *counts, const dmvf_sfield *sf, const dmvf_fplan *fp,
                        const uint8_t *val, uint32_t vlen, int repeated)
{
    unsigned action = fp ? fp->action : DMVF_ACT_REDACT;
    if (action >= DMVF__NACT)
        action = DMVF_ACT_REDACT; /* a message action on a leaf: nothing is written */
    if (sf->type == DMVF_T_STRING || sf->type == DMVF_T_BYTES) {
        if (!repeated && vlen == 0)
            return; /* the default: not a value */
        if (action != DMVF_ACT_REDACT && fp->norm) {
            const uint8_t *v = val;
            size_t n = vlen;
            if (dmvf__normalize(fp, &v, &n) || (!repeated && n == 0))
                action = DMVF_ACT_REDACT; /* normalization removed it (dropped, or not allowed) */
        }
    } else if (dmvf__ftype_canon(sf->type, dmvf__varint_value(val, vlen)) == 0 && !repeated) {
        return; /* the default: not a value */
    }
    counts[(size_t)sf->id * DMVF__NACT + action]++;
}

typedef struct last_occ {
    const uint8_t *val;
    uint32_t len;
    uint32_t count;
} last_occ;

/* pn NULL: the message is redacted as a whole. */
static void count_message(uint64_t *counts, const dmvf_snode *sn, const dmvf_pnode *pn, const dmvf__msg *m)
{
    last_occ last[DMVF_MAX_FIELD_NUMBER + 1];
    uint32_t seen = 0; /* bit n: singular field n (scalar or sub-message) occurred */
    dmvf__cursor c;
    dmvf__field f;
    dmvf__wbad bad;
    dmvf__cursor_init(&c, m);
    while (dmvf__cursor_next(&c, &f, &bad) > 0) {
        const uint32_t num = f.num;
        const dmvf_sfield *sf = dmvf__schema_child(sn, num);
        if (!sf || f.wt != dmvf__ftype_wire(sf->type))
            continue; /* unknown to the schema, or not a value of this field */
        const dmvf_fplan *fp = pn && num <= pn->max_number ? &pn->f[num] : NULL;
        if (sf->repeated && sf->type == DMVF_T_MESSAGE) {
            const dmvf_pnode *child = fp && fp->action == DMVF_ACT_DESCEND ? fp->child : NULL;
            dmvf__msg sub = {f.val, f.val + f.vlen, NULL, 0};
            count_message(counts, sf->child, child, &sub);
        } else if (sf->repeated) {
            count_value(counts, sf, fp, f.val, f.vlen, 1);
        } else {
            if (!(seen & (1u << num)))
                last[num].count = 0;
            last[num].val = f.val;
            last[num].len = f.vlen;
            last[num].count++;
            seen |= 1u << num;
        }
    }
    for (uint32_t num = 1; seen && num <= DMVF_MAX_FIELD_NUMBER; num++) {
        if (!(seen & (1u << num)))
            continue;
        const dmvf_sfield *sf = dmvf__schema_child(sn, num);
        const dmvf_fplan *fp = pn && num <= pn->max_number ? &pn->f[num] : NULL;
        if (sf->type == DMVF_T_MESSAGE) {
            const dmvf_pnode *child = fp && fp->action == DMVF_ACT_DESCEND ? fp->child : NULL;
            dmvf__msg sub = {last[num].val, last[num].val + last[num].len, NULL, 0};
            if (last[num].count > 1)
                sub = (dmvf__msg){NULL, NULL, m, num}; /* pieces, merged */
            count_message(counts, sf->child, child, &sub);
        } else {
            count_value(counts, sf, fp, last[num].val, last[num].len, 0);
        }
    }
}

void dmvf__acct_count(dmvf__acct *a, const dmvf_plan *plan, const uint8_t *rec, size_t n)
{
    if (!a->counts)
        return;
    dmvf__msg m = {rec, rec + n, NULL, 0};
    count_message(a->counts, dmvf__schema_root(), plan ? plan->root : NULL, &m);
}

void dmvf__acct_clear_counts(dmvf__acct *a)
{
    if (a->counts)
        memset(a->counts, 0, dmvf__schema_npaths() * DMVF__NACT * sizeof *a->counts);
}

int dmvf__record_id(const uint8_t *rec, size_t n, const uint8_t **id, size_t *len)
{
    const uint8_t *p = rec, *end = rec + n;
    int found = 0;
    *id = NULL;
    *len = 0;
    while (p < end) {
        uint32_t num, vlen;
        unsigned wt;
        const uint8_t *val;
        size_t used = dmvf__wire_field(p, end, &num, &wt, &val, &vlen);
        if (!used)
            return -1;
        p += used;
        if (num == 1 && wt == 2) {
            *id = val;
            *len = vlen;
            found = 1;
        }
    }
    return found;
}

/* ------------------------------------------------------------------ subjects */

struct dmvf__schunk {
    struct dmvf__schunk *next;
    size_t used, cap;
    uint8_t data[];
};

int dmvf__acct_init(dmvf__acct *a, int count_fields, int collect)
{
    memset(a, 0, sizeof *a);
    a->collect = collect ? 1 : 0;
    if (count_fields) {
        a->counts = calloc(dmvf__schema_npaths() * DMVF__NACT, sizeof *a->counts);
        if (!a->counts)
            return -1;
    }
    return 0;
}

void dmvf__acct_free(dmvf__acct *a)
{
    struct dmvf__schunk *c = a->chunks;
    while (c) {
        struct dmvf__schunk *next = c->next;
        free(c);
        c = next;
    }
    free(a->counts);
    free(a->ids);
    memset(a, 0, sizeof *a);
}

/* Room for `more` ids and `bytes` bytes of them, so that appending them
 * cannot fail. 0 or -1. */
static int reserve(dmvf__acct *a, size_t more, size_t bytes)
{
    if (a->cap_ids - a->nids < more) {
        size_t cap = a->cap_ids ? a->cap_ids : 256;
        while (cap - a->nids < more) {
            if (cap > SIZE_MAX / 2 / sizeof *a->ids)
                return -1;
            cap *= 2;
        }
        dmvf__subject *ids = realloc(a->ids, cap * sizeof *ids);
        if (!ids)
            return -1;
        a->ids = ids;
        a->cap_ids = cap;
    }
    struct dmvf__schunk *c = a->chunks;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = bytes > CHUNK_MIN ? bytes : CHUNK_MIN;
        c = malloc(sizeof *c + cap);
        if (!c)
            return -1;
        c->used = 0;
        c->cap = cap;
        c->next = a->chunks;
        a->chunks = c;
    }
    return 0;
}

/* After reserve: cannot fail. */
static void append(dmvf__acct *a, const uint8_t *id, size_t n)
{
    struct dmvf__schunk *c = a->chunks;
    uint8_t *dst = c->data + c->used;
    memcpy(dst, id, n);
    c->used += n;
    a->ids[a->nids].p = dst;
    a->ids[a->nids].n = n;
    a->nids++;
}

int dmvf__acct_subject(dmvf__acct *a, const uint8_t *id, size_t n)
{
    if (reserve(a, 1, n) != 0)
        return -1;
    append(a, id, n);
    return 0;
}

int dmvf__acct_merge(dmvf__acct *dst, const dmvf__acct *src)
{
    size_t total = dmvf__schema_npaths() * DMVF__NACT;
    if (src->counts && !dst->counts && !(dst->counts = calloc(total, sizeof *dst->counts)))
        return -1;
    /* all the room first: a failed merge leaves dst as it was */
    size_t n = src->nids, bytes = 0; /* src may be dst: take only what is there now */
    for (size_t i = 0; i < n; i++)
        bytes += src->ids[i].n;
    if (n && reserve(dst, n, bytes) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        append(dst, src->ids[i].p, src->ids[i].n);
    if (src->counts)
        for (size_t i = 0; i < total; i++)
            dst->counts[i] += src->counts[i];
    return 0;
}

/* ------------------------------------------------------------------ plan_none */

static dmvf_fplan g_none_f[DMVF_MAX_FIELD_NUMBER + 1];
static dmvf_pnode g_none_root;
static dmvf_plan g_none;
static pthread_once_t g_none_once = PTHREAD_ONCE_INIT;

static void none_init(void)
{
    const dmvf_snode *sn = dmvf__schema_root();
    for (size_t i = 0; i < sn->nfields; i++) {
        const dmvf_sfield *sf = &sn->fields[i];
        dmvf_fplan *e = &g_none_f[sf->number];
        e->action = DMVF_ACT_REDACT;
        e->type = sf->type;
        e->repeated = sf->repeated;
        e->sf = sf;
    }
    for (uint32_t num = 0; num <= sn->max_number; num++)
        g_none_f[num].opaque = (uint8_t)dmvf__fplan_opaque(&g_none_f[num], 0);
    g_none_root.schema = sn;
    g_none_root.max_number = sn->max_number;
    g_none_root.whole = 0;
    g_none_root.f = g_none_f;
    dmvf__pnode_ops(&g_none_root);
    g_none.root = &g_none_root;
}

const dmvf_plan *dmvf__plan_none(void)
{
    pthread_once(&g_none_once, none_init);
    return &g_none;
}
