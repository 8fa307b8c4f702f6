/*
 * notices_read.c - the notice queue read whole and checked: line by line
 * through one fixed buffer (a line is at most DMVF_NOTICE_MAX_LINE bytes
 * with its '\n'; notices_file.c draws the file), each line parsed
 * (notices_json.c), then the lines checked against each other.
 *
 *   a line    blank (nothing), or an object with "type" and "id" (16 hex
 *             digits) and, when present, "date" a YYYY-MM-DD date
 *   "notice"  with a non-empty "subject" and a YYYY-MM-DD "due"; its id
 *             used by no other notice
 *   "sent"    naming a notice on a line above it that is not already sent
 *
 * Any failure is DMVF_EMALFORMED naming the file, line and (where one is
 * at fault) byte: at the earliest line at which the file stops making
 * sense. For each notice it keeps 40 bytes (id, due, line, offset); the
 * due list reads the line again when printing it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/account/notices_json_int.h"
#include "filter/account/notices_read_int.h"

#define READ_CHUNK ((size_t)1 << 16)
#define LONG_LINE "line longer than DMVF_NOTICE_MAX_LINE (65536) bytes"

typedef struct lreader {
    int fd;
    char *buf;           /* DMVF_NOTICE_MAX_LINE + READ_CHUNK bytes */
    size_t start, end;   /* buf[start..end) is read but not yet handed out */
    uint64_t base;       /* file offset of buf[0] */
    uint64_t line;       /* 1-based number of the line last handed out */
    int eof;
} lreader;

/* Next line (without its '\n'). 1: *p, *n and *off set; 0: end of file;
 * -1: error with *why set (I/O when *io is set, else malformed). */
static int next_line(lreader *r, char **p, size_t *n, uint64_t *off, const char **why, int *io)
{
    const size_t cap = DMVF_NOTICE_MAX_LINE + READ_CHUNK;
    *io = 0;
    for (;;) {
        char *nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
        if (nl) {
            *p = r->buf + r->start;
            *n = (size_t)(nl - *p);
            *off = r->base + r->start;
            r->start += *n + 1;
            r->line++;
            if (*n + 1 > DMVF_NOTICE_MAX_LINE) {
                *why = LONG_LINE;
                return -1;
            }
            return 1;
        }
        if (r->end - r->start >= DMVF_NOTICE_MAX_LINE) {
            r->line++;
            *why = LONG_LINE;
            return -1;
        }
        if (r->eof) {
            if (r->end == r->start)
                return 0;
            r->line++;
            *why = "the file ends inside this line (no newline)";
            return -1;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->base += r->start;
            r->end -= r->start;
            r->start = 0;
        }
        ssize_t got;
        do
            got = pread(r->fd, r->buf + r->end, cap - r->end, (off_t)(r->base + r->end));
        while (got < 0 && errno == EINTR);
        if (got < 0) {
            *io = 1;
            *why = strerror(errno);
            return -1;
        }
        if (got == 0)
            r->eof = 1;
        r->end += (size_t)got;
    }
}

void dmvf__queue_free(dmvf__nqueue *q)
{
    free(q->nv);
    free(q->sv);
    free(q->lbuf);
    free(q->scratch);
}

static int queue_bufs(dmvf__nqueue *q, dmvf_error *err)
{
    q->lbuf = malloc(DMVF_NOTICE_MAX_LINE + READ_CHUNK);
    q->scratch = malloc(DMVF_NOTICE_MAX_LINE + 1);
    if (!q->lbuf || !q->scratch)
        return dmvf__seterr(err, DMVF_ENOMEM, "notice queue %s: out of memory", q->path);
    return DMVF_OK;
}

int dmvf__queue_malformed(dmvf_error *err, const char *path, uint64_t line, size_t byte,
                          const char *why)
{
    unsigned l = (unsigned)(line > UINT_MAX ? UINT_MAX : line);
    if (byte == DMVF__NO_BYTE)
        return dmvf__seterr_at(err, DMVF_EMALFORMED, l, 0, "notice queue %s:%llu: %s", path,
                               (unsigned long long)line, why);
    return dmvf__seterr_at(err, DMVF_EMALFORMED, l, (unsigned)(byte + 1),
                           "notice queue %s:%llu: %s (byte %zu of the line)", path,
                           (unsigned long long)line, why, byte + 1);
}

