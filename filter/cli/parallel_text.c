/*
 * parallel_text.c - the records pipeline's text side, set up before the
 * threads start: a CSV input's header row read and checked where one
 * stream would check it, the output's CSV columns and header, a codec per
 * worker and a gatherer of unknown keys per slot.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/cli/parallel_int.h"

/* A library failure while setting up text: an exit code (message printed). */
static int setup_failed(const char *what, const dmvf_error *err)
{
    dmvf__cli_err("%s: %s", what, err->msg[0] ? err->msg : dmvf_strerror(err->code));
    return err->code ? dmvf__cli_exit_for(err->code) : DMVF_EXIT_SOFTWARE;
}

/* CSV input: reads its header row into slot 0, checks it with a codec on f
 * (its error, where one stream would give it, lands in p->status) and
 * counts its unknown columns; the bytes read past it are moved to the
 * slot's start (*len0), which is at offset *base0, on line *line0.
 * Returns 0 or an exit code (message printed). */
static int read_header(pipeline *pl, dmvf_filter *f, dmvf_cli_src *src, size_t *len0, uint64_t *base0,
                       uint64_t *line0)
{
    chunk *c = &pl->slots[0];
    size_t len = 0, hlen = 0;
    for (;;) {
        size_t cut;
        uint64_t nl;
        int b = len ? dmvf_text_boundary(DMVF_FORMAT_CSV, c->in, len, 0, pl->max_record, &cut, &nl) : 0;
        if (b != 0) {
            hlen = b > 0 ? cut : len;
            break;
        }
        if (dmvf__cli_grow(&c->in, &c->in_cap, len + pl->min_read) != 0) {
            dmvf__cli_err("out of memory");
            return DMVF_EXIT_NOMEM;
        }
        size_t got;
        int eof;
        int rc = dmvf__cli_src_read(src, c->in + len, pl->min_read, &got, &eof);
        if (rc)
            return rc;
        len += got;
        if (eof) {
            hlen = len;
            break;
        }
    }
    *len0 = len;
    *base0 = 0;
    *line0 = 1;
    if (hlen == 0)
        return 0;                   /* no input at all: no header, no record */
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_codec_options ho = {.in = DMVF_FORMAT_CSV, .out = DMVF_FORMAT_RECORDS};
    dmvf_codec *hc = dmvf_codec_create(f, &ho, &err);
    if (!hc)
        return setup_failed("input", &err);
    unsigned char none[16];
    dmvf_out_buffer o = {none, sizeof none, 0};
    dmvf_in_buffer in = {c->in, hlen, 0};
    int st = dmvf_codec_stream(hc, &o, &in, 1, &err);
    int merged = st != DMVF_OK || dmvf_codec_merge(pl->p->unknown, hc) == DMVF_OK;
    dmvf_codec_free(hc);
    if (!merged) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    if (st == DMVF_OK && (st = dmvf_columns_parse(c->in, hlen, &pl->in_cols, &err)) != DMVF_OK)
        err.record = UINT64_MAX;
    if (st != DMVF_OK) {
        pl->p->status = st;
        pl->p->err = err;
        return 0;
    }
    for (const unsigned char *q = c->in, *e = c->in + hlen; (q = memchr(q, '\n', (size_t)(e - q))); q++)
        (*line0)++;
    memmove(c->in, c->in + hlen, len - hlen);
    *len0 = len - hlen;
    *base0 = hlen;
    return 0;
}

int dmvf__cli_par_setup_text(pipeline *pl, dmvf_filter *f, dmvf_cli_src *src, size_t *len0, uint64_t *base0,
                             uint64_t *line0)
{
    dmvf_cli_par *p = pl->p;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int rc;
    if (p->in_fmt == DMVF_FORMAT_CSV && (rc = read_header(pl, f, src, len0, base0, line0)))
        return rc;
    if (p->status != DMVF_OK)
        return 0;
    if (p->out_fmt == DMVF_FORMAT_CSV) {
        int st = DMVF_OK;
        if (p->in_fmt == DMVF_FORMAT_CSV) {
            if (pl->in_cols)
                st = dmvf_columns_released(pl->in_cols, f, &pl->out_cols, &err);
        } else {
            dmvf_columns_options co = {p->csv_elements};
            st = dmvf_columns_for_filter(f, &co, &pl->out_cols, &err);
        }
        if (st != DMVF_OK)
            return setup_failed("output columns", &err);
        if (pl->out_cols && (rc = dmvf__cli_csv_header(pl->out_cols, &pl->hdr, &pl->hdr_cap, &pl->hdr_len)))
            return rc;
    }
    dmvf_codec_options co = {.in = p->in_fmt, .out = p->out_fmt, .columns = pl->out_cols,
                             .input_columns = pl->in_cols, .omit_header = 1};
    for (unsigned i = 0; i < pl->nworkers; i++)
        if (!(pl->workers[i].codec = dmvf_codec_create(pl->workers[i].f, &co, &err)))
            return setup_failed("request", &err);
    for (unsigned i = 0; pl->text && i < pl->nslots; i++)
        if (!(pl->slots[i].unk = dmvf_codec_create(NULL, NULL, &err)))
            return setup_failed("request", &err);
    return 0;
}
