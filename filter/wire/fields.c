/*
 * fields.c - groups stepped over, and the cursor over a message sent in
 * pieces (fields_int.h).
 *
 * A group is read as a flat run of fields in which START_GROUP opens and
 * END_GROUP closes, the closing number equal to the opening one:
 *
 *   a3 06  08 01  1a 02 68 69  ab 06 ac 06  a4 06
 *   \___/  \___/  \_________/  \_________/  \___/
 *   start  field  field 3,     group 101    end 100
 *   100    1      LEN, skipped (empty)
 *
 * A cursor keeps one read position per level of the chain up -> ... -> m:
 * when the message's current piece is used up it asks the level above for
 * the next occurrence of the field, which may itself need the next piece
 * of the level above that.
 */
#include "filter/wire/fields_int.h"

const uint8_t *dmvf__group_skip(const uint8_t *key, const uint8_t *p, const uint8_t *end, uint32_t num,
                                dmvf__wbad *bad)
{
    uint32_t open[DMVF__MAX_GROUP_DEPTH];
    const uint8_t *open_at[DMVF__MAX_GROUP_DEPTH];
    unsigned depth = 1;
    open[0] = num;
    open_at[0] = key;
    while (depth) {
        if (p >= end) {
            *bad = (dmvf__wbad){open_at[depth - 1], "group not closed before the end of its message",
                                open[depth - 1]};
            return NULL;
        }
        uint32_t n, vlen;
        unsigned wt;
        const uint8_t *val;
        if ((p[0] & 7u) == DMVF__WT_SGROUP) {
            /* a nested start: read its key here, the switch below would recurse */
            size_t k = dmvf__key_read(p, end, &n, &wt);
            if (k == 0) {
                *bad = (dmvf__wbad){p, "bad field key", 0};
                return NULL;
            }
            if (depth == DMVF__MAX_GROUP_DEPTH) {
                *bad = (dmvf__wbad){p, "groups nested too deep", n};
                return NULL;
            }
            open_at[depth] = p;
            open[depth++] = n;
            p += k;
            continue;
        }
        if ((p[0] & 7u) == DMVF__WT_EGROUP) {
            const uint8_t *at = p;
            size_t k = dmvf__key_read(p, end, &n, &wt);
            if (k == 0) {
                *bad = (dmvf__wbad){p, "bad field key", 0};
                return NULL;
            }
            if (n != open[depth - 1]) {
                *bad = (dmvf__wbad){at, "end of a group does not match its start", n};
                return NULL;
            }
            depth--;
            p += k;
            continue;
        }
        p = dmvf__field_next(p, end, &n, &wt, &val, &vlen, bad);
        if (!p)
            return NULL;
    }
    return p;
}

void dmvf__cursor_init_pieces(dmvf__cursor *c, const dmvf__msg *m)
{
    const dmvf__msg *chain[DMVF_MAX_SCHEMA_DEPTH];
    unsigned n = 0;
    for (const dmvf__msg *x = m; x; x = x->up) {
        DMVF_REQUIRE(n < DMVF_MAX_SCHEMA_DEPTH, "message pieces chained deeper than the schema");
        chain[n++] = x;
    }
    c->top = n - 1;
    for (unsigned i = 0; i < n; i++) {
        const dmvf__msg *x = chain[n - 1 - i];
        c->lv[i].num = x->num;
        c->lv[i].p = i == 0 ? x->p : NULL;
        c->lv[i].end = i == 0 ? x->end : NULL;
    }
}

/* Level lv's next field: 1, 0 at its end, -1 malformed. */
static int level_next(dmvf__cursor *c, unsigned lv, dmvf__field *f, dmvf__wbad *bad);

/* Moves level lv (> 0) onto the next piece: the next occurrence of its
 * field in level lv - 1. 1, 0 when there is none, -1 malformed. */
static int next_piece(dmvf__cursor *c, unsigned lv, dmvf__wbad *bad)
{
    dmvf__field up;
    for (;;) {
        int k = level_next(c, lv - 1, &up, bad);
        if (k <= 0)
            return k;
        if (up.num == c->lv[lv].num && up.wt == DMVF__WT_LEN) {
            c->lv[lv].p = up.val;
            c->lv[lv].end = up.val + up.vlen;
            return 1;
        }
    }
}

static int level_next(dmvf__cursor *c, unsigned lv, dmvf__field *f, dmvf__wbad *bad)
{
    while (c->lv[lv].p >= c->lv[lv].end) {
        if (lv == 0)
            return 0;
        int k = next_piece(c, lv, bad);
        if (k <= 0)
            return k;
    }
    const uint8_t *p = c->lv[lv].p;
    f->at = p;
    f->next = dmvf__field_next(p, c->lv[lv].end, &f->num, &f->wt, &f->val, &f->vlen, bad);
    if (!f->next)
        return -1;
    c->lv[lv].p = f->next;
    return 1;
}

int dmvf__cursor_next_piece(dmvf__cursor *c, dmvf__field *f, dmvf__wbad *bad)
{
    return level_next(c, c->top, f, bad);
}
