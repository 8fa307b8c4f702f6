/*
 * members.c - gzip members that follow the released bytes, never the input,
 * for the records pipeline (parallel.c).
 *
 * A member ends after each released record that reaches or crosses a
 * multiple of member_bytes (DMVF_CLI_MEMBER_BYTES, 1 MiB) of released
 * output, and the last one at the end of the release:
 *
 *   released  | rec | rec | rec | rec | rec | rec | rec | rec |
 *             0           S ^         2S ^                   ^ end
 *   members   [ member 1    ][ member 2   ][ member 3         ]
 *
 * so two inputs that release the same bytes (a record and its twin, which
 * differ only in redacted fields and so in size) give the same gzip file,
 * whatever the chunk size and the thread count. The rule is local: given
 * where a record starts in the released bytes, whether a member ends after
 * it needs nothing else. So the released output is cut into pieces (a
 * pipeline chunk's output: whole records), each placed in order (its
 * offset: the bytes released before it), after which the members that end
 * in a piece can be compressed apart from the others, in parallel:
 *
 *   piece k:  | tail of a member | member | ... | member | head of the next |
 *              ^ the carry (earlier pieces' bytes after their last cut)
 *                precedes it: together the piece's first member
 *                                                         ^ the new carry
 *
 * Each member is a gzip member (or a zstd frame, --compress zstd) of its
 * bytes alone (compress.c: its bytes depend on its content only), so the
 * concatenation is a multi-member gzip file that every gunzip reads as the
 * release; an empty release is one empty member.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"

int dmvf__cli_grow(unsigned char **buf, size_t *cap, size_t want)
{
    return dmvf__cz_grow(buf, cap, want);
}

static int append(unsigned char **buf, size_t *cap, size_t *len, const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (dmvf__cli_grow(buf, cap, *len + n) != 0)
        return -1;
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

/* 1 when a member ends after the released record at [s, e): it reaches or
 * crosses a multiple of the member size. */
static int cut_after(uint64_t s, uint64_t e, size_t member_bytes)
{
    return e / member_bytes > s / member_bytes;
}

/* The end of the released record at out[pos..len) (whole records: a
 * delimited record, or a JSON Lines line or CSV row with its line break). */
static size_t record_end(dmvf_format fmt, const unsigned char *out, size_t len, size_t pos)
{
    if (fmt != DMVF_FORMAT_RECORDS) {
        size_t cut;
        uint64_t lines;
        if (dmvf_text_boundary(fmt, out + pos, len - pos, 1, len - pos, &cut, &lines) != 1)
            return len;
        return pos + cut;
    }
    uint64_t n;
    size_t pre;
    if (dmvf_stream_prefix(out + pos, len - pos, &n, &pre) != 1 || n > len - pos - pre)
        return len;
    return pos + pre + (size_t)n;
}

int dmvf__cli_members_place(dmvf_cli_members *m, dmvf_cli_piece *pc)
{
    uint64_t base = m->placed;
    size_t first = SIZE_MAX, last = 0;
    for (size_t pos = 0; pos < pc->len;) {
        size_t end = record_end(m->fmt, pc->out, pc->len, pos);
        if (cut_after(base + pos, base + end, m->member_bytes)) {
            if (first == SIZE_MAX)
                first = end;
            last = end;
        }
        pos = end;
    }
    pc->base = base;
    pc->fmt = m->fmt;
    pc->head_len = 0;
    m->placed += pc->len;
    if (first == SIZE_MAX) /* no member ends here: all of it joins the carry */
        return append(&m->carry, &m->carry_cap, &m->carry_len, pc->out, pc->len);
    /* the carry starts the first member: it becomes the piece's head, and the
       head's old buffer the carry's */
    unsigned char *b = pc->head;
    size_t cap = pc->head_cap;
    pc->head = m->carry;
    pc->head_cap = m->carry_cap;
    pc->head_len = m->carry_len;
    m->carry = b;
    m->carry_cap = cap;
    m->carry_len = 0;
    if (append(&pc->head, &pc->head_cap, &pc->head_len, pc->out, first) != 0)
        return -1;
    return append(&m->carry, &m->carry_cap, &m->carry_len, pc->out + last, pc->len - last);
}

int dmvf__cli_members_compress(dmvf_cz_enc *enc, size_t member_bytes, const dmvf_cli_piece *pc,
                               unsigned char **gz, size_t *gz_cap, size_t *gz_len, uint64_t *members,
                               int *rc)
{
    size_t start = 0;
    int first = 1;
    for (size_t pos = 0; pos < pc->len;) {
        size_t end = record_end(pc->fmt, pc->out, pc->len, pos);
        if (cut_after(pc->base + pos, pc->base + end, member_bytes)) {
            const unsigned char *src = first ? pc->head : pc->out + start;
            size_t n = first ? pc->head_len : end - start;
            int r = dmvf__cz_enc_member(enc, src, n, gz, gz_cap, gz_len);
            if (r) {
                *rc = r == DMVF_CZ_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
                return -1;
            }
            (*members)++;
            first = 0;
            start = end;
        }
        pos = end;
    }
    return 0;
}

int dmvf__cli_members_finish(dmvf_cli_members *m, dmvf_cz_enc *enc, uint64_t written, unsigned char **gz,
                             size_t *cap, size_t *len, int *rc)
{
    if (m->carry_len == 0 && written > 0)
        return 0;
    int r = dmvf__cz_enc_member(enc, m->carry, m->carry_len, gz, cap, len);
    if (r)
        *rc = r == DMVF_CZ_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
    return r ? -1 : 0;
}

void dmvf__cli_members_free(dmvf_cli_members *m)
{
    free(m->carry);
    m->carry = NULL;
    m->carry_cap = m->carry_len = 0;
}
