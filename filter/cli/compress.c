/*
 * compress.c - gzip (ISA-L igzip or zlib) and zstd members out, and a
 * streaming decoder in; see compress.h.
 *
 * The formats, as written and read here:
 *
 *   gzip member  | 1f 8b 08 flg mtime(4) xfl os | deflate ... | crc32 isize |
 *                  (RFC 1952; written with mtime 0 and no name, so that the
 *                  bytes depend on the content alone)
 *   zstd frame   | 28 b5 2f fd | frame header | blocks ... | checksum(4) |
 *                  (RFC 8878; written with a content checksum)
 *
 * A file is members back to back. Encoding: a member's bytes go to the
 * library in pieces of DMVF_CZ_PIECE counted from the member's start (the
 * stage collects them when updates are smaller), the last piece with the
 * end flag, so what a member compresses to depends on its bytes alone.
 * Decoding: after a member's end, more input starts the next member (the
 * decoder is reset, or zstd starts the next frame itself); bytes that do
 * not start one are corrupt input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>
#ifdef DMVF_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif
#include "filter/cli/compress.h"

#define ZPIECE ((size_t)1 << 30)        /* the most handed to zlib or ISA-L at once (32-bit counts) */
#define OUT_ROOM ((size_t)64 << 10)     /* output room kept free while encoding */
#define ZSTD_WINDOW_LOG_MAX 25          /* zstd input: frames needing a window over 32 MiB are refused */

const char *dmvf__cz_format_name(dmvf_cz_format f)
{
    return f == DMVF_CZ_GZIP ? "gzip" : f == DMVF_CZ_ZSTD ? "zstd" : "none";
}

const char *dmvf__cz_engine_name(dmvf_cz_engine e)
{
    return e == DMVF_CZ_ISAL ? "isa-l" : "zlib";
}

int dmvf__cz_have_isal(void)
{
#ifdef DMVF_HAVE_ISAL
    return 1;
#else
    return 0;
#endif
}

int dmvf__cz_engine(void)
{
    const char *e = getenv("DMVFILTER_GZIP");
    if (!e || !e[0])
        return dmvf__cz_have_isal() ? DMVF_CZ_ISAL : DMVF_CZ_ZLIB;
    if (strcmp(e, "zlib") == 0)
        return DMVF_CZ_ZLIB;
    if (strcmp(e, "isa-l") == 0 || strcmp(e, "isal") == 0)
        return dmvf__cz_have_isal() ? DMVF_CZ_ISAL : DMVF_CZ_EENGINE;
    return DMVF_CZ_EENGINE;
}

dmvf_cz_format dmvf__cz_detect(const unsigned char *p, size_t n)
{
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return DMVF_CZ_GZIP;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return DMVF_CZ_ZSTD;
    return DMVF_CZ_NONE;
}

int dmvf__cz_isal_level(int level)
{
    return level <= 0 ? 0 : level == 1 ? 1 : level <= 5 ? 2 : 3;
}

int dmvf__cz_grow(unsigned char **buf, size_t *cap, size_t want)
{
    if (*cap >= want)
        return 0;
    size_t n = *cap ? *cap : 65536;
    while (n < want)
        n = n > SIZE_MAX / 2 ? want : n * 2;
    unsigned char *b = realloc(*buf, n);
    if (!b)
        return -1;
    *buf = b;
    *cap = n;
    return 0;
}

int dmvf__cz_limit(uint64_t total, uint64_t consumed, uint64_t max_out, char *msg, size_t cap)
{
    uint64_t ratio = consumed ? total / consumed : total;
    if (max_out) {
        if (total <= max_out)
            return 0;
        snprintf(msg, cap,
                 "input inflates past %llu bytes, the --max-inflate limit (ratio %llu:1) at "
                 "compressed byte offset %llu",
                 (unsigned long long)max_out, (unsigned long long)ratio, (unsigned long long)consumed);
        return -1;
    }
    if (total <= DMVF_CZ_BOMB_FLOOR || consumed > UINT64_MAX / DMVF_CZ_BOMB_RATIO ||
        total <= consumed * DMVF_CZ_BOMB_RATIO)
        return 0;
    snprintf(msg, cap,
             "input inflates past %llu bytes and %u times its compressed size (ratio %llu:1) at "
             "compressed byte offset %llu; --max-inflate N sets another limit",
             (unsigned long long)DMVF_CZ_BOMB_FLOOR, DMVF_CZ_BOMB_RATIO, (unsigned long long)ratio,
             (unsigned long long)consumed);
    return -1;
}

