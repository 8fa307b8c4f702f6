/*
 * notices_file_int.h - the notice queue file (notices_file.c): its lock,
 * opening it to append, and appending whole lines (cut back on failure).
 * notices_file.c draws the file's layout.
 */
#ifndef DMVF_NOTICES_FILE_INT_H
#define DMVF_NOTICES_FILE_INT_H

#include <stdint.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/text.h"

/* flock(fd, how), retrying EINTR. 0, or -1 with errno. */
int dmvf__notices_lock(int fd, int how);
/* Opens the queue for appending (creating it 0600 when create is set),
 * refuses anything but a regular file without group/other access, and
 * takes the exclusive lock. *size: the file's size under the lock.
 * DMVF_OK or DMVF_EIO. */
int dmvf__notices_open_append(const char *path, int create, int *fdp, uint64_t *size,
                              dmvf_error *err);
/* Appends b (whole lines) under the lock already held, then fsyncs; on
 * any failure the file is cut back to size so that no partial line stays
 * behind. A file that does not end with '\n' is not appended to. DMVF_OK
 * or DMVF_EIO. */
int dmvf__notices_append(int fd, const char *path, uint64_t size, const dmvf__text *b,
                         dmvf_error *err);

#endif
