/*
 * bio.c - the benchmark baselines' I/O (see bio.h): chunked reads with gzip
 * detection, delimited frames, a 1 MiB output buffer, temp file + fsync +
 * rename, optional gzip output. As in the CLI (filter/cli/sink.c), a named
 * file's writeback is started every 8 MiB written (sync_file_range), so the
 * final fsync waits only for the last of it.
 *
 *   stream := frame*
 *   frame  := varint(len) payload[len]          (1..10 prefix bytes)
 *
 *   chunk[0 ........ chunk_len)
 *          ^ chunk_pos: the next frame starts here, or, when acc_len > 0,
 *            acc holds the first acc_len bytes of a frame that goes on here
 */
#define _GNU_SOURCE     /* sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include "bench/bio.h"

static int oom(void)
{
    fprintf(stderr, "bench: out of memory\n");
    return EX_OSERR;
}

static ssize_t read_retry(int fd, void *buf, size_t cap)
{
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- input ---- */

int dmvf__bio_src_open(dmvf_bio_src *s, const char *path, size_t max_frame)
{
    memset(s, 0, sizeof *s);
    s->max_frame = max_frame;
    if (!path || strcmp(path, "-") == 0) {
        s->fd = STDIN_FILENO;
        s->name = "<stdin>";
    } else {
        s->name = path;
        s->fd = open(path, O_RDONLY);
        if (s->fd < 0) {
            fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
            return EX_NOINPUT;
        }
    }
    s->raw = malloc(DMVF_BIO_CHUNK);
    s->chunk = malloc(DMVF_BIO_CHUNK);
    if (!s->raw || !s->chunk)
        return oom();
    while (s->raw_len < 2 && !s->raw_eof) {
        ssize_t r = read_retry(s->fd, s->raw + s->raw_len, DMVF_BIO_CHUNK - s->raw_len);
        if (r < 0) {
            fprintf(stderr, "bench: reading %s: %s\n", s->name, strerror(errno));
            return EX_IOERR;
        }
        if (r == 0)
            s->raw_eof = 1;
        s->raw_len += (size_t)r;
    }
    if (s->raw_len >= 2 && s->raw[0] == 0x1f && s->raw[1] == 0x8b) {
        s->gzip = 1;
        if (inflateInit2(&s->zs, 15 + 32) != Z_OK)
            return oom();
        s->zinit = 1;
        s->zs.next_in = s->raw;
        s->zs.avail_in = (uInt)s->raw_len;
    }
    return 0;
}

static int gzip_fill(dmvf_bio_src *s)
{
    size_t have = 0;
    for (;;) {
        if (have == DMVF_BIO_CHUNK)
            break;
        if (s->zs.avail_in == 0 && !s->raw_eof) {
            ssize_t r = read_retry(s->fd, s->raw, DMVF_BIO_CHUNK);
            if (r < 0) {
                fprintf(stderr, "bench: reading %s: %s\n", s->name, strerror(errno));
                return EX_IOERR;
            }
            if (r == 0)
                s->raw_eof = 1;
            s->zs.next_in = s->raw;
            s->zs.avail_in = (uInt)r;
        }
        if (s->member_end) {
            if (s->zs.avail_in == 0) {
                s->eof = 1;
                break;
            }
            if (inflateReset(&s->zs) != Z_OK)
                return EX_SOFTWARE;
            s->member_end = 0;
        }
        s->zs.next_out = s->chunk + have;
        s->zs.avail_out = (uInt)(DMVF_BIO_CHUNK - have);
        int zr = inflate(&s->zs, Z_NO_FLUSH);
        have = DMVF_BIO_CHUNK - s->zs.avail_out;
        if (zr == Z_STREAM_END) {
            s->member_end = 1;
            continue;
        }
        if (zr == Z_OK) {
            if (have > 0 && s->zs.avail_in == 0)
                break;
            continue;
        }
        if (zr == Z_BUF_ERROR && !(s->zs.avail_in == 0 && s->raw_eof))
            continue;
        fprintf(stderr, "bench: %s: corrupt or truncated gzip\n", s->name);
        return EX_DATAERR;
    }
    s->chunk_len = have;
    s->chunk_pos = 0;
    return 0;
}

/* The next chunk into s->chunk; sets s->eof at the end. */
static int fill(dmvf_bio_src *s)
{
    if (s->gzip)
        return gzip_fill(s);
    s->chunk_pos = 0;
    s->chunk_len = 0;
    if (s->raw_pos < s->raw_len) {
        size_t k = s->raw_len - s->raw_pos;
        memcpy(s->chunk, s->raw + s->raw_pos, k);
        s->raw_pos += k;
        s->chunk_len = k;
        return 0;
    }
    if (s->raw_eof) {
        s->eof = 1;
        return 0;
    }
    ssize_t r = read_retry(s->fd, s->chunk, DMVF_BIO_CHUNK);
    if (r < 0) {
        fprintf(stderr, "bench: reading %s: %s\n", s->name, strerror(errno));
        return EX_IOERR;
    }
    if (r == 0) {
        s->raw_eof = 1;
        s->eof = 1;
    }
    s->chunk_len = (size_t)r;
    return 0;
}

/* A varint at p[0..n): its length in bytes, 0 if incomplete, SIZE_MAX if bad. */
static size_t get_varint(const uint8_t *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return n >= 10 ? SIZE_MAX : 0;
}

static int acc_add(dmvf_bio_src *s, const uint8_t *p, size_t n)
{
    if (s->acc_cap - s->acc_len < n) {
        size_t cap = s->acc_cap ? s->acc_cap : 4096;
        while (cap - s->acc_len < n)
            cap *= 2;
        uint8_t *a = realloc(s->acc, cap);
        if (!a)
            return oom();
        s->acc = a;
        s->acc_cap = cap;
    }
    memcpy(s->acc + s->acc_len, p, n);
    s->acc_len += n;
    return 0;
}

static int bad_frame(dmvf_bio_src *s, const char *why)
{
    fprintf(stderr, "bench: %s: frame %llu at byte offset %llu: %s\n", s->name,
            (unsigned long long)s->frames, (unsigned long long)s->offset, why);
    return EX_DATAERR;
}

int dmvf__bio_next(dmvf_bio_src *s, const uint8_t **frame, size_t *frame_len,
                   const uint8_t **payload, size_t *len)
{
    for (;;) {
        if (s->acc_len == 0) {
            /* the common case: a whole frame inside the chunk, used in place */
            const uint8_t *p = s->chunk + s->chunk_pos;
            size_t avail = s->chunk_len - s->chunk_pos;
            uint64_t v;
            size_t pre = avail ? get_varint(p, avail, &v) : 0;
            if (pre == SIZE_MAX)
                return bad_frame(s, "bad length prefix");
            if (pre && v > s->max_frame)
                return bad_frame(s, "frame larger than the limit");
            if (pre && avail - pre >= v) {
                *frame = p;
                *frame_len = pre + (size_t)v;
                *payload = p + pre;
                *len = (size_t)v;
                s->chunk_pos += pre + (size_t)v;
                s->offset += pre + v;
                s->frames++;
                return 1;
            }
            if (avail) {
                int rc = acc_add(s, p, avail);
                if (rc)
                    return rc;
                s->chunk_pos = s->chunk_len;
            }
        } else {
            /* a frame gathered across chunks: take what it still needs */
            uint64_t v;
            size_t pre = get_varint(s->acc, s->acc_len, &v);
            if (pre == SIZE_MAX)
                return bad_frame(s, "bad length prefix");
            if (pre && v > s->max_frame)
                return bad_frame(s, "frame larger than the limit");
            size_t avail = s->chunk_len - s->chunk_pos;
            size_t want = pre ? pre + (size_t)v - s->acc_len : 1;
            size_t take = want < avail ? want : avail;
            if (take) {
                int rc = acc_add(s, s->chunk + s->chunk_pos, take);
                if (rc)
                    return rc;
                s->chunk_pos += take;
                continue;     /* re-parse: the prefix may be complete now */
            }
            if (pre && s->acc_len == pre + v) {
                *frame = s->acc;
                *frame_len = s->acc_len;
                *payload = s->acc + pre;
                *len = (size_t)v;
                s->offset += s->acc_len;
                s->frames++;
                s->acc_len = 0;   /* the bytes stay valid until the next call */
                return 1;
            }
        }
        if (s->eof) {
            if (s->acc_len)
                return bad_frame(s, "truncated frame at the end of the input");
            return 0;
        }
        int rc = fill(s);
        if (rc)
            return rc;
    }
}

void dmvf__bio_src_close(dmvf_bio_src *s)
{
    if (s->zinit)
        inflateEnd(&s->zs);
    if (s->fd > STDIN_FILENO)
        close(s->fd);
    free(s->raw);
    free(s->chunk);
    free(s->acc);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

/* ---- output ---- */

int dmvf__bio_sink_open(dmvf_bio_sink *k, const char *path, int gzip)
{
    memset(k, 0, sizeof *k);
    k->fd = -1;
    if (path && strcmp(path, "-") == 0)
        path = NULL;
    k->path = path;
    k->gzip = gzip;
    k->buf = malloc(DMVF_BIO_CHUNK);
    if (!k->buf)
        return oom();
    k->cap = DMVF_BIO_CHUNK;
    if (gzip) {
        k->zbuf = malloc(DMVF_BIO_ZOUT);
        if (!k->zbuf || deflateInit2(&k->zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return oom();
        k->zinit = 1;
    }
    if (!path) {
        k->fd = STDOUT_FILENO;
        return 0;
    }
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t n = strlen(path) + sizeof "/..tmp.XXXXXX";
    k->tmp = malloc(n);
    if (!k->tmp)
        return oom();
    memcpy(k->tmp, path, dlen);
    snprintf(k->tmp + dlen, n - dlen, ".%s.tmp.XXXXXX", path + dlen);
    k->fd = mkstemp(k->tmp);
    if (k->fd < 0) {
        fprintf(stderr, "bench: cannot create a temp file beside %s: %s\n", path, strerror(errno));
        free(k->tmp);
        k->tmp = NULL;
        return EX_CANTCREAT;
    }
    return 0;
}

static int sink_fd(dmvf_bio_sink *k, const uint8_t *p, size_t n)
{
    if (write_all(k->fd, p, n) != 0) {
        fprintf(stderr, "bench: writing %s: %s\n", k->path ? k->path : "<stdout>", strerror(errno));
        return EX_IOERR;
    }
    k->written += n;
#ifdef SYNC_FILE_RANGE_WRITE
    if (k->path && k->written - k->started >= ((uint64_t)8 << 20)) {
        (void)sync_file_range(k->fd, (off_t)k->started, (off_t)(k->written - k->started), SYNC_FILE_RANGE_WRITE);
        k->started = k->written;
    }
#endif
    return 0;
}

static int deflate_out(dmvf_bio_sink *k, const uint8_t *p, size_t n, int finish)
{
    k->zs.next_in = (Bytef *)(uintptr_t)p;
    k->zs.avail_in = (uInt)n;
    int zr;
    do {
        k->zs.next_out = k->zbuf;
        k->zs.avail_out = (uInt)DMVF_BIO_ZOUT;
        zr = deflate(&k->zs, finish ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR) {
            fprintf(stderr, "bench: deflate failed\n");
            return EX_SOFTWARE;
        }
        int rc = sink_fd(k, k->zbuf, DMVF_BIO_ZOUT - k->zs.avail_out);
        if (rc)
            return rc;
    } while (finish ? zr != Z_STREAM_END : k->zs.avail_in > 0);
    return 0;
}

static int flush_buf(dmvf_bio_sink *k)
{
    if (k->len == 0)
        return 0;
    k->payload += k->len;
    int rc = k->gzip ? deflate_out(k, k->buf, k->len, 0) : sink_fd(k, k->buf, k->len);
    k->len = 0;
    return rc;
}

uint8_t *dmvf__bio_reserve(dmvf_bio_sink *k, size_t n, int *rc)
{
    if (k->cap - k->len >= n)
        return k->buf + k->len;
    *rc = flush_buf(k);
    if (*rc)
        return NULL;
    if (n > k->cap) {
        /* one frame larger than the buffer: the buffer grows to hold it */
        uint8_t *b = realloc(k->buf, n);
        if (!b) {
            *rc = oom();
            return NULL;
        }
        k->buf = b;
        k->cap = n;
    }
    return k->buf;
}

void dmvf__bio_commit(dmvf_bio_sink *k, size_t n)
{
    k->len += n;
}

int dmvf__bio_sink_close(dmvf_bio_sink *k)
{
    int rc = flush_buf(k);
    if (!rc && k->gzip)
        rc = deflate_out(k, NULL, 0, 1);
    if (!rc && k->path) {
        if (fsync(k->fd) != 0 || close(k->fd) != 0) {
            fprintf(stderr, "bench: %s: fsync/close failed: %s\n", k->path, strerror(errno));
            rc = EX_IOERR;
        } else {
            k->fd = -1;
            if (rename(k->tmp, k->path) != 0) {
                fprintf(stderr, "bench: cannot rename %s to %s: %s\n", k->tmp, k->path, strerror(errno));
                rc = EX_IOERR;
            } else {
                free(k->tmp);
                k->tmp = NULL;
            }
        }
    }
    dmvf__bio_sink_abort(k);
    return rc;
}

void dmvf__bio_sink_abort(dmvf_bio_sink *k)
{
    if (k->path && k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    if (k->tmp) {
        unlink(k->tmp);
        free(k->tmp);
        k->tmp = NULL;
    }
    if (k->zinit)
        deflateEnd(&k->zs);
    k->zinit = 0;
    free(k->buf);
    free(k->zbuf);
    k->buf = NULL;
    k->zbuf = NULL;
}

size_t dmvf__bio_put_varint(uint8_t *o, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        o[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    o[n++] = (uint8_t)v;
    return n;
}
