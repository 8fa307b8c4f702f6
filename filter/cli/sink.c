/*
 * sink.c - the command line's output: where released bytes go, and when
 * they may leave.
 *
 * Output, two kinds. A named regular file (or one not there yet) is written
 * to a temp file created (mode 0600: released data is sensitive) in its
 * directory, fsync'd and put in place under the name only on success; on
 * failure the temp file is removed and the named file is not touched. The
 * temp file is unnamed where the file system allows (open(dir, O_TMPFILE)):
 * even SIGKILL leaves nothing behind, and at commit it is linked (linkat
 * through /proc/self/fd) to a hidden name and renamed over the target.
 * Elsewhere it is a hidden .NAME.tmp.XXXXXX file (mkstemp) renamed over the
 * target, which SIGINT, SIGTERM and SIGHUP remove, and only SIGKILL can
 * leave behind. Everything else (stdout, whatever it is: a pipe, a file, a
 * terminal; a named FIFO, socket or device such as /dev/null, written in
 * place: a node is never replaced by a file) cannot be taken back once
 * written, so what is written is held in a spool until the caller says it
 * may leave:
 *
 *   sink_write --> spool (unnamed 0600 file in --spool-dir or $TMPDIR)
 *   sink_release / sink_commit --> copied to the output, spool emptied
 *
 * The spool is an O_TMPFILE file, or a mkstemp file unlinked at once:
 * nothing stays behind, and memory stays bounded whatever the release's
 * size. Compressed (gzip or zstd, compress.c), sink_release ends a member,
 * so that what has left is whole; a named file gets the same members, and
 * a member's bytes depend on its content alone, so every kind of output
 * holds the same bytes.
 * A named file's writeback is started as it is written, a window at a
 * time (sync_file_range, SYNC_FILE_RANGE_WRITE: it does not wait), so the
 * disk writes while the records are still being rewritten and commit's
 * fsync waits only for the last of it. The spool is read back soon and
 * has no use for the disk, so it is left to the page cache.
 * Writes retry on EINTR and partial writes; SIGPIPE is ignored so a closed
 * pipe is an EPIPE error, not a silent death; a copy that fails part way
 * says how many bytes had left.
 */
#define _GNU_SOURCE     /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "filter/cli/cli.h"
#include "filter/core/fileio.h"

#define COPY_CAP ((size_t)1 << 20)
/* a named file's writeback is started once this much more was written */
#define WRITEBACK_WINDOW ((uint64_t)8 << 20)

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

/* Blocks SIGINT, SIGTERM and SIGHUP (the old mask in *old) while a file
 * has a name that only their handler, or nothing, would remove. */
static void block_signals(sigset_t *old)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, old);
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

static const char *sink_name(const dmvf_cli_sink *k)
{
    return k->path ? k->path : "<stdout>";
}

static int sink_write_fd(dmvf_cli_sink *k, const void *buf, size_t n)
{
    if (dmvf__write_all(k->fd, buf, n) != 0) {
        if (k->spool)
            dmvf__cli_err("output %s: write failed: %s (its spool in %s)", sink_name(k),
                          strerror(errno), k->spool_dir);
        else
            dmvf__cli_err("output %s: write failed: %s", sink_name(k), strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    k->written += n;
#ifdef SYNC_FILE_RANGE_WRITE
    if (k->path && !k->spool && k->written - k->started >= WRITEBACK_WINDOW) {
        /* only a start: commit's fsync is what makes the file durable, and
           what reports a failure */
        (void)sync_file_range(k->fd, (off_t)k->started, (off_t)(k->written - k->started),
                              SYNC_FILE_RANGE_WRITE);
        k->started = k->written;
    }
#endif
    return 0;
}

/* ---- the spool: what is released to stdout, a pipe, a FIFO or a device ---- */

static const char *default_spool_dir(void)
{
    const char *t = getenv("TMPDIR");
    return t && t[0] ? t : "/tmp";
}

/* An unnamed 0600 file in dir, open for reading and writing: O_TMPFILE
 * where the file system has it, else a mkstemp file unlinked at once (with
 * SIGINT, SIGTERM and SIGHUP blocked in between, so that only SIGKILL there
 * can leave it behind). -1 with errno on failure. */
static int open_spool(const char *dir)
{
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, S_IRUSR | S_IWUSR);
    /* EISDIR: a kernel without O_TMPFILE; EOPNOTSUPP, EINVAL: a file system without it */
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != ENOTSUP && errno != EISDIR && errno != EINVAL))
        return fd;
