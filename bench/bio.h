/*
 * bio.h - the benchmark baselines' I/O: what `dmvfilter filter` does around
 * the filter, reproduced so that a baseline differs from the CLI only in
 * what it does to each record.
 *
 *   input   a file or stdin, read() in 1 MiB chunks; gzip detected by its
 *           magic and inflated (zlib, windowBits 15+32, member after member)
 *           into 1 MiB chunks
 *   frames  varint length + payload; a frame split across chunks is
 *           gathered in an accumulator that grows only for a larger frame
 *   output  a 1 MiB buffer written out when full; stdout, or a temp file
 *           beside the named one (mode 0600), fsync'd and renamed over it
 *           at the end; --gzip deflates at level 6 (windowBits 15+16) in
 *           256 KiB steps
 *
 * Used by copylimit.c and refpath.c only. Errors print a message and
 * return a sysexits code; nothing is retried but EINTR and short writes.
 */
#ifndef DMVF_BENCH_BIO_H
#define DMVF_BENCH_BIO_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#define DMVF_BIO_CHUNK ((size_t)1 << 20)
#define DMVF_BIO_ZOUT ((size_t)256 << 10)

typedef struct dmvf_bio_src {
    int fd;
    const char *name;
    int gzip, zinit, raw_eof, member_end;
    z_stream zs;
    uint8_t *raw;            /* compressed bytes (gzip) or the first read (plain) */
    size_t raw_len, raw_pos;
    uint8_t *chunk;          /* the 1 MiB chunk handed to the frame reader */
    size_t chunk_len, chunk_pos;
    int eof;                 /* no more chunks */
    uint8_t *acc;            /* a frame split across chunks */
    size_t acc_len, acc_cap;
    uint64_t offset;         /* stream bytes consumed by frames */
    uint64_t frames;
    size_t max_frame;
} dmvf_bio_src;

/* path NULL or "-": stdin. Returns 0 or an exit code. */
int dmvf__bio_src_open(dmvf_bio_src *s, const char *path, size_t max_frame);
/* The next frame: 1 with *frame (prefix included), *payload and *len
 * (valid until the next call), 0 at a clean end, or an exit code (> 1). */
int dmvf__bio_next(dmvf_bio_src *s, const uint8_t **frame, size_t *frame_len,
                   const uint8_t **payload, size_t *len);
void dmvf__bio_src_close(dmvf_bio_src *s);

typedef struct dmvf_bio_sink {
    int fd;
    const char *path;        /* NULL: stdout */
    char *tmp;
    int gzip, zinit;
    z_stream zs;
    uint8_t *buf;
    size_t len, cap;
    uint8_t *zbuf;
    uint64_t payload, written;
    uint64_t started;        /* a named file: bytes whose writeback was started */
} dmvf_bio_sink;

/* path NULL or "-": stdout. Returns 0 or an exit code. */
int dmvf__bio_sink_open(dmvf_bio_sink *k, const char *path, int gzip);
/* Room for n more bytes in the output buffer (writing it out first when
 * they do not fit): a pointer, or NULL after printing an error (*rc set).
 * n may exceed the buffer: it then grows. */
uint8_t *dmvf__bio_reserve(dmvf_bio_sink *k, size_t n, int *rc);
/* Marks n reserved bytes as written. */
void dmvf__bio_commit(dmvf_bio_sink *k, size_t n);
/* Flushes, finishes gzip, fsyncs and renames into place. 0 or an exit code. */
int dmvf__bio_sink_close(dmvf_bio_sink *k);
/* On failure: removes the temp file. */
void dmvf__bio_sink_abort(dmvf_bio_sink *k);

size_t dmvf__bio_put_varint(uint8_t *o, uint64_t v);

#endif