/* ---------------------------------------------------------------- encoder */

struct dmvf_cz_enc {
    dmvf_cz_format format;
    dmvf_cz_engine engine;
    int level;
    int open;                   /* zlib, ISA-L: the library's stream is inside a member */
    z_stream zs;
    int zinit;
#ifdef DMVF_HAVE_ISAL
    struct isal_zstream is;
    unsigned char *level_buf;
    int is_fresh;               /* ISA-L: nothing of this member handed on yet */
#endif
    ZSTD_CCtx *zc;
    unsigned char *stage;       /* bytes of the member not yet handed on (< DMVF_CZ_PIECE) */
    size_t stage_len;
};

#ifdef DMVF_HAVE_ISAL
static size_t isal_level_buf_size(int l)
{
    return l == 1 ? ISAL_DEF_LVL1_DEFAULT : l == 2 ? ISAL_DEF_LVL2_DEFAULT : l == 3 ? ISAL_DEF_LVL3_DEFAULT : 0;
}

/* A fresh ISA-L stream: a new member, gzip-wrapped, at the encoder's level. */
static void isal_start(dmvf_cz_enc *e)
{
    int l = dmvf__cz_isal_level(e->level);
    isal_deflate_init(&e->is);
    e->is.level = (uint32_t)l;
    e->is.level_buf = e->level_buf;
    e->is.level_buf_size = (uint32_t)isal_level_buf_size(l);
    e->is.gzip_flag = IGZIP_GZIP;
    e->is.flush = NO_FLUSH;
    e->is_fresh = 1;
}
#endif

