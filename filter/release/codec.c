/*
 * codec.c - the codec stream of dmvfilter/format.h: records in one format,
 * through a filter, out in another.
 *
 *   input bytes --cut--> record text --decode--> wire --filter--> released
 *                                                       wire --encode--> queue --> out
 *
 *   cut      JSON Lines: at each LF. CSV: at the first LF outside quotes
 *            (dmvf__rowscan; the row is then parsed strictly, csv_row.c),
 *            the first row being the header (unless given). Records: the
 *            delimited reader of stream.c. A record wholly inside the
 *            caller's buffer is used in place; one split across calls is
 *            gathered in `acc`, never past the record limit.
 *   decode   json_read.c / csv_read.c into `wire` (canonical wire bytes).
 *   filter   dmvf_filter_record into `rel` (grown on DMVF_ESPACE): the
 *            filter decides, counts, drops, keeps subjects and refuses as
 *            for protobuf input. A text record that does not decode is
 *            judged by the filter as a malformed record
 *            (dmvf__filter_bad_record: dropped with drop_malformed, else
 *            the request's error).
 *   encode   json_write.c / csv_write.c / a length prefix, appended to the
 *            output queue, which is drained into the caller's buffer (held
 *            until the end when the rule has a record limit, and dropped
 *            when the limit refuses the request, so that a refused request
 *            releases nothing, as dmvf_filter_stream does).
 *
 * Positions: the codec counts stream bytes and lines; a record's error
 * gets its line, the column in that line and its stream offset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/format.h"
#include "filter/core/varint.h"
#include "filter/release/filter_int.h"
#include "filter/release/format_int.h"
#include "filter/release/stream_int.h"

struct dmvf_codec {
    dmvf_filter *f;
    dmvf_format in, out;
    const dmvf_columns *in_cols, *out_cols;
    dmvf_columns *own_in, *own_out;
    const dmvf_columns *given_in, *given_out;
    char *elements;                  /* column_options.elements, copied */
    int omit_header;
    uint64_t first_line;
    size_t max;

    /* reading */
    uint64_t offset;                 /* stream bytes consumed */
    uint64_t line;                   /* the line the next byte is on */
    uint64_t index;                  /* records read (without a filter) */
    int started;                     /* the first record (or header) was read */
    int header_out;                  /* the output header is queued */
    dmvf__wbuf acc;                  /* a record split across calls */
    int acc_done;                    /* the record in acc was handed out */
    dmvf__rowscan scan;
    dmvf__reader rd;
    dmvf__jdec jd;
    dmvf__row row;
    dmvf__wbuf tmp, wire, rel;

    /* writing */
    dmvf__cenc ce;
    dmvf__text q;
    size_t qpos;
    int hold;

    /* errors and unknown keys */
    int sticky;
    dmvf_error first;
    uint64_t unknown;
    size_t npaths;
    char *paths[DMVF__KEEP_UNKNOWN];
};

/* The record being handled. */
typedef struct rec {
    const uint8_t *p;
    size_t len;
    uint64_t offset, line, index;
    unsigned lead;               /* bytes of its first line before p (a byte order mark) */
} rec;

int dmvf_format_parse(const char *name, dmvf_format *out)
{
    DMVF_REQUIRE(name != NULL && out != NULL, "NULL argument");
    for (int f = DMVF_FORMAT_RECORDS; f <= DMVF_FORMAT_CSV; f++)
        if (strcmp(name, dmvf_format_name((dmvf_format)f)) == 0) {
            *out = (dmvf_format)f;
            return DMVF_OK;
        }
    return DMVF_EINVAL;
}

const char *dmvf_format_name(dmvf_format f)
{
    switch (f) {
    case DMVF_FORMAT_RECORDS: return "records";
    case DMVF_FORMAT_JSONL: return "jsonl";
    case DMVF_FORMAT_CSV: return "csv";
    default: return "?";
    }
}

/* ---- unknown keys ---- */

