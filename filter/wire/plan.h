/*
 * plan.h - the compiled release plan the rewriter and the reference path run.
 *
 * A plan is a tree of nodes mirroring the schema tree (schema.h). Each node
 * has a table indexed by field number (0..max_number); an entry's action says
 * what happens to every occurrence of that field. Numbers the schema does not
 * know have sf == NULL and are always redacted. A message field whose subtree
 * releases nothing is REDACT; otherwise DESCEND with child set.
 *
 * Value semantics (identical in rewriter and reference):
 *   RELEASE     value unchanged (after normalization, below).
 *   MASK        strings: code points (UTF-8 lead bytes) beyond the first
 *               mask_first and before the last mask_last become '*'.
 *   GENERALIZE  uint32 dates: YEAR -> YYYY0000, MONTH -> YYYYMM00,
 *               DECADE -> YYY00000 (decade); strings: ZIP3 -> first 3 bytes.
 *   PSEUDONYMIZE strings: 32-byte token (keys.h dmvf__pseudonym), key index pidx.
 *   ENCRYPT     strings: token (keys.h dmvf__encrypt).
 *   CONSTANT    strings/bytes: cval/clen; numbers, enums, bools: cnum.
 * Normalization (only when the plan does not release marking) runs first on
 * string fields that have a table (dmvf_norm), before any action, and
 * compares bytes exactly (no case folding, no trimming, no Unicode
 * normalization):
 *   1. map/drop: a value equal to an entry's `from` is replaced by its `to`,
 *      or, with drop set, removed;
 *   2. allow (when the table has an allow list): the value (after step 1)
 *      passes only if it equals one of the allowed values; any other value
 *      is replaced by `otherwise` when the table has one, else removed.
 * Removed means: for a repeated field, that element; for a singular one,
 * the field.
 * Proto3 defaults (0, false, empty string/bytes) are never emitted for
 * singular fields; repeated string elements are kept even when empty.
 *
 * Opaque fields. A field the plan redacts whose content must not matter is
 * stepped over and never looked into (opaque): a number the schema does
 * not know, a redacted sub-message, and, in a plan without marking:
 * release, every marking (M) and marking-correlated (C) field. Only its
 * framing is read (fields_int.h): any wire type protobuf allows, groups
 * included; no wire type is checked against the schema, no element is
 * counted, a sub-message is not walked. So whether a record is released,
 * dropped or an error never depends on what its M and C fields hold. Other
 * redacted fields (ordinary scalars) keep their checks.
 */
#ifndef DMVF_PLAN_H
#define DMVF_PLAN_H

#include "dmvfilter/common.h"
#include "filter/wire/schema.h"

/* The most elements one repeated field may have in one message; more is
 * DMVF_ETOOBIG, in the rewriter and the reference path alike. (The fuzz
 * build sets a small one, so that inputs of a few KiB reach the limit.) */
#ifndef DMVF_MAX_REPEATED
#define DMVF_MAX_REPEATED 10000u
#endif

enum dmvf_action {
    DMVF_ACT_REDACT = 0,
    DMVF_ACT_RELEASE,
    DMVF_ACT_MASK,
    DMVF_ACT_GENERALIZE,
    DMVF_ACT_PSEUDONYMIZE,
    DMVF_ACT_ENCRYPT,
    DMVF_ACT_CONSTANT,
    DMVF_ACT_DESCEND
};

enum dmvf_generalize {
    DMVF_GEN_YEAR = 1,
    DMVF_GEN_MONTH,
    DMVF_GEN_DECADE,
    DMVF_GEN_ZIP3
};

/* One map or drop entry of a normalization table. */
typedef struct dmvf_norm_entry {
    const uint8_t *from;
    uint32_t from_len;
    const uint8_t *to;       /* replacement; unused when drop */
    uint32_t to_len;
    uint8_t drop;
} dmvf_norm_entry;

/* One value of an allow list. */
typedef struct dmvf_norm_value {
    const uint8_t *v;
    uint32_t len;
} dmvf_norm_value;

/* A field's normalization table. Both arrays are sorted by
 * dmvf__norm_cmp (bytes, then length) and hold no value twice. */
typedef struct dmvf_norm {
    uint32_t nentry;
    const dmvf_norm_entry *entry;      /* map and drop entries, by from */
    uint32_t nallow;                   /* 0: no allow list (every value passes) */
    const dmvf_norm_value *allow;
    const dmvf_norm_value *otherwise;  /* NULL: a value not allowed is removed */
} dmvf_norm;

/* Byte-wise order of a[0..an) and b[0..bn) (a shorter prefix first):
 * <0, 0, >0. Inline: the rewriter's normalization compares a value with a
 * few short table entries, and most differ in their first byte. */
static inline int dmvf__norm_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return (an > bn) - (an < bn);
}

struct dmvf_pnode;