static int grow(void **p, size_t *cap, size_t n, size_t elt)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    if (nc > SIZE_MAX / elt)
        return -1;
    void *np = realloc(*p, nc * elt);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static int id_cmp(const void *a, const void *b)
{
    const dmvf__qnotice *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

dmvf__qnotice *dmvf__queue_find(dmvf__nqueue *q, uint64_t id)
{
    dmvf__qnotice key;
    key.id = id;
    return q->nn ? bsearch(&key, q->nv, q->nn, sizeof *q->nv, id_cmp) : NULL;
}

int dmvf__queue_read(dmvf__nqueue *q, int fd, dmvf_error *err)
{
    int rc = queue_bufs(q, err);
    if (rc)
        return rc;
    lreader r;
    memset(&r, 0, sizeof r);
    r.fd = fd;
    r.buf = q->lbuf;
    for (;;) {
        char *p;
        size_t n;
        uint64_t off;
        const char *why;
        int io;
        int got = next_line(&r, &p, &n, &off, &why, &io);
        if (got == 0)
            break;
        if (got < 0) {
            if (io)
                return dmvf__seterr(err, DMVF_EIO, "notice queue %s: read failed after line %llu: %s",
                                    q->path, (unsigned long long)r.line, why);
            return dmvf__queue_malformed(err, q->path, r.line, DMVF__NO_BYTE, why);
        }
        size_t blank = 0;
        while (blank < n && (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\r'))
            blank++;
        if (blank == n)
            continue;   /* an empty line is nothing */
        dmvf__jparser j = {(const unsigned char *)p, n, 0, q->scratch, 0, NULL};
        dmvf__nfields nf;
        if (dmvf__notice_line_parse(&j, &nf))
            return dmvf__queue_malformed(err, q->path, r.line, j.i < n ? j.i : n, j.why);
        uint64_t id;
        if (!nf.type.set)
            return dmvf__queue_malformed(err, q->path, r.line, DMVF__NO_BYTE, "no \"type\"");
        if (!nf.id.set || dmvf__notice_id_parse(nf.id.p, nf.id.n, &id))
            return dmvf__queue_malformed(err, q->path, r.line, DMVF__NO_BYTE,
                                         "no \"id\" of 16 hex digits");
        if (nf.date.set && !dmvf__date_parse(nf.date.p, nf.date.n))
            return dmvf__queue_malformed(err, q->path, r.line, DMVF__NO_BYTE,
                                         "\"date\" is not a YYYY-MM-DD date");
        if (strcmp(nf.type.p, "notice") == 0 && nf.type.n == 6) {
            uint32_t due;
            if (!nf.subject.set || nf.subject.n == 0)
                return dmvf__queue_malformed(err, q->path, r.line, DMVF__NO_BYTE,
                                             "a notice without a \"subject\"");
            if (!nf.due.set || !(due = dmvf__date_parse(nf.due.p, nf.due.n)))
                return dmvf__queue_malformed(err, q->path, r.line, DMVF__NO_BYTE,
                                             "a notice without a YYYY-MM-DD \"due\"");
            if (grow((void **)&q->nv, &q->ncap, q->nn, sizeof *q->nv))
                return dmvf__seterr(err, DMVF_ENOMEM, "notice queue %s: out of memory at line %llu",
                                    q->path, (unsigned long long)r.line);
            dmvf__qnotice *e = &q->nv[q->nn++];
            e->id = id;
            e->line = r.line;
            e->off = off;
            e->len = (uint32_t)n;
            e->due = due;
            e->sent_line = 0;
        } else if (strcmp(nf.type.p, "sent") == 0 && nf.type.n == 4) {
            if (grow((void **)&q->sv, &q->scap, q->ns, sizeof *q->sv))
                return dmvf__seterr(err, DMVF_ENOMEM, "notice queue %s: out of memory at line %llu",
                                    q->path, (unsigned long long)r.line);
            q->sv[q->ns].id = id;
            q->sv[q->ns].line = r.line;
            q->ns++;
        } else {
            return dmvf__queue_malformed(err, q->path, r.line, DMVF__NO_BYTE,
                                         "\"type\" is neither \"notice\" nor \"sent\"");
        }
    }

    /* ids: the earliest line at which the file stops making sense */
    if (q->nn > 1)
        qsort(q->nv, q->nn, sizeof *q->nv, id_cmp);
    uint64_t bad_line = UINT64_MAX;
    char why[160] = "";
    for (size_t i = 1; i < q->nn; i++) {
        if (q->nv[i].id == q->nv[i - 1].id) {
            uint64_t a = q->nv[i].line < q->nv[i - 1].line ? q->nv[i].line : q->nv[i - 1].line;
            uint64_t b = q->nv[i].line < q->nv[i - 1].line ? q->nv[i - 1].line : q->nv[i].line;
            if (b < bad_line) {
                bad_line = b;
                snprintf(why, sizeof why, "notice id %016llx already used on line %llu",
                         (unsigned long long)q->nv[i].id, (unsigned long long)a);
            }
        }
    }
    for (size_t i = 0; i < q->ns && q->sv[i].line < bad_line; i++) {
        dmvf__qnotice *e = dmvf__queue_find(q, q->sv[i].id);
        if (!e || e->line > q->sv[i].line) {
            bad_line = q->sv[i].line;
            snprintf(why, sizeof why, "\"sent\" for notice %016llx, which is not queued above it",
                     (unsigned long long)q->sv[i].id);
        } else if (e->sent_line) {
            bad_line = q->sv[i].line;
            snprintf(why, sizeof why, "notice %016llx already marked sent on line %llu",
                     (unsigned long long)q->sv[i].id, (unsigned long long)e->sent_line);
        } else {
            e->sent_line = q->sv[i].line;
        }
    }
    if (bad_line != UINT64_MAX)
        return dmvf__queue_malformed(err, q->path, bad_line, DMVF__NO_BYTE, why);
    return DMVF_OK;
}
