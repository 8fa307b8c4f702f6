/*
 * compress.h - compressed input and output for the command line: gzip
 * (through Intel ISA-L's igzip where the build has it, DMVF_HAVE_ISAL, and
 * through zlib always) and zstd (libzstd).
 *
 * Two halves, each an opaque context with create/free (free accepts NULL):
 *
 *   encoder  members: each one an ordinary gzip member or zstd frame, so
 *            that their concatenation is a multi-member gzip file (gunzip,
 *            zlib read it) or a multi-frame zstd file (zstd -d reads it).
 *            dmvf__cz_enc_update feeds bytes, dmvf__cz_enc_end ends the
 *            member; output is appended to a caller-owned growable buffer.
 *            The bytes of a member depend only on the bytes given to it:
 *            the encoder hands its library pieces of DMVF_CZ_PIECE bytes
 *            counted from the member's start, whatever the sizes of the
 *            update calls, so two writers that cut the same bytes into
 *            members get the same file (the twin property, members.c).
 *   decoder  a streaming decoder over caller cursors (zstd's shape):
 *            dmvf__cz_dec_stream(d, &out, &in) decodes what it can, member
 *            after member; dmvf__cz_dec_at_end says whether the bytes given
 *            so far end exactly at a member's end (the input may end
 *            there); anything else at the end of the input, once a call
 *            with no input left makes no progress, is a truncated input. Bytes after a member that do not start another member
 *            (trailing garbage, zero padding) are corrupt input, for every
 *            decoder.
 *
 * The gzip engine (zlib or ISA-L) is chosen per context; dmvf__cz_engine
 * gives the default: ISA-L when built with it, unless the environment
 * variable DMVFILTER_GZIP is "zlib" (tests use it to run both engines from
 * one build). Both write the same format, and each reads what the other
 * writes; their compressed bytes differ.
 *
 * gzip levels (--gzip-level N, 0..9, as gzip's): zlib takes N as it is;
 * ISA-L has four levels, and N maps to 0 -> 0, 1 -> 1, 2..5 -> 2, 6..9 -> 3.
 * zstd takes its own levels (1..19).
 *
 * Thread safety: a context belongs to one thread at a time; distinct
 * contexts may be used on distinct threads at once. Returns: 0, or one of
 * the negative DMVF_CZ_E* codes below, with a message from
 * dmvf__cz_dec_msg for a decoder.
 */
#ifndef DMVF_CLI_COMPRESS_H
#define DMVF_CLI_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    DMVF_CZ_NONE = 0,
    DMVF_CZ_GZIP = 1,
    DMVF_CZ_ZSTD = 2
} dmvf_cz_format;

typedef enum {
    DMVF_CZ_ZLIB = 0,
    DMVF_CZ_ISAL = 1
} dmvf_cz_engine;

enum {
    DMVF_CZ_ENOMEM = -1,     /* out of memory */
    DMVF_CZ_ECORRUPT = -2,   /* the input is not a valid stream (message says why) */
    DMVF_CZ_EFAIL = -3,      /* the library failed (a bug, a bad level) */
    DMVF_CZ_EENGINE = -4     /* the engine asked for is not in this build */
};

/* The bytes an encoder hands its library at once (see above). */
#define DMVF_CZ_PIECE ((size_t)1 << 20)
/* The bytes dmvf__cz_detect needs to tell every format apart. */
#define DMVF_CZ_MAGIC_LEN 4
/* The default levels, chosen by measurement (bench/README.md). */
#define DMVF_CZ_GZIP_LEVEL_DEFAULT 1
#define DMVF_CZ_ZSTD_LEVEL_DEFAULT 1
#define DMVF_CZ_GZIP_LEVEL_MAX 9
#define DMVF_CZ_ZSTD_LEVEL_MAX 19

/* An inflate-limit rule (a gzip or zstd bomb): input that decodes past
 * max_out bytes or, when max_out is 0, past both DMVF_CZ_BOMB_FLOOR and
 * DMVF_CZ_BOMB_RATIO times the compressed bytes consumed, is refused. */
#define DMVF_CZ_BOMB_FLOOR ((uint64_t)1 << 30)
#define DMVF_CZ_BOMB_RATIO 1000u

/* What an encoder writes: a format, a level (0: the format's default) and,
 * for gzip, an engine. */
typedef struct dmvf_cz_opts {
    dmvf_cz_format format;
    int level;
    dmvf_cz_engine engine;
} dmvf_cz_opts;