/* Keeps path among the first distinct ones: 0, or -1 (no memory: it is
 * only counted). */
static int add_path(dmvf_codec *c, const char *path, size_t n)
{
    if (c->npaths == DMVF__KEEP_UNKNOWN)
        return 0;
    for (size_t i = 0; i < c->npaths; i++)
        if (strlen(c->paths[i]) == n && memcmp(c->paths[i], path, n) == 0)
            return 0;
    char *s = malloc(n + 1);
    if (!s)
        return -1;
    memcpy(s, path, n);
    s[n] = '\0';
    c->paths[c->npaths++] = s;
    return 0;
}

static void on_unknown(void *ctx, const char *path, size_t n)
{
    (void)add_path(ctx, path, n);
}

static void clear_paths(dmvf_codec *c)
{
    for (size_t i = 0; i < c->npaths; i++)
        free(c->paths[i]);
    c->npaths = 0;
    c->unknown = 0;
}

/* ---- create, free, reset ---- */

/* The output columns, when the output is CSV and they are not given: from
 * the input's (CSV input, once its header is read) or the filter's plan.
 * None when the filter rewrites nothing (nothing is written then). */
static int make_out_cols(dmvf_codec *c, dmvf_error *err)
{
    if (c->out != DMVF_FORMAT_CSV || c->out_cols)
        return DMVF_OK;
    const dmvf_plan *plan = c->f ? dmvf__filter_plan(c->f) : NULL;
    if (c->f && !plan)
        return DMVF_OK;
    int rc;
    if (c->in == DMVF_FORMAT_CSV) {
        if (!c->in_cols)
            return DMVF_OK;
        rc = dmvf__columns_subset(c->in_cols, plan, &c->own_out, err);
    } else {
        rc = dmvf__columns_from_plan(plan, c->elements, &c->own_out, err);
    }
    c->out_cols = c->own_out;
    return rc;
}

dmvf_codec *dmvf_codec_create(dmvf_filter *f, const dmvf_codec_options *opts, dmvf_error *err)
{
    dmvf_codec_options o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    if ((unsigned)o.in > DMVF_FORMAT_CSV || (unsigned)o.out > DMVF_FORMAT_CSV) {
        dmvf__seterr(err, DMVF_EINVAL, "not a record format (records, jsonl or csv)");
        return NULL;
    }
    dmvf_codec *c = calloc(1, sizeof *c);
    if (!c) {
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory creating a codec");
        return NULL;
    }
    c->f = f;
    c->in = o.in;
    c->out = o.out;
    c->given_in = o.in == DMVF_FORMAT_CSV ? o.input_columns : NULL;
    c->given_out = o.out == DMVF_FORMAT_CSV ? o.columns : NULL;
    c->omit_header = o.omit_header;
    c->first_line = o.first_line ? o.first_line : 1;
    c->max = f ? dmvf__filter_max_record(f) : DMVF_DEFAULT_MAX_RECORD_BYTES;
    c->jd.unknown = on_unknown;
    c->jd.ctx = c;
    if (o.column_options.elements && !(c->elements = strdup(o.column_options.elements))) {
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory creating a codec");
        dmvf_codec_free(c);
        return NULL;
    }
    dmvf__reader_init(&c->rd, c->max);
    c->rd.allow_empty = o.empty_records != 0;
    dmvf_codec_reset(c, c->first_line);
    /* columns from the plan (or a given header) are made now, not at the first record */
    if (c->out == DMVF_FORMAT_CSV && !c->out_cols) {
        dmvf_error e;
        if (make_out_cols(c, &e) != DMVF_OK) {
            if (err)
                *err = e;
            dmvf_codec_free(c);
            return NULL;
        }
    }
    if (c->elements && dmvf__columns_spec_check(c->elements, err) != DMVF_OK) {
        dmvf_codec_free(c);      /* a bad spec is refused even where it is not used */
        return NULL;
    }
    return c;
}

