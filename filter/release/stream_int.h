/*
 * stream_int.h - private to filter/release/: the delimited-message reader and the output queue
 * shared by the records and framed stream processors.
 */
#ifndef DMVF_STREAM_H
#define DMVF_STREAM_H

#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/varint.h"

/* Reads varint-length-delimited messages out of caller chunks. A message
 * wholly inside the chunk is returned in place; one split across chunks is
 * gathered in `acc`, grown by doubling as its bytes arrive (so a length
 * prefix alone never makes it hold memory), kept for the next one. */
typedef struct dmvf__reader {
    uint8_t *acc;
    size_t acc_len, acc_cap;
    size_t need;        /* prefix + payload of the message in acc; 0 while its prefix is incomplete */
    size_t pre;         /* prefix length of the message in acc */
    uint64_t consumed;  /* stream bytes consumed */
    uint64_t index;     /* messages returned */
    size_t max;         /* largest payload accepted */
    const char *what;   /* "record" or "frame", for messages */
    int allow_empty;    /* 1: a 0-length message is one (a release's own records) */
} dmvf__reader;

void dmvf__reader_init(dmvf__reader *rd, size_t max);
void dmvf__reader_reset(dmvf__reader *rd);
void dmvf__reader_free(dmvf__reader *rd);
/* 1: a message is in msg/len (valid until the next call), offset its
 * prefix's stream offset; 0: all input consumed (or clean end); -1: error
 * in *err (DMVF_EMALFORMED, DMVF_ETOOBIG, DMVF_ENOMEM) with offset and index. */
int dmvf__reader_next(dmvf__reader *rd, dmvf_in_buffer *in, int end,
                      const uint8_t **msg, size_t *len, uint64_t *offset, dmvf_error *err);

/* Output queue: delimited messages written into a growing buffer, drained
 * into the caller's out buffer; with `hold` set nothing is drained. */
typedef struct dmvf__outq {
    uint8_t *buf;
    size_t cap, len, pos;
    size_t pre;         /* bytes reserved for prefixes by the last reserve */
    uint8_t frame_key;  /* 0: plain delimited; else wrap each message as Frame field key */
    int hold;           /* nothing at or after `mark` is drained */
    size_t mark;        /* where the held request's output begins */
} dmvf__outq;

void dmvf__outq_init(dmvf__outq *q);
void dmvf__outq_free(dmvf__outq *q);
/* Space for one message about in_len bytes long: dst/room (dst NULL on
 * allocation failure). */
void dmvf__outq_reserve(dmvf__outq *q, size_t in_len, uint8_t **dst, size_t *room);
/* Doubles the buffer; 0 or -1 on allocation failure. */
int dmvf__outq_grow(dmvf__outq *q);
/* Commits olen bytes written at the reserved dst, with their prefixes. */
void dmvf__outq_commit(dmvf__outq *q, size_t olen);
/* Appends a complete delimited message (prefix written here). 0 or -1. */
int dmvf__outq_append(dmvf__outq *q, const uint8_t *msg, size_t n);
/* Drains into out; returns 1 while bytes remain queued, 0 when empty. */
int dmvf__outq_flush(dmvf__outq *q, dmvf_out_buffer *out);
/* Drops everything queued from `mark` on (the held request's output). */
void dmvf__outq_discard(dmvf__outq *q);


#endif
