/*
 * core/fileio.h - the file I/O every durable write goes through: writing
 * all of a buffer, syncing a directory, and creating a file whole (keyring,
 * key files, review items and decisions, a review's release); and reading a
 * small file whole (review items, secret key files).
 *
 * A file is created whole thus, so that a crash leaves either no file or
 * all of it, never a part:
 *   1. aside   a new temporary file beside the target (".NAME.tmp.RANDOM" in
 *              its directory; O_CREAT|O_EXCL|O_NOFOLLOW, then fchmod to the
 *              mode asked for), written, fsync'd, closed;
 *   2. place   NEW: link()ed to the target, which never replaces a file
 *              (where the file system has no hard links, renamed after an
 *              lstat finds no target), then the temporary name unlinked;
 *              REPLACE: renamed over the target;
 *   3.         the directory fsync'd (best effort: the file is in place).
 * The system calls, in this order, are what tests/faultshim.c counts and
 * kills between (write, fsync, rename).
 */
#ifndef DMVF_CORE_FILEIO_H
#define DMVF_CORE_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "dmvfilter/common.h"

/* Writes all n bytes, retrying EINTR and short writes (a write of 0 bytes is
 * EIO). 0 or -1 with errno. */
int dmvf__write_all(int fd, const void *buf, size_t n);
/* fsyncs the directory holding path, so that a rename or link into it
 * survives a crash. 0 or -1 with errno. */
int dmvf__fsync_parent(const char *path);

/* How a created file is put in place. */
enum { DMVF__FILE_NEW, DMVF__FILE_REPLACE };
/* Where creating a file failed; errno says why (ENOMEM for NOMEM). */
enum {
    DMVF__FILE_OK = 0,
    DMVF__FILE_NOMEM,    /* no memory for the temporary name */
    DMVF__FILE_TEMP,     /* the temporary file could not be created */
    DMVF__FILE_WRITE,    /* writing, fsync or close of it failed */
    DMVF__FILE_EXISTS,   /* NEW: the target exists */
    DMVF__FILE_PLACE     /* the link or rename into place failed */
};

/* Step 1: data[0..len) into a new temporary file beside target, of the
 * given mode. DMVF__FILE_OK with *tmp its name (malloc'd: the caller frees
 * it), or a failure with *tmp NULL and no temporary file left. */
int dmvf__file_aside(const char *target, const void *data, size_t len, mode_t mode, char **tmp);
/* Steps 2 and 3: the temporary file tmp put in place as target, how being
 * DMVF__FILE_NEW or DMVF__FILE_REPLACE. The name tmp is gone afterwards,
 * whatever the result (the string is not freed). */
int dmvf__file_place(const char *tmp, const char *target, int how);
/* All three steps; the result as theirs. */
int dmvf__file_create(const char *target, const void *data, size_t len, mode_t mode, int how);
/* Fills *err for a failure `st` of the above ("cannot write WHAT TARGET:
 * <errno's text>", "WHAT TARGET already exists", ...) and returns its code:
 * DMVF_ENOMEM for NOMEM, else DMVF_EIO. Call it right after the failure:
 * it reads errno. */
int dmvf__file_error(dmvf_error *err, int st, const char *what, const char *target);

/* ---- reading a file whole ---- */

/* Reads from fd until n bytes are in or the file ends, retrying EINTR and
 * short reads. *got: the bytes read (fewer than n only at the end of the
 * file, or before a failure). 0, or -1 with errno. */
int dmvf__read_full(int fd, void *buf, size_t n, size_t *got);
/* The same from file offset at, with pread (fd's offset does not move). */
int dmvf__pread_full(int fd, void *buf, size_t n, uint64_t at, size_t *got);

/* How dmvf__file_read reads. */
enum {
    DMVF__READ_SECURE = 1,   /* into dmvf__secure_alloc memory (sodium_free it), not malloc */
    DMVF__READ_PRIVATE = 2   /* refuse a file that group or others have any permission on */
};
/* Where reading a file whole failed; errno says why for OPEN, STAT and IO. */
enum {
    DMVF__READ_OK = 0,
    DMVF__READ_OPEN,     /* it could not be opened (errno ENOENT: there is none) */
    DMVF__READ_STAT,     /* fstat failed */
    DMVF__READ_NOTREG,   /* not a regular file */
    DMVF__READ_MODE,     /* PRIVATE: group or others have permission bits */
    DMVF__READ_TOOBIG,   /* more than max bytes: *len is its size */
    DMVF__READ_NOMEM,    /* no memory for its bytes */
    DMVF__READ_IO        /* a read failed */
};

/* The regular file open at fd, from its offset: as many bytes as fstat
 * says it holds (at most max; a file that shrinks meanwhile gives what was
 * there: *len < st->st_size) into *buf (malloc'd, or dmvf__secure_alloc'd
 * with DMVF__READ_SECURE; never NULL on success, even for an empty file:
 * the caller frees it), *len bytes; flags DMVF__READ_*. DMVF__READ_OK, or a
 * failure with *buf NULL (and, but for TOOBIG, *len 0). st, when not NULL,
 * receives the file's fstat (from DMVF__READ_NOTREG on), for messages.
 * fd stays open. */
int dmvf__file_read_fd(int fd, size_t max, uint8_t **buf, size_t *len, int flags, struct stat *st);
/* The same for the file at path, opened O_RDONLY | O_CLOEXEC | O_NOCTTY |
 * O_NONBLOCK (a FIFO does not block the open: it is refused as not a
 * regular file) and closed again. */
int dmvf__file_read(const char *path, size_t max, uint8_t **buf, size_t *len, int flags, struct stat *st);

#endif