void dmvf_codec_free(dmvf_codec *c)
{
    if (!c)
        return;
    clear_paths(c);
    dmvf_columns_free(c->own_in);
    dmvf_columns_free(c->own_out);
    free(c->elements);
    dmvf__wbuf_free(&c->acc);
    dmvf__reader_free(&c->rd);
    dmvf__jdec_free(&c->jd);
    dmvf__row_free(&c->row);
    dmvf__wbuf_free(&c->tmp);
    dmvf__wbuf_free(&c->wire);
    dmvf__wbuf_free(&c->rel);
    dmvf__cenc_free(&c->ce);
    dmvf__text_free(&c->q);
    free(c);
}

/* Drops the output not yet flushed (a refused request's held release),
 * wiped. */
static void drop_queue(dmvf_codec *c)
{
    if (c->q.p)
        memset(c->q.p, 0, c->q.len);
    c->q.len = c->qpos = 0;
}

void dmvf_codec_reset(dmvf_codec *c, uint64_t first_line)
{
    DMVF_REQUIRE(c != NULL, "codec is NULL");
    c->sticky = 0;
    c->offset = c->index = 0;
    c->line = first_line ? first_line : 1;
    c->started = c->header_out = 0;
    c->acc.len = 0;
    c->acc_done = 0;
    c->scan.quoted = 0;
    dmvf__reader_reset(&c->rd);
    drop_queue(c);
    c->q.failed = 0;
    clear_paths(c);
    dmvf_columns_free(c->own_in);
    c->own_in = NULL;
    c->in_cols = c->given_in;
    if (c->own_out && c->in == DMVF_FORMAT_CSV && !c->given_in) {
        dmvf_columns_free(c->own_out);  /* they came from the header: read again */
        c->own_out = NULL;
    }
    c->out_cols = c->given_out ? c->given_out : c->own_out;
    c->hold = c->f && dmvf_filter_max_records(c->f) > 0;
}

/* ---- errors ---- */

static int keep(dmvf_codec *c, int code, const dmvf_error *e)
{
    if (!c->sticky) {
        c->sticky = code;
        dmvf__error_keep(&c->first, code, e);
    }
    return code;
}

/* An error of the stream, not of one record: the codec's and the filter's. */
static int fail_all(dmvf_codec *c, int code, dmvf_error *e)
{
    if (c->f)
        dmvf__filter_fail(c->f, code, e);
    return keep(c, code, e);
}

/* Says where a record's error is: "line L, column C: " for text input
 * (column when at is set: err->offset then holds the offset in the record),
 * the stream offset, the record index. */
static void place(const dmvf_codec *c, const rec *r, int at, dmvf_error *e)
{
    uint64_t off = at && e->offset < r->len ? e->offset : 0;
    e->record = r->index;
    if (c->in == DMVF_FORMAT_RECORDS) {
        e->offset = r->offset + off; /* the record's length prefix */
        return;
    }
    uint64_t line = r->line;
    size_t from = 0;
    for (size_t i = 0; i < off; i++)
        if (r->p[i] == '\n') {
            line++;
            from = i + 1;
        }
    unsigned col = at ? (unsigned)(off - from + 1 + (from ? 0 : r->lead)) : 0;
    char where[64], msg[sizeof e->msg];
    if (col)
        snprintf(where, sizeof where, "line %llu, column %u: ", (unsigned long long)line, col);
    else
        snprintf(where, sizeof where, "line %llu: ", (unsigned long long)line);
    dmvf__text t = dmvf__text_buf(msg, sizeof msg);
    dmvf__text_puts(&t, where);
    dmvf__text_put(&t, e->msg, strnlen(e->msg, sizeof e->msg - 1 - t.len));
    memcpy(e->msg, msg, sizeof e->msg);
    e->line = line > UINT32_MAX ? UINT32_MAX : (unsigned)line;
    e->column = col;
    e->offset = r->offset + off;
}

/* A record of the input that cannot be read: the filter judges it (with
 * drop_malformed, dropped: DMVF_OK); else the codec's error too. */
