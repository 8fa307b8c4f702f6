/*
 * review_int.h - the review spool as the review queue's files share it:
 * its files (review_spool.c, which draws the spool), an item sealed and
 * written or opened and checked (review_item.c), and the record dump of
 * `show --records` (review_dump.c). The decisions are review_hold.c,
 * review_list.c, review_show.c and review_decide.c.
 */
#ifndef DMVF_REVIEW_INT_H
#define DMVF_REVIEW_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "dmv/v1/audit.pb-c.h"
#include "keys/keys.h"

#define DMVF__REVIEW_PATH_CAP 4096
#define DMVF__REVIEW_META_MAX ((size_t)1 << 20)
#define DMVF__REVIEW_MARK_MAX 4096

/* s, or "" for NULL. */
static inline const char *dmvf__review_nz(const char *s)
{
    return s ? s : "";
}

/* ns as "YYYY-MM-DDTHH:MM:SSZ" (whole seconds). */
static inline char *dmvf__review_time(uint64_t ns, char buf[DMVF__TIME_CAP])
{
    return dmvf__time_format(ns / 1000000000u, 0, DMVF__TIME_WHOLE, buf);
}

/* ---- the spool's files (review_spool.c) ---- */

/* An item's state, by its decision marker; "damaged": listed only. */
enum { DMVF__REVIEW_PENDING = 0, DMVF__REVIEW_APPROVED, DMVF__REVIEW_DENIED,
       DMVF__REVIEW_DAMAGED };
extern const char *const dmvf__review_state_names[4];

/* 1 when id is DMVF_REVIEW_ID_LEN lowercase hex digits. */
int dmvf__review_id_valid(const char *id);
/* DMVF_EINVAL, naming id (escaped). */
int dmvf__review_id_bad(const char *id, dmvf_error *err);
/* buf (DMVF__REVIEW_PATH_CAP bytes) := SPOOL/ID.EXT; DMVF_EINVAL when too
 * long. */
int dmvf__review_path(char *buf, const char *spool, const char *id, const char *ext,
                      dmvf_error *err);
/* Creates the spool directory (0700) unless it is there. */
int dmvf__review_spool_ensure(const char *spool, dmvf_error *err);
/* Creates target whole (core/fileio.h), mode 0600, never replacing a
 * file: *exists is set when target was there already. */
int dmvf__review_file_create(const char *target, const void *data, size_t len, const char *what,
                             int *exists, dmvf_error *err);
/* Reads a whole small file of the spool (at most max bytes; more is
 * DMVF_ETAMPER, the spool never holds such a file; so is one that is not
 * a regular file): malloc'd into *out. *missing is set (and DMVF_EIO
 * returned) when it does not exist. */
int dmvf__review_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len,
                           int *missing, dmvf_error *err);
/* The same for the file open at fd (named path). */
int dmvf__review_fd_read(int fd, const char *path, size_t max, uint8_t **out, size_t *out_len,
                         dmvf_error *err);
/* The decision marker of item id, if any: *state, and its line (without
 * its end) in mark; "" while pending. */
int dmvf__review_state_read(const char *spool, const char *id, int *state,
                            char mark[DMVF__REVIEW_MARK_MAX], dmvf_error *err);
/* Writes the decision marker (state APPROVED or DENIED), never replacing
 * one: a second decision is DMVF_EINVAL. */
int dmvf__review_mark(const char *spool, const char *id, int state, const char *reviewer,
                      const char *note, dmvf_error *err);

/* ---- an item (review_item.c) ---- */

/* Seals body to the reviewer key pk (named pk_path in messages) and writes
 * SPOOL/ID.sealed, then, its time_ns set, meta as SPOOL/ID.meta; on a
 * failure after the first no file is left. */
int dmvf__review_item_write(const char *spool, const char *id, const uint8_t *pk,
                            const char *pk_path, const Dmv__V1__ReviewBody *body,
                            Dmv__V1__ReviewMeta *meta, dmvf_error *err);

typedef struct dmvf__review_item {
    char id[DMVF_REVIEW_ID_LEN + 1];
    Dmv__V1__ReviewMeta *meta;
    Dmv__V1__ReviewBody *body;  /* wiping allocator */
    int state;
    char mark[DMVF__REVIEW_MARK_MAX];   /* the decision line, "" while pending */
    int fd;                     /* ID.sealed, flocked when asked; -1 */
} dmvf__review_item;

#define DMVF__REVIEW_OPEN_LOCK 1      /* flock ID.sealed (approve, deny) */
#define DMVF__REVIEW_OPEN_PENDING 2   /* refuse a decided item */

/* Opens item id with the reviewer's secret key: its meta, its state, its
 * body unsealed and checked against the meta. Close it with _item_close
 * (also after a failure). */
int dmvf__review_item_open(const char *spool, const char *id, const char *sk_path,
                           const char *pass, int flags, dmvf__review_item *it, dmvf_error *err);
void dmvf__review_item_close(dmvf__review_item *it);

/* ---- show --records (review_dump.c) ---- */

/* Every record of a held release, one "record N:" block of path: value
 * lines each. DMVF_ETAMPER (the stream is cut; spath names it),
 * DMVF_ENOMEM. */
int dmvf__review_dump_records(FILE *out, const ProtobufCBinaryData *rel, const char *spath,
                              dmvf_error *err);

#endif
