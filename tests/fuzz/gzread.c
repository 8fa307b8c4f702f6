/*
 * gzread.c - the command line's compressed input path (filter/cli/io.c),
 * reading from memory; see gzread.h. The functions keep io.c's names in
 * comments and its control flow line for line; the decoders are the
 * command line's own (filter/cli/compress.c, compiled into the target);
 * only the file descriptor, the error reporting and the exit codes differ
 * (a gzip or zstd error is DMVF_EGZIP, the inflate limit DMVF_ETOOBIG,
 * where the command line exits 65 for both):
 *
 *   data[] --gz_file_read()--> raw[] --dmvf__cz_dec_stream()--> caller's buffer
 *            (short reads)       ^ raw_base counts compressed bytes before
 *                                  raw[0], so an error names its offset
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/common.h"
#include "filter/cli/compress.h"
#include "gzread.h"

/* The command line's input source (filter/cli/io.c), reading from memory. */
typedef struct gz_src {
    const uint8_t *file;
    size_t file_len, file_pos;
    uint64_t *rng;              /* NULL: reads as large as asked */
    dmvf_cz_engine engine;      /* the gzip decoder */
    uint8_t *raw;
    size_t raw_cap, raw_len, raw_pos;
    int raw_eof;
    dmvf_cz_format comp;
    dmvf_cz_dec *dec;
    dmvf_cz_in zin;
    uint64_t raw_base;
    uint64_t bytes_out;
    uint64_t max_inflate;
    char msg[400];
} gz_src;

#define GZ_RAW_CAP ((size_t)1 << 16)

static size_t gz_file_read(gz_src *s, uint8_t *buf, size_t cap)
{
    size_t k = s->file_len - s->file_pos;
    if (k > cap)
        k = cap;
    if (s->rng && k)
        k = dmvf__fuzz_piece(s->rng, k);
    memcpy(buf, s->file + s->file_pos, k);
    s->file_pos += k;
    return k;
}

/* comp_consumed */
static uint64_t gz_consumed(const gz_src *s)
{
    return s->raw_base + (uint64_t)s->zin.pos;
}

/* comp_error */
static int gz_error(gz_src *s, const char *what, int decoder)
{
    uint64_t off = gz_consumed(s);
    int exact = decoder ? dmvf__cz_dec_where(s->dec, &off) : 1;
    snprintf(s->msg, sizeof s->msg, "%s: %s %sat compressed byte offset %llu", dmvf__cz_format_name(s->comp),
             what, exact ? "" : "in the member starting ", (unsigned long long)off);
    return DMVF_EGZIP;
}

/* comp_check_limit: DMVF_ETOOBIG (the command line's DMVF_EXIT_DATAERR,
 * "inflates past") when total is past the limit, else 0. */
static int gz_check_limit(gz_src *s, uint64_t total)
{
    char m[300];
    if (dmvf__cz_limit(total, gz_consumed(s), s->max_inflate, m, sizeof m) == 0)
        return 0;
    snprintf(s->msg, sizeof s->msg, "%s: %s", dmvf__cz_format_name(s->comp), m);
    return DMVF_ETOOBIG;
}

/* dmvf__cli_src_open */
static int gz_open(gz_src *s, const uint8_t *data, size_t n, uint64_t *rng, dmvf_cz_engine engine)
{
    memset(s, 0, sizeof *s);
    s->file = data;
    s->file_len = n;
    s->rng = rng;
    s->engine = engine;
    s->raw_cap = GZ_RAW_CAP;
    s->raw = malloc(s->raw_cap);
    if (!s->raw)
        abort();
    while (s->raw_len < DMVF_CZ_MAGIC_LEN && !s->raw_eof) {
        size_t r = gz_file_read(s, s->raw + s->raw_len, s->raw_cap - s->raw_len);
        if (r == 0)
            s->raw_eof = 1;
        s->raw_len += r;
    }
    s->comp = dmvf__cz_detect(s->raw, s->raw_len);
    if (s->comp != DMVF_CZ_NONE) {
        int err;
        s->dec = dmvf__cz_dec_create(s->comp, engine, &err);
        if (!s->dec) {
            snprintf(s->msg, sizeof s->msg, "%s: cannot start decoding", dmvf__cz_format_name(s->comp));
            return DMVF_ENOMEM;
        }
        s->zin.src = s->raw;
        s->zin.size = s->raw_len;
        s->zin.pos = 0;
    }
    return DMVF_OK;
}