static int bad_record(dmvf_codec *c, const rec *r, int code, int at, dmvf_error *e)
{
    place(c, r, at, e);
    if (!c->f) {
        c->index++;
        return keep(c, code, e);
    }
    int dropped;
    int rc = dmvf__filter_bad_record(c->f, code, &dropped, e);
    if (rc == DMVF_OK)
        return DMVF_OK;
    if (rc == DMVF_EREFUSED) {
        drop_queue(c);
        return rc;
    }
    e->record = r->index;
    return keep(c, rc, e);
}

static uint64_t next_index(const dmvf_codec *c)
{
    uint64_t in = c->index;
    if (c->f)
        dmvf_filter_counts(c->f, &in, NULL, NULL);
    return in;
}

/* ---- cutting records ---- */

static int acc_add(dmvf_codec *c, const uint8_t *p, size_t n, dmvf_error *e)
{
    if (dmvf__wbuf_reserve(&c->acc, n) != 0)
        return dmvf__seterr(e, DMVF_ENOMEM, "out of memory for a record split across reads");
    if (n)
        memcpy(c->acc.p + c->acc.len, p, n);
    c->acc.len += n;
    return DMVF_OK;
}

/* The record's text without its line break. */
static size_t text_len(const uint8_t *p, size_t n)
{
    if (n && p[n - 1] == '\n')
        n--;
    if (n && p[n - 1] == '\r')
        n--;
    return n;
}

/* A record that has not ended within the record limit: DMVF_ETOOBIG, or,
 * for CSV, a quoting error in its first c->max + 3 bytes (an unclosed quote
 * runs on): the same bytes whether the record came whole or in pieces, and
 * never dropped (its end is not known). A too long header is the header's
 * error. */
static int too_long(dmvf_codec *c, rec *r, dmvf_error *e)
{
    int at = 0, code = DMVF_ETOOBIG;
    if (c->in == DMVF_FORMAT_CSV) {
        size_t used, n = r->len < c->max + 3 ? r->len : c->max + 3;
        size_t max = c->in_cols ? (c->in_cols->ncells ? c->in_cols->ncells : 1) : DMVF_MAX_COLUMNS;
        if (dmvf__csv_row(r->p, n, 0, max, &c->row, &used, e) < 0 && e->code == DMVF_EMALFORMED)
            code = DMVF_EMALFORMED, at = 1;
    }
    if (code == DMVF_ETOOBIG)
        dmvf__seterr(e, DMVF_ETOOBIG, "a %s longer than the record limit of %zu bytes",
                     c->in == DMVF_FORMAT_CSV ? "row" : "line", c->max);
    place(c, r, at, e);
    if (c->in == DMVF_FORMAT_CSV && !c->in_cols)
        e->record = UINT64_MAX;  /* the header is no record */
    return fail_all(c, code, e);
}

/* The offset after the record end (an LF; for CSV outside quotes) in
 * p[0..n), or 0. */
static size_t record_end(dmvf_codec *c, const uint8_t *p, size_t n)
{
    if (c->in == DMVF_FORMAT_CSV)
        return dmvf__rowscan_next(&c->scan, p, n);
    const uint8_t *q = n ? memchr(p, '\n', n) : NULL;
    return q ? (size_t)(q - p) + 1 : 0;
}

/* The next record of text input: 1 with *r (its bytes in place or in acc,
 * valid until the next call), 0 when all input is taken (more is needed,
 * or it ended), -1 on an error (returned in *rc: a sticky code, or
 * DMVF_EREFUSED). */