dmvf_cz_enc *dmvf__cz_enc_create(const dmvf_cz_opts *o, int *err)
{
    *err = 0;
    if (o->format != DMVF_CZ_GZIP && o->format != DMVF_CZ_ZSTD) {
        *err = DMVF_CZ_EFAIL;
        return NULL;
    }
    int level = o->level ? o->level : o->format == DMVF_CZ_GZIP ? DMVF_CZ_GZIP_LEVEL_DEFAULT
                                                                 : DMVF_CZ_ZSTD_LEVEL_DEFAULT;
    int max = o->format == DMVF_CZ_GZIP ? DMVF_CZ_GZIP_LEVEL_MAX : DMVF_CZ_ZSTD_LEVEL_MAX;
    if (level < 0 || level > max || (o->format == DMVF_CZ_ZSTD && level < 1)) {
        *err = DMVF_CZ_EFAIL;
        return NULL;
    }
    if (o->format == DMVF_CZ_GZIP && o->engine == DMVF_CZ_ISAL && !dmvf__cz_have_isal()) {
        *err = DMVF_CZ_EENGINE;
        return NULL;
    }
    dmvf_cz_enc *e = calloc(1, sizeof *e);
    if (!e || !(e->stage = malloc(DMVF_CZ_PIECE))) {
        free(e);
        *err = DMVF_CZ_ENOMEM;
        return NULL;
    }
    e->format = o->format;
    e->engine = o->format == DMVF_CZ_GZIP ? o->engine : DMVF_CZ_ZLIB;
    e->level = level;
    if (e->format == DMVF_CZ_ZSTD) {
        e->zc = ZSTD_createCCtx();
        if (!e->zc || ZSTD_isError(ZSTD_CCtx_setParameter(e->zc, ZSTD_c_compressionLevel, level)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(e->zc, ZSTD_c_checksumFlag, 1))) {
            *err = e->zc ? DMVF_CZ_EFAIL : DMVF_CZ_ENOMEM;
            dmvf__cz_enc_free(e);
            return NULL;
        }
    } else if (e->engine == DMVF_CZ_ZLIB) {
        int zr = deflateInit2(&e->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (zr != Z_OK) {
            *err = zr == Z_MEM_ERROR ? DMVF_CZ_ENOMEM : DMVF_CZ_EFAIL;
            dmvf__cz_enc_free(e);
            return NULL;
        }
        e->zinit = 1;
    }
#ifdef DMVF_HAVE_ISAL
    else {
        size_t n = isal_level_buf_size(dmvf__cz_isal_level(level));
        if (n && !(e->level_buf = malloc(n))) {
            *err = DMVF_CZ_ENOMEM;
            dmvf__cz_enc_free(e);
            return NULL;
        }
        isal_start(e);
    }
#endif
    return e;
}

/* Output room: at least want bytes free at (*dst)[*len..). */
static int room(unsigned char **dst, size_t *cap, size_t *len, size_t want)
{
    if (*cap - *len >= want)
        return 0;
    return dmvf__cz_grow(dst, cap, *len + want) == 0 ? 0 : DMVF_CZ_ENOMEM;
}

static size_t clamp32(size_t n)
{
    return n < ZPIECE ? n : ZPIECE;
}

static int zlib_piece(dmvf_cz_enc *e, const unsigned char *p, size_t n, int end, unsigned char **dst,
                      size_t *cap, size_t *len)
{
    if (room(dst, cap, len, (size_t)deflateBound(&e->zs, (uLong)n) + 64) != 0)
        return DMVF_CZ_ENOMEM;
    e->zs.next_in = (unsigned char *)(uintptr_t)p;
    e->zs.avail_in = (uInt)n;
    int zr;
    do {
        if (room(dst, cap, len, OUT_ROOM) != 0)
            return DMVF_CZ_ENOMEM;
        size_t r = clamp32(*cap - *len);
        e->zs.next_out = *dst + *len;
        e->zs.avail_out = (uInt)r;
        zr = deflate(&e->zs, end ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR)
            return DMVF_CZ_EFAIL;
        *len += r - e->zs.avail_out;
    } while (e->zs.avail_in > 0 || (end && zr != Z_STREAM_END));
    if (end && deflateReset(&e->zs) != Z_OK)
        return DMVF_CZ_EFAIL;
    return 0;
}

#ifdef DMVF_HAVE_ISAL
/*
 * ISA-L 2.30's level 1 and 2 body (igzip_icf_body_h1_gr_bt.asm, the
 * stream's first byte, .write_first_byte) hashes position 2 from rcx, which
 * there holds the isal_zstream's own address, where it means the input
 * (the level 0 body copies the input first: tmp6). Position 2 is then
 * filed under a bucket chosen by the address's bits 16..47 and, in that
 * bucket, can hide position 0 or 1 from a later match: the member
 * decompresses right, but its bytes depend on where the encoder lives
 * (ASLR, which worker), about once a few thousand members. The body stops
 * after the first byte when it is handed exactly that byte and the 16 it
 * keeps back at a flush (MIN_INBUF_PADDING), so a member's first call is
 * its first ISAL_FIRST_CALL bytes with SYNC_FLUSH: byte 0 alone in the
 * body, the other 16 through the finish code, which hashes one position at
 * a time, and the body restarts from the data with its history flag set.
 * It costs one short block and an empty stored block (about 8 bytes) a
 * member. tests/cli/test_compress.c places encoders where the old call
 * gave other bytes. A member of ISAL_FIRST_CALL bytes or fewer never
 * reaches the second position in the body.
 */
#define ISAL_FIRST_CALL 17

static int isal_call(dmvf_cz_enc *e, const unsigned char *p, size_t n, int end, int flush,
                     unsigned char **dst, size_t *cap, size_t *len)
{
    e->is.next_in = (uint8_t *)(uintptr_t)p;
    e->is.avail_in = (uint32_t)n;
    e->is.end_of_stream = (uint16_t)(end != 0);
    e->is.flush = (uint16_t)flush;
    for (;;) {
        if (room(dst, cap, len, OUT_ROOM) != 0)
            return DMVF_CZ_ENOMEM;
        size_t r = clamp32(*cap - *len);
        e->is.next_out = *dst + *len;
        e->is.avail_out = (uint32_t)r;
        if (isal_deflate(&e->is) != COMP_OK)
            return DMVF_CZ_EFAIL;
        *len += r - e->is.avail_out;
        if (end ? e->is.internal_state.state == ZSTATE_END : e->is.avail_in == 0)
            return 0;
    }
}

static int isal_piece(dmvf_cz_enc *e, const unsigned char *p, size_t n, int end, unsigned char **dst,
                      size_t *cap, size_t *len)
{
    /* a stored block's worst case: the input and a few bytes per 64 KiB */
    if (room(dst, cap, len, n + n / 64 + 1024) != 0)
        return DMVF_CZ_ENOMEM;
    if (e->is_fresh && n > ISAL_FIRST_CALL) {
        int r = isal_call(e, p, ISAL_FIRST_CALL, 0, SYNC_FLUSH, dst, cap, len);
        if (r)
            return r;
        p += ISAL_FIRST_CALL;
        n -= ISAL_FIRST_CALL;
    }
    e->is_fresh = 0;
    int r = isal_call(e, p, n, end, NO_FLUSH, dst, cap, len);
    if (r == 0 && end)
        isal_start(e);
    return r;
}
#endif

static int zstd_piece(dmvf_cz_enc *e, const unsigned char *p, size_t n, int end, unsigned char **dst,
                      size_t *cap, size_t *len)
{
    if (room(dst, cap, len, ZSTD_compressBound(n)) != 0)
        return DMVF_CZ_ENOMEM;
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        if (room(dst, cap, len, OUT_ROOM) != 0)
            return DMVF_CZ_ENOMEM;
        ZSTD_outBuffer out = {*dst + *len, *cap - *len, 0};
        size_t left = ZSTD_compressStream2(e->zc, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left))
            return DMVF_CZ_EFAIL;
        *len += out.pos;
        if (end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

/* Hands p[0..n) (a whole piece, or the member's last) to the library. */
static int enc_piece(dmvf_cz_enc *e, const unsigned char *p, size_t n, int end, unsigned char **dst,
                     size_t *cap, size_t *len)
{
    e->open = !end;
    if (e->format == DMVF_CZ_ZSTD)
        return zstd_piece(e, p, n, end, dst, cap, len);
#ifdef DMVF_HAVE_ISAL
    if (e->engine == DMVF_CZ_ISAL)
        return isal_piece(e, p, n, end, dst, cap, len);
#endif
    return zlib_piece(e, p, n, end, dst, cap, len);
}

int dmvf__cz_enc_update(dmvf_cz_enc *e, const void *src, size_t n, unsigned char **dst, size_t *cap,
                        size_t *len)
{
    const unsigned char *p = src;
    while (n > 0) {
        if (e->stage_len == 0 && n >= DMVF_CZ_PIECE) {
            /* a whole piece in place: no copy */
            int r = enc_piece(e, p, DMVF_CZ_PIECE, 0, dst, cap, len);
            if (r)
                return r;
            p += DMVF_CZ_PIECE;
            n -= DMVF_CZ_PIECE;
            continue;
        }
        size_t k = DMVF_CZ_PIECE - e->stage_len;
        if (k > n)
            k = n;
        memcpy(e->stage + e->stage_len, p, k);
        e->stage_len += k;
        p += k;
        n -= k;
        if (e->stage_len == DMVF_CZ_PIECE) {
            e->stage_len = 0;
            int r = enc_piece(e, e->stage, DMVF_CZ_PIECE, 0, dst, cap, len);
            if (r)
                return r;
        }
    }
    return 0;
}

int dmvf__cz_enc_end(dmvf_cz_enc *e, unsigned char **dst, size_t *cap, size_t *len)
{
    size_t n = e->stage_len;
    e->stage_len = 0;
    return enc_piece(e, e->stage, n, 1, dst, cap, len);
}

int dmvf__cz_enc_member(dmvf_cz_enc *e, const void *src, size_t n, unsigned char **dst, size_t *cap,
                        size_t *len)
{
    int r = dmvf__cz_enc_update(e, src, n, dst, cap, len);
    return r ? r : dmvf__cz_enc_end(e, dst, cap, len);
}

int dmvf__cz_enc_reset(dmvf_cz_enc *e)
{
    e->stage_len = 0;
    if (!e->open)
        return 0;
    e->open = 0;
    if (e->format == DMVF_CZ_ZSTD)
        return ZSTD_isError(ZSTD_CCtx_reset(e->zc, ZSTD_reset_session_only)) ? DMVF_CZ_EFAIL : 0;
#ifdef DMVF_HAVE_ISAL
    if (e->engine == DMVF_CZ_ISAL) {
        isal_start(e);
        return 0;
    }
#endif
    return deflateReset(&e->zs) == Z_OK ? 0 : DMVF_CZ_EFAIL;
}

void dmvf__cz_enc_free(dmvf_cz_enc *e)
{
    if (!e)
        return;
    if (e->zinit)
        deflateEnd(&e->zs);
    ZSTD_freeCCtx(e->zc);
#ifdef DMVF_HAVE_ISAL
    free(e->level_buf);
#endif
    free(e->stage);
    free(e);
}

/* ---------------------------------------------------------------- decoder */

struct dmvf_cz_dec {
    dmvf_cz_format format;
    dmvf_cz_engine engine;
    int ended;                  /* the last member ended where the input given so far ends */
    uint64_t call_base;         /* the stream offset of in->src[0] in this call */
    uint64_t total_in;          /* compressed bytes consumed */
    uint64_t member_in;         /* the stream offset where the current member starts */
    int failed;                 /* sticky error code */
    z_stream zs;
    int zinit;
#ifdef DMVF_HAVE_ISAL
    struct inflate_state *is;
    /* ISA-L: the gzip header is read here, ISA-L inflates the deflate data
       and checks the trailer (its own header reader mishandles a header
       that arrives in pieces) */
    int hstate;                 /* HDR_* */
    unsigned hflags;
    uint32_t hneed;             /* bytes still to read in this state */
    uint32_t hcrc;              /* crc32 of the header bytes so far */
    unsigned char hfix[10];
#endif
    ZSTD_DCtx *zd;
    char msg[160];
};

#ifdef DMVF_HAVE_ISAL
enum { HDR_FIXED, HDR_XLEN, HDR_EXTRA, HDR_NAME, HDR_COMMENT, HDR_HCRC, HDR_DONE };
#endif

dmvf_cz_dec *dmvf__cz_dec_create(dmvf_cz_format f, dmvf_cz_engine eng, int *err)
{
    *err = 0;
    if (f != DMVF_CZ_GZIP && f != DMVF_CZ_ZSTD) {
        *err = DMVF_CZ_EFAIL;
        return NULL;
    }
    if (f == DMVF_CZ_GZIP && eng == DMVF_CZ_ISAL && !dmvf__cz_have_isal()) {
        *err = DMVF_CZ_EENGINE;
        return NULL;
    }
    dmvf_cz_dec *d = calloc(1, sizeof *d);
    if (!d) {
        *err = DMVF_CZ_ENOMEM;
        return NULL;
    }
    d->format = f;
    d->engine = f == DMVF_CZ_GZIP ? eng : DMVF_CZ_ZLIB;
    if (f == DMVF_CZ_ZSTD) {
        d->zd = ZSTD_createDCtx();
        if (!d->zd || ZSTD_isError(ZSTD_DCtx_setParameter(d->zd, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX))) {
            *err = d->zd ? DMVF_CZ_EFAIL : DMVF_CZ_ENOMEM;
            dmvf__cz_dec_free(d);
            return NULL;
        }
        return d;
    }
#ifdef DMVF_HAVE_ISAL
    if (d->engine == DMVF_CZ_ISAL) {
        /* the state is large (~50 KiB): on the heap */
        if (!(d->is = malloc(sizeof *d->is))) {
            *err = DMVF_CZ_ENOMEM;
            dmvf__cz_dec_free(d);
            return NULL;
        }
        isal_inflate_init(d->is);
        d->is->crc_flag = ISAL_GZIP_NO_HDR_VER;
        d->hstate = HDR_FIXED;
        d->hneed = sizeof d->hfix;
        return d;
    }
#endif
    /* gzip only (15 + 16): a zlib stream is no member of a gzip file */
    int zr = inflateInit2(&d->zs, 15 + 16);
    if (zr != Z_OK) {
        *err = zr == Z_MEM_ERROR ? DMVF_CZ_ENOMEM : DMVF_CZ_EFAIL;
        dmvf__cz_dec_free(d);
        return NULL;
    }
    d->zinit = 1;
    return d;
}

static int dec_fail(dmvf_cz_dec *d, int code, const char *why)
{
    snprintf(d->msg, sizeof d->msg, "%s", why);
    d->failed = code;
    return code;
}

static int zlib_stream(dmvf_cz_dec *d, dmvf_cz_out *out, dmvf_cz_in *in)
{
    while (out->pos < out->size) {
        if (d->ended) {
            if (in->pos == in->size)
                return 0;
            if (inflateReset(&d->zs) != Z_OK)
                return dec_fail(d, DMVF_CZ_EFAIL, "cannot restart inflating");
            d->ended = 0;
            d->member_in = d->call_base + in->pos;
        }
        size_t ia = clamp32(in->size - in->pos), oa = clamp32(out->size - out->pos);
        d->zs.next_in = (unsigned char *)(uintptr_t)((const unsigned char *)in->src + in->pos);
        d->zs.avail_in = (uInt)ia;
        d->zs.next_out = (unsigned char *)out->dst + out->pos;
        d->zs.avail_out = (uInt)oa;
        int zr = inflate(&d->zs, Z_NO_FLUSH);
        in->pos += ia - d->zs.avail_in;
        out->pos += oa - d->zs.avail_out;
        if (zr == Z_STREAM_END) {
            d->ended = 1;
            continue;
        }
        if (zr == Z_OK)
            continue;
        if (zr == Z_BUF_ERROR)
            return 0;            /* no progress possible: more input needed */
        if (zr == Z_MEM_ERROR)
            return dec_fail(d, DMVF_CZ_ENOMEM, "out of memory");
        return dec_fail(d, DMVF_CZ_ECORRUPT, d->zs.msg ? d->zs.msg : "corrupt compressed data");
    }
    return 0;
}

#ifdef DMVF_HAVE_ISAL
static const char *isal_why(int r)
{
    switch (r) {
    case ISAL_INVALID_BLOCK: return "invalid block";
    case ISAL_INVALID_SYMBOL: return "invalid symbol";
    case ISAL_INVALID_LOOKBACK: return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER: return "incorrect header check";
    case ISAL_UNSUPPORTED_METHOD: return "unknown compression method";
    case ISAL_INCORRECT_CHECKSUM: return "incorrect data check";
    case ISAL_NEED_DICT: return "a preset dictionary is needed";
    default: return "corrupt compressed data";
    }
}

/* Reads the gzip header (RFC 1952 2.3) from in, as far as it goes:
 *
 *   | 1f 8b | 08 | FLG | MTIME(4) XFL OS | [XLEN(2) extra] [name 0] [comment 0] [CRC16] |
 *
 * 0 (done, or more input needed: d->hstate says), or an error. */
static int gzip_header(dmvf_cz_dec *d, dmvf_cz_in *in)
{
    const unsigned char *p = (const unsigned char *)in->src;
    while (d->hstate != HDR_DONE) {
        if (d->hstate == HDR_NAME && !(d->hflags & 8)) {
            d->hstate = HDR_COMMENT;
            continue;
        }
        if (d->hstate == HDR_COMMENT && !(d->hflags & 16)) {
            d->hstate = HDR_HCRC;
            d->hneed = 2;
            continue;
        }
        if (d->hstate == HDR_HCRC && !(d->hflags & 2)) {
            d->hstate = HDR_DONE;
            break;
        }
        if (in->pos == in->size)
            return 0;
        const unsigned char *at = p + in->pos;
        size_t avail = in->size - in->pos, k;
        if (d->hstate == HDR_NAME || d->hstate == HDR_COMMENT) {
            /* up to and with the terminating zero */
            const unsigned char *z = memchr(at, 0, avail);
            k = z ? (size_t)(z - at) + 1 : avail;
            d->hcrc = (uint32_t)crc32(d->hcrc, at, (uInt)k);
            in->pos += k;
            if (z) {
                d->hstate++;
                d->hneed = 2;    /* (HDR_HCRC's two bytes, after the comment) */
            }
            continue;
        }
        k = avail < d->hneed ? avail : d->hneed;
        if (d->hstate == HDR_HCRC) {
            /* the low 16 bits of the crc32 of the header before it, little-endian */
            for (size_t i = 0; i < k; i++)
                if (at[i] != (unsigned char)(d->hcrc >> (8 * (2 - d->hneed + i))))
                    return dec_fail(d, DMVF_CZ_ECORRUPT, "header crc mismatch");
        } else {
            if (d->hstate == HDR_FIXED)
                memcpy(d->hfix + sizeof d->hfix - d->hneed, at, k);
            else if (d->hstate == HDR_XLEN)
                memcpy(d->hfix + 2 - d->hneed, at, k);  /* the fixed part is checked: its room is free */
            d->hcrc = (uint32_t)crc32(d->hcrc, at, (uInt)k);
        }
        in->pos += k;
        d->hneed -= (uint32_t)k;
        if (d->hneed)
            continue;
        switch (d->hstate) {
        case HDR_FIXED:
            if (d->hfix[0] != 0x1f || d->hfix[1] != 0x8b)
                return dec_fail(d, DMVF_CZ_ECORRUPT, "incorrect header check");
            if (d->hfix[2] != 8)
                return dec_fail(d, DMVF_CZ_ECORRUPT, "unknown compression method");
            if (d->hfix[3] & 0xe0)
                return dec_fail(d, DMVF_CZ_ECORRUPT, "unknown header flags set");
            d->hflags = d->hfix[3];
            d->hstate = d->hflags & 4 ? HDR_XLEN : HDR_NAME;
            d->hneed = 2;
            break;
        case HDR_XLEN:
            d->hneed = (uint32_t)d->hfix[0] | (uint32_t)d->hfix[1] << 8;
            d->hstate = d->hneed ? HDR_EXTRA : HDR_NAME;
            break;
        case HDR_EXTRA:
            d->hstate = HDR_NAME;
            break;
        default:
            d->hstate = HDR_DONE;
            break;
        }
    }
    return 0;
}

static int isal_stream(dmvf_cz_dec *d, dmvf_cz_out *out, dmvf_cz_in *in)
{
    struct inflate_state *s = d->is;
    while (out->pos < out->size) {
        if (d->ended) {
            if (in->pos == in->size)
                return 0;
            isal_inflate_reset(s);
            s->crc_flag = ISAL_GZIP_NO_HDR_VER;
            d->hstate = HDR_FIXED;
            d->hneed = sizeof d->hfix;
            d->hcrc = 0;
            d->ended = 0;
            d->member_in = d->call_base + in->pos;
        }
        if (d->hstate != HDR_DONE) {
            int r = gzip_header(d, in);
            if (r)
                return r;
            if (d->hstate != HDR_DONE)
                return 0;        /* more input needed */
        }
        size_t ia = clamp32(in->size - in->pos), oa = clamp32(out->size - out->pos);
        s->next_in = (uint8_t *)(uintptr_t)((const unsigned char *)in->src + in->pos);
        s->avail_in = (uint32_t)ia;
        s->next_out = (uint8_t *)out->dst + out->pos;
        s->avail_out = (uint32_t)oa;
        int r = isal_inflate(s);
        size_t used = ia - s->avail_in, made = oa - s->avail_out;
        in->pos += used;
        out->pos += made;
        if (r < 0 || r == ISAL_NEED_DICT)
            return dec_fail(d, DMVF_CZ_ECORRUPT, isal_why(r));
        if (s->block_state == ISAL_BLOCK_FINISH) {
            d->ended = 1;
            continue;
        }
        if (used == 0 && made == 0)
            return 0;            /* more input needed */
    }
    return 0;
}
#endif

/* zstd decodes a frame in one pass, not block by block, when the whole
   frame is in one input buffer and its declared size fits the output: that
   path reports other errors (and skips the window limit), so what a corrupt
   frame gives would depend on how the input was cut. The first byte of each
   frame goes in alone; the frame's header then spans two calls, and zstd
   never takes that path. */
static int zstd_stream(dmvf_cz_dec *d, dmvf_cz_out *out, dmvf_cz_in *in)
{
    while (out->pos < out->size) {
        if (d->ended && in->pos == in->size)
            return 0;
        ZSTD_inBuffer zi = {in->src, in->size, in->pos};
        /* a frame starts here: after one that ended, or at the stream's start */
        if ((d->ended || d->call_base + in->pos == 0) && in->pos < in->size)
            zi.size = in->pos + 1;
        ZSTD_outBuffer zo = {out->dst, out->size, out->pos};
        if (d->ended)
            d->member_in = d->call_base + in->pos;
        d->ended = 0;
        size_t r = ZSTD_decompressStream(d->zd, &zo, &zi);
        size_t used = zi.pos - in->pos, made = zo.pos - out->pos;
        in->pos = zi.pos;
        out->pos = zo.pos;
        if (ZSTD_isError(r))
            return dec_fail(d, ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? DMVF_CZ_ENOMEM
                                                                                     : DMVF_CZ_ECORRUPT,
                            ZSTD_getErrorName(r));
        if (r == 0) {
            d->ended = 1;        /* a frame decoded and flushed whole */
            continue;
        }
        if (used == 0 && made == 0)
            return 0;
    }
    return 0;
}

int dmvf__cz_dec_stream(dmvf_cz_dec *d, dmvf_cz_out *out, dmvf_cz_in *in)
{
    if (d->failed)
        return d->failed;
    d->msg[0] = '\0';
    d->call_base = d->total_in - in->pos;
    int r;
    if (d->format == DMVF_CZ_ZSTD)
        r = zstd_stream(d, out, in);
#ifdef DMVF_HAVE_ISAL
    else if (d->engine == DMVF_CZ_ISAL)
        r = isal_stream(d, out, in);
#endif
    else
        r = zlib_stream(d, out, in);
    d->total_in = d->call_base + in->pos;
    return r;
}

int dmvf__cz_dec_where(const dmvf_cz_dec *d, uint64_t *off)
{
    /* zlib stops at the byte it failed on, whatever the pieces; ISA-L reads
       ahead, zstd a block at a time, by amounts that depend on the pieces:
       their errors are pinned to the member's start */
    int exact = d->format == DMVF_CZ_GZIP && d->engine == DMVF_CZ_ZLIB;
    *off = exact ? d->total_in : d->member_in;
    return exact;
}

int dmvf__cz_dec_at_end(const dmvf_cz_dec *d)
{
    return d->ended && !d->failed;
}

const char *dmvf__cz_dec_msg(const dmvf_cz_dec *d)
{
    return d->msg;
}

void dmvf__cz_dec_free(dmvf_cz_dec *d)
{
    if (!d)
        return;
    if (d->zinit)
        inflateEnd(&d->zs);
#ifdef DMVF_HAVE_ISAL
    free(d->is);
#endif
    ZSTD_freeDCtx(d->zd);
    free(d);
}
