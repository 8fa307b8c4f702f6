/*
 * fileio.c - the durable-write steps every file the library writes shares
 * (keyring, audit log, notice queue, review spool, key files), creating a
 * file whole, and reading a small one whole (core/fileio.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/pballoc.h"

int dmvf__write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int dmvf__fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = strdup(".");
    } else if (slash == path) {
        dir = strdup("/");
    } else {
        dir = malloc((size_t)(slash - path) + 1);
        if (dir) {
            memcpy(dir, path, (size_t)(slash - path));
            dir[slash - path] = '\0';
        }
    }
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---- creating a file whole ---- */

int dmvf__file_aside(const char *target, const void *data, size_t len, mode_t mode, char **tmp)
{
    *tmp = NULL;
    const char *slash = strrchr(target, '/');
    int dirlen = slash ? (int)(slash - target + 1) : 0;
    const char *base = slash ? slash + 1 : target;
    size_t cap = strlen(target) + sizeof ".." ".tmp." "0123456789abcdef";
    char *name = malloc(cap);
    if (!name) {
        errno = ENOMEM;
        return DMVF__FILE_NOMEM;
    }
    snprintf(name, cap, "%.*s.%s.tmp.%08x%08x", dirlen, target, base,
             (unsigned)randombytes_random(), (unsigned)randombytes_random());
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        free(name);
        errno = e;
        return DMVF__FILE_TEMP;
    }
    if (fchmod(fd, mode) != 0 || dmvf__write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(name);
        free(name);
        errno = e;
        return DMVF__FILE_WRITE;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(name);
        free(name);
        errno = e;
        return DMVF__FILE_WRITE;
    }
    *tmp = name;
    return DMVF__FILE_OK;
}

/* link() where the file system has hard links; else a rename that an
 * lstat has found nothing to replace for. */
static int place_new(const char *tmp, const char *target)
{
    if (link(tmp, target) == 0)
        return DMVF__FILE_OK;
    int e = errno;
    if (e == EEXIST)
        return DMVF__FILE_EXISTS;
    if (e != EPERM && e != ENOTSUP && e != EOPNOTSUPP && e != EMLINK && e != ENOSYS)
        return DMVF__FILE_PLACE;
    struct stat st;
    if (lstat(target, &st) == 0) {
        errno = EEXIST;
        return DMVF__FILE_EXISTS;
    }
    if (rename(tmp, target) != 0)
        return DMVF__FILE_PLACE;
    return DMVF__FILE_OK;
}

int dmvf__file_place(const char *tmp, const char *target, int how)
{
    int st;
    if (how == DMVF__FILE_NEW) {
        st = place_new(tmp, target);
        int e = errno;
        unlink(tmp);   /* after a link, or a failure; gone already after a rename */
        errno = e;
    } else {
        st = rename(tmp, target) == 0 ? DMVF__FILE_OK : DMVF__FILE_PLACE;
        if (st != DMVF__FILE_OK) {
            int e = errno;
            unlink(tmp);
            errno = e;
        }
    }
    if (st == DMVF__FILE_OK)
        (void)dmvf__fsync_parent(target);
    return st;
}

int dmvf__file_create(const char *target, const void *data, size_t len, mode_t mode, int how)
{
    char *tmp;
    int st = dmvf__file_aside(target, data, len, mode, &tmp);
    if (st != DMVF__FILE_OK)
        return st;
    st = dmvf__file_place(tmp, target, how);
    int e = errno;
    free(tmp);
    errno = e;
    return st;
}

int dmvf__file_error(dmvf_error *err, int st, const char *what, const char *target)
{
    const char *why = strerror(errno);
    switch (st) {
    case DMVF__FILE_NOMEM:
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing %s %s", what, target);
    case DMVF__FILE_TEMP:
        return dmvf__seterr(err, DMVF_EIO, "cannot create a temporary file beside %s %s: %s", what,
                            target, why);
    case DMVF__FILE_EXISTS:
        return dmvf__seterr(err, DMVF_EIO, "%s %s already exists", what, target);
    case DMVF__FILE_PLACE:
        return dmvf__seterr(err, DMVF_EIO, "cannot put %s %s in place: %s", what, target, why);
    default:
        return dmvf__seterr(err, DMVF_EIO, "cannot write %s %s: %s", what, target, why);
    }
}

/* ---- reading a file whole ---- */

/* read(), or with at pread() from *at on, until n bytes are in or the file
 * ends. */
static int read_loop(int fd, void *buf, size_t n, const uint64_t *at, size_t *got)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < n) {
        ssize_t r = at ? pread(fd, p + *got, n - *got, (off_t)(*at + *got))
                       : read(fd, p + *got, n - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

int dmvf__read_full(int fd, void *buf, size_t n, size_t *got)
{
    return read_loop(fd, buf, n, NULL, got);
}

int dmvf__pread_full(int fd, void *buf, size_t n, uint64_t at, size_t *got)
{
    return read_loop(fd, buf, n, &at, got);
}

int dmvf__file_read_fd(int fd, size_t max, uint8_t **buf, size_t *len, int flags, struct stat *st)
{
    struct stat own;
    *buf = NULL;
    *len = 0;
    if (!st)
        st = &own;
    if (fstat(fd, st) != 0)
        return DMVF__READ_STAT;
    if (!S_ISREG(st->st_mode))
        return DMVF__READ_NOTREG;
    if ((flags & DMVF__READ_PRIVATE) && (st->st_mode & 077))
        return DMVF__READ_MODE;
    if ((uintmax_t)st->st_size > max) {
        *len = (uintmax_t)st->st_size > SIZE_MAX ? SIZE_MAX : (size_t)st->st_size;
        return DMVF__READ_TOOBIG;
    }
    size_t size = (size_t)st->st_size, got;
    uint8_t *b = (flags & DMVF__READ_SECURE) ? dmvf__secure_alloc(size ? size : 1) : malloc(size ? size : 1);
    if (!b) {
        errno = ENOMEM;
        return DMVF__READ_NOMEM;
    }
    if (dmvf__read_full(fd, b, size, &got) != 0) {
        int e = errno;
        if (flags & DMVF__READ_SECURE)
            sodium_free(b);
        else
            free(b);
        errno = e;
        return DMVF__READ_IO;
    }
    *buf = b;
    *len = got;
    return DMVF__READ_OK;
}

int dmvf__file_read(const char *path, size_t max, uint8_t **buf, size_t *len, int flags, struct stat *st)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return DMVF__READ_OPEN;
    int rc = dmvf__file_read_fd(fd, max, buf, len, flags, st);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}