/* comp_read */
static int gz_read(gz_src *s, uint8_t *buf, size_t cap, size_t *n, int *eof)
{
    size_t have = 0;
    if (s->max_inflate) {
        /* inflate at most one byte past the limit: enough to see it passed */
        uint64_t room = s->bytes_out < s->max_inflate ? s->max_inflate - s->bytes_out : 0;
        if (cap > 0 && room < (uint64_t)cap - 1)
            cap = (size_t)room + 1;
    }
    while (have < cap) {
        if (s->zin.pos == s->zin.size && !s->raw_eof) {
            s->raw_base += s->raw_len;
            s->raw_len = 0;
            size_t r = gz_file_read(s, s->raw, s->raw_cap);
            if (r == 0)
                s->raw_eof = 1;
            s->raw_len = r;
            s->zin.size = r;
            s->zin.pos = 0;
        }
        size_t in0 = s->zin.pos, out0 = have;
        dmvf_cz_out out = {buf, cap, have};
        int zr = dmvf__cz_dec_stream(s->dec, &out, &s->zin);
        have = out.pos;
        if (zr == DMVF_CZ_ENOMEM) {
            snprintf(s->msg, sizeof s->msg, "%s: out of memory", dmvf__cz_format_name(s->comp));
            return DMVF_ENOMEM;
        }
        if (zr)
            return gz_error(s, dmvf__cz_dec_msg(s->dec), 1);
        if (gz_check_limit(s, s->bytes_out + have))
            return DMVF_ETOOBIG;
        if (s->zin.pos == in0 && have == out0) {
            if (s->zin.pos < s->zin.size)
                return gz_error(s, "the decoder stopped", 0);
            if (s->raw_eof) {
                if (!dmvf__cz_dec_at_end(s->dec))
                    return gz_error(s, "unexpected end of compressed data", 0);
                *eof = 1;
                break;
            }
        }
        if (have > 0 && s->zin.pos == s->zin.size && !s->raw_eof)
            break;
    }
    *n = have;
    s->bytes_out += have;
    return DMVF_OK;
}

/* dmvf__cli_src_read */
static int gz_src_read(gz_src *s, uint8_t *buf, size_t cap, size_t *n, int *eof)
{
    *n = 0;
    *eof = 0;
    if (s->comp != DMVF_CZ_NONE)
        return gz_read(s, buf, cap, n, eof);
    if (s->raw_pos < s->raw_len) {
        size_t k = s->raw_len - s->raw_pos;
        if (k > cap)
            k = cap;
        memcpy(buf, s->raw + s->raw_pos, k);
        s->raw_pos += k;
        *n = k;
        s->bytes_out += k;
        return DMVF_OK;
    }
    if (s->raw_eof) {
        *eof = 1;
        return DMVF_OK;
    }
    size_t r = gz_file_read(s, buf, cap);
    if (r == 0) {
        s->raw_eof = 1;
        *eof = 1;
        return DMVF_OK;
    }
    *n = r;
    s->bytes_out += r;
    return DMVF_OK;
}

static void gz_close(gz_src *s)
{
    dmvf__cz_dec_free(s->dec);
    free(s->raw);
}

int dmvf__fuzz_gunzip(const uint8_t *data, size_t n, uint64_t *rng, uint64_t max_inflate,
                      uint8_t **out, size_t *out_len, char *msg, size_t msgcap)
{
    int engine = dmvf__cz_engine();
    return dmvf__fuzz_gunzip_with(data, n, rng, max_inflate, engine < 0 ? DMVF_CZ_ZLIB : (dmvf_cz_engine)engine,
                                  out, out_len, msg, msgcap);
}

int dmvf__fuzz_gunzip_with(const uint8_t *data, size_t n, uint64_t *rng, uint64_t max_inflate,
                           dmvf_cz_engine engine, uint8_t **out, size_t *out_len, char *msg, size_t msgcap)
{
    gz_src s;
    uint8_t *o = NULL;
    size_t olen = 0, ocap = 0;
    unsigned long zero_reads = 0;
    int rc = gz_open(&s, data, n, rng, engine);
    s.max_inflate = max_inflate;           /* set after opening, as cmd_filter.c does */
    while (rc == DMVF_OK) {
        size_t cap = rng ? dmvf__fuzz_piece(rng, GZ_RAW_CAP) : GZ_RAW_CAP, got = 0;
        int eof = 0;
        if (ocap - olen < cap) {
            size_t nc = ocap ? ocap : GZ_RAW_CAP;
            while (nc - olen < cap)
                nc *= 2;
            uint8_t *p = realloc(o, nc);
            if (!p)
                abort();
            o = p;
            ocap = nc;
        }
        rc = gz_src_read(&s, o + olen, cap, &got, &eof);
        if (rc != DMVF_OK)
            break;
        olen += got;
        if (eof)
            break;
        if (got == 0 && ++zero_reads > 1000000ul) {
            snprintf(s.msg, sizeof s.msg, "the reader returns nothing, over and over, without an end");
            rc = DMVF_ESTATE;
            break;
        }
    }
    if (msgcap)
        snprintf(msg, msgcap, "%s", s.msg);
    gz_close(&s);
    *out = o;
    *out_len = olen;
    return rc;
}
