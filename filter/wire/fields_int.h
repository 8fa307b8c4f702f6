/*
 * fields_int.h - private to filter/wire/: stepping over one protobuf field
 * (groups included), and reading a sub-message sent in pieces as the one
 * message protobuf makes of them. Shared by the rewriter (rewrite.c), the
 * field counter (count.c) and the size a record is judged by (measure.c).
 *
 *   field := key value
 *   key   := varint( number << 3 | wire_type )          at most 5 bytes, number != 0
 *   value := varint                                      wire type 0, at most 10 bytes
 *          | 8 bytes                                     wire type 1
 *          | varint(len) len bytes                       wire type 2, prefix at most 5 bytes
 *          | 4 bytes                                     wire type 5
 *          | field* key(number, 4)                       wire type 3 (START_GROUP): the
 *                                                        fields of the group, then the
 *                                                        END_GROUP key of the same number
 *   (wire type 4 outside its group, 6 and 7 are malformed; groups nest at
 *   most DMVF__MAX_GROUP_DEPTH deep)
 *
 * A group is stepped over, never looked into: its length (*vlen) is 0 and
 * its value pointer is its first byte. The limits are protobuf-c's.
 *
 * Pieces. Protobuf merges the occurrences of a singular sub-message: the
 * message is their bodies read one after the other (a scalar's last
 * occurrence wins, repeated fields concatenate, sub-messages merge in turn).
 * A dmvf__msg names such a message without copying it: its own bytes, or
 * "every occurrence of field num (wire type 2) in message up"; a cursor
 * walks its fields in order across the pieces. Chains are as long as the
 * schema is deep.
 */
#ifndef DMVF_WIRE_FIELDS_INT_H
#define DMVF_WIRE_FIELDS_INT_H

#include <stddef.h>
#include <stdint.h>
#include "filter/core/error.h"
#include "filter/core/varint.h"
#include "filter/wire/schema.h"

#define DMVF__MAX_GROUP_DEPTH 32u

enum { DMVF__WT_VARINT = 0, DMVF__WT_I64 = 1, DMVF__WT_LEN = 2, DMVF__WT_SGROUP = 3, DMVF__WT_EGROUP = 4,
       DMVF__WT_I32 = 5 };

/* Why a field does not step: where, what, and the field number. */
typedef struct dmvf__wbad {
    const uint8_t *at;
    const char *why;
    uint32_t num;
} dmvf__wbad;

/* Steps over the fields of a group whose START_GROUP key (field num) is at
 * key and ends at p, through its END_GROUP key. Returns the pointer after
 * that key, or NULL with *bad filled (a group that does not close: at the
 * key that opened it). */
const uint8_t *dmvf__group_skip(const uint8_t *key, const uint8_t *p, const uint8_t *end, uint32_t num,
                                dmvf__wbad *bad);

/* Steps over one field at p (p < end): sets *num, *wt, *val (the value,
 * after the length prefix for wire type 2) and *vlen (payload length for
 * wire type 2, encoded length for 0, 8 and 4 for 1 and 5, 0 for a group).
 * Returns the pointer after the field, or NULL with *bad filled. */
