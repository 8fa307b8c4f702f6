/*
 * pump.c - the filter command's stream pump: input read in 1 MiB pieces
 * through a records filter, a codec (text input or output) or a framed stream, the output written where it
 * goes (dmvf_cli_pump_out), on one thread (the records pipeline is
 * parallel.c's).
 *
 * A framed release leaves request by request: a request's bytes may leave
 * once its trailer frame is whole in the output, since its notices and
 * RELEASE entry are durable by then (the audit hook runs before the trailer
 * is made). The cutter follows the output's frames (framed.h: each a varint
 * length, then the Frame's one body field, whose key is 0x12 for a record,
 * 0x1a for a trailer, 0x22 for the seal):
 *
 *   | len | 12 ... | len | 12 ... | len | 1a ... | len | 12 ... | len | 22 ... |
 *                                          ^ the first request may leave
 *
 * Each whole trailer is checked against the audit hook's count of the
 * requests it has seen to their end: a trailer never leaves before its
 * request's entries are on disk.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"

#define BUF_SIZE ((size_t)1 << 20)

typedef int (*stream_fn)(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err);
typedef void (*count_fn)(void *h, uint64_t *records);

static int stream_filter(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err)
{
    return dmvf_filter_stream(h, out, in, end, err);
}

static int stream_framed(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err)
{
    return dmvf_framed_stream(h, out, in, end, err);
}

typedef struct codec_on {
    dmvf_codec *c;
    dmvf_filter *f;
} codec_on;

static int stream_codec(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err)
{
    return dmvf_codec_stream(((codec_on *)h)->c, out, in, end, err);
}

static void count_codec(void *h, uint64_t *records)
{
    uint64_t out, dropped;
    dmvf_filter_counts(((codec_on *)h)->f, records, &out, &dropped);
}

static void count_filter(void *h, uint64_t *records)
{
    uint64_t out, dropped;
    dmvf_filter_counts(h, records, &out, &dropped);
}

static void count_framed(void *h, uint64_t *records)
{
    dmvf_framed_stats st;
    dmvf_framed_stats_get(h, &st);
    *records = st.records_in;
}

static int membuf_add(dmvf_cli_membuf *m, const void *b, size_t n)
{
    if (n > m->max - m->len) {
        dmvf__cli_err("the would-be release is larger than %zu MiB, too large to hold for review; "
                      "nothing released", m->max >> 20);
        return DMVF_EXIT_DATAERR;
    }
    if (m->len + n > m->cap) {
        size_t want = m->cap ? m->cap : 65536;
        while (want < m->len + n)
            want *= 2;
        unsigned char *np = realloc(m->p, want);
        if (!np) {
            dmvf__cli_err("out of memory");
            return DMVF_EXIT_NOMEM;
        }
        m->p = np;
        m->cap = want;
    }
    if (n)
        memcpy(m->p + m->len, b, n);
    m->len += n;
    return 0;
}

/* The length of p's leading part that ends with a whole trailer frame, 0
 * when no trailer frame ends in p[0..n). */
static size_t frame_cut_scan(dmvf_cli_frame_cut *fc, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (fc->state == DMVF_CLI_CUT_PREFIX) {
            unsigned char b = p[i++];
            if (fc->shift < 64)
                fc->len |= (uint64_t)(b & 0x7f) << fc->shift;
            fc->shift += 7;
            if (!(b & 0x80)) {
                fc->state = fc->len ? DMVF_CLI_CUT_KEY : DMVF_CLI_CUT_PREFIX;
                fc->shift = 0;
            }
            continue;
        }
        if (fc->state == DMVF_CLI_CUT_KEY) {
            fc->trailer = p[i++] == 0x1a;
            fc->need = fc->len - 1;
            fc->state = DMVF_CLI_CUT_BODY;
        } else {
            size_t take = fc->need < (uint64_t)(n - i) ? (size_t)fc->need : n - i;
            i += take;
            fc->need -= take;
        }
        if (fc->state == DMVF_CLI_CUT_BODY && fc->need == 0) {
            fc->state = DMVF_CLI_CUT_PREFIX;
            fc->len = 0;
            if (fc->trailer) {
                fc->trailers++;
                return i;
            }
        }
    }
    return 0;
}