#endif
    size_t n = strlen(dir) + sizeof "/.dmvfilter-spool.XXXXXX";
    char *t = malloc(n);
    if (!t) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(t, n, "%s/.dmvfilter-spool.XXXXXX", dir);
    sigset_t old;
    block_signals(&old);
    int sfd = mkostemp(t, O_CLOEXEC);
    int e = errno;
    if (sfd >= 0)
        unlink(t);
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(t);
    errno = e;
    return sfd;
}

int dmvf__cli_sink_open(dmvf_cli_sink *k, const char *path, const dmvf_cz_opts *cz, const char *spool_dir)
{
    memset(k, 0, sizeof *k);
    k->fd = -1;
    k->out_fd = -1;
    if (path && strcmp(path, "-") == 0)
        path = NULL;
    k->path = path;
    if (cz && cz->format != DMVF_CZ_NONE) {
        int err;
        k->enc = dmvf__cz_enc_create(cz, &err);
        if (!k->enc) {
            dmvf__cli_err("%s: cannot start compressing: %s", dmvf__cz_format_name(cz->format),
                          err == DMVF_CZ_ENOMEM ? "out of memory" : "library error");
            return err == DMVF_CZ_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
        }
    }
    struct stat st;
    int exists = path && stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        dmvf__cli_err("output %s: is a directory", path);
        return DMVF_EXIT_IOERR;
    }
    if (!path || (exists && !S_ISREG(st.st_mode))) {
        /* stdout, or a node that is not a regular file (a FIFO, a device):
           what is released is held in the spool and copied out by
           release and commit; a node is written in place, never replaced */
        if (path) {
            k->direct = 1;
            k->out_fd = open(path, O_WRONLY | O_CLOEXEC);
            if (k->out_fd < 0) {
                dmvf__cli_err("output %s: cannot open: %s", path, strerror(errno));
                return DMVF_EXIT_IOERR;
            }
        } else {
            k->out_fd = STDOUT_FILENO;
        }
        dmvf__cli_pipe_grow(k->out_fd);
        k->spool = 1;
        k->spool_dir = spool_dir && spool_dir[0] ? spool_dir : default_spool_dir();
        k->fd = open_spool(k->spool_dir);
        if (k->fd < 0) {
            dmvf__cli_err("output %s: cannot create its spool in %s: %s", sink_name(k), k->spool_dir,
                          strerror(errno));
            return DMVF_EXIT_IOERR;
        }
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

/* After an encoder call (its result r): the compressed bytes it made are
 * written out. 0 or an exit code. */
static int sink_compressed(dmvf_cli_sink *k, int r)
{
    if (r) {
        dmvf__cli_err("%s", r == DMVF_CZ_ENOMEM ? "out of memory" : "compression failed");
        return r == DMVF_CZ_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
    }
    size_t n = k->zlen;
    k->zlen = 0;
    return sink_write_fd(k, k->zbuf, n);
}

int dmvf__cli_sink_write(dmvf_cli_sink *k, const void *buf, size_t n)
{
    if (n == 0)
        return 0;
    k->payload += n;
    if (!k->enc)
        return sink_write_fd(k, buf, n);
    k->zmember = 1;
    return sink_compressed(k, dmvf__cz_enc_update(k->enc, buf, n, &k->zbuf, &k->zcap, &k->zlen));
}

/* Ends the member being written; the next byte starts another. */
static int end_member(dmvf_cli_sink *k)
{
    int rc = sink_compressed(k, dmvf__cz_enc_end(k->enc, &k->zbuf, &k->zcap, &k->zlen));
    if (rc)
        return rc;
    k->zmember = 0;
    k->members++;
    return 0;
}

/* Copies the spool to the output and empties it. On a failed write the
 * message says how much of the whole output had left. */
static int spool_send(dmvf_cli_sink *k)
{
    if (k->written == 0)
        return 0;
    if (!k->cbuf && !(k->cbuf = malloc(COPY_CAP))) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    if (lseek(k->fd, 0, SEEK_SET) != 0) {
        dmvf__cli_err("output %s: cannot read back its spool: %s", sink_name(k), strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    uint64_t total = k->sent + k->written, left = k->written;
    while (left > 0) {
        ssize_t r = dmvf__cli_read_retry(k->fd, k->cbuf, left < COPY_CAP ? (size_t)left : COPY_CAP);
        if (r <= 0) {
            dmvf__cli_err("output %s: cannot read back its spool: %s", sink_name(k),
                          r == 0 ? "it is shorter than what was written" : strerror(errno));
            return DMVF_EXIT_IOERR;
        }
        const unsigned char *p = k->cbuf;
        size_t m = (size_t)r;
        while (m > 0) {
            ssize_t w = write(k->out_fd, p, m);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                if (w == 0)
                    errno = EIO;
                dmvf__cli_err("output %s: write failed: %s; %llu of %llu bytes had left",
                              sink_name(k), strerror(errno), (unsigned long long)k->sent,
                              (unsigned long long)total);
                return DMVF_EXIT_IOERR;
            }
            p += w;
            m -= (size_t)w;
            k->sent += (uint64_t)w;
        }
        left -= (uint64_t)r;
    }
    if (ftruncate(k->fd, 0) != 0 || lseek(k->fd, 0, SEEK_SET) != 0) {
        dmvf__cli_err("output %s: cannot empty its spool: %s", sink_name(k), strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    k->written = 0;
    return 0;
}

int dmvf__cli_sink_release(dmvf_cli_sink *k)
{
    int rc = 0;
    if (k->enc && k->zmember)
        rc = end_member(k);
    if (rc == 0 && k->spool)
        rc = spool_send(k);
    return rc;
}

int dmvf__cli_sink_rewind(dmvf_cli_sink *k)
{
    if (k->sent > 0) {
        dmvf__cli_err("output %s: %llu bytes had left already; a refusal cannot take them back",
                      sink_name(k), (unsigned long long)k->sent);
        return DMVF_EXIT_SOFTWARE;
    }
    if (k->written > 0 && (ftruncate(k->fd, 0) != 0 || lseek(k->fd, 0, SEEK_SET) != 0)) {
        dmvf__cli_err("output %s: cannot truncate: %s",
                      k->spool ? "spool" : k->anon ? k->path : tmp_name, strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    if (k->enc && dmvf__cz_enc_reset(k->enc) != 0) {
        dmvf__cli_err("cannot restart compressing");
        return DMVF_EXIT_SOFTWARE;
    }
    k->written = 0;
    k->started = 0;
    k->payload = 0;
    k->zmember = 0;
    k->members = 0;
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

    sigset_t old;
    block_signals(&old);
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
    /* an empty release is still a gzip (zstd) file: one empty member */
    if (k->enc && (k->zmember || k->members == 0))
        rc = end_member(k);
    if (rc == 0 && k->spool) {
        rc = spool_send(k);
        if (rc == 0 && k->direct) {
            int fd = k->out_fd;
            k->out_fd = -1;
            if (close(fd) != 0) {
                dmvf__cli_err("output %s: close failed: %s", k->path, strerror(errno));
                rc = DMVF_EXIT_IOERR;
            }
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
    if (k->spool) {
        /* the spool has no name: it goes with its descriptor */
        if (k->fd >= 0)
            close(k->fd);
        k->fd = -1;
        if (k->direct && k->out_fd >= 0)
            close(k->out_fd);
        k->out_fd = -1;
    } else {
        if (k->path && k->fd >= 0) {
            close(k->fd);
            k->fd = -1;
        }
        if (k->path && tmp_name) {
            if (!k->anon)
                unlink(tmp_name);       /* an unnamed file went with its descriptor */
            set_pending(NULL);
            free(tmp_name);
            tmp_name = NULL;
        }
    }
    dmvf__cz_enc_free(k->enc);
    k->enc = NULL;
    free(k->zbuf);
    k->zbuf = NULL;
    free(k->cbuf);
    k->cbuf = NULL;
}