static int cut_text(dmvf_codec *c, dmvf_in_buffer *in, int end, rec *r, int *rc, dmvf_error *e)
{
    if (c->acc_done) {
        c->acc.len = 0;
        c->acc_done = 0;
    }
    const uint8_t *p = (const uint8_t *)in->src + in->pos;
    size_t avail = in->size - in->pos;
    size_t stop = record_end(c, p, avail);
    if (!stop && !end) {
        /* no end yet: keep what there is, up to the limit (and a CR LF) */
        int over = c->acc.len + avail > c->max + 2;
        size_t keep_n = over ? c->max + 3 - c->acc.len : avail;
        if ((*rc = acc_add(c, p, keep_n, e)) != DMVF_OK)
            return *rc = fail_all(c, *rc, e), -1;
        in->pos += avail;
        c->offset += keep_n;
        if (over) {
            *r = (rec){c->acc.p, c->acc.len, c->offset - c->acc.len, c->line, next_index(c), 0};
            *rc = too_long(c, r, e);
            return -1;
        }
        return 0;
    }
    size_t take = stop ? stop : avail;
    if (!c->acc.len && !take)
        return 0;
    if (!c->acc.len) {
        r->p = p;
        r->len = take;
    } else {
        if ((*rc = acc_add(c, p, take, e)) != DMVF_OK)
            return *rc = fail_all(c, *rc, e), -1;
        r->p = c->acc.p;
        r->len = c->acc.len;
        c->acc_done = 1;
    }
    in->pos += take;
    c->offset += take;
    r->offset = c->offset - r->len;
    r->lead = 0;
    r->line = c->line;
    r->index = next_index(c);
    c->scan.quoted = 0;
    if (c->in == DMVF_FORMAT_JSONL || !memchr(r->p, '"', r->len)) {
        c->line += r->p[r->len - 1] == '\n';    /* one line: its LF ends it */
    } else {
        for (const uint8_t *q = r->p, *rend = r->p + r->len; (q = memchr(q, '\n', (size_t)(rend - q))); q++)
            c->line++;               /* quoted line breaks too */
    }
    if (!c->started) {
        c->started = 1;
        if (r->line == 1 && r->offset == 0 && r->len >= 3 && memcmp(r->p, "\xef\xbb\xbf", 3) == 0) {
            r->p += 3;           /* a byte order mark */
            r->len -= 3;
            r->offset += 3;
            r->lead = 3;
        }
    }
    if (text_len(r->p, r->len) > c->max) {
        *rc = too_long(c, r, e);
        return -1;
    }
    return 1;
}

/* ---- one record ---- */

static int flush(dmvf_codec *c, dmvf_out_buffer *out)
{
    if (c->hold)
        return 0;
    size_t n = c->q.len - c->qpos, room = out->size - out->pos;
    if (n > room)
        n = room;
    if (n) {
        memcpy((uint8_t *)out->dst + out->pos, c->q.p + c->qpos, n);
        out->pos += n;
        c->qpos += n;
    }
    if (c->qpos < c->q.len)
        return 1;
    c->q.len = c->qpos = 0;
    return 0;
}

static void put_header(dmvf_codec *c)
{
    if (c->header_out || c->out != DMVF_FORMAT_CSV || !c->out_cols)
        return;
    c->header_out = 1;
    if (!c->omit_header)
        dmvf__csv_header(c->out_cols, &c->q);
}

/* The released (or, without a filter, read) wire bytes w[0..n) of record r
 * into the queue. */
static int encode(dmvf_codec *c, const rec *r, const uint8_t *w, size_t n, dmvf_error *e)
{
    size_t was = c->q.len;
    int rc = DMVF_OK;
    switch (c->out) {
    case DMVF_FORMAT_JSONL:
        rc = dmvf__json_encode(w, n, &c->q, e);
        dmvf__text_put(&c->q, "\n", 1);
        break;
    case DMVF_FORMAT_CSV:
        if (!c->out_cols)
            return DMVF_OK;      /* nothing is written without columns */
        rc = dmvf__csv_encode(c->out_cols, w, n, &c->ce, &c->q, e);
        break;
    default: {
        uint8_t pre[10];
        size_t k = (size_t)(dmvf__put_varint(pre, n) - pre);
        dmvf__text_put(&c->q, pre, k);
        dmvf__text_put(&c->q, w, n);
        break;
    }
    }
    if (!rc && c->q.failed)
        rc = dmvf__seterr(e, DMVF_ENOMEM, "out of memory for output");
    if (rc) {
        c->q.len = was;
        place(c, r, 0, e);
        return fail_all(c, rc, e);
    }
    return DMVF_OK;
}