static inline __attribute__((always_inline)) const uint8_t *
dmvf__field_next(const uint8_t *p, const uint8_t *end, uint32_t *num, unsigned *wt, const uint8_t **val,
                 uint32_t *vlen, dmvf__wbad *bad)
{
    size_t k = dmvf__key_read(p, end, num, wt);
    if (DMVF_UNLIKELY(k == 0)) {
        *bad = (dmvf__wbad){p, "bad field key", 0};
        return NULL;
    }
    const uint8_t *q = p + k;
    switch (*wt) {
    case DMVF__WT_VARINT: {
        size_t n = dmvf__varint_len(q, end);
        if (DMVF_UNLIKELY(n == 0)) {
            *bad = (dmvf__wbad){q, "unterminated varint", *num};
            return NULL;
        }
        *val = q;
        *vlen = (uint32_t)n;
        return q + n;
    }
    case DMVF__WT_LEN: {
        uint32_t len;
        size_t n = dmvf__len_read(q, end, &len);
        if (DMVF_UNLIKELY(n == 0)) {
            *bad = (dmvf__wbad){q, "bad length prefix", *num};
            return NULL;
        }
        if (DMVF_UNLIKELY((size_t)(end - q - (ptrdiff_t)n) < len)) {
            *bad = (dmvf__wbad){q, "length runs past the end of its message", *num};
            return NULL;
        }
        *val = q + n;
        *vlen = len;
        return q + n + len;
    }
    case DMVF__WT_I64:
        if (DMVF_UNLIKELY(end - q < 8)) {
            *bad = (dmvf__wbad){q, "truncated 64-bit value", *num};
            return NULL;
        }
        *val = q;
        *vlen = 8;
        return q + 8;
    case DMVF__WT_I32:
        if (DMVF_UNLIKELY(end - q < 4)) {
            *bad = (dmvf__wbad){q, "truncated 32-bit value", *num};
            return NULL;
        }
        *val = q;
        *vlen = 4;
        return q + 4;
    case DMVF__WT_SGROUP:
        *val = q;
        *vlen = 0;
        return dmvf__group_skip(p, q, end, *num, bad);
    case DMVF__WT_EGROUP:
        *bad = (dmvf__wbad){p, "end of a group that was not started", *num};
        return NULL;
    default:
        *bad = (dmvf__wbad){p, "invalid wire type", *num};
        return NULL;
    }
}

/* A message: its bytes [p, end) when up is NULL; else the bodies of every
 * occurrence of field num with wire type 2 in up, merged. */
typedef struct dmvf__msg {
    const uint8_t *p, *end;
    const struct dmvf__msg *up;
    uint32_t num;
} dmvf__msg;

/* One field as a cursor gives it. */
typedef struct dmvf__field {
    const uint8_t *at;       /* its key */
    const uint8_t *val;
    const uint8_t *next;     /* the byte after it */
    uint32_t num, vlen;
    unsigned wt;
} dmvf__field;

typedef struct dmvf__cursor {
    unsigned top;            /* lv[top] is the message read; lv[0..top) its enclosing pieces */
    struct {
        const uint8_t *p, *end;
        uint32_t num;        /* level i > 0: pieces are occurrences of num in level i - 1 */
    } lv[DMVF_MAX_SCHEMA_DEPTH];
} dmvf__cursor;

/* The out-of-line halves of the two below, for a message in pieces. */
void dmvf__cursor_init_pieces(dmvf__cursor *c, const dmvf__msg *m);
int dmvf__cursor_next_piece(dmvf__cursor *c, dmvf__field *f, dmvf__wbad *bad);

/* A cursor at the first field of m (a chain longer than the schema is
 * deep aborts: misuse). */
static inline void dmvf__cursor_init(dmvf__cursor *c, const dmvf__msg *m)
{
    if (DMVF_LIKELY(!m->up)) {
        c->top = 0;
        c->lv[0].p = m->p;
        c->lv[0].end = m->end;
        c->lv[0].num = 0;
        return;
    }
    dmvf__cursor_init_pieces(c, m);
}

/* The next field of the message: 1 with *f, 0 after the last one, -1 when
 * the bytes do not step (*bad filled). A message's own bytes are read
 * inline, pieces out of line. */
static inline int dmvf__cursor_next(dmvf__cursor *c, dmvf__field *f, dmvf__wbad *bad)
{
    if (DMVF_LIKELY(c->top == 0)) {
        const uint8_t *p = c->lv[0].p;
        if (p >= c->lv[0].end)
            return 0;
        f->at = p;
        f->next = dmvf__field_next(p, c->lv[0].end, &f->num, &f->wt, &f->val, &f->vlen, bad);
        if (DMVF_UNLIKELY(!f->next))
            return -1;
        c->lv[0].p = f->next;
        return 1;
    }
    return dmvf__cursor_next_piece(c, f, bad);
}

#endif
