/*
 * notices_file.c - the notice queue file: its lock, opening it to append,
 * appending whole lines and cutting a failed append back off.
 *
 * The queue file, appended under flock(LOCK_EX), never rewritten:
 *
 *   offset 0
 *   +------------------------------------------------------------------+
 *   | {"type":"notice","id":"<16 hex>","subject":"<record_id>", ...}\n | one call of
 *   | {"type":"notice","id":"<16 hex>","subject":"<record_id>", ...}\n | dmvf_notices_queue:
 *   |                                                                  | one write(), fsync
 *   | {"type":"sent","id":"<16 hex>","date":"YYYY-MM-DD","actor":S}\n  | dmvf_notices_mark_sent
 *   | ...                                                              |
 *   +------------------------------------------------------------------+
 *   every line ends with '\n' and is at most DMVF_NOTICE_MAX_LINE bytes
 *   (with the '\n'); a file that ends inside a line is malformed and is
 *   never appended to.
 *
 * The file is 0600 (it holds record_ids): one readable or writable by group
 * or others is refused. Readers take the lock shared (notices_due.c).
 * The lines are written by notices_queue.c and notices_sent.c, read by
 * notices_read.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/text.h"
#include "filter/account/notices_file_int.h"

int dmvf__notices_lock(int fd, int how)
{
    while (flock(fd, how) != 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

int dmvf__notices_open_append(const char *path, int create, int *fdp, uint64_t *size,
                              dmvf_error *err)
{
    int created = 0;
    int fd = -1;
    if (create) {
        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            created = 1;
        else if (errno != EEXIST)
            return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot create: %s", path,
                                strerror(errno));
    }
    if (fd < 0) {
        fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0)
            return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot open: %s", path,
                                strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return dmvf__seterr(err, DMVF_EIO,
                            "notice queue %s: readable or writable by group or others (mode %04o); "
                            "it holds record_ids: chmod 600 it",
                            path, (unsigned)(st.st_mode & 07777));
    }
    if (created && dmvf__fsync_parent(path) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot sync its directory: %s", path,
                            strerror(e));
    }
    if (dmvf__notices_lock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot lock: %s", path, strerror(e));
    }
    *fdp = fd;
    *size = (uint64_t)st.st_size;
    return DMVF_OK;
}

int dmvf__notices_append(int fd, const char *path, uint64_t size, const dmvf__text *b,
                         dmvf_error *err)
{
    if (size > 0) {
        char last = 0;
        size_t got = 0;
        int r = dmvf__pread_full(fd, &last, 1, size - 1, &got);
        if (r != 0 || got != 1)
            return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot read its last byte: %s",
                                path, r != 0 ? strerror(errno) : "short read");
        if (last != '\n')
            return dmvf__seterr(err, DMVF_EIO,
                                "notice queue %s: ends inside a line (byte %llu is not a newline); "
                                "nothing appended: repair the file first",
                                path, (unsigned long long)(size - 1));
    }
    if (dmvf__write_all(fd, b->p, b->len) != 0 || fsync(fd) != 0) {
        int e = errno;
        if (ftruncate(fd, (off_t)size) == 0)
            (void)fsync(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot append: %s", path,
                            strerror(e));
    }
    return DMVF_OK;
}
