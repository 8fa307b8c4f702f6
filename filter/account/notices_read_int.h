/*
 * notices_read_int.h - the notice queue read whole and checked
 * (notices_read.c): per notice what the due list and marking sent need,
 * sorted by id.
 */
#ifndef DMVF_NOTICES_READ_INT_H
#define DMVF_NOTICES_READ_INT_H

#include <stddef.h>
#include <stdint.h>
#include "dmvfilter/dmvfilter.h"

typedef struct dmvf__qnotice {
    uint64_t id;
    uint64_t line;
    uint64_t off;        /* the line's file offset */
    uint32_t len;        /* without the '\n' */
    uint32_t due;        /* YYYYMMDD */
    uint64_t sent_line;  /* 0: not sent */
} dmvf__qnotice;

typedef struct dmvf__qsent {
    uint64_t id;
    uint64_t line;
} dmvf__qsent;

/* Start it zeroed with path set; free with dmvf__queue_free. */
typedef struct dmvf__nqueue {
    const char *path;
    dmvf__qnotice *nv;
    size_t nn, ncap;
    dmvf__qsent *sv;
    size_t ns, scap;
    char *lbuf;          /* the line reader's buffer (a line fits) */
    char *scratch;       /* DMVF_NOTICE_MAX_LINE + 1 bytes */
} dmvf__nqueue;

void dmvf__queue_free(dmvf__nqueue *q);
/* Reads the whole queue from fd (from offset 0; the caller holds a lock):
 * every line parsed and checked; then notices sorted by id, each notice
 * id unique, each "sent" line naming a notice above it that is not already
 * sent (sent_line set). DMVF_OK, DMVF_EMALFORMED (file, line, byte),
 * DMVF_EIO, DMVF_ENOMEM. */
int dmvf__queue_read(dmvf__nqueue *q, int fd, dmvf_error *err);
/* The notice with that id, or NULL. */
dmvf__qnotice *dmvf__queue_find(dmvf__nqueue *q, uint64_t id);

/* "notice queue PATH:LINE: why (byte B of the line)"; err->line is LINE,
 * err->column B (0 when byte is DMVF__NO_BYTE: the line as a whole is
 * wrong). Returns DMVF_EMALFORMED. */
#define DMVF__NO_BYTE SIZE_MAX
int dmvf__queue_malformed(dmvf_error *err, const char *path, uint64_t line, size_t byte,
                          const char *why);

#endif