typedef struct dmvf_fplan {
    uint8_t action;          /* enum dmvf_action */
    uint8_t gen;             /* enum dmvf_generalize for GENERALIZE */
    uint8_t mask_first;
    uint8_t mask_last;
    uint8_t type;            /* sf->type, 0 when not in the schema (hot-path copy) */
    uint8_t repeated;        /* sf->repeated (hot-path copy) */
    uint8_t opaque;          /* redacted, never looked into (above) */
    uint16_t pidx;           /* PSEUDONYMIZE: index into dmvf_plan.pseudo_paths */
    const dmvf_norm *norm;   /* NULL: not normalized */
    const uint8_t *cval;     /* CONSTANT for strings/bytes */
    uint32_t clen;
    uint64_t cnum;           /* CONSTANT for numbers (int32: sign-extended), bools */
    const struct dmvf_pnode *child;   /* DESCEND */
    const dmvf_sfield *sf;   /* NULL: not in the schema */
} dmvf_fplan;

/*
 * The rewriter's dispatch, said once per node: op[key] for every field key
 * (number << 3 | wire type) a message may hold, a kind and flags in one
 * byte, so that a field costs the rewriter one indexed load to know what
 * to do with it. A key of two bytes or more, a number past the schema's
 * largest, a wire type the kind does not name: DMVF_OP_GENERIC, read by
 * its framing and judged from f[] as the kind below would be. A node whose
 * op[] is all zero (DMVF_OP_GENERIC) is thus still rewritten correctly.
 *
 *   SKIP     opaque (plan.h above): stepped over by its framing alone
 *   CHECK    looked at, never written: a redacted scalar with its schema's
 *            wire type, or a message the plan releases (never copied blind)
 *   COPY     released unchanged, not normalized: copied as it is when its
 *            bytes are canonical, else re-encoded
 *   XFORM    through its action, normalization first (a released field
 *            with a normalization table is XFORM)
 *   DESCEND  a sub-message the plan walks
 */
enum dmvf_opkind {
    DMVF_OP_GENERIC = 0,
    DMVF_OP_SKIP,
    DMVF_OP_CHECK,
    DMVF_OP_COPY,
    DMVF_OP_XFORM,
    DMVF_OP_DESCEND
};
#define DMVF_OP_KIND 7u
#define DMVF_OPF_LEN 0x08u       /* wire type 2 (length-delimited); else 0 (varint) */
#define DMVF_OPF_REPEATED 0x10u
#define DMVF_OPF_BOOL 0x20u      /* a bool: canonical only as 1 */
#define DMVF_OPF_WHOLE 0x40u     /* DESCEND: the child is released whole */

/* Keys op[] covers: every number up to DMVF_MAX_FIELD_NUMBER, every wire type
 * (one or two bytes on the wire). */
#define DMVF_PLAN_KEYS ((DMVF_MAX_FIELD_NUMBER + 1u) * 8u)

typedef struct dmvf_pnode {
    const dmvf_snode *schema;
    uint32_t max_number;
    int whole;               /* every known field released verbatim (sub-messages
                                whole too): canonical input is its own output */
    const dmvf_fplan *f;     /* max_number + 1 entries, indexed by field number */
    uint8_t op[DMVF_PLAN_KEYS];   /* by key: kind | flags (above); dmvf__pnode_ops */
} dmvf_pnode;

typedef struct dmvf_plan {
    const dmvf_pnode *root;            /* for DriverRecord */
    size_t npseudo;
    const char *const *pseudo_paths;   /* paths pseudonymized, pidx order */
    int marking_release;               /* the rule says marking: release */
    uint32_t max_token_growth;         /* bytes a value may grow by (tokens, constants) */
} dmvf_plan;

/* Whether plan entry e (sf and action set; sf NULL: a number the schema
 * does not know) is opaque in a plan with or without marking: release. */
static inline int dmvf__fplan_opaque(const dmvf_fplan *e, int marking_release)
{
    if (!e->sf)
        return 1;
    if (e->action != DMVF_ACT_REDACT)
        return 0;
    return e->sf->type == DMVF_T_MESSAGE ||
           (!marking_release && (e->sf->klass & (DMVF_CLASS_M | DMVF_CLASS_C)) != 0);
}

/* The op of plan entry e (sf set, not opaque) for a field of wire type wt:
 * DMVF_OP_GENERIC when wt is not its schema's. */
unsigned dmvf__fplan_op(const dmvf_fplan *e, unsigned wt);

/* Fills pn->op from pn->f (children first: WHOLE reads child->whole). */
void dmvf__pnode_ops(dmvf_pnode *pn);

/* leaf[id] (NULL: redact) for every leaf position of the schema -> a plan
 * (one allocation), or NULL (no memory). */
dmvf_plan *dmvf__plan_build(const dmvf_fplan *const *leaf, int marking_release);

/* A copy of `base` in which every field not covered by one of the requested
 * paths (exact, a message prefix, or "x.*") is REDACT. NULL with *err on an
 * unknown path (DMVF_EINVAL) or no memory. Free with dmvf__plan_free. */
dmvf_plan *dmvf__plan_restrict(const dmvf_plan *base, const char *const *fields, size_t n,
                               dmvf_error *err);
void dmvf__plan_free(dmvf_plan *plan);   /* NULL accepted */

#endif