/* Record r's wire bytes w[0..n): filtered and written. */
static int release(dmvf_codec *c, const rec *r, const uint8_t *w, size_t n, dmvf_error *e)
{
    if (!c->f) {
        c->index++;
        return encode(c, r, w, n, e);
    }
    size_t olen = 0;
    int dropped = 0, rc;
    if (!c->rel.cap && dmvf__wbuf_grow(&c->rel, n + 1024) != 0)
        return fail_all(c, dmvf__seterr(e, DMVF_ENOMEM, "out of memory for a released record"), e);
    for (;;) {
        rc = dmvf_filter_record(c->f, w, n, c->rel.p, c->rel.cap, &olen, &dropped, e);
        if (rc != DMVF_ESPACE)
            break;
        if (dmvf__wbuf_grow(&c->rel, c->rel.cap ? c->rel.cap : n + 1024) != 0)
            return fail_all(c, dmvf__seterr(e, DMVF_ENOMEM, "out of memory for a released record"), e);
    }
    if (rc == DMVF_EREFUSED) {
        drop_queue(c);           /* the held output: nothing is released */
        return rc;
    }
    if (rc) {
        if (c->in == DMVF_FORMAT_RECORDS) {
            e->offset += r->offset + dmvf__varint_size(n);  /* into the stream, as dmvf_filter_stream */
            e->record = r->index;
        } else {
            place(c, r, 0, e);
        }
        return keep(c, rc, e);
    }
    if (dropped || !dmvf__filter_plan(c->f))
        return DMVF_OK;          /* dropped, or read only for its subject */
    return encode(c, r, c->rel.p, olen, e);
}

/* A text record: decoded, then released. */
static int text_record(dmvf_codec *c, const rec *r, dmvf_error *e)
{
    int rc;
    c->wire.len = 0;
    if (c->in == DMVF_FORMAT_JSONL) {
        rc = dmvf__json_decode(&c->jd, r->p, text_len(r->p, r->len), &c->wire, e);
        c->unknown += c->jd.unknown_keys;
    } else {
        size_t used = 0;
        size_t ncells = c->in_cols->ncells ? c->in_cols->ncells : 1;  /* no column: an empty line */
        int got = dmvf__csv_row(r->p, r->len, 1, ncells, &c->row, &used, e);
        if (got < 0) {
            rc = e->code;
        } else if (used != r->len) {
            rc = dmvf__seterr(e, DMVF_EMALFORMED, "bad quoting");
            e->offset = used;
        } else {
            rc = dmvf__csv_decode(c->in_cols, r->p, &c->row, &c->wire, &c->tmp, e);
        }
    }
    if (rc == DMVF_ENOMEM)
        return fail_all(c, rc, e);
    if (rc)
        return bad_record(c, r, rc, 1, e);
    return release(c, r, c->wire.p ? c->wire.p : (const uint8_t *)"", c->wire.len, e);
}

/* The CSV header (the first row): the input's columns, then the output's. */
static int header(dmvf_codec *c, const rec *r, dmvf_error *e)
{
    size_t used = 0;
    int got = dmvf__csv_row(r->p, r->len, 1, DMVF_MAX_COLUMNS, &c->row, &used, e);
    int rc = got < 0 ? e->code : DMVF_OK, at = rc == DMVF_EMALFORMED;
    if (!rc && used != r->len) {
        rc = dmvf__seterr(e, DMVF_EMALFORMED, "bad quoting");
        e->offset = used;
        at = 1;
    }
    if (!rc)
        rc = dmvf__columns_from_row(r->p, &c->row, &c->own_in, e);
    if (rc) {
        place(c, r, at, e);
        e->record = UINT64_MAX;  /* the header is no record */
        return fail_all(c, rc, e);
    }
    c->in_cols = c->own_in;
    c->unknown += c->own_in->nunknown;
    for (size_t i = 0; i < c->own_in->nunknown && i < DMVF__KEEP_UNKNOWN; i++)
        add_path(c, c->own_in->unknown[i], strlen(c->own_in->unknown[i]));
    if ((rc = make_out_cols(c, e)) != DMVF_OK)
        return fail_all(c, rc, e);
    return DMVF_OK;
}

