/*
 * core/fileio.h - the file I/O every durable write goes through.
 */
#ifndef DMVF_CORE_FILEIO_H
#define DMVF_CORE_FILEIO_H

#include <stddef.h>

/* Writes all n bytes, retrying EINTR and short writes (a write of 0 bytes is
 * EIO). 0 or -1 with errno. */
int dmvf__write_all(int fd, const void *buf, size_t n);
/* fsyncs the directory holding path, so that a rename or link into it
 * survives a crash. 0 or -1 with errno. */
int dmvf__fsync_parent(const char *path);

#endif
