/*
 * faultshim.c - an LD_PRELOAD library that makes system calls and
 * allocations fail on demand, for tests/cli/faults.sh. It is not part of the
 * build: the script compiles it into its temp directory with
 *
 *   cc -shared -fPIC -O1 -o faultshim.so tests/faultshim.c -ldl
 *
 * Everything is configured by environment variables; unset means no fault.
 * Write faults apply to every descriptor except 2 (stderr stays usable, so
 * that the error message can be read); read faults to descriptor
 * DMVF_FAULT_READ_FD only (default 0, standard input), so that the policy
 * and keyring files load normally.
 *
 *   DMVF_FAULT_WRITE=short        every write() writes 1..7 bytes
 *   DMVF_FAULT_WRITE=enospc:N     writes fail with ENOSPC once N bytes are out
 *   DMVF_FAULT_WRITE=eio:N        the same with EIO
 *   DMVF_FAULT_WRITE=epipe:N      the same with EPIPE
 *   DMVF_FAULT_READ=one           every read() reads at most 1 byte
 *   DMVF_FAULT_READ=eintr         every other read() fails with EINTR first
 *   DMVF_FAULT_READ=eio:N         reads fail with EIO once N bytes are in
 *   DMVF_FAULT_FSYNC=eio          fsync() fails with EIO
 *   DMVF_FAULT_FSYNC_DELAY_MS=N   every fsync() takes N ms more (a slow disk)
 *   DMVF_FAULT_FSYNC_COUNT=FILE   after every fsync(), FILE holds how many the
 *                                 process has made (readable while it runs)
 *   DMVF_FAULT_RENAME=eio         rename() fails with EIO
 *   DMVF_FAULT_CLOSE=eio          close() of a descriptor opened for writing
 *                                 closes it, then reports EIO (as NFS may)
 *   DMVF_FAULT_KILL_AT=N          the process is killed (SIGKILL) just before its
 *                                 Nth durable step: a write() (not to stderr),
 *                                 fsync(), rename() or linkat(), as a crash
 *                                 would stop it between any two of them
 *   DMVF_FAULT_MALLOC=N           the Nth malloc/calloc/realloc returns NULL
 *   DMVF_FAULT_MALLOC_COUNT=FILE  at exit, write the number of allocations
 *                                 made to FILE
 *
 * Under AddressSanitizer preload the sanitizer runtime first
 * (LD_PRELOAD="libasan.so.N faultshim.so"): its read/write interceptors then
 * call into this library. Allocation faults are not possible there (the
 * sanitizer's allocator is used); the script skips them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#define EXPORTED __attribute__((visibility("default")))

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_read)(int, void *, size_t);
static int (*real_fsync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_close)(int);
static int (*real_linkat)(int, const char *, int, const char *, int);
static unsigned long long kill_at, steps;

/* ---- configuration, read once ---- */

enum { W_NONE, W_SHORT, W_FAIL };
enum { R_NONE, R_ONE, R_EINTR, R_FAIL };

static int inited;
static int wmode, werr, rmode, rerr, rfd, fsync_eio, rename_eio, close_eio;
static unsigned long fsync_delay_ms, fsyncs;
static const char *fsync_count;
static unsigned long long wlimit, rlimit, wdone, rdone;
static unsigned long flip;

static unsigned long long num_after(const char *s)
{
    const char *c = strchr(s, ':');
    return c ? strtoull(c + 1, NULL, 10) : 0;
}

static void init(void)
{
    if (inited)
        return;
    inited = 1;
    real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    real_linkat = (int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT, "linkat");
    const char *k = getenv("DMVF_FAULT_KILL_AT");
    kill_at = k ? strtoull(k, NULL, 10) : 0;
    const char *w = getenv("DMVF_FAULT_WRITE"), *r = getenv("DMVF_FAULT_READ");
    if (w) {
        if (strcmp(w, "short") == 0) {
            wmode = W_SHORT;
        } else {
            wmode = W_FAIL;
            werr = strncmp(w, "enospc", 6) == 0 ? ENOSPC : strncmp(w, "epipe", 5) == 0 ? EPIPE : EIO;
            wlimit = num_after(w);
        }
    }
    if (r) {
        if (strcmp(r, "one") == 0) {
            rmode = R_ONE;
        } else if (strcmp(r, "eintr") == 0) {
            rmode = R_EINTR;
        } else {
            rmode = R_FAIL;
            rerr = EIO;
            rlimit = num_after(r);
        }
    }
    const char *fd = getenv("DMVF_FAULT_READ_FD");
    rfd = fd ? atoi(fd) : 0;
    fsync_eio = getenv("DMVF_FAULT_FSYNC") != NULL;
    const char *fd_ms = getenv("DMVF_FAULT_FSYNC_DELAY_MS");
    fsync_delay_ms = fd_ms ? strtoul(fd_ms, NULL, 10) : 0;
    fsync_count = getenv("DMVF_FAULT_FSYNC_COUNT");
    rename_eio = getenv("DMVF_FAULT_RENAME") != NULL;
    close_eio = getenv("DMVF_FAULT_CLOSE") != NULL;
}

/* ---- I/O ---- */

/* One more durable step; the Nth is never taken. */
static void step(void)
{
    if (kill_at && ++steps == kill_at)
        raise(SIGKILL);
}

