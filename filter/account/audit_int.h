/*
 * audit_int.h - the audit log on disk, as the library's files share it:
 * the frame and its limits (audit_segment.c draws the layout), the segment
 * reader, the directory (audit_dir.c), HEAD (audit_head.c), what a
 * checkpoint signs (audit_checkpoint.c), and dmvf__audit_scan and the
 * cursor, through which the report and the query read the entries
 * (audit_snapshot.c).
 */
#ifndef DMVF_AUDIT_INT_H
#define DMVF_AUDIT_INT_H

#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "dmv/v1/audit.pb-c.h"

/* Calls fn for every entry of the log in dir, oldest first (parsing only:
 * no MAC or signature is checked; dmvf_audit_verify does that). The entry
 * is valid during the call only. Returns DMVF_OK, fn's non-zero return, or
 * an error (DMVF_EIO; DMVF_EMALFORMED naming the file and byte offset). */
typedef int (*dmvf__audit_entry_fn)(void *ud, const Dmv__V1__AuditEntry *e);
int dmvf__audit_scan(const char *dir, dmvf__audit_entry_fn fn, void *ud, dmvf_error *err);
/* The same entries one at a time: open takes the snapshot (DMVF_OK,
 * DMVF_EIO, DMVF_ENOMEM); next gives the next entry in *e, valid until the
 * following call, or *e NULL at the end (DMVF_OK), or an error as the
 * scan's. dir is borrowed for the cursor's life. */
typedef struct dmvf__audit_cursor dmvf__audit_cursor;
int dmvf__audit_cursor_open(const char *dir, dmvf__audit_cursor **c, dmvf_error *err);
int dmvf__audit_cursor_next(dmvf__audit_cursor *c, const Dmv__V1__AuditEntry **e,
                            dmvf_error *err);
void dmvf__audit_cursor_free(dmvf__audit_cursor *c);

/* ---- shared by the writer and the readers ---- */

#define DMVF__AUDIT_CHAIN_LEN 32u
#define DMVF__AUDIT_MAX_ITEM ((uint64_t)1 << 30)   /* larger: malformed */
#define DMVF__AUDIT_CHECKPOINT_CTX "dmvf-checkpoint-v1"
/* The segment reader's step: what it reads (or inflates) at a time. */
#define DMVF__AUDIT_RD_BUF ((size_t)64 << 10)

/* One item as framed in a segment: varint(len) || AuditItem || chain[32].
 * buf holds the whole frame (len bytes); the item is buf[pre..pre+item_len),
 * the chain the 32 bytes after it. off: the frame's byte offset in the
 * (inflated) segment. Reused from item to item; free with _frame_free. */
typedef struct dmvf__audit_frame {
    uint8_t *buf;
    size_t cap, len, pre, item_len;
    uint64_t off;
} dmvf__audit_frame;
void dmvf__audit_frame_free(dmvf__audit_frame *fr);

/* Reads the frames of one segment from fd (not closed here): plain, from
 * byte off up to limit (UINT64_MAX: the end of the file), or zlib (z != 0,
 * inflated in bounded steps from the start; off and limit ignored). NULL on
 * ENOMEM. */
typedef struct dmvf__audit_rd dmvf__audit_rd;
dmvf__audit_rd *dmvf__audit_rd_new(int fd, int z, uint64_t off, uint64_t limit);
void dmvf__audit_rd_free(dmvf__audit_rd *r);
/* The next frame into *fr: DMVF_OK with fr->len > 0, or DMVF_OK with
 * fr->len == 0 at a clean end. DMVF_EMALFORMED when the segment ends inside
 * a frame, a length is 0, too long or not a varint, or the zlib stream is
 * corrupt or followed by other bytes (fr->off: where the frame starts);
 * DMVF_EIO; DMVF_ENOMEM. name (the file) starts the message. */
int dmvf__audit_rd_next(dmvf__audit_rd *r, dmvf__audit_frame *fr, const char *name,
                        dmvf_error *err);
/* Raw bytes instead of frames: up to n into dst; *got < n only at the end
 * of the segment. Errors as _rd_next's. */
int dmvf__audit_rd_get(dmvf__audit_rd *r, uint8_t *dst, size_t n, size_t *got, const char *name,
                       dmvf_error *err);
/* The bytes handed out so far: the offset in the (inflated) segment. */
uint64_t dmvf__audit_rd_pos(const dmvf__audit_rd *r);

/* The segments in dir, ordered by number: which forms exist and the size
 * of the plain one. DMVF_OK (also for none), DMVF_EIO, DMVF_ENOMEM. */
typedef struct dmvf__audit_seg {
    uint64_t n;                  /* 1, 2, ... from audit-NNNNNNNN.log[.z] */
    int has_log, has_z;
    uint64_t log_size;
} dmvf__audit_seg;
int dmvf__audit_segments(const char *dir, dmvf__audit_seg **segs, size_t *n, dmvf_error *err);
/* "audit-NNNNNNNN.log" or, with z, "audit-NNNNNNNN.log.z". */
void dmvf__audit_seg_name(char *out, size_t cap, uint64_t n, int z);

/* Reads DIR/HEAD into *fr (a framed checkpoint item). DMVF_OK; DMVF_EIO
 * with errno ENOENT when there is none; DMVF_EMALFORMED when it is not one
 * frame. */
int dmvf__audit_head_read(const char *dir, dmvf__audit_frame *fr, dmvf_error *err);
/* Replaces DIR/HEAD with frame[0..len): written aside (DIR/.HEAD.tmp),
 * fsync'd, renamed, and the directory (dirfd) fsync'd. DMVF_OK or
 * DMVF_EIO. */
int dmvf__audit_head_write(const char *dir, int dirfd, const uint8_t *frame, size_t len,
                           dmvf_error *err);

/* The packed Checkpoint with its signature empty: what is signed. malloc'd
 * into *out; DMVF_OK or DMVF_ENOMEM. */
int dmvf__audit_checkpoint_signed_bytes(const Dmv__V1__Checkpoint *cp, uint8_t **out, size_t *n);
/* Whether cp carries a 64-byte signature by pub over those bytes: DMVF_OK,
 * DMVF_ETAMPER (it does not), DMVF_ENOMEM (nothing set in an error). */
int dmvf__audit_checkpoint_check(const uint8_t pub[32], const Dmv__V1__Checkpoint *cp);

#endif