/* ---- the stream ---- */

static int codec_stream(dmvf_codec *c, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *e)
{
    if (c->sticky)
        return dmvf__seterr(e, DMVF_ESTATE, "codec is in an error state (%s): reset it",
                            dmvf_strerror(c->sticky));
    if (c->f && dmvf__filter_refuses(c->f))
        return dmvf__seterr(e, DMVF_EREFUSED, "request not released: %s", dmvf_filter_reason(c->f));
    if (c->in != DMVF_FORMAT_CSV || c->in_cols)
        put_header(c);
    for (;;) {
        if (flush(c, out))
            return DMVF_ESPACE;
        rec r;
        int rc = DMVF_OK;
        if (c->in == DMVF_FORMAT_RECORDS) {
            uint64_t at;
            int got = dmvf__reader_next(&c->rd, in, end, &r.p, &r.len, &at, e);
            if (got < 0) {
                e->record = next_index(c);
                return fail_all(c, e->code, e);
            }
            if (got == 0)
                break;
            r.offset = at;
            r.line = 0;
            r.lead = 0;
            r.index = next_index(c);
            rc = release(c, &r, r.p, r.len, e);
        } else {
            int got = cut_text(c, in, end, &r, &rc, e);
            if (got < 0) {
                if (rc)
                    return rc;
                continue;        /* dropped */
            }
            if (got == 0)
                break;
            if (c->in == DMVF_FORMAT_CSV && !c->in_cols) {
                rc = header(c, &r, e);
                if (!rc)
                    put_header(c);
            } else {
                rc = text_record(c, &r, e);
            }
        }
        if (rc)
            return rc;
    }
    if (end) {
        c->hold = 0;
        if (flush(c, out))
            return DMVF_ESPACE;
    }
    return DMVF_OK;
}

int dmvf_codec_stream(dmvf_codec *c, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err)
{
    DMVF_REQUIRE(c != NULL && out != NULL && in != NULL, "NULL argument");
    dmvf_error local;
    dmvf_error *e = err ? err : &local;
    local.code = DMVF_OK;
    return codec_stream(c, out, in, end, e);
}

int dmvf_codec_last_error(const dmvf_codec *c, dmvf_error *out)
{
    DMVF_REQUIRE(c != NULL, "codec is NULL");
    return dmvf__error_get(c->sticky, &c->first, out);
}

uint64_t dmvf_codec_unknown_count(const dmvf_codec *c)
{
    DMVF_REQUIRE(c != NULL, "codec is NULL");
    return c->unknown;
}

size_t dmvf_codec_unknown_paths(const dmvf_codec *c)
{
    DMVF_REQUIRE(c != NULL, "codec is NULL");
    return c->npaths;
}

const char *dmvf_codec_unknown(const dmvf_codec *c, size_t i)
{
    DMVF_REQUIRE(c != NULL && i < c->npaths, "index out of range");
    return c->paths[i];
}

int dmvf_codec_merge(dmvf_codec *dst, const dmvf_codec *src)
{
    DMVF_REQUIRE(dst != NULL && src != NULL, "NULL argument");
    size_t had = dst->npaths;
    for (size_t i = 0; i < src->npaths; i++)
        if (add_path(dst, src->paths[i], strlen(src->paths[i])) != 0) {
            while (dst->npaths > had)
                free(dst->paths[--dst->npaths]);
            return DMVF_ENOMEM;
        }
    dst->unknown += src->unknown;
    return DMVF_OK;
}