EXPORTED ssize_t write(int fd, const void *buf, size_t n)
{
    init();
    if (fd != 2)
        step();
    if (fd == 2 || wmode == W_NONE || n == 0)
        return real_write(fd, buf, n);
    if (wmode == W_SHORT) {
        size_t k = 1 + (size_t)(flip++ % 7);
        return real_write(fd, buf, n < k ? n : k);
    }
    if (wdone >= wlimit) {
        errno = werr;
        return -1;
    }
    if (n > wlimit - wdone)
        n = (size_t)(wlimit - wdone); /* a short write up to the limit first */
    ssize_t w = real_write(fd, buf, n);
    if (w > 0)
        wdone += (unsigned long long)w;
    return w;
}

EXPORTED ssize_t read(int fd, void *buf, size_t n)
{
    init();
    if (fd != rfd || rmode == R_NONE || n == 0)
        return real_read(fd, buf, n);
    if (rmode == R_ONE)
        return real_read(fd, buf, 1);
    if (rmode == R_EINTR) {
        if (flip++ % 2 == 0) {
            errno = EINTR;
            return -1;
        }
        return real_read(fd, buf, n);
    }
    if (rdone >= rlimit) {
        errno = rerr;
        return -1;
    }
    if (n > rlimit - rdone)
        n = (size_t)(rlimit - rdone);
    ssize_t r = real_read(fd, buf, n);
    if (r > 0)
        rdone += (unsigned long long)r;
    return r;
}

/* FILE of DMVF_FAULT_FSYNC_COUNT rewritten with the count so far (written
 * aside and renamed, one thread at a time: a reader sees a whole count) */
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;

static void count_fsync(void)
{
    pthread_mutex_lock(&count_mu);
    unsigned long n = ++fsyncs;
    if (fsync_count) {
        char tmp[4096], line[32];
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", fsync_count, (int)getpid());
        int len = snprintf(line, sizeof line, "%lu\n", n), fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            if (real_write(fd, line, (size_t)len) == len && real_close(fd) == 0)
                real_rename(tmp, fsync_count);
            else
                unlink(tmp);
        }
    }
    pthread_mutex_unlock(&count_mu);
}

EXPORTED int fsync(int fd)
{
    init();
    step();
    if (fsync_eio) {
        errno = EIO;
        return -1;
    }
    if (fsync_delay_ms)
        usleep((useconds_t)(fsync_delay_ms * 1000));
    int rc = real_fsync(fd);
    count_fsync();
    return rc;
}

EXPORTED int rename(const char *from, const char *to)
{
    init();
    step();
    if (rename_eio) {
        errno = EIO;
        return -1;
    }
    return real_rename(from, to);
}

EXPORTED int linkat(int dfd, const char *from, int ndfd, const char *to, int flags)
{
    init();
    step();
    return real_linkat(dfd, from, ndfd, to, flags);
}

EXPORTED int close(int fd)
{
    init();
    if (close_eio && fd > 2) {
        int fl = fcntl(fd, F_GETFL);
        int rc = real_close(fd);
        if (rc == 0 && fl >= 0 && (fl & O_ACCMODE) != O_RDONLY) {
            errno = EIO;
            return -1;
        }
        return rc;
    }
    return real_close(fd);
}

/* ---- allocation ---- */

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static _Alignas(16) unsigned char boot[8192];
static size_t boot_used;
static int resolving, malloc_on;
static unsigned long malloc_n, malloc_fail_at;

static void *boot_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof boot - boot_used)
        return NULL;
    void *p = boot + boot_used;
    boot_used += n;
    return p;
}

static int from_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

static void malloc_resolve(void)
{
    if (next_free)
        return;
    resolving = 1;
    next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    resolving = 0;
    const char *f = getenv("DMVF_FAULT_MALLOC");
    malloc_fail_at = f ? strtoul(f, NULL, 10) : 0;
    malloc_on = f != NULL || getenv("DMVF_FAULT_MALLOC_COUNT") != NULL;
}

/* 1 when this allocation is to fail (single-threaded use assumed: the
 * count is approximate with threads, which is fine for a fault). */
static int fail_now(void)
{
    if (!malloc_on)
        return 0;
    unsigned long n = __atomic_add_fetch(&malloc_n, 1, __ATOMIC_RELAXED);
    return malloc_fail_at && n == malloc_fail_at;
}

EXPORTED void *malloc(size_t n)
{
    if (resolving)
        return boot_alloc(n);
    malloc_resolve();
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return next_malloc(n);
}

EXPORTED void *calloc(size_t k, size_t n)
{
    if (resolving)
        return n && k > SIZE_MAX / n ? NULL : boot_alloc(k * n);
    malloc_resolve();
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return next_calloc(k, n);
}

EXPORTED void *realloc(void *p, size_t n)
{
    if (resolving)
        return NULL;
    malloc_resolve();
    if (p && from_boot(p)) {
        void *q = malloc(n);
        size_t have = (size_t)(boot + sizeof boot - (unsigned char *)p);
        if (q)
            memcpy(q, p, n < have ? n : have);
        return q;
    }
    if (n && fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return next_realloc(p, n);
}

EXPORTED void free(void *p)
{
    if (!p || from_boot(p))
        return;
    malloc_resolve();
    next_free(p);
}

__attribute__((destructor)) static void report_count(void)
{
    const char *f = getenv("DMVF_FAULT_MALLOC_COUNT");
    if (!f)
        return;
    char line[32];
    int n = snprintf(line, sizeof line, "%lu\n", malloc_n);
    int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        init();
        if (real_write(fd, line, (size_t)n) < 0) {
            /* nothing to do */
        }
        real_close(fd);
    }
}
