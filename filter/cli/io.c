/*
 * io.c - the command line's input (the output is sink.c's).
 *
 * Input: a file or stdin, read in bounded chunks. gzip is detected by the
 * magic bytes 1f 8b at the start and inflated chunk by chunk (zlib,
 * windowBits 15+32), member after member: a file made by concatenating gzip
 * files inflates to the concatenation. Memory stays bounded whatever the
 * input size.
 *
 *   file bytes --read()--> raw[] --inflate()--> caller's buffer
 *                 ^ raw_base counts compressed bytes before raw[0], so an
 *                   error names its compressed byte offset
 *
 * Pipes: input and output pipes are asked for a 1 MiB buffer (F_SETPIPE_SZ,
 * failure ignored) and are read and written in pieces of up to 1 MiB, so
 * that a pipe costs about what a file costs.
 */
#define _GNU_SOURCE     /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "filter/cli/cli.h"

#define RAW_CAP ((size_t)1 << 20)
#define PIPE_WANT (1 << 20)

int dmvf__cli_flush_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        dmvf__cli_err("stdout: write failed: %s", strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    return 0;
}

void dmvf__cli_pipe_grow(int fd)
{
#if defined(F_SETPIPE_SZ) && defined(F_GETPIPE_SZ)
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
        return;
    int cur = fcntl(fd, F_GETPIPE_SZ);
    /* the most a user may ask for is /proc/sys/fs/pipe-max-size: try less on refusal */
    for (int want = PIPE_WANT; cur >= 0 && want > cur; want /= 4)
        if (fcntl(fd, F_SETPIPE_SZ, want) >= 0)
            break;
#else
    (void)fd;
#endif
}

