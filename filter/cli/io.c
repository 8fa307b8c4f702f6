/*
 * io.c - the command line's input and output.
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
 * Output: stdout, or a temp file created (mode 0600: released data is
 * sensitive) in the named file's directory, fsync'd and put in place under
 * the name only on success; on failure the temp file is removed and the
 * named file is not touched. The temp file is unnamed where the file system
 * allows (open(dir, O_TMPFILE)): even SIGKILL leaves nothing behind, and at
 * commit it is linked (linkat through /proc/self/fd) to a hidden name and
 * renamed over the target. Elsewhere it is a hidden .NAME.tmp.XXXXXX file
 * (mkstemp) renamed over the target, which SIGINT, SIGTERM and SIGHUP
 * remove, and only SIGKILL can leave behind.
 * Writes retry on EINTR and partial writes; SIGPIPE is ignored so a closed
 * pipe is an EPIPE error, not a silent death. A named output that exists and
 * is not a regular file (a device such as /dev/null, a FIFO) is written in
 * place: a device node is never replaced by a file.
 *
 * Pipes: input and output pipes are asked for a 1 MiB buffer (F_SETPIPE_SZ,
 * failure ignored) and are read and written in pieces of up to 1 MiB, so
 * that a pipe costs about what a file costs.
 */
#define _GNU_SOURCE     /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "filter/cli/cli.h"
#include "filter/core/fileio.h"

#define RAW_CAP ((size_t)1 << 20)
#define ZOUT_CAP ((size_t)1 << 20)
#define PIPE_WANT (1 << 20)

/* ---- signals: a pending temp output is removed when the process is killed ---- */

static char pending_tmp[4096];
static volatile sig_atomic_t have_pending;

static void on_fatal_signal(int sig)
{
    if (have_pending)
        unlink(pending_tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

void dmvf__cli_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_fatal_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void set_pending(const char *tmp)
{
    have_pending = 0;
    if (tmp) {
        size_t n = strlen(tmp);
        if (n < sizeof pending_tmp) {
            memcpy(pending_tmp, tmp, n + 1);
            have_pending = 1;
        }
    }
}

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

static ssize_t read_retry(int fd, void *buf, size_t cap)
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
        ssize_t r = read_retry(s->fd, s->raw + s->raw_len, s->raw_cap - s->raw_len);
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
            ssize_t r = read_retry(s->fd, s->raw, s->raw_cap);
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
    ssize_t r = read_retry(s->fd, buf, cap);
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

/* ---- output ---- */

static char *tmp_path_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t n = dlen + 1 + strlen(base) + sizeof ".tmp.XXXXXX";
    char *t = malloc(n);
    if (!t)
        return NULL;
    memcpy(t, path, dlen);
    snprintf(t + dlen, n - dlen, ".%s.tmp.XXXXXX", base);
    return t;
}

/* The (single) sink's temp name: the named temp file it writes, or, for an
 * unnamed O_TMPFILE file, the template of the hidden name it is linked to at
 * commit before being renamed over the target. */
static char *tmp_name;

/* The directory part of path ("." when it has none). 0, or -1 when it does
 * not fit in cap. */
static int dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        if (cap < 2)
            return -1;
        strcpy(dir, ".");
        return 0;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;                      /* "/file" */
    if (n >= cap)
        return -1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return 0;
}

/* "/proc/self/fd/N": the name through which an unnamed file is reached. */
static void proc_fd_path(int fd, char *buf, size_t cap)
{
    snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

/* Opens an unnamed file (O_TMPFILE, mode 0600) in path's directory.
 * Returns the descriptor; -2 when the file system, the kernel or a missing
 * /proc (the file is linked through /proc/self/fd at commit) rules it out,
 * so a named temp file is to be used instead; -1 with errno on failure. */
static int open_unnamed(const char *path)
{
#ifdef O_TMPFILE
    char dir[4096];
    if (dir_of(path, dir, sizeof dir) != 0)
        return -2;
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0) {
        /* EISDIR: a kernel without O_TMPFILE; EOPNOTSUPP, EINVAL: a file system without it */
        if (errno == EOPNOTSUPP || errno == ENOTSUP || errno == EISDIR || errno == EINVAL)
            return -2;
        return -1;
    }
    char proc[64];
    struct stat st;
    proc_fd_path(fd, proc, sizeof proc);
    if (stat(proc, &st) != 0) {
        close(fd);
        return -2;
    }
    return fd;
#else
    (void)path;
    return -2;
#endif
}

/* Replaces the trailing XXXXXX of name with letters and digits, different
 * from call to call. */
static void fill_unique(char *name)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40) ^
                 (++counter * 0x9e3779b97f4a7c15u);
    /* splitmix64 */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    x ^= x >> 31;
    char *p = name + strlen(name) - 6;
    for (int i = 0; i < 6; i++, x /= 62)
        p[i] = abc[x % 62];
}