/* Cursors: src[pos..size) still to read; dst[pos..size) still free. */
typedef struct dmvf_cz_in {
    const void *src;
    size_t size, pos;
} dmvf_cz_in;
typedef struct dmvf_cz_out {
    void *dst;
    size_t size, pos;
} dmvf_cz_out;

/* "gzip", "zstd" or "none". */
const char *dmvf__cz_format_name(dmvf_cz_format f);
/* "zlib" or "isa-l". */
const char *dmvf__cz_engine_name(dmvf_cz_engine e);
/* 1 when the build has ISA-L. */
int dmvf__cz_have_isal(void);
/* The default gzip engine (see above): DMVF_CZ_ISAL or DMVF_CZ_ZLIB, or
 * DMVF_CZ_EENGINE when DMVFILTER_GZIP names an engine the build lacks or
 * none at all. */
int dmvf__cz_engine(void);
/* The format of a stream starting with p[0..n): gzip (1f 8b), zstd
 * (28 b5 2f fd), else none. Give it DMVF_CZ_MAGIC_LEN bytes, or all there
 * are. */
dmvf_cz_format dmvf__cz_detect(const unsigned char *p, size_t n);
/* The gzip level N's ISA-L level (see above). */
int dmvf__cz_isal_level(int level);
/* Grows *buf (realloc) to hold at least want bytes: 0, or -1 (no memory). */
int dmvf__cz_grow(unsigned char **buf, size_t *cap, size_t want);

/* The inflate limit: 0 when total decoded bytes after consumed compressed
 * bytes are within it, else -1 with msg set ("input inflates past ...").
 * max_out: the most bytes (--max-inflate), 0 for the default rule. */
int dmvf__cz_limit(uint64_t total, uint64_t consumed, uint64_t max_out, char *msg, size_t cap);

/* ---- encoder ---- */
typedef struct dmvf_cz_enc dmvf_cz_enc;

/* A new encoder (o->format gzip or zstd); NULL with *err set (ENOMEM,
 * EFAIL for a level out of range, EENGINE). */
dmvf_cz_enc *dmvf__cz_enc_create(const dmvf_cz_opts *o, int *err);
/* Adds src[0..n) to the member being written (one starts with the first
 * byte after an end); output is appended at (*dst)[*len..), grown. */
int dmvf__cz_enc_update(dmvf_cz_enc *e, const void *src, size_t n, unsigned char **dst, size_t *cap,
                        size_t *len);
/* Ends the member being written: an empty member when nothing was given
 * since the last end. */
int dmvf__cz_enc_end(dmvf_cz_enc *e, unsigned char **dst, size_t *cap, size_t *len);
/* One whole member of src[0..n): update, then end. */
int dmvf__cz_enc_member(dmvf_cz_enc *e, const void *src, size_t n, unsigned char **dst, size_t *cap,
                        size_t *len);
/* Forgets the member being written (its output not yet ended). */
int dmvf__cz_enc_reset(dmvf_cz_enc *e);
void dmvf__cz_enc_free(dmvf_cz_enc *e);

/* ---- decoder ---- */
typedef struct dmvf_cz_dec dmvf_cz_dec;

/* A new decoder for format f (gzip or zstd) with gzip engine e; NULL with
 * *err set. */
dmvf_cz_dec *dmvf__cz_dec_create(dmvf_cz_format f, dmvf_cz_engine e, int *err);
/* Decodes from in into out, member after member, until in is consumed or
 * out is full. 0, or DMVF_CZ_ECORRUPT / ENOMEM / EFAIL (sticky: the
 * decoder stays failed). */
int dmvf__cz_dec_stream(dmvf_cz_dec *d, dmvf_cz_out *out, dmvf_cz_in *in);
/* 1 when the input given so far ends at a member's end (with at least one
 * member): the input may end here. 0 inside a member. */
int dmvf__cz_dec_at_end(const dmvf_cz_dec *d);
/* Where the last error is, in compressed bytes from the start of the
 * decoder's input, in *off: 1 when at the byte (zlib), 0 when at the
 * start of the member it is in (ISA-L and zstd read ahead by amounts that
 * depend on how the input was cut, so a finer offset would not be the
 * same for the same bytes). */
int dmvf__cz_dec_where(const dmvf_cz_dec *d, uint64_t *off);
/* Why the last call failed ("" if it did not). */
const char *dmvf__cz_dec_msg(const dmvf_cz_dec *d);
void dmvf__cz_dec_free(dmvf_cz_dec *d);

#endif