static int emit(const dmvf_cli_pump_out *po, const unsigned char *p, size_t n)
{
    if (!po->sink)
        return po->mem ? membuf_add(po->mem, p, n) : 0;
    dmvf_cli_frame_cut *fc = po->fc;
    while (fc && n > 0) {
        size_t k = frame_cut_scan(fc, p, n);
        if (k == 0)
            break;
        if (fc->trailers > *fc->accounted) {
            dmvf__cli_err("a trailer reached the output before its request was accounted for; "
                          "nothing more released");
            return DMVF_EXIT_SOFTWARE;
        }
        int rc = dmvf__cli_sink_write(po->sink, p, k);
        if (!rc)
            rc = dmvf__cli_sink_release(po->sink);
        if (rc)
            return rc;
        fc->left++;
        fc->left_bytes = po->sink->sent;
        p += k;
        n -= k;
    }
    return dmvf__cli_sink_write(po->sink, p, n);
}

static int pump(void *h, stream_fn fn, count_fn cnt, dmvf_cli_src *src, const dmvf_cli_pump_out *po,
                size_t max_record, int quiet, int *status, dmvf_error *err)
{
    *status = DMVF_OK;
    size_t out_cap = BUF_SIZE;
    size_t out_limit = max_record <= (SIZE_MAX - BUF_SIZE) / 4 ? max_record * 4 + BUF_SIZE : SIZE_MAX / 2;
    unsigned char *inbuf = malloc(BUF_SIZE);
    unsigned char *outbuf = malloc(out_cap);
    int rc = 0;
    dmvf_cli_progress pg;
    dmvf__cli_progress_start(&pg, quiet);
    if (!inbuf || !outbuf) {
        dmvf__cli_err("out of memory");
        rc = DMVF_EXIT_NOMEM;
        goto done;
    }
    for (;;) {
        size_t n;
        int eof;
        rc = dmvf__cli_src_read(src, inbuf, BUF_SIZE, &n, &eof);
        if (rc)
            goto done;
        dmvf_in_buffer in = {inbuf, n, 0};
        int st;
        for (;;) {
            dmvf_out_buffer out = {outbuf, out_cap, 0};
            size_t in_before = in.pos;
            st = fn(h, &out, &in, eof, err);
            if (out.pos > 0) {
                rc = emit(po, outbuf, out.pos);
                if (rc)
                    goto done;
            }
            if (st != DMVF_ESPACE)
                break;
            if (out.pos == 0 && in.pos == in_before) {
                /* not even one record fits: grow the output, within bounds */
                size_t want = out_cap * 2;
                unsigned char *nb = want <= out_limit ? realloc(outbuf, want) : NULL;
                if (!nb) {
                    dmvf__cli_err("output buffer cannot grow past %zu bytes for one record", out_cap);
                    rc = want <= out_limit ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
                    goto done;
                }
                outbuf = nb;
                out_cap = want;
            }
        }
        if (st != DMVF_OK) {
            *status = st;
            goto done;
        }
        if (pg.on) {
            uint64_t records;
            cnt(h, &records);
            dmvf__cli_progress_tick(&pg, records, src->bytes_out);
        }
        if (eof)
            break;
    }
done:
    dmvf__cli_progress_clear(&pg);
    free(inbuf);
    free(outbuf);
    return rc;
}

int dmvf__cli_pump_filter(dmvf_filter *f, dmvf_cli_src *src, const dmvf_cli_pump_out *po, size_t max_record,
                          int quiet, int *status, dmvf_error *err)
{
    return pump(f, stream_filter, count_filter, src, po, max_record, quiet, status, err);
}

int dmvf__cli_pump_codec(dmvf_codec *c, dmvf_filter *f, dmvf_cli_src *src, const dmvf_cli_pump_out *po,
                         size_t max_record, int quiet, int *status, dmvf_error *err)
{
    codec_on h = {c, f};
    return pump(&h, stream_codec, count_codec, src, po, max_record, quiet, status, err);
}

int dmvf__cli_pump_framed(dmvf_framed *fr, dmvf_cli_src *src, const dmvf_cli_pump_out *po, size_t max_record,
                          int quiet, int *status, dmvf_error *err)
{
    return pump(fr, stream_framed, count_framed, src, po, max_record, quiet, status, err);
}
