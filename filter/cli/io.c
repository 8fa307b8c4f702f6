/*
 * io.c - the command line's input (the output is sink.c's).
 *
 * Input: a file or stdin, read in bounded chunks. gzip and zstd are
 * detected by their magic bytes at the start (1f 8b; 28 b5 2f fd) and
 * decoded chunk by chunk (compress.c: ISA-L or zlib for gzip, libzstd),
 * member after member: a file made by concatenating gzip (or zstd) files
 * decodes to the concatenation. Memory stays bounded whatever the input
 * size.
 *
 *   file bytes --read()--> raw[] --dmvf__cz_dec_stream()--> caller's buffer
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
    /* enough bytes to see the gzip or zstd magic, or the end */
    while (s->raw_len < DMVF_CZ_MAGIC_LEN && !s->raw_eof) {
        ssize_t r = dmvf__cli_read_retry(s->fd, s->raw + s->raw_len, s->raw_cap - s->raw_len);
        if (r < 0)
            return src_read_error(s);
        if (r == 0)
            s->raw_eof = 1;
        s->raw_len += (size_t)r;
        s->bytes_in += (uint64_t)r;
    }
    s->comp = dmvf__cz_detect(s->raw, s->raw_len);
    if (s->comp != DMVF_CZ_NONE) {
        int engine = dmvf__cz_engine(), err = engine;
        if (engine >= 0)
            s->dec = dmvf__cz_dec_create(s->comp, (dmvf_cz_engine)engine, &err);
        if (!s->dec) {
            dmvf__cli_err("%s: cannot start decoding: %s", dmvf__cz_format_name(s->comp),
                          err == DMVF_CZ_ENOMEM    ? "out of memory"
                          : err == DMVF_CZ_EENGINE ? "DMVFILTER_GZIP names no engine of this build"
                                                   : "library error");
            return err == DMVF_CZ_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
        }
        s->zin.src = s->raw;
        s->zin.size = s->raw_len;
        s->zin.pos = 0;
    }
    return 0;
}

/* The compressed bytes the decoder has consumed. */
static uint64_t comp_consumed(const dmvf_cli_src *s)
{
    return s->raw_base + (uint64_t)s->zin.pos;
}

/* A corrupt or cut input: what, and where (the decoder's error: where it
 * says; else where the input stands). */
static int comp_error(dmvf_cli_src *s, const char *what, int decoder)
{
    uint64_t off = comp_consumed(s);
    int exact = decoder ? dmvf__cz_dec_where(s->dec, &off) : 1;
    return src_fail(s, DMVF_EXIT_DATAERR, "input %s: %s: %s %sat compressed byte offset %llu", s->name,
                    dmvf__cz_format_name(s->comp), what, exact ? "" : "in the member starting ",
                    (unsigned long long)off);
}

/* The inflate limit: DMVF_EXIT_DATAERR when total inflated bytes are past
 * it (see dmvf__cli_src_open in cli.h), else 0. */
static int comp_check_limit(dmvf_cli_src *s, uint64_t total)
{
    char m[300];
    if (dmvf__cz_limit(total, comp_consumed(s), s->max_inflate, m, sizeof m) == 0)
        return 0;
    return src_fail(s, DMVF_EXIT_DATAERR, "input %s: %s: %s", s->name, dmvf__cz_format_name(s->comp), m);
}

static int comp_read(dmvf_cli_src *s, unsigned char *buf, size_t cap, size_t *n, int *eof)
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
            ssize_t r = dmvf__cli_read_retry(s->fd, s->raw, s->raw_cap);
            if (r < 0)
                return src_read_error(s);
            if (r == 0)
                s->raw_eof = 1;
            s->raw_len = (size_t)r;
            s->bytes_in += (uint64_t)r;
            s->zin.size = (size_t)r;
            s->zin.pos = 0;
        }
        size_t in0 = s->zin.pos, out0 = have;
        dmvf_cz_out out = {buf, cap, have};
        int zr = dmvf__cz_dec_stream(s->dec, &out, &s->zin);
        have = out.pos;
        if (zr == DMVF_CZ_ENOMEM)
            return src_fail(s, DMVF_EXIT_NOMEM, "%s: out of memory", dmvf__cz_format_name(s->comp));
        if (zr)
            return comp_error(s, dmvf__cz_dec_msg(s->dec), 1);
        if (comp_check_limit(s, s->bytes_out + have))
            return DMVF_EXIT_DATAERR;
        if (s->zin.pos == in0 && have == out0) {
            /* no progress: input needed, or the end */
            if (s->zin.pos < s->zin.size)
                return comp_error(s, "the decoder stopped", 0);
            if (s->raw_eof) {
                if (!dmvf__cz_dec_at_end(s->dec))
                    return comp_error(s, "unexpected end of compressed data", 0);
                *eof = 1;     /* the last member ended with the file */
                break;
            }
        }
        if (have > 0 && s->zin.pos == s->zin.size && !s->raw_eof)
            break;      /* hand out what there is before blocking on a read */
    }
    *n = have;
    s->bytes_out += have;
    return 0;
}

int dmvf__cli_src_read(dmvf_cli_src *s, void *buf, size_t cap, size_t *n, int *eof)
{
    *n = 0;
    *eof = 0;
    if (s->comp != DMVF_CZ_NONE)
        return comp_read(s, buf, cap, n, eof);
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
    dmvf__cz_dec_free(s->dec);
    s->dec = NULL;
    if (s->fd > STDIN_FILENO)
        close(s->fd);
    s->fd = -1;
    free(s->raw);
    s->raw = NULL;
}
