/*
 * gzread.c - the command line's gzip input path (filter/cli/io.c), reading
 * from memory; see gzread.h. The functions keep io.c's names in comments
 * and its control flow line for line; only the file descriptor, the error
 * reporting and the exit codes differ (a gzip error is DMVF_EGZIP, the
 * inflate limit DMVF_ETOOBIG, where the command line exits 65 for both):
 *
 *   data[] --gz_file_read()--> raw[] --inflate()--> caller's buffer
 *            (short reads)       ^ raw_base counts compressed bytes before
 *                                  raw[0], so an error names its offset
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "dmvfilter/common.h"
#include "gzread.h"

/* The command line's input source (filter/cli/io.c), reading from memory. */
typedef struct gz_src {
    const uint8_t *file;
    size_t file_len, file_pos;
    uint64_t *rng;              /* NULL: reads as large as asked */
    uint8_t *raw;
    size_t raw_cap, raw_len, raw_pos;
    int raw_eof;
    int gzip;
    z_stream zs;
    int zinit;
    int member_end;
    uint64_t raw_base;
    uint64_t bytes_out;
    uint64_t max_inflate;
    char msg[200];
} gz_src;

/* As in filter/cli/cli.h. */
#define GZ_INFLATE_FLOOR ((uint64_t)1 << 30)
#define GZ_INFLATE_RATIO 1000u

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

/* gzip_consumed */
static uint64_t gz_consumed(const gz_src *s)
{
    return s->raw_base + (uint64_t)(s->zs.next_in - s->raw);
}

static int gz_error(gz_src *s, const char *what)
{
    uint64_t off = gz_consumed(s);
    snprintf(s->msg, sizeof s->msg, "gzip: %s at compressed byte offset %llu", what, (unsigned long long)off);
    return DMVF_EGZIP;
}

/* gzip_check_limit: DMVF_ETOOBIG (the command line's DMVF_EXIT_DATAERR,
 * "inflates past") when total is past the limit, else 0. */
static int gz_check_limit(gz_src *s, uint64_t total)
{
    uint64_t consumed = gz_consumed(s);
    uint64_t ratio = consumed ? total / consumed : total;
    if (s->max_inflate) {
        if (total <= s->max_inflate)
            return 0;
        snprintf(s->msg, sizeof s->msg, "gzip: input inflates past %llu bytes, the --max-inflate limit "
                 "(ratio %llu:1) at compressed byte offset %llu", (unsigned long long)s->max_inflate,
                 (unsigned long long)ratio, (unsigned long long)consumed);
        return DMVF_ETOOBIG;
    }
    if (total <= GZ_INFLATE_FLOOR || consumed > UINT64_MAX / GZ_INFLATE_RATIO || total <= consumed * GZ_INFLATE_RATIO)
        return 0;
    snprintf(s->msg, sizeof s->msg, "gzip: input inflates past %llu bytes and %u times its compressed size "
             "(ratio %llu:1) at compressed byte offset %llu", (unsigned long long)GZ_INFLATE_FLOOR,
             GZ_INFLATE_RATIO, (unsigned long long)ratio, (unsigned long long)consumed);
    return DMVF_ETOOBIG;
}

/* dmvf__cli_src_open */
static int gz_open(gz_src *s, const uint8_t *data, size_t n, uint64_t *rng)
{
    memset(s, 0, sizeof *s);
    s->file = data;
    s->file_len = n;
    s->rng = rng;
    s->raw_cap = GZ_RAW_CAP;
    s->raw = malloc(s->raw_cap);
    if (!s->raw)
        abort();
    while (s->raw_len < 2 && !s->raw_eof) {
        size_t r = gz_file_read(s, s->raw + s->raw_len, s->raw_cap - s->raw_len);
        if (r == 0)
            s->raw_eof = 1;
        s->raw_len += r;
    }
    if (s->raw_len >= 2 && s->raw[0] == 0x1f && s->raw[1] == 0x8b) {
        s->gzip = 1;
        int zr = inflateInit2(&s->zs, 15 + 32);
        if (zr != Z_OK) {
            snprintf(s->msg, sizeof s->msg, "gzip: cannot start inflating");
            return DMVF_ENOMEM;
        }
        s->zinit = 1;
        s->zs.next_in = s->raw;
        s->zs.avail_in = (uInt)s->raw_len;
    }
    return DMVF_OK;
}

/* gzip_read */
static int gz_read(gz_src *s, uint8_t *buf, size_t cap, size_t *n, int *eof)
{
    size_t have = 0;
    if (cap > (size_t)UINT32_MAX)
        cap = (size_t)UINT32_MAX;
    if (s->max_inflate) {
        /* inflate at most one byte past the limit: enough to see it passed */
        uint64_t room = s->bytes_out < s->max_inflate ? s->max_inflate - s->bytes_out : 0;
        if (cap > 0 && room < (uint64_t)cap - 1)
            cap = (size_t)room + 1;
    }
    for (;;) {
        if (have == cap)
            break;
        if (s->zs.avail_in == 0 && !s->raw_eof) {
            s->raw_base += s->raw_len;
            s->raw_len = 0;
            size_t r = gz_file_read(s, s->raw, s->raw_cap);
            if (r == 0)
                s->raw_eof = 1;
            s->raw_len = r;
            s->zs.next_in = s->raw;
            s->zs.avail_in = (uInt)r;
        }
        if (s->member_end) {
            if (s->zs.avail_in == 0) {
                *eof = 1;
                break;
            }
            if (inflateReset(&s->zs) != Z_OK)
                return gz_error(s, "cannot restart inflating");
            s->member_end = 0;
        }
        s->zs.next_out = buf + have;
        s->zs.avail_out = (uInt)(cap - have);
        int zr = inflate(&s->zs, Z_NO_FLUSH);
        have = cap - s->zs.avail_out;
        if ((zr == Z_OK || zr == Z_STREAM_END) && gz_check_limit(s, s->bytes_out + have))
            return DMVF_ETOOBIG;
        if (zr == Z_STREAM_END) {
            s->member_end = 1;
            continue;
        }
        if (zr == Z_OK) {
            if (have > 0 && s->zs.avail_in == 0)
                break;
            continue;
        }
        if (zr == Z_BUF_ERROR) {
            if (s->zs.avail_in == 0 && s->raw_eof)
                return gz_error(s, "unexpected end of compressed data");
            continue;
        }
        if (zr == Z_MEM_ERROR) {
            snprintf(s->msg, sizeof s->msg, "gzip: out of memory");
            return DMVF_ENOMEM;
        }
        return gz_error(s, s->zs.msg ? s->zs.msg : "corrupt compressed data");
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
    if (s->gzip)
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
    if (s->zinit)
        inflateEnd(&s->zs);
    free(s->raw);
}

int dmvf__fuzz_gunzip(const uint8_t *data, size_t n, uint64_t *rng, uint64_t max_inflate,
                      uint8_t **out, size_t *out_len, char *msg, size_t msgcap)
{
    gz_src s;
    uint8_t *o = NULL;
    size_t olen = 0, ocap = 0;
    unsigned long zero_reads = 0;
    int rc = gz_open(&s, data, n, rng);
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