static int sink_write_fd(dmvf_cli_sink *k, const void *buf, size_t n)
{
    if (dmvf__write_all(k->fd, buf, n) != 0) {
        dmvf__cli_err("output %s: write failed: %s", k->path ? k->path : "<stdout>", strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    k->written += n;
    return 0;
}

int dmvf__cli_sink_open(dmvf_cli_sink *k, const char *path, int gzip)
{
    memset(k, 0, sizeof *k);
    k->fd = -1;
    if (path && strcmp(path, "-") == 0)
        path = NULL;
    k->path = path;
    k->gzip = gzip;
    if (gzip) {
        k->zcap = ZOUT_CAP;
        k->zbuf = malloc(k->zcap);
        if (!k->zbuf) {
            dmvf__cli_err("out of memory");
            return DMVF_EXIT_NOMEM;
        }
        int zr = deflateInit2(&k->zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (zr != Z_OK) {
            dmvf__cli_err("gzip: cannot start deflating");
            return zr == Z_MEM_ERROR ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
        }
        k->zinit = 1;
    }
    if (!path) {
        k->fd = STDOUT_FILENO;
        dmvf__cli_pipe_grow(k->fd);
        return 0;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        dmvf__cli_err("output %s: is a directory", path);
        return DMVF_EXIT_IOERR;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or a FIFO: written in place (renaming over it would
           replace the node with a file) */
        k->direct = 1;
        k->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (k->fd < 0) {
            dmvf__cli_err("output %s: cannot open: %s", path, strerror(errno));
            return DMVF_EXIT_IOERR;
        }
        dmvf__cli_pipe_grow(k->fd);
        return 0;
    }
    free(tmp_name);
    tmp_name = tmp_path_for(path);
    if (!tmp_name) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    k->fd = open_unnamed(path);
    if (k->fd >= 0) {
        /* nothing to remove if the process dies: the file has no name yet */
        k->anon = 1;
        if (fchmod(k->fd, S_IRUSR | S_IWUSR) != 0) {
            dmvf__cli_err("output %s: chmod failed: %s", path, strerror(errno));
            return DMVF_EXIT_IOERR;
        }
        return 0;
    }
    if (k->fd == -1) {
        dmvf__cli_err("output %s: cannot create a temp file beside it: %s", path, strerror(errno));
        free(tmp_name);
        tmp_name = NULL;
        return DMVF_EXIT_IOERR;
    }
    k->fd = mkstemp(tmp_name);
    if (k->fd < 0) {
        dmvf__cli_err("output %s: cannot create a temp file beside it: %s", path, strerror(errno));
        free(tmp_name);
        tmp_name = NULL;
        return DMVF_EXIT_IOERR;
    }
    /* mkstemp creates 0600 under any umask; keep it so */
    if (fchmod(k->fd, S_IRUSR | S_IWUSR) != 0) {
        dmvf__cli_err("output %s: chmod failed: %s", tmp_name, strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    set_pending(tmp_name);
    return 0;
}

int dmvf__cli_sink_write(dmvf_cli_sink *k, const void *buf, size_t n)
{
    if (n == 0)
        return 0;
    k->payload += n;
    if (!k->gzip)
        return sink_write_fd(k, buf, n);
    const unsigned char *p = buf;
    while (n > 0) {
        uInt chunk = n > (size_t)UINT32_MAX ? UINT32_MAX : (uInt)n;
        k->zs.next_in = (unsigned char *)(uintptr_t)p;
        k->zs.avail_in = chunk;
        while (k->zs.avail_in > 0) {
            k->zs.next_out = k->zbuf;
            k->zs.avail_out = (uInt)k->zcap;
            if (deflate(&k->zs, Z_NO_FLUSH) == Z_STREAM_ERROR) {
                dmvf__cli_err("gzip: deflate failed");
                return DMVF_EXIT_SOFTWARE;
            }
            size_t got = k->zcap - k->zs.avail_out;
            int rc = sink_write_fd(k, k->zbuf, got);
            if (rc)
                return rc;
        }
        p += chunk;
        n -= chunk;
    }
    return 0;
}

int dmvf__cli_sink_rewind(dmvf_cli_sink *k)
{
    if (k->written > 0) {
        if (!k->path || k->direct) {
            dmvf__cli_err("output %s: a refused request had output already written",
                          k->path ? k->path : "<stdout>");
            return DMVF_EXIT_SOFTWARE;
        }
        if (ftruncate(k->fd, 0) != 0 || lseek(k->fd, 0, SEEK_SET) != 0) {
            dmvf__cli_err("output %s: cannot truncate: %s", k->anon ? k->path : tmp_name,
                          strerror(errno));
            return DMVF_EXIT_IOERR;
        }
    }
    if (k->zinit && deflateReset(&k->zs) != Z_OK) {
        dmvf__cli_err("gzip: cannot restart deflating");
        return DMVF_EXIT_SOFTWARE;
    }
    k->written = 0;
    k->payload = 0;
    return 0;
}

/* Puts the unnamed file k->fd (fsync'd) in place as k->path: it is reopened
 * read-only through /proc, the writing descriptor is closed (a close error,
 * as NFS may report, fails the commit with nothing linked), the file is
 * linked to a fresh hidden name beside path and renamed over path. The
 * link and the rename run with SIGINT, SIGTERM and SIGHUP blocked, so that
 * only SIGKILL between the two can leave the hidden name behind. */
static int commit_unnamed(dmvf_cli_sink *k)
{
    char proc[64];
    proc_fd_path(k->fd, proc, sizeof proc);
    int ro = open(proc, O_RDONLY | O_CLOEXEC);
    if (ro < 0) {
        dmvf__cli_err("output %s: cannot reopen the temp file through %s: %s", k->path, proc,
                      strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    int fd = k->fd;
    k->fd = -1;
    if (close(fd) != 0) {
        dmvf__cli_err("output %s: close failed: %s", k->path, strerror(errno));
        close(ro);
        return DMVF_EXIT_IOERR;
    }
    proc_fd_path(ro, proc, sizeof proc);

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    int rc = 0, linked = 0;
    for (int tries = 0; tries < 100 && !linked; tries++) {
        fill_unique(tmp_name);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp_name, AT_SYMLINK_FOLLOW) == 0)
            linked = 1;
        else if (errno != EEXIST)
            break;
    }
    if (!linked) {
        dmvf__cli_err("output %s: cannot link the temp file into its directory: %s", k->path,
                      strerror(errno));
        rc = DMVF_EXIT_IOERR;
    } else if (rename(tmp_name, k->path) != 0) {
        dmvf__cli_err("output %s: cannot rename %s over it: %s", k->path, tmp_name, strerror(errno));
        unlink(tmp_name);
        rc = DMVF_EXIT_IOERR;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(ro);
    if (rc == 0)
        (void)dmvf__fsync_parent(k->path);   /* best effort: the rename itself succeeded */
    free(tmp_name);
    tmp_name = NULL;
    return rc;
}

int dmvf__cli_sink_commit(dmvf_cli_sink *k)
{
    int rc = 0;
    if (k->zinit) {
        int zr;
        do {
            k->zs.next_in = NULL;
            k->zs.avail_in = 0;
            k->zs.next_out = k->zbuf;
            k->zs.avail_out = (uInt)k->zcap;
            zr = deflate(&k->zs, Z_FINISH);
            if (zr == Z_STREAM_ERROR) {
                dmvf__cli_err("gzip: deflate failed");
                rc = DMVF_EXIT_SOFTWARE;
                break;
            }
            rc = sink_write_fd(k, k->zbuf, k->zcap - k->zs.avail_out);
        } while (rc == 0 && zr != Z_STREAM_END);
    }
    if (rc == 0 && k->path && k->direct) {
        int fd = k->fd;
        k->fd = -1;
        if (close(fd) != 0) {
            dmvf__cli_err("output %s: close failed: %s", k->path, strerror(errno));
            rc = DMVF_EXIT_IOERR;
        }
    } else if (rc == 0 && k->path) {
        if (fsync(k->fd) != 0) {
            dmvf__cli_err("output %s: fsync failed: %s", k->path, strerror(errno));
            rc = DMVF_EXIT_IOERR;
        } else if (k->anon) {
            rc = commit_unnamed(k);
        } else {
            int fd = k->fd;
            k->fd = -1;
            if (close(fd) != 0) {
                dmvf__cli_err("output %s: close failed: %s", k->path, strerror(errno));
                rc = DMVF_EXIT_IOERR;
            } else if (rename(tmp_name, k->path) != 0) {
                dmvf__cli_err("output %s: cannot rename %s over it: %s", k->path, tmp_name,
                              strerror(errno));
                rc = DMVF_EXIT_IOERR;
            } else {
                set_pending(NULL);
                free(tmp_name);
                tmp_name = NULL;
                (void)dmvf__fsync_parent(k->path);   /* best effort: the rename itself succeeded */
            }
        }
    }
    dmvf__cli_sink_abort(k);
    return rc;
}

void dmvf__cli_sink_abort(dmvf_cli_sink *k)
{
    if (k->path && k->fd >= 0) {
        close(k->fd);
        k->fd = -1;
    }
    if (k->path && !k->direct && tmp_name) {
        if (!k->anon)
            unlink(tmp_name);       /* an unnamed file went with its descriptor */
        set_pending(NULL);
        free(tmp_name);
        tmp_name = NULL;
    }
    if (k->zinit)
        deflateEnd(&k->zs);
    k->zinit = 0;
    free(k->zbuf);
    k->zbuf = NULL;
}