ssize_t dmvf__cli_read_retry(int fd, void *buf, size_t cap)
{
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

/* ---- input ---- */

/* A read failure's message: printed, or kept when s->defer_errors. */
static int src_fail(dmvf_cli_src *s, int code, const char *fmt, ...) DMVF_CLI_PRINTF(3, 4);
static int src_fail(dmvf_cli_src *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (s->defer_errors) {
        vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    } else {
        char m[600];
        vsnprintf(m, sizeof m, fmt, ap);
        dmvf__cli_err("%s", m);
    }
    va_end(ap);
    return code;
}

void dmvf__cli_src_report(dmvf_cli_src *s)
{
    if (s->errmsg[0])
        dmvf__cli_err("%s", s->errmsg);
    s->errmsg[0] = '\0';
}

static int src_read_error(dmvf_cli_src *s)
{
    return src_fail(s, DMVF_EXIT_IOERR, "input %s: read failed: %s", s->name, strerror(errno));
}

int dmvf__cli_src_open(dmvf_cli_src *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (!path || strcmp(path, "-") == 0) {
        s->fd = STDIN_FILENO;
        s->name = "<stdin>";
    } else {
        s->name = path;
        s->fd = open(path, O_RDONLY);
        if (s->fd < 0) {
            dmvf__cli_err("input %s: cannot open: %s", path, strerror(errno));
            return DMVF_EXIT_IOERR;
        }
    }
    dmvf__cli_pipe_grow(s->fd);
    s->raw_cap = RAW_CAP;
    s->raw = malloc(s->raw_cap);
    if (!s->raw) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    /* enough bytes to see the gzip magic, or the end */
    while (s->raw_len < 2 && !s->raw_eof) {
        ssize_t r = dmvf__cli_read_retry(s->fd, s->raw + s->raw_len, s->raw_cap - s->raw_len);
        if (r < 0)
            return src_read_error(s);
        if (r == 0)
            s->raw_eof = 1;
        s->raw_len += (size_t)r;
        s->bytes_in += (uint64_t)r;
    }
    if (s->raw_len >= 2 && s->raw[0] == 0x1f && s->raw[1] == 0x8b) {
        s->gzip = 1;
        memset(&s->zs, 0, sizeof s->zs);
        int zr = inflateInit2(&s->zs, 15 + 32);
        if (zr != Z_OK) {
            dmvf__cli_err("gzip: cannot start inflating: %s", zr == Z_MEM_ERROR ? "out of memory" : "zlib error");
            return zr == Z_MEM_ERROR ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
        }
        s->zinit = 1;
        s->zs.next_in = s->raw;
        s->zs.avail_in = (uInt)s->raw_len;
    }
    return 0;
}

/* The compressed bytes inflate has consumed. */
static uint64_t gzip_consumed(const dmvf_cli_src *s)
{
    return s->raw_base + (uint64_t)(s->zs.next_in - s->raw);
}

static int gzip_error(dmvf_cli_src *s, const char *what)
{
    uint64_t off = gzip_consumed(s);
    return src_fail(s, DMVF_EXIT_DATAERR, "input %s: gzip: %s at compressed byte offset %llu",
                    s->name, what, (unsigned long long)off);
}

/* The inflate limit: DMVF_EXIT_DATAERR when total inflated bytes are past
 * it (see dmvf__cli_src_open in cli.h), else 0. */
static int gzip_check_limit(dmvf_cli_src *s, uint64_t total)
{
    uint64_t consumed = gzip_consumed(s);
    uint64_t ratio = consumed ? total / consumed : total;
    if (s->max_inflate) {
        if (total <= s->max_inflate)
            return 0;
        return src_fail(s, DMVF_EXIT_DATAERR,
                        "input %s: gzip: input inflates past %llu bytes, the --max-inflate limit "
                        "(ratio %llu:1) at compressed byte offset %llu",
                        s->name, (unsigned long long)s->max_inflate, (unsigned long long)ratio,
                        (unsigned long long)consumed);
    }
    if (total <= DMVF_CLI_INFLATE_FLOOR || consumed > UINT64_MAX / DMVF_CLI_INFLATE_RATIO ||
        total <= consumed * DMVF_CLI_INFLATE_RATIO)
        return 0;
    return src_fail(s, DMVF_EXIT_DATAERR,
                    "input %s: gzip: input inflates past %llu bytes and %u times its compressed "
                    "size (ratio %llu:1) at compressed byte offset %llu; --max-inflate N sets "
                    "another limit",
                    s->name, (unsigned long long)DMVF_CLI_INFLATE_FLOOR, DMVF_CLI_INFLATE_RATIO,
                    (unsigned long long)ratio, (unsigned long long)consumed);
}

static int gzip_read(dmvf_cli_src *s, unsigned char *buf, size_t cap, size_t *n, int *eof)
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
            ssize_t r = dmvf__cli_read_retry(s->fd, s->raw, s->raw_cap);
            if (r < 0)
                return src_read_error(s);
            if (r == 0)
                s->raw_eof = 1;
            s->raw_len = (size_t)r;
            s->bytes_in += (uint64_t)r;
            s->zs.next_in = s->raw;
            s->zs.avail_in = (uInt)r;
        }
        if (s->member_end) {
            if (s->zs.avail_in == 0) {
                *eof = 1;     /* raw_eof: the last member ended with the file */
                break;
            }
            /* another member follows */
            if (inflateReset(&s->zs) != Z_OK)
                return gzip_error(s, "cannot restart inflating");
            s->member_end = 0;
        }
        s->zs.next_out = buf + have;
        s->zs.avail_out = (uInt)(cap - have);
        int zr = inflate(&s->zs, Z_NO_FLUSH);
        have = cap - s->zs.avail_out;
        if ((zr == Z_OK || zr == Z_STREAM_END) && gzip_check_limit(s, s->bytes_out + have))
            return DMVF_EXIT_DATAERR;
        if (zr == Z_STREAM_END) {
            s->member_end = 1;
            continue;
        }
        if (zr == Z_OK) {
            if (have > 0 && s->zs.avail_in == 0)
                break;      /* hand out what there is before blocking on a read */
            continue;
        }
        if (zr == Z_BUF_ERROR) {
            if (s->zs.avail_in == 0 && s->raw_eof)
                return gzip_error(s, "unexpected end of compressed data");
            continue;
        }
        if (zr == Z_MEM_ERROR)
            return src_fail(s, DMVF_EXIT_NOMEM, "gzip: out of memory");
        return gzip_error(s, s->zs.msg ? s->zs.msg : "corrupt compressed data");
    }
    *n = have;
    s->bytes_out += have;
    return 0;
}

int dmvf__cli_src_read(dmvf_cli_src *s, void *buf, size_t cap, size_t *n, int *eof)
{
    *n = 0;
    *eof = 0;
    if (s->gzip)
        return gzip_read(s, buf, cap, n, eof);
    if (s->raw_pos < s->raw_len) {
        size_t k = s->raw_len - s->raw_pos;
        if (k > cap)
            k = cap;
        memcpy(buf, s->raw + s->raw_pos, k);
        s->raw_pos += k;
        *n = k;
        s->bytes_out += k;
        return 0;
    }
    if (s->raw_eof) {
        *eof = 1;
        return 0;
    }
    ssize_t r = dmvf__cli_read_retry(s->fd, buf, cap);
    if (r < 0)
        return src_read_error(s);
    if (r == 0) {
        s->raw_eof = 1;
        *eof = 1;
        return 0;
    }
    *n = (size_t)r;
    s->bytes_in += (uint64_t)r;
    s->bytes_out += (uint64_t)r;
    return 0;
}

void dmvf__cli_src_close(dmvf_cli_src *s)
{
    if (s->zinit)
        inflateEnd(&s->zs);
    s->zinit = 0;
    if (s->fd > STDIN_FILENO)
        close(s->fd);
    s->fd = -1;
    free(s->raw);
    s->raw = NULL;
}
